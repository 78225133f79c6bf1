"""Brokers unlike the newest Apache Kafka, played by a FakeBroker: one older than Kafka 2.1
(Produce v6 at most, so no zstd) and one that answers acks=0 Produce requests (Tansu).

The real brokers of ``make compat`` go back to Kafka 2.0 (tests/integration/test_compat.py);
no Apache Kafka answers an acks=0 request, so that case is scripted only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer._protocol.api import ApiKey
from aioproducer.errors import BrokerError, UnsupportedCompressionTypeError
from aioproducer.testing.fake_broker import FakeBroker

TOPIC = "t"
FAST: dict[str, Any] = {"linger_ms": 0, "retry_backoff_ms": 5, "max_block_ms": 2000}


@pytest.mark.parametrize("idempotent", [True, False])
async def test_zstd_is_refused_at_once_by_a_broker_before_kafka_2_1(idempotent: bool) -> None:
    """Java refuses on the client side (UnsupportedCompressionType); sending would fail every
    record with UNKNOWN_SERVER_ERROR. The records fail now, not after delivery_timeout_ms."""
    old = FakeBroker(api_versions={ApiKey.PRODUCE: (3, 6)})
    async with asyncio.timeout(5), old as broker:
        broker.create_topic(TOPIC, partitions=2)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers,
            compression_type="zstd",
            enable_idempotence=idempotent,
            acks="all",
            **FAST,
        ) as producer:
            futures = [await producer.send(TOPIC, b"v%d" % i, key=b"%d" % i) for i in range(20)]
            results = await asyncio.gather(*futures, return_exceptions=True)
            with pytest.raises(UnsupportedCompressionTypeError) as info:
                await producer.send_and_wait(TOPIC, b"later")
        assert all(isinstance(r, UnsupportedCompressionTypeError) for r in results), results
        assert isinstance(info.value, BrokerError)
        assert not info.value.retriable
        assert "Produce v7 (Kafka 2.1+)" in str(info.value)
        assert "up to v6" in str(info.value)
        assert "Kafka 2.0 or older" in str(info.value)
        assert broker.received(ApiKey.PRODUCE) == []  # nothing was sent


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
async def test_other_codecs_work_with_a_broker_before_kafka_2_1(codec: str) -> None:
    old = FakeBroker(api_versions={ApiKey.PRODUCE: (3, 6)})
    async with asyncio.timeout(5), old as broker:
        broker.create_topic(TOPIC)
        options = {"compression_type": codec, **FAST}
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **options) as producer:
            await producer.send_and_wait(TOPIC, b"v")
        assert broker.values(TOPIC, 0) == [b"v"]
        assert [r.header.api_version for r in broker.received(ApiKey.PRODUCE)] == [6]


async def test_zstd_works_from_produce_v7() -> None:
    async with asyncio.timeout(5), FakeBroker(api_versions={ApiKey.PRODUCE: (3, 7)}) as broker:
        broker.create_topic(TOPIC)
        options = {"compression_type": "zstd", **FAST}
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **options) as producer:
            await producer.send_and_wait(TOPIC, b"v")
        assert broker.values(TOPIC, 0) == [b"v"]
        assert [r.header.api_version for r in broker.received(ApiKey.PRODUCE)] == [7]


@pytest.mark.parametrize("produce_version", [11, 8])
@pytest.mark.parametrize("answer_acks0", [False, True], ids=["kafka", "tansu"])
async def test_acks_zero_answered_or_not_delivers_everything_on_one_connection(
    answer_acks0: bool, produce_version: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer to an acks=0 request used to be a protocol error: the connection was
    aborted and what it had not written yet was lost. Metadata requests (answered) are
    interleaved with the Produce requests on the same connection."""
    caplog.set_level(logging.WARNING, logger="aioproducer")
    versions: dict[int, tuple[int, int]] = {ApiKey.PRODUCE: (3, produce_version)}
    fake = FakeBroker(api_versions=versions, answer_acks0=answer_acks0)
    async with asyncio.timeout(10), fake as broker:
        broker.create_topic(TOPIC, partitions=2)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers,
            acks=0,
            batch_size=200,
            metadata_max_age_ms=20,
            **FAST,
        ) as producer:
            for round_ in range(10):
                futures = [
                    await producer.send(TOPIC, b"%d-%d" % (round_, i), partition=i % 2)
                    for i in range(50)
                ]
                assert {m.offset for m in await asyncio.gather(*futures)} == {-1}
                await asyncio.sleep(0.03)  # metadata ages: a refresh goes out meanwhile
        produced = broker.received(ApiKey.PRODUCE)
        assert len(produced) >= 20
        assert {r.header.api_version for r in produced} == {produce_version}
        assert all((r.answered_at is not None) == answer_acks0 for r in produced)
        (connection,) = {r.connection for r in produced}  # never reopened
        metadata = [r for r in broker.received(ApiKey.METADATA) if r.connection == connection]
        assert len(metadata) > 3
        assert all(r.answered_at is not None for r in metadata)
        for partition in (0, 1):
            expected = [b"%d-%d" % (r, i) for r in range(10) for i in range(partition, 50, 2)]
            assert broker.values(TOPIC, partition) == expected
    assert broker.accepted == {1: 2}  # the bootstrap connection and the leader's
    assert caplog.records == []


# ------------------------------------------------ Produce v13 (topic ids) and its fallbacks


@pytest.mark.parametrize(("offered", "used"), [(13, 13), (12, 12), (11, 11), (9, 9)])
async def test_the_newest_produce_version_offered_is_used(offered: int, used: int) -> None:
    """Kafka 4.1+ offers v13 (topics by id), 4.0 v12, 3.9 v11, 2.8-3.5 v9: each is used, and
    records of two topics in one request land where they belong."""
    fake = FakeBroker(api_versions={ApiKey.PRODUCE: (3, offered)})
    async with asyncio.timeout(5), fake as broker:
        broker.create_topic(TOPIC)
        broker.create_topic("other")
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **FAST) as producer:
            futures = [await producer.send(t, b"to " + t.encode()) for t in (TOPIC, "other")]
            await asyncio.gather(*futures)
        assert (broker.values(TOPIC, 0), broker.values("other", 0)) == ([b"to t"], [b"to other"])
        produced = broker.received(ApiKey.PRODUCE)
        assert {r.header.api_version for r in produced} == {used}
        sent_ids = {i for r in produced for i in r.request.topic_ids}  # type: ignore[attr-defined]
        expected = {broker.topic_id(TOPIC), broker.topic_id("other")} if used >= 13 else set()
        assert sent_ids == expected


async def test_produce_falls_back_to_v12_when_metadata_gives_no_topic_ids() -> None:
    """Metadata before v10 has no topic ids: a v13 request could not name its topics, so
    the request goes by name at v12 (as Java does)."""
    versions: dict[int, tuple[int, int]] = {ApiKey.PRODUCE: (3, 13), ApiKey.METADATA: (0, 9)}
    async with asyncio.timeout(5), FakeBroker(api_versions=versions) as broker:
        broker.create_topic(TOPIC)
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **FAST) as producer:
            await producer.send_and_wait(TOPIC, b"v")
        assert broker.values(TOPIC, 0) == [b"v"]
        assert [r.header.api_version for r in broker.received(ApiKey.PRODUCE)] == [12]


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_stale_topic_id_is_retried_after_a_metadata_refresh(idempotent: bool) -> None:
    """The topic was re-created: the broker answers UNKNOWN_TOPIC_ID to the old id, which
    is retriable and marks metadata stale; the refresh brings the new id and the records
    go through."""
    async with asyncio.timeout(5), FakeBroker() as broker:
        broker.create_topic(TOPIC)
        options = {**FAST, "enable_idempotence": idempotent}
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **options) as producer:
            await producer.send_and_wait(TOPIC, b"first")
            old = broker.topic_id(TOPIC)
            new = broker.renew_topic_id(TOPIC)
            metadata_before = len(broker.received(ApiKey.METADATA))
            await producer.send_and_wait(TOPIC, b"second")
        assert broker.values(TOPIC, 0) == [b"first", b"second"]
        produced = broker.received(ApiKey.PRODUCE)
        ids = [r.request.topic_ids for r in produced]  # type: ignore[attr-defined]
        assert ids[0] == ids[1] == (old,)
        assert ids[-1] == (new,)
        assert len(broker.received(ApiKey.METADATA)) > metadata_before
