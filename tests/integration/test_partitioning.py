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
