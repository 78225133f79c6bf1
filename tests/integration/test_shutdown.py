"""How a producer ends: close() in every circumstance, flush()'s contract, a producer dropped
without close(), and one used from the wrong event loop. Every record is read back with
confluent-kafka."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
from collections.abc import Iterator

import pytest

from aioproducer import Producer, RecordMetadata
from aioproducer.errors import (
    ProducerClosedError,
    UnknownTopicError,
    WrongEventLoopError,
)
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


def connections(producer: Producer) -> int:
    cluster = producer._cluster
    assert cluster is not None
    return sum(conn.connected for conn in cluster._connections.values())


async def queue_records(
    producer: Producer, topic: str, count: int, partitions: int = 3
) -> list[asyncio.Future[RecordMetadata]]:
    return [
        await producer.send(topic, b"%d" % i, key=b"%d" % (i % partitions)) for i in range(count)
    ]


async def test_cancel_every_task_then_close_delivers_everything(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The shutdown of asyncio.run and of web frameworks: every other task is cancelled
    (the sender's too), then close() runs. It delivers what was queued, raises nothing,
    closes every connection; send() refuses records once the sender is gone."""
    topic = new_topic(partitions=3)
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=2000)
    await producer.start()
    futures = await queue_records(producer, topic, 402)
    me = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not me]
    assert others  # the sender at least
    for task in others:
        task.cancel()
    await asyncio.wait(others)
    with pytest.raises(ProducerClosedError, match="sender task was cancelled"):
        producer.send(topic, b"late", key=b"0")  # type: ignore[unused-coroutine]
    async with asyncio.timeout(30):
        await producer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert connections(producer) == 0
    assert sorted(int(r.value or b"") for r in consume_all(kafka_bootstrap, topic)) == list(
        range(402)
    )


async def test_close_cancelled_by_a_timeout_still_finishes_the_shutdown(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """close() under asyncio.timeout: when the timeout cancels it, what is undelivered fails
    with ProducerClosedError, the sender stops and every connection is closed before the
    cancellation goes on; a later close() returns at once."""
    topic = new_topic(partitions=3)
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=5000, batch_size=1_000_000)
    await producer.start()
    futures = await queue_records(producer, topic, 3000)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.001):
            await producer.close()
    assert producer.closed
    assert all(f.done() for f in futures)
    failed = [f.exception() for f in futures if f.exception() is not None]
    assert all(isinstance(e, ProducerClosedError) for e in failed)
    assert producer._sender_task is not None
    assert producer._sender_task.done()
    assert connections(producer) == 0
    async with asyncio.timeout(5):
        await producer.close()
    # every acknowledged record is there; a failed one may be too, if it was in flight
    delivered = [int(r.value or b"") for r in consume_all(kafka_bootstrap, topic)]
    assert len(delivered) == len(set(delivered))
    assert set(delivered) >= {i for i, f in enumerate(futures) if f.exception() is None}


async def test_concurrent_closes_both_return_when_the_shutdown_is_complete(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=300)
    await producer.start()
    futures = await queue_records(producer, topic, 1000)
    first = asyncio.create_task(producer.close())
    second = asyncio.create_task(producer.close())
    async with asyncio.timeout(30):
        await second
    assert all(f.done() and f.exception() is None for f in futures)
    assert connections(producer) == 0
    await first
    assert len(consume_all(kafka_bootstrap, topic)) == 1000


async def test_close_with_a_timeout_fails_the_rest_and_returns(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    producer = Producer(
        bootstrap_servers=kafka_bootstrap, linger_ms=60_000, batch_size=1_000_000, max_block_ms=200
    )
    await producer.start()
    futures = await queue_records(producer, topic, 100, partitions=1)
    # the records stay queued (linger) while a send waits for a topic that does not exist
    waiting = asyncio.create_task(producer.send("no-such-topic-anywhere", b"v"))
    async with asyncio.timeout(10):
        await producer.close(timeout=0)
        with pytest.raises((ProducerClosedError, UnknownTopicError)):
            await waiting
    assert all(f.done() for f in futures)
    assert connections(producer) == 0


async def test_flush_returns_after_every_done_callback_ran(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Java's contract: when flush() returns, the records sent before it are complete and
    their callbacks have run (send_many's group future included)."""
    topic = new_topic(partitions=3)
    ran: list[int] = []

    def note(i: int, _: object) -> None:
        ran.append(i)

    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=20) as producer:
        for round_ in range(3):
            ran.clear()
            for i in range(1000):
                future = await producer.send(topic, b"v", key=b"%d" % (i % 7))
                future.add_done_callback(functools.partial(note, i))
            group = await producer.send_many(topic, [(b"k", b"v")] * 100)
            group.add_done_callback(lambda _: ran.append(-1))
            await producer.flush()
            assert len(ran) == 1001, f"round {round_}: {len(ran)} of 1001 callbacks ran"
        ran.clear()
        future = await producer.send(topic, b"last", key=b"k")
        future.add_done_callback(lambda _: ran.append(0))
    assert ran == [0]  # close() too runs the callbacks before it returns


async def test_a_dropped_producer_warns_and_still_delivers_while_the_loop_runs(
    kafka_bootstrap: str, new_topic: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=60_000)
    await producer.start()
    futures = await queue_records(producer, topic, 10, partitions=1)
    cluster = producer._cluster
    assert cluster is not None
    with (  # noqa: PT031 - dropping it, then collecting the cycle, is one act
        caplog.at_level(logging.ERROR, "aioproducer"),
        pytest.warns(ResourceWarning, match="10 record"),
    ):
        del producer
        gc.collect()
    assert "'aioproducer' was dropped without close(): 10 record(s)" in caplog.text
    async with asyncio.timeout(30):
        await asyncio.gather(*futures)
        while cluster._connections:  # noqa: ASYNC110 - the sender, done, closes them
            await asyncio.sleep(0.01)
    assert len(consume_all(kafka_bootstrap, topic)) == 10


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def test_a_producer_used_from_another_event_loop_says_so(
    kafka_bootstrap: str, new_topic: TopicFactory, other_loop: asyncio.AbstractEventLoop
) -> None:
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap)

    def there(coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, other_loop).result(30)  # type: ignore[arg-type]

    there(producer.start())
    with pytest.raises(WrongEventLoopError, match="event loop"):
        producer.send(topic, b"v", key=b"k")  # type: ignore[unused-coroutine] # the C path's
    with pytest.raises(WrongEventLoopError, match="event loop"):
        producer.send(topic, b"v", headers=[("h", b"")])  # type: ignore[unused-coroutine]
    for coroutine in (
        producer.send_many(topic, [(b"k", b"v")]),
        producer.flush(),
        producer.partitions_for(topic),
        producer.close(),
    ):
        with pytest.raises(WrongEventLoopError, match="event loop"):
            await coroutine

    async def in_its_loop() -> RecordMetadata:
        metadata = await producer.send_and_wait(topic, b"right loop", key=b"k")
        await producer.close()
        return metadata

    metadata = there(in_its_loop())
    assert isinstance(metadata, RecordMetadata)
    assert (metadata.partition, metadata.offset) == (0, 0)
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"right loop"]


async def test_a_send_from_a_thread_without_a_loop_says_so(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        errors: list[BaseException] = []

        def send_from_thread() -> None:
            try:
                producer.send(topic, b"v", key=b"k")  # type: ignore[unused-coroutine]
            except BaseException as exc:
                errors.append(exc)

        await asyncio.to_thread(send_from_thread)
        assert len(errors) == 1
        assert isinstance(errors[0], WrongEventLoopError)
        await producer.send_and_wait(topic, b"ok", key=b"k")
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"ok"]


async def test_a_producer_dropped_after_its_sender_was_cancelled_closes_its_connections(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap, linger_ms=60_000)
    await producer.start()
    await queue_records(producer, topic, 3, partitions=1)
    cluster, task = producer._cluster, producer._sender_task
    assert cluster is not None
    assert task is not None
    task.cancel()
    await asyncio.wait((task,))
    assert cluster._connections
    with pytest.warns(ResourceWarning, match="3 record"):  # noqa: PT031 - one act
        del producer
        gc.collect()
    async with asyncio.timeout(10):
        while cluster._connections:  # noqa: ASYNC110 - closed from a loop callback
            await asyncio.sleep(0.01)
