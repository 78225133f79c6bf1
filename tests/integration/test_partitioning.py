"""The partitioning strategies against the real broker, read back with confluent-kafka."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from aioproducer import Producer
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import ConsumedRecord, consume_all

pytestmark = pytest.mark.integration

RECORDS = 6_000
PARTITIONS = 6


def _per_partition(records: list[ConsumedRecord]) -> Counter[int]:
    return Counter(record.partition for record in records)


@pytest.mark.parametrize("keyed", [False, True], ids=["null-keys", "keyed"])
@pytest.mark.parametrize(
    "name", ["round_robin", "org.apache.kafka.clients.producer.RoundRobinPartitioner"]
)
async def test_round_robin_lands_the_same_count_in_every_partition(
    kafka_bootstrap: str, new_topic: TopicFactory, keyed: bool, name: str
) -> None:
    topic = new_topic(partitions=PARTITIONS)
    async with Producer(bootstrap_servers=kafka_bootstrap, partitioner=name) as producer:
        futures = [
            await producer.send(topic, b"%d" % n, key=b"same key" if keyed else None)
            for n in range(RECORDS)
        ]
        placed = [metadata.partition for metadata in await asyncio.gather(*futures)]
    assert placed == [n % PARTITIONS for n in range(RECORDS)]
    records = consume_all(kafka_bootstrap, topic)
    assert _per_partition(records) == dict.fromkeys(range(PARTITIONS), RECORDS // PARTITIONS)
    for record in records:
        assert record.value is not None
        assert int(record.value) % PARTITIONS == record.partition


async def test_round_robin_with_send_many(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(partitions=PARTITIONS)
    batch = [(b"k%d" % (n % 3), b"%d" % n) for n in range(RECORDS)]
    async with Producer(bootstrap_servers=kafka_bootstrap, partitioner="round_robin") as producer:
        await (await producer.send_many(topic, batch))
    records = consume_all(kafka_bootstrap, topic)
    assert _per_partition(records) == dict.fromkeys(range(PARTITIONS), RECORDS // PARTITIONS)
    for record in records:
        assert record.value is not None
        assert int(record.value) % PARTITIONS == record.partition


def _runs(partitions: list[int]) -> list[tuple[int, int]]:
    """(partition, length) of each run of consecutive records on one partition."""
    runs: list[tuple[int, int]] = []
    for partition in partitions:
        if runs and runs[-1][0] == partition:
            runs[-1] = (partition, runs[-1][1] + 1)
        else:
            runs.append((partition, 1))
    return runs


@pytest.mark.parametrize("bulk", [False, True], ids=["send", "send_many"])
async def test_ignore_keys_spreads_keyed_records_in_sticky_runs(
    kafka_bootstrap: str, new_topic: TopicFactory, bulk: bool
) -> None:
    topic = new_topic(partitions=PARTITIONS)
    batch_size, value = 4096, b"x" * 100
    per_record = 82 + len(b"key 0") + len(value)  # the producer's bound on a record's bytes
    keyed = [(b"key %d" % (n % 3), value + b"%d" % n) for n in range(RECORDS)]
    async with Producer(
        bootstrap_servers=kafka_bootstrap, batch_size=batch_size, partitioner_ignore_keys=True
    ) as producer:
        if bulk:
            placed = [md.partition for md in await (await producer.send_many(topic, keyed))]
        else:
            futures = [await producer.send(topic, v, key=k) for k, v in keyed]
            placed = [md.partition for md in await asyncio.gather(*futures)]
    runs = _runs(placed)
    assert len(runs) > 2 * PARTITIONS
    # a partition takes at least batch_size bytes before the next is drawn (which may be
    # the same one: then two runs show as one)
    assert all(length * per_record >= batch_size for _, length in runs[:-1]), runs
    records = consume_all(kafka_bootstrap, topic)
    counts = _per_partition(records)
    assert sum(counts.values()) == RECORDS
    assert set(counts) == set(range(PARTITIONS))
    assert {record.key for record in records} == {b"key 0", b"key 1", b"key 2"}


@pytest.mark.parametrize(
    "options",
    [
        {"partitioner_adaptive_partitioning_enable": False},
        {},
        {"partitioner_availability_timeout_ms": 50},
    ],
    ids=["uniform", "adaptive", "adaptive-with-timeout"],
)
async def test_null_keys_spread_over_every_partition(
    kafka_bootstrap: str, new_topic: TopicFactory, options: dict[str, object]
) -> None:
    topic = new_topic(partitions=PARTITIONS)
    async with Producer(
        {"bootstrap_servers": kafka_bootstrap, "batch_size": 2048, **options}
    ) as producer:
        futures = [await producer.send(topic, b"v" * 200) for _ in range(RECORDS)]
        await asyncio.gather(*futures)
    counts = _per_partition(consume_all(kafka_bootstrap, topic))
    assert sum(counts.values()) == RECORDS
    assert set(counts) == set(range(PARTITIONS))
