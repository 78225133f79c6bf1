"""Many senders blocked on buffer_memory behind a slow broker: served in order, none starved,
none left behind by cancellation or close().

The broker is reached only through a FaultyProxy that holds each Produce response, so the
producer drains its buffer slowly and thousands of tasks wait in line for buffer memory.
Records are read back with confluent-kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from faulty_proxy import FaultyProxy

from aioproducer import Producer, RecordMetadata
from aioproducer.errors import BufferFullError, ProducerClosedError
from aioproducer.testing import LocalKafkaCluster, free_port
from aioproducer.testing.readback import consume_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VALUE = b"v" * 100
DELAY = 0.025  # per Produce response: 40,000 records of 100 bytes drain in about 8 s


@pytest.fixture(scope="module")
def slow_cluster() -> Iterator[tuple[LocalKafkaCluster, int]]:
    """A broker of this module's own that advertises a proxy port in front of itself."""
    proxy_port = free_port()
    cluster = LocalKafkaCluster(1)
    cluster.broker_config["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{proxy_port}"
    with cluster:
        yield cluster, proxy_port


@pytest.fixture
async def slow_broker(
    slow_cluster: tuple[LocalKafkaCluster, int],
) -> AsyncIterator[tuple[LocalKafkaCluster, FaultyProxy]]:
    """The broker, reached only through a proxy that holds each Produce response."""
    cluster, proxy_port = slow_cluster
    proxy = FaultyProxy(proxy_port, cluster.nodes[0].port, response_delay=DELAY)
    await proxy.start()
    try:
        yield cluster, proxy
    finally:
        await proxy.stop()


def _producer(proxy: FaultyProxy, max_block_ms: int) -> Producer:
    return Producer(
        bootstrap_servers=f"127.0.0.1:{proxy.port}",
        buffer_memory=128 * 1024,
        max_block_ms=max_block_ms,
        linger_ms=5,
    )


async def _read_keys(cluster: LocalKafkaCluster, topic: str) -> Counter[bytes | None]:
    read = await asyncio.to_thread(consume_all, cluster.bootstrap_servers, topic)
    return Counter(r.key for r in read)


async def test_thousands_of_senders_waiting_for_memory_are_served_before_max_block_ms(
    slow_broker: tuple[LocalKafkaCluster, FaultyProxy],
) -> None:
    """Issue 16's scenario: 2,000 tasks, a 128 KiB buffer, max_block_ms 3 s and a broker
    that takes several times that to drain everything. With the waiters woken all at once
    and newcomers taking freed space first, 2,459 to 3,853 of these 40,000 sends failed
    with BufferFullError; served in order, each waits only for those ahead of it."""
    cluster, proxy = slow_broker
    topic = await asyncio.to_thread(cluster.create_topic, None, 6)
    tasks, per_task = 2_000, 20
    failures: list[BufferFullError] = []
    most_waiting = 0
    async with _producer(proxy, max_block_ms=3000) as producer:

        async def sender(number: int) -> list[asyncio.Future[RecordMetadata]]:
            futures = []
            for i in range(per_task):
                try:
                    futures.append(await producer.send(topic, VALUE, f"{number}:{i}".encode()))
                except BufferFullError as exc:
                    failures.append(exc)
            return futures

        async def watch() -> None:
            nonlocal most_waiting
            assert producer._accumulator is not None
            while True:
                most_waiting = max(most_waiting, producer._accumulator.memory_waiters)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        sent = await asyncio.gather(*(sender(n) for n in range(tasks)))
        await producer.flush()
        drained = time.monotonic() - started
        watcher.cancel()
        results = await asyncio.gather(*(f for futures in sent for f in futures))
    assert failures == []
    assert len(results) == tasks * per_task
    assert most_waiting > tasks // 2, "the senders hardly waited: the broker was not slow"
    assert drained > 3, f"drained in {drained:.1f} s: not slower than max_block_ms"
    keys = await _read_keys(cluster, topic)
    assert len(keys) == tasks * per_task
    assert set(keys.values()) == {1}


async def test_cancelled_waiters_pass_their_turn_and_send_many_waits_in_the_same_line(
    slow_broker: tuple[LocalKafkaCluster, FaultyProxy],
) -> None:
    """Senders cancelled while they wait (some perhaps after their bytes were granted) let
    those behind them be served all the same and leave nothing reserved; send_many's
    batches take their turns among the single records."""
    cluster, proxy = slow_broker
    topic = await asyncio.to_thread(cluster.create_topic, None, 6)
    delivered: list[bytes] = []

    def on_delivery(key: bytes) -> Callable[[asyncio.Future[RecordMetadata]], None]:
        def done(future: asyncio.Future[RecordMetadata]) -> None:
            if future.exception() is None:
                delivered.append(key)

        return done

    async with _producer(proxy, max_block_ms=3000) as producer:
        accumulator = producer._accumulator
        assert accumulator is not None

        async def sender(number: int) -> None:
            for i in range(20):
                key = f"{number}:{i}".encode()
                (await producer.send(topic, VALUE, key)).add_done_callback(on_delivery(key))

        async def many(number: int) -> None:
            records = [(f"many{number}:{i}".encode(), VALUE) for i in range(2_000)]
            await (await producer.send_many(topic, records))
            delivered.extend(key for key, _ in records)

        senders = [asyncio.create_task(sender(n)) for n in range(1_000)]
        runs = [asyncio.create_task(many(n)) for n in range(3)]
        for wave in range(5):
            async with asyncio.timeout(10):
                while accumulator.memory_waiters < 200:  # noqa: ASYNC110 - a line to cut
                    await asyncio.sleep(0.01)
            for task in senders[wave::15]:
                task.cancel()
            await asyncio.sleep(0.3)
        outcomes = await asyncio.gather(*senders, *runs, return_exceptions=True)
        await producer.flush()
        assert accumulator.memory_waiters == 0
        assert accumulator._reserved == 0
        assert accumulator.used_bytes == 0
    errors = [o for o in outcomes if o is not None and not isinstance(o, asyncio.CancelledError)]
    assert errors == []
    cancelled = {n for n, o in enumerate(outcomes) if isinstance(o, asyncio.CancelledError)}
    assert len(cancelled) >= 100
    keys = await _read_keys(cluster, topic)
    assert set(keys.values()) == {1}
    assert set(delivered) <= set(keys)
    # A task cancelled after send() queued its record, before it got the future back.
    unseen = Counter(int(k.split(b":")[0]) for k in set(keys) - set(delivered) if k)
    assert set(unseen) <= cancelled
    assert set(unseen.values()) <= {1}


async def test_close_wakes_every_waiter_at_once(
    slow_broker: tuple[LocalKafkaCluster, FaultyProxy],
) -> None:
    """close() while hundreds of senders wait (max_block_ms a minute): each raises
    ProducerClosedError at once; every record queued before is delivered, once."""
    cluster, proxy = slow_broker
    topic = await asyncio.to_thread(cluster.create_topic, None, 6)
    producer = _producer(proxy, max_block_ms=60_000)
    await producer.start()
    accumulator = producer._accumulator
    assert accumulator is not None
    futures: list[asyncio.Future[RecordMetadata]] = []

    async def sender(number: int) -> None:
        for i in range(50):
            futures.append(await producer.send(topic, VALUE, f"{number}:{i}".encode()))

    async def failed_at(task: asyncio.Task[None]) -> float | None:
        """When ``task`` failed with ProducerClosedError (None: it sent all its records)."""
        try:
            await task
        except ProducerClosedError:
            return time.monotonic()
        return None

    senders = [asyncio.create_task(sender(n)) for n in range(1_000)]
    async with asyncio.timeout(10):
        while accumulator.memory_waiters < 800:  # noqa: ASYNC110 - waiting for the line
            await asyncio.sleep(0.01)
    endings = asyncio.gather(*(failed_at(task) for task in senders))
    closing = time.monotonic()
    await producer.close()
    ended = [at for at in await endings if at is not None]
    assert len(ended) >= 800
    assert max(ended) - closing < 2, "a waiter was not woken by close()"
    results = await asyncio.gather(*futures)
    assert accumulator._reserved == 0
    keys = await _read_keys(cluster, topic)
    assert set(keys.values()) == {1}
    assert len(keys) == len(results) == len(futures)
