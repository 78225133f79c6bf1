"""Extreme arguments and raising hooks: each gets a typed error at the call, nothing of it is
queued, and the records around it are delivered (read back with confluent-kafka) and close()
returns.

Every case is surrounded by good records to the same partition, so a bad record that half
entered the open batch would poison them: that is how a 2**63 timestamp once lost 10 of 11.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer.errors import (
    ConfigurationError,
    InvalidPartitionError,
    InvalidTopicNameError,
    ProducerError,
    RecordTooLargeError,
    SerializationError,
)
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration

GOOD_BEFORE, GOOD_AFTER = 5, 6
BadCall = Callable[[Producer, str], Awaitable[object]]


async def surrounded(
    bootstrap: str,
    topic: str,
    bad: BadCall,
    error: type[ProducerError],
    **settings: Any,
) -> pytest.ExceptionInfo[ProducerError]:
    """Send good records, then the bad call (which must raise ``error``), then more good
    records; close; check the good ones, and only they, arrived in order."""
    async with asyncio.timeout(60):
        producer = Producer(bootstrap_servers=bootstrap, linger_ms=100, **settings)
        await producer.start()
        futures = [await producer.send(topic, b"good-%d" % i, key=b"k") for i in range(GOOD_BEFORE)]
        with pytest.raises(error) as info:
            await bad(producer, topic)
        futures += [
            await producer.send(topic, b"good-%d" % i, key=b"k")
            for i in range(GOOD_BEFORE, GOOD_BEFORE + GOOD_AFTER)
        ]
        await producer.close()
        offsets = [metadata.offset for metadata in await asyncio.gather(*futures)]
    assert offsets == list(range(GOOD_BEFORE + GOOD_AFTER))
    values = [record.value for record in consume_all(bootstrap, topic)]
    assert values == [b"good-%d" % i for i in range(GOOD_BEFORE + GOOD_AFTER)]
    return info


def send_with(**arguments: Any) -> BadCall:
    async def call(producer: Producer, topic: str) -> object:
        arguments.setdefault("key", b"k")
        return await producer.send(topic, arguments.pop("value", b"bad"), **arguments)

    return call


SURROGATE = "\ud800"
EXTREMES: list[tuple[str, BadCall, type[ProducerError]]] = [
    # timestamps: int64 milliseconds, from 0
    ("timestamp 2**63", send_with(timestamp_ms=2**63), SerializationError),
    ("timestamp 2**64", send_with(timestamp_ms=2**64), SerializationError),
    ("timestamp -1", send_with(timestamp_ms=-1), SerializationError),
    ("timestamp -2**63", send_with(timestamp_ms=-(2**63)), SerializationError),
    ("timestamp 1.5", send_with(timestamp_ms=1.5), SerializationError),
    ("timestamp nan", send_with(timestamp_ms=float("nan")), SerializationError),
    ("timestamp True", send_with(timestamp_ms=True), SerializationError),
    ("timestamp '5'", send_with(timestamp_ms="5"), SerializationError),
    # headers
    ("header name lone surrogate", send_with(headers=[(SURROGATE, b"v")]), SerializationError),
    (
        "header name surrogate inside",
        send_with(headers=[("a" + SURROGATE + "b", None)]),
        SerializationError,
    ),
    ("header name None", send_with(headers=[(None, b"v")]), SerializationError),
    ("header name bytes", send_with(headers=[(b"h", b"v")]), SerializationError),
    ("header value str", send_with(headers=[("h", "v")]), SerializationError),
    ("header value int", send_with(headers=[("h", 1)]), SerializationError),
    ("header triple", send_with(headers=[("h", b"v", b"x")]), SerializationError),
    ("headers int", send_with(headers=5), SerializationError),
    ("headers str", send_with(headers="h"), SerializationError),
    ("headers of bytes", send_with(headers=[b"hv"]), SerializationError),
    (
        "second header bad",
        send_with(headers=[("ok", b"v"), (SURROGATE, b"v")]),
        SerializationError,
    ),
    # keys and values
    ("key str", send_with(key="k"), SerializationError),
    ("key int", send_with(key=5), SerializationError),
    ("key surrogate str", send_with(key=SURROGATE), SerializationError),
    ("value float", send_with(value=1.0), SerializationError),
    ("value list", send_with(value=[b"v"]), SerializationError),
    ("value huge", send_with(value=b"x" * (1024 * 1024 + 1)), RecordTooLargeError),
    ("key huge", send_with(key=b"x" * (1024 * 1024 + 1)), RecordTooLargeError),
    # partitions given to send()
    ("partition -1", send_with(partition=-1), InvalidPartitionError),
    ("partition 1 of 1", send_with(partition=1), InvalidPartitionError),
    ("partition 2**63", send_with(partition=2**63), InvalidPartitionError),
    ("partition -2**63", send_with(partition=-(2**63)), InvalidPartitionError),
    ("partition 0.0", send_with(partition=0.0), InvalidPartitionError),
    ("partition True", send_with(partition=True), InvalidPartitionError),
    ("partition '0'", send_with(partition="0"), InvalidPartitionError),
]


@pytest.mark.parametrize(
    ("bad", "error"), [(b, e) for _, b, e in EXTREMES], ids=[name for name, _, _ in EXTREMES]
)
async def test_an_extreme_argument_is_refused_and_harms_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, bad: BadCall, error: type[ProducerError]
) -> None:
    await surrounded(kafka_bootstrap, new_topic(), bad, error)


TOPICS: list[object] = [None, 5, b"topic", ["t"], "", "a" * 250, "bad name", "tópico", ".", ".."]


@pytest.mark.parametrize("topic", TOPICS, ids=[repr(t)[:20] for t in TOPICS])
async def test_a_bad_topic_is_refused_and_harms_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, topic: object
) -> None:
    async def bad(producer: Producer, _: str) -> object:
        return await producer.send(topic, b"v", key=b"k")  # type: ignore[arg-type]

    await surrounded(kafka_bootstrap, new_topic(), bad, InvalidTopicNameError)


class Boom(Exception):
    pass


def raising(value: object) -> bytes:
    if value == b"bad":
        raise Boom("the serializer failed")
    return value if isinstance(value, bytes) else str(value).encode()


def returning_str(value: object) -> object:
    return "text" if value == b"bad" else value


async def test_a_raising_value_serializer_gives_serialization_error_with_its_cause(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    info = await surrounded(
        kafka_bootstrap, new_topic(), send_with(), SerializationError, value_serializer=raising
    )
    assert isinstance(info.value.__cause__, Boom)
    assert "value_serializer" in str(info.value)


async def test_a_raising_key_serializer_gives_serialization_error_with_its_cause(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    info = await surrounded(
        kafka_bootstrap,
        new_topic(),
        send_with(key=b"bad", value=b"v"),
        SerializationError,
        key_serializer=raising,
    )
    assert isinstance(info.value.__cause__, Boom)


async def test_a_serializer_returning_no_bytes_is_named(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    info = await surrounded(
        kafka_bootstrap,
        new_topic(),
        send_with(),
        SerializationError,
        value_serializer=returning_str,
    )
    assert "value_serializer returned str" in str(info.value)


class OddPartitioner:
    """Java's choice for the good records; ``answer`` (or raises it) for the value b"bad"."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def partition(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partitions: Sequence[int],
        available: Sequence[int],
    ) -> int:
        if value == b"bad":
            if isinstance(self.answer, BaseException):
                raise self.answer
            return self.answer  # type: ignore[return-value]
        return 0

    def on_append(self, topic: str, partition: int, nbytes: int, switch_allowed: bool) -> None:
        if topic.startswith("never"):
            raise AssertionError("unreachable")


ANSWERS: list[object] = [-1, 1, 7, 2**63, 1.0, None, "0", True, Boom("partitioner failed")]


@pytest.mark.parametrize("answer", ANSWERS, ids=[repr(a) for a in ANSWERS])
async def test_a_partitioner_answering_nonsense_gives_invalid_partition_error(
    kafka_bootstrap: str, new_topic: TopicFactory, answer: object
) -> None:
    info = await surrounded(
        kafka_bootstrap,
        new_topic(),
        send_with(key=None),
        InvalidPartitionError,
        partitioner=OddPartitioner(answer),
    )
    if isinstance(answer, Boom):
        assert info.value.__cause__ is answer


async def test_a_partitioner_whose_on_append_raises_still_delivers(
    kafka_bootstrap: str, new_topic: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The record is queued when on_append is told: its error is logged, not raised."""

    class RaisingOnAppend(OddPartitioner):
        def on_append(self, topic: str, partition: int, nbytes: int, switch: bool) -> None:
            raise Boom("on_append failed")

    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, partitioner=RaisingOnAppend(0)) as p:
        metadata = await p.send_and_wait(topic, b"v")
        group = await (await p.send_many(topic, [(None, b"w")]))
    assert (metadata.offset, group[0].offset) == (0, 1)
    assert "on_append raised" in caplog.text
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"v", b"w"]


def many_with(records: list[Any], **arguments: Any) -> BadCall:
    async def call(producer: Producer, topic: str) -> object:
        return await producer.send_many(topic, records, **arguments)

    return call


GOOD_20 = [(b"k", b"many-%d" % i) for i in range(20)]
MANY: list[tuple[str, BadCall, type[ProducerError]]] = [
    (
        "header surrogate after 20",
        many_with([*GOOD_20, (b"k", b"v", [(SURROGATE, b"")])]),
        SerializationError,
    ),
    (
        "header value str after 20",
        many_with([*GOOD_20, (b"k", b"v", [("h", "v")])]),
        SerializationError,
    ),
    ("str value after 20", many_with([*GOOD_20, (b"k", "v")]), SerializationError),
    ("a bare value after 20", many_with([*GOOD_20, b"v"]), SerializationError),
    (
        "huge value after 20",
        many_with([*GOOD_20, (b"k", b"x" * (1024 * 1024 + 1))]),
        RecordTooLargeError,
    ),
    ("partition -1", many_with(GOOD_20, partition=-1), InvalidPartitionError),
    ("partition 1.0", many_with(GOOD_20, partition=1.0), InvalidPartitionError),
    ("topic None", lambda p, _: p.send_many(None, GOOD_20), InvalidTopicNameError),  # type: ignore[arg-type]
    ("records None", lambda p, t: p.send_many(t, None), SerializationError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("bad", "error"), [(b, e) for _, b, e in MANY], ids=[name for name, _, _ in MANY]
)
async def test_send_many_with_a_bad_record_queues_none_of_them(
    kafka_bootstrap: str, new_topic: TopicFactory, bad: BadCall, error: type[ProducerError]
) -> None:
    await surrounded(kafka_bootstrap, new_topic(), bad, error)


TIMEOUTS: list[object] = [float("nan"), "1", b"1", [1], True]


@pytest.mark.parametrize("timeout", TIMEOUTS, ids=[repr(t) for t in TIMEOUTS])
async def test_a_bad_flush_or_close_timeout_changes_nothing(
    kafka_bootstrap: str, new_topic: TopicFactory, timeout: object
) -> None:
    """A bad timeout raises before anything is done: it used to fail the queued records."""

    async def bad(producer: Producer, _: str) -> object:
        with pytest.raises(ConfigurationError, match="timeout"):
            await producer.flush(timeout=timeout)  # type: ignore[arg-type]
        await producer.close(timeout=timeout)  # type: ignore[arg-type]
        return None

    await surrounded(kafka_bootstrap, new_topic(), bad, ConfigurationError)


@pytest.mark.parametrize("timeout", [-1, 0, 10**400, float("inf"), 1e300])
async def test_extreme_flush_and_close_timeouts_work(
    kafka_bootstrap: str, new_topic: TopicFactory, timeout: float
) -> None:
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=10)
    await producer.start()
    future = await producer.send(topic, b"v", key=b"k")
    async with asyncio.timeout(30):
        if timeout > 0:
            await producer.flush(timeout=timeout)
            assert future.done()
        await producer.close(timeout=timeout)
    assert future.done()
    assert producer.closed


async def test_serializers_run_once_per_record_even_when_send_waits(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The first send to a topic waits for its metadata, a send on a full buffer for
    memory: the record is appended later, from the bytes serialized at the call."""
    calls: list[object] = []

    def counting(value: object) -> bytes:
        calls.append(value)
        return str(value).encode()

    topic = new_topic()
    async with Producer(
        bootstrap_servers=kafka_bootstrap,
        key_serializer=counting,
        value_serializer=counting,
        buffer_memory=4096,
        batch_size=1024,
        linger_ms=50,
    ) as producer:
        futures = [await producer.send(topic, i, key=i % 3) for i in range(200)]
        await asyncio.gather(*futures)
    assert len(calls) == 400
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [
        str(i).encode() for i in range(200)
    ]
