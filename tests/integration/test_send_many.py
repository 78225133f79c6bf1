"""``Producer.send_many`` against a real broker, read back with confluent-kafka's consumer."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from aioproducer import Producer, SentRecords
from aioproducer._partitioner import partition_for_key
from aioproducer._protocol.records import Header
from aioproducer.errors import BrokerError, RecordTooLargeError, SerializationError
from aioproducer.testing.pytest_plugin import KafkaClusterHandle, TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


async def test_keys_go_to_java_partitions_and_metadata_matches_the_log(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    records = [(f"k{i % 17}".encode(), f"v{i}".encode()) for i in range(5000)]
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        group = await producer.send_many(topic, records)
        with_headers = await producer.send_many(topic, [(None, b"h", [("x", b"1")])])
        results = await group
        (last,) = await with_headers
    assert isinstance(results, SentRecords)
    assert len(results) == 5000
    for (key, _), md in zip(records, results, strict=True):
        assert md.partition == partition_for_key(key, 3)
    read = consume_all(kafka_bootstrap, topic)
    assert len(read) == 5001
    by_offset = {(r.partition, r.offset): r for r in read}
    for (key, value), md in zip(records, results, strict=True):
        got = by_offset[(md.partition, md.offset)]
        assert (got.key, got.value) == (key, value)
        assert got.timestamp_ms == md.timestamp_ms
    assert by_offset[(last.partition, last.offset)].headers == (("x", b"1"),)
    for partition in range(3):  # input order kept within each partition
        values = [r.value for r in read if r.partition == partition and r.value != b"h"]
        expected = [v for k, v in records if partition_for_key(k, 3) == partition]
        assert values == expected


async def test_fails_with_the_first_error(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(config={"max.message.bytes": "2000"})
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=50) as producer:
        group = await producer.send_many(topic, [(None, b"small"), (None, b"x" * 5000)])
        with pytest.raises(BrokerError):
            await group


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ((b"k", "text"), SerializationError),
        ((1, b"v"), SerializationError),
        ((b"k",), SerializationError),
        ((None, b"x" * 2_000_000), RecordTooLargeError),
        ((1, b"v", [("h", b"x")]), SerializationError),
        ((b"k", b"v", "not headers"), SerializationError),
        ((b"k", b"v", [("h", "text")]), SerializationError),
    ],
)
async def test_a_bad_record_raises_and_queues_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, bad: tuple[object, ...], error: type[Exception]
) -> None:
    topic = new_topic(partitions=2)
    records: list[tuple[object, ...]] = [(b"k", b"fine")] * 100 + [bad] + [(None, b"after")]
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        with pytest.raises(error):
            await producer.send_many(topic, records)  # type: ignore[arg-type]
        await producer.send_and_wait(topic, b"marker", partition=0)
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"marker"]


async def test_more_than_buffer_memory_waits_for_space_and_loses_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=4)
    records = [(i.to_bytes(4, "big"), b"v" * 200) for i in range(20_000)]  # ~4.5 MB
    async with Producer(
        bootstrap_servers=kafka_bootstrap, buffer_memory=256 * 1024, batch_size=16384
    ) as producer:
        sent = await (await producer.send_many(topic, records))
    read = consume_all(kafka_bootstrap, topic)
    assert len(read) == 20_000
    assert Counter(r.key for r in read) == Counter(k for k, _ in records)  # no duplicates
    assert {(r.partition, r.offset) for r in read} == {(m.partition, m.offset) for m in sent}


async def test_explicit_partition_idempotent_lz4(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    records = [(None, f"v{i}".encode()) for i in range(3000)]
    async with Producer(bootstrap_servers=kafka_bootstrap, compression_type="lz4") as producer:
        sent = await (await producer.send_many(topic, records, partition=2))
    assert [md.offset for md in sent] == list(range(3000))
    assert {md.partition for md in sent} == {2}
    read = consume_all(kafka_bootstrap, topic)
    assert [(r.partition, r.value) for r in read] == [(2, v) for _, v in records]


async def test_null_keys_spread_over_partitions(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=4)
    records = [(None, b"x" * 100) for _ in range(4000)]  # ~25 sticky switches of 16 KiB
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        sent = await (await producer.send_many(topic, records))
    assert len({md.partition for md in sent}) > 1
    assert len(consume_all(kafka_bootstrap, topic)) == 4000


async def test_log_append_time(kafka_cluster: KafkaClusterHandle, kafka_bootstrap: str) -> None:
    topic = kafka_cluster.create_topic(config={"message.timestamp.type": "LogAppendTime"})
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        sent = await (await producer.send_many(topic, [(None, b"a"), (None, b"b")]))
    read = consume_all(kafka_bootstrap, topic)
    assert [md.timestamp_ms for md in sent] == [r.timestamp_ms for r in read]


async def test_closed_producer(kafka_bootstrap: str) -> None:
    producer = Producer(bootstrap_servers=kafka_bootstrap)
    with pytest.raises(Exception, match="before start"):
        await producer.send_many("t", [(None, b"v")])


async def test_serializers_run_once_and_headers_keep_the_partition(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    records: list[tuple[object, object] | tuple[object, object, list[Header]]] = [
        ("k1", {"n": 1}),
        ("k2", {"n": 2}, [("h", b"x")]),
        ("k3", {"n": 3}),
    ]
    async with Producer(
        bootstrap_servers=kafka_bootstrap,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v).encode(),
    ) as producer:
        sent = await (await producer.send_many(topic, records, partition=1))
    assert [md.partition for md in sent] == [1, 1, 1]
    read = consume_all(kafka_bootstrap, topic)
    assert [(r.partition, r.key, r.value, r.headers) for r in read] == [
        (1, b"k1", b'{"n": 1}', ()),
        (1, b"k3", b'{"n": 3}', ()),
        (1, b"k2", b'{"n": 2}', (("h", b"x"),)),  # records with headers go in after the runs
    ]
    assert [md.offset for md in sent] == [0, 2, 1]
