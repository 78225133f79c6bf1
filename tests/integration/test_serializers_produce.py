"""aioproducer.serializers through a real producer, read back with confluent-kafka."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pytest

from aioproducer import Producer
from aioproducer.errors import SerializationError
from aioproducer.serializers import json_serializer, str_serializer, typed_serializer
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


@dataclass
class Order:
    id: int
    total: float


async def test_dicts_and_str_keys_round_trip(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(partitions=2)
    values = [
        {"id": i, "name": f"ünï-{i}", "tags": ["a"] * (i % 3), "ok": i % 2 == 0} for i in range(50)
    ]
    async with Producer(
        bootstrap_servers=kafka_bootstrap,
        key_serializer=str_serializer,
        value_serializer=json_serializer,
    ) as producer:
        await producer.send_and_wait(topic, values[0], key="customer-0")
        pairs = [(f"customer-{i % 5}", values[i]) for i in range(1, 50)]
        group = await producer.send_many(topic, pairs)
        await group
        await producer.send_and_wait(topic, None, key="customer-1")  # a tombstone
        await producer.send_and_wait(topic, {"no": "key"})
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 52
    read = sorted((json.loads(r.value) for r in records if r.value is not None), key=str)
    assert read == sorted([*values, {"no": "key"}], key=str)
    assert [r.key for r in records if r.value is None] == [b"customer-1"]
    assert sum(r.key is None for r in records) == 1


async def test_a_serializer_error_reaches_the_caller_chained(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A wrong type for a typed serializer, and what json cannot hold, raise
    SerializationError at send() with the original as __cause__; nothing else is lost."""
    topic = new_topic()
    order_serializer = typed_serializer(Order, lambda order: json_serializer(asdict(order)))
    async with Producer(bootstrap_servers=kafka_bootstrap, value_serializer=order_serializer) as p:
        await p.send_and_wait(topic, Order(1, 9.5))
        with pytest.raises(SerializationError, match="takes Order or None") as info:
            await p.send(topic, {"id": 2})
        assert isinstance(info.value.__cause__, TypeError)
        with pytest.raises(SerializationError) as info:
            await p.send_many(topic, [(None, Order(3, 1.0)), (None, "not an order")])
        assert isinstance(info.value.__cause__, TypeError)
        await p.send_and_wait(topic, Order(4, 0.5))
    async with Producer(bootstrap_servers=kafka_bootstrap, value_serializer=json_serializer) as p:
        with pytest.raises(SerializationError) as info:
            await p.send(topic, {"lone": "\udcff"})
        assert isinstance(info.value.__cause__, ValueError | TypeError)
    values = [json.loads(r.value or b"") for r in consume_all(kafka_bootstrap, topic)]
    assert values == [{"id": 1, "total": 9.5}, {"id": 4, "total": 0.5}]
