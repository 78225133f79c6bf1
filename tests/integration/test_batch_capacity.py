"""Batch capacity against a real broker: with ``batch_size`` left at its default, records
queued faster than requests leave go in batches far above 16 KiB (up to
``max_request_size``, a quarter of ``buffer_memory`` at most); an explicit ``batch_size`` is
never exceeded; a topic whose ``max.message.bytes`` is below the capacity splits the batches
it refuses; every record is delivered in every case (read back)."""

from __future__ import annotations

import asyncio

import pytest

from aioproducer import Producer
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all, count_records

pytestmark = pytest.mark.integration

_RECORDS = 3000
_VALUE = bytes(range(256)) * 4  # 1 KiB


def _index(value: bytes | None) -> int:
    """The record's number, which _produce puts first in its value."""
    assert value is not None
    return int(value[:6])


async def _produce(bootstrap: str, topic: str, **options: object) -> dict[str, float]:
    """Every record as fast as send() takes them; one request in flight at a time, so the
    window is full whenever a batch waits (uncompressed: batch-size-max is the batch)."""
    async with Producer(
        bootstrap_servers=bootstrap,
        max_in_flight_requests_per_connection=1,
        **options,  # type: ignore[arg-type]
    ) as producer:
        futures = [
            await producer.send(topic, b"%06d" % i + _VALUE[6:], b"k%d" % (i % 3))
            for i in range(_RECORDS)
        ]
        await asyncio.gather(*futures)
        return producer.metrics()


async def test_default_batches_are_large_under_load(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    metrics = await _produce(kafka_bootstrap, topic)
    assert metrics["batch-size-max"] > 2 * 16384
    assert metrics["records-per-request-avg"] > 3 * 16  # 16 records fill 16 KiB
    assert metrics["record-error-total"] == 0
    assert count_records(kafka_bootstrap, topic, _RECORDS) == _RECORDS


async def test_explicit_batch_size_is_never_exceeded(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """16384 given is a cap, unlike the default of the same value."""
    topic = new_topic(partitions=3)
    metrics = await _produce(kafka_bootstrap, topic, batch_size=16384)
    assert 0 < metrics["batch-size-max"] <= 16384
    assert metrics["record-error-total"] == 0
    assert count_records(kafka_bootstrap, topic, _RECORDS) == _RECORDS


async def test_default_capacity_is_bounded_by_buffer_memory(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A quarter of buffer_memory at most: 64 KiB of a 256 KiB buffer."""
    topic = new_topic(partitions=3)
    metrics = await _produce(kafka_bootstrap, topic, buffer_memory=256 * 1024)
    assert 16384 < metrics["batch-size-max"] <= 64 * 1024
    assert count_records(kafka_bootstrap, topic, _RECORDS) == _RECORDS


async def test_a_topic_limit_below_the_capacity_splits_batches(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Batches of up to 1 MiB to a topic that takes at most 64 KiB per batch: the broker's
    MESSAGE_TOO_LARGE splits them (idempotence on, the default), nothing fails and every
    record lands once, in order per key."""
    topic = new_topic(partitions=3, config={"max.message.bytes": str(64 * 1024)})
    metrics = await _produce(kafka_bootstrap, topic)
    assert metrics["record-error-total"] == 0
    assert count_records(kafka_bootstrap, topic, _RECORDS) == _RECORDS
    records = consume_all(kafka_bootstrap, topic)
    assert sorted(_index(r.value) for r in records) == list(range(_RECORDS))  # each once
    for key in (b"k0", b"k1", b"k2"):
        mine = [r for r in records if r.key == key]  # partition order, then offset order
        assert len({r.partition for r in mine}) == 1
        indices = [_index(r.value) for r in mine]
        assert indices == sorted(indices)
