"""The bad-input table: each case gets a clear, typed error, enqueues nothing and never hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aioproducer import Producer, RecordMetadata
from aioproducer._sender import Sender
from aioproducer.errors import (
    BrokerError,
    BrokerUnavailableError,
    BufferFullError,
    ConfigurationError,
    DeliveryTimeoutError,
    InvalidTopicNameError,
    KafkaTimeoutError,
    ProducerClosedError,
    ProducerError,
    RecordTooLargeError,
    SerializationError,
    UnknownTopicError,
)
from aioproducer.testing import LocalKafkaCluster, free_port
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


@pytest.fixture
async def producer(kafka_bootstrap: str) -> Any:
    async with Producer(bootstrap_servers=kafka_bootstrap, max_block_ms=2000) as p:
        yield p


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"value": "text"}, "value"),
        ({"value": 123}, "value"),
        ({"value": b"v", "key": "text-key"}, "key"),
        ({"value": b"v", "headers": [("h", "text")]}, "header"),
        ({"value": b"v", "headers": [(b"bytes-name", b"v")]}, "header"),
        ({"value": b"v", "headers": [("only-one",)]}, "header"),
        ({"value": b"v", "headers": "not-a-list"}, "header"),
    ],
)
async def test_wrong_types_are_rejected(
    producer: Producer,
    new_topic: TopicFactory,
    kafka_bootstrap: str,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    topic = new_topic()
    with pytest.raises(SerializationError, match=match):
        await producer.send(topic, **kwargs)
    await producer.send_and_wait(topic, b"good")
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"good"]


@pytest.mark.parametrize("name", ["", "a" * 250, "bad name", "bad/name", ".", ".."])
async def test_invalid_topic_names(producer: Producer, name: str) -> None:
    with pytest.raises(InvalidTopicNameError):
        await producer.send(name, b"v")


async def test_record_over_max_request_size(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, max_request_size=10_000) as producer:
        with pytest.raises(RecordTooLargeError, match="max_request_size"):
            await producer.send(topic, b"x" * 20_000)
        await producer.send_and_wait(topic, b"small")
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"small"]


async def test_record_over_topic_max_message_bytes(
    producer: Producer, new_topic: TopicFactory
) -> None:
    topic = new_topic(config={"max.message.bytes": "2000"})
    started = time.monotonic()
    with pytest.raises(BrokerError) as info:
        await producer.send_and_wait(topic, b"x" * 5000)
    assert info.value.code == 10  # MESSAGE_TOO_LARGE, not retried forever
    assert time.monotonic() - started < 10


async def test_unknown_topic_with_auto_creation_off(kafka_bootstrap: str) -> None:
    async with Producer(bootstrap_servers=kafka_bootstrap, max_block_ms=1500) as producer:
        started = time.monotonic()
        with pytest.raises(UnknownTopicError, match="no-such-topic"):
            await producer.send("no-such-topic", b"v")
        assert 1.0 < time.monotonic() - started < 6


async def test_partition_out_of_range(producer: Producer, new_topic: TopicFactory) -> None:
    topic = new_topic(partitions=2)
    with pytest.raises(ProducerError, match="partition"):
        await producer.send(topic, b"v", partition=2)
    with pytest.raises(ProducerError, match="partition"):
        await producer.send(topic, b"v", partition=-1)


async def test_send_before_start_and_after_close(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap)
    with pytest.raises(ProducerClosedError):
        await producer.send(topic, b"v")
    await producer.start()
    await producer.send_and_wait(topic, b"v")
    await producer.close()
    with pytest.raises(ProducerClosedError):
        await producer.send(topic, b"v")
    await producer.close()  # closing twice is harmless


async def test_unreachable_bootstrap_names_the_address() -> None:
    port = free_port()
    producer = Producer(bootstrap_servers=f"127.0.0.1:{port}", max_block_ms=1500)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match=f"127.0.0.1:{port}"):
        await producer.start()
    assert time.monotonic() - started < 5
    await producer.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"acks": 2},
        {"linger_ms": -1},
        {"batch_size": 0},
        {"compression_type": "brotli"},
        {"bootstrap_servers": ""},
        {"bootstrap_servers": "host:notaport"},
        {"enable_idempotence": True, "acks": 1},
        {"enable_idempotence": True, "max_in_flight_requests_per_connection": 6},
        {"delivery_timeout_ms": 10, "linger_ms": 5, "request_timeout_ms": 30_000},
        {"no_such_option": 1},
    ],
)
def test_invalid_config(kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("bootstrap_servers", "127.0.0.1:9092")
    with pytest.raises(ConfigurationError):
        Producer(**kwargs)


def test_java_property_names() -> None:
    producer = Producer({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": 7, "acks": "1"})
    assert producer.config.linger_ms == 7
    assert producer.config.acks == 1


@pytest.fixture
def lone_broker() -> Iterator[LocalKafkaCluster]:
    """A broker of this test's own, to kill."""
    with LocalKafkaCluster(1) as cluster:
        yield cluster


@pytest.mark.slow
async def test_broker_down_buffer_full_cancel_and_delivery_timeout(
    lone_broker: LocalKafkaCluster,
) -> None:
    topic = lone_broker.create_topic()
    producer = Producer(
        bootstrap_servers=lone_broker.bootstrap_servers,
        buffer_memory=64 * 1024,
        batch_size=16 * 1024,
        max_block_ms=1000,
        linger_ms=0,
        request_timeout_ms=1500,
        delivery_timeout_ms=4000,
        retry_backoff_ms=50,
    )
    await producer.start()
    await producer.send_and_wait(topic, b"before")
    lone_broker.kill(1)

    queued = []
    with pytest.raises(BufferFullError):  # noqa: PT012 - the loop is what fills the buffer
        for _ in range(100):
            queued.append(await producer.send(topic, b"x" * 8000))
    assert len(queued) < 100

    # A send blocked on a full buffer, cancelled: nothing is enqueued.
    blocked = asyncio.create_task(producer.send(topic, b"n" * 8000))
    await asyncio.sleep(0.2)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked

    results = await asyncio.gather(*queued, return_exceptions=True)
    assert all(isinstance(r, DeliveryTimeoutError) for r in results), results
    assert all(isinstance(r, KafkaTimeoutError) for r in results)

    started = time.monotonic()
    await producer.close(timeout=3)
    assert time.monotonic() - started < 5


@pytest.mark.slow
async def test_broker_restart_mid_stream_loses_nothing(lone_broker: LocalKafkaCluster) -> None:
    """The only broker dies and comes back while records flow: every ack is readable."""
    topic = lone_broker.create_topic(partitions=2)
    acked: list[int] = []
    async with Producer(
        bootstrap_servers=lone_broker.bootstrap_servers,
        linger_ms=2,
        request_timeout_ms=3000,
        retry_backoff_ms=50,
    ) as producer:

        def on_ack(i: int) -> Callable[[asyncio.Future[RecordMetadata]], None]:
            def done(future: asyncio.Future[RecordMetadata]) -> None:
                if future.exception() is None:
                    acked.append(i)

            return done

        async def stream() -> None:
            for i in range(6000):
                future = await producer.send(topic, str(i).encode(), key=str(i % 10).encode())
                future.add_done_callback(on_ack(i))
                if i % 500 == 0:
                    await asyncio.sleep(0.05)

        task = asyncio.create_task(stream())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(lone_broker.kill, 1)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(lone_broker.restart, 1)
        await task
        await producer.flush()
    assert len(acked) == 6000
    values = {int(r.value) for r in consume_all(lone_broker.bootstrap_servers, topic) if r.value}
    assert values == set(range(6000))


async def test_a_bug_settling_a_batch_fails_its_records_instead_of_losing_them(
    kafka_bootstrap: str, new_topic: TopicFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while handling a partition's response fails that batch's futures
    (nothing waits for it forever, close() returns); the batches after it go on."""
    topic = new_topic(partitions=1)
    original = Sender._complete
    broken: list[int] = []

    def complete_once_broken(self: Sender, batch: Any, base_offset: int, log_time: int) -> None:
        if not broken:
            broken.append(base_offset)
            raise RuntimeError("a bug in completing a batch")
        original(self, batch, base_offset, log_time)

    monkeypatch.setattr(Sender, "_complete", complete_once_broken)
    async with Producer(bootstrap_servers=kafka_bootstrap, acks=1) as producer:
        with pytest.raises(ProducerError, match="internal error"):
            await asyncio.wait_for(await producer.send(topic, b"first"), 30)
        later = await asyncio.wait_for(producer.send_and_wait(topic, b"second"), 30)
    assert broken == [0]
    assert later.offset == 1
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"first", b"second"]
