"""The sender's failure handling, each case through a real Producer against a FakeBroker.

Millisecond tests on loopback: retry on a new leader, backoff, splitting, epoch bumps,
fencing, throttling, request timeouts and reconnection. The same paths against Kafka itself
are in tests/integration; these add speed and scripted faults, not proof of the bytes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.messages.produce import ProduceRequest
from aioproducer.errors import (
    BrokerError,
    FencedProducerError,
    InvalidProducerEpochError,
    MessageTooLargeError,
    NotEnoughReplicasError,
    OutOfOrderSequenceNumberError,
    ProducerFencedError,
    UnknownProducerIdError,
)
from aioproducer.testing.fake_broker import DROP, HANG, Action, FakeBroker, ReceivedRequest

TOPIC = "t"
FAST: dict[str, Any] = {
    "linger_ms": 0,
    "retry_backoff_ms": 5,
    "retry_backoff_max_ms": 20,
    "reconnect_backoff_ms": 5,
    "reconnect_backoff_max_ms": 20,
    "max_block_ms": 2000,
}


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with asyncio.timeout(5), FakeBroker(nodes=2) as fake:
        fake.create_topic(TOPIC, partitions=1, leaders=[1])
        yield fake


def producer(broker: FakeBroker, **options: Any) -> Producer:
    return Producer(bootstrap_servers=broker.bootstrap_servers, **{**FAST, **options})


def produce_requests(broker: FakeBroker, node_id: int | None = None) -> list[ReceivedRequest]:
    return broker.received(ApiKey.PRODUCE, node_id)


async def test_not_leader_is_retried_on_the_new_leader_in_order(broker: FakeBroker) -> None:
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        metadata_before = len(broker.received(ApiKey.METADATA))
        broker.set_leader(TOPIC, 0, 2)  # node 1 now answers NOT_LEADER_OR_FOLLOWER
        futures = [await p.send(TOPIC, b"%d" % i) for i in range(1, 6)]
        offsets = [(await f).offset for f in futures]
    assert broker.values(TOPIC, 0) == [b"%d" % i for i in range(6)]
    assert offsets == [1, 2, 3, 4, 5]
    assert len(broker.received(ApiKey.METADATA)) > metadata_before  # refreshed
    assert produce_requests(broker, 1)[1:]  # node 1 saw records after the move...
    assert all(b.base_offset >= 1 for b in broker.batches(TOPIC, 0)[1:])
    assert produce_requests(broker, 2)  # ...and node 2 wrote them


async def test_backoff_grows_between_retries(broker: FakeBroker) -> None:
    broker.script_produce(TOPIC, 0, [NotEnoughReplicasError] * 4)
    async with producer(broker, retry_backoff_ms=20, retry_backoff_max_ms=1000) as p:
        await p.send_and_wait(TOPIC, b"v")
    attempts = produce_requests(broker)
    assert len(attempts) == 5
    gaps = [
        b.received_at - a.answered_at
        for a, b in itertools.pairwise(attempts)
        if a.answered_at is not None
    ]
    # 20 ms doubling with +-20 % jitter: retry k waits at least 16 ms * 2**k, so the gaps
    # grow (load can only lengthen them, hence the loose upper bound)
    for attempt, gap in enumerate(gaps):
        expected = 0.020 * 2**attempt
        assert 0.8 * expected - 0.002 <= gap <= 1.2 * expected + 0.1, (attempt, gaps)
    assert broker.values(TOPIC, 0) == [b"v"]


async def test_message_too_large_splits_a_multi_record_batch(broker: FakeBroker) -> None:
    broker.create_topic("small", leaders=[1], max_message_bytes=600)
    async with producer(broker, linger_ms=30) as p:
        futures = [await p.send("small", b"%03d" % i + b"x" * 97) for i in range(10)]
        offsets = [(await f).offset for f in futures]
    batches = broker.batches("small", 0)
    assert [r.value for r in broker.records("small", 0)] == [
        b"%03d" % i + b"x" * 97 for i in range(10)
    ]
    assert offsets == list(range(10))
    assert len(batches) > 1
    first = produce_requests(broker)[0].request
    assert isinstance(first, ProduceRequest)
    [(_, [(_, sent)])] = first.topic_data
    assert sent is not None
    assert len(sent) > 600
    sequences = [(b.base_sequence, len(b.records)) for b in batches]
    assert [s for s, _ in sequences] == [
        sum(n for _, n in sequences[:i]) for i in range(len(batches))
    ]


async def test_message_too_large_fails_a_single_record(broker: FakeBroker) -> None:
    broker.script_produce(TOPIC, 0, [MessageTooLargeError])
    async with producer(broker) as p:
        with pytest.raises(MessageTooLargeError):
            await p.send_and_wait(TOPIC, b"v")
        await p.send_and_wait(TOPIC, b"w")  # the partition goes on
    assert broker.values(TOPIC, 0) == [b"w"]


@pytest.mark.parametrize("error", [OutOfOrderSequenceNumberError, UnknownProducerIdError])
async def test_lost_producer_state_bumps_the_epoch(
    broker: FakeBroker, error: type[BrokerError]
) -> None:
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        broker.script_produce(TOPIC, 0, [error])
        await p.send_and_wait(TOPIC, b"1")
        await p.send_and_wait(TOPIC, b"2")
    stamps = [(b.producer_id, b.producer_epoch, b.base_sequence) for b in broker.batches(TOPIC, 0)]
    assert broker.values(TOPIC, 0) == [b"0", b"1", b"2"]
    assert stamps == [(1000, 0, 0), (1000, 1, 0), (1000, 1, 1)]  # KIP-360: a local bump


@pytest.mark.parametrize("error", [ProducerFencedError, InvalidProducerEpochError])
async def test_a_fenced_producer_fails_the_batch(
    broker: FakeBroker, error: type[BrokerError]
) -> None:
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        broker.fence_producer(error=error)
        with pytest.raises(FencedProducerError) as caught:
            await p.send_and_wait(TOPIC, b"1")
        assert isinstance(caught.value.__cause__, error)
        await p.close(timeout=0.2)
    assert broker.values(TOPIC, 0) == [b"0"]


async def test_after_fencing_queued_and_new_records_fail_at_once(broker: FakeBroker) -> None:
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        broker.fence_producer()
        with pytest.raises(FencedProducerError):
            await p.send_and_wait(TOPIC, b"1")
        try:
            with pytest.raises(FencedProducerError):
                async with asyncio.timeout(0.5):
                    await p.send_and_wait(TOPIC, b"2")
        finally:
            await p.close(timeout=0.1)


async def test_throttle_time_keeps_the_sender_off_that_broker(broker: FakeBroker) -> None:
    broker.script_produce(TOPIC, 0, [Action(throttle_ms=200)])
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        await p.send_and_wait(TOPIC, b"1")
    first, second = produce_requests(broker)
    assert first.answered_at is not None
    assert second.received_at - first.answered_at >= 0.2 - 0.005
    assert not second.throttled
    assert broker.values(TOPIC, 0) == [b"0", b"1"]


async def test_throttle_before_produce_v6_is_the_brokers_own_delay() -> None:
    async with asyncio.timeout(5), FakeBroker(api_versions={ApiKey.PRODUCE: (3, 5)}) as broker:
        broker.create_topic(TOPIC)
        broker.script_produce(TOPIC, 0, [Action(throttle_ms=500)])
        async with producer(broker) as p:
            await p.send_and_wait(TOPIC, b"0")
            await p.send_and_wait(TOPIC, b"1")
        first, second = produce_requests(broker)
        assert first.answered_at is not None
        assert second.received_at - first.answered_at < 0.4  # the broker already waited
        assert second.header.api_version == 5


async def test_request_timeout_closes_the_connection_and_retries_on_a_new_one(
    broker: FakeBroker,
) -> None:
    broker.script_produce(TOPIC, 0, [HANG])  # written, never answered
    loop = asyncio.get_running_loop()
    async with producer(broker, request_timeout_ms=200) as p:
        started = loop.time()
        metadata = await p.send_and_wait(TOPIC, b"0")
        elapsed = loop.time() - started
    first, retry = produce_requests(broker)
    assert first.answered_at is None
    assert retry.answered_at is not None
    assert retry.connection != first.connection
    assert 0.2 <= elapsed < 1.0
    assert broker.values(TOPIC, 0) == [b"0"]  # the retry was a duplicate: written once
    assert metadata.offset == 0


async def test_a_dropped_connection_is_reopened_without_duplicates(broker: FakeBroker) -> None:
    async with producer(broker) as p:
        await p.send_and_wait(TOPIC, b"0")
        # the first request is answered late, so the next ones are sent behind it; the second
        # is written, then the connection drops: it and those after it are sent again
        broker.script_produce(TOPIC, 0, [Action(delay_ms=50), DROP])
        futures = []
        for i in range(1, 6):
            futures.append(await p.send(TOPIC, b"%d" % i))
            await asyncio.sleep(0.005)
        offsets = [(await f).offset for f in futures]
    assert broker.values(TOPIC, 0) == [b"%d" % i for i in range(6)]
    assert offsets == [1, 2, 3, 4, 5]
    assert broker.unscripted() == {}
    assert len({r.connection for r in produce_requests(broker)}) == 2
    assert len(broker.batches(TOPIC, 0)) == len({b.base_sequence for b in broker.batches(TOPIC, 0)})
