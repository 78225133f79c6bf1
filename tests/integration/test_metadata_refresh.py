"""Metadata refreshes against a real broker (auto-creation off): what a missing topic costs,
how long an unused topic stays in every Metadata request, and close() during a wait."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from faulty_proxy import proxied_cluster

from aioproducer import Producer
from aioproducer.errors import ProducerClosedError, UnknownTopicError

pytestmark = pytest.mark.integration

_METADATA = 3  # the Metadata request's API key


@pytest.mark.slow
async def test_a_missing_topic_costs_a_few_requests_and_is_forgotten_when_idle() -> None:
    """Before: ~10 Metadata requests a second for ever after one failed send(). Now: the
    send's wait backs off (100, 200, 400 ms, ...), then only the regular refreshes
    (metadata_max_age_ms) name the topic, until metadata_max_idle_ms after its last use."""
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    async with proxied_cluster(record={_METADATA}) as (cluster, proxy):
        live = cluster.create_topic(None, 1, 1, None)
        async with Producer(
            bootstrap_servers=f"127.0.0.1:{proxy.port}",
            max_block_ms=1000,
            metadata_max_age_ms=1000,
            metadata_max_idle_ms=5000,  # Java's minimum
        ) as producer:
            await producer.send_and_wait(live, b"first")
            started = time.monotonic()
            with pytest.raises(UnknownTopicError):
                await producer.send(missing, b"v", key=b"k")
            failed = time.monotonic()
            while time.monotonic() < failed + 7.5:  # an idle producer, but for one topic
                await producer.send_and_wait(live, b"again")
                await asyncio.sleep(0.5)
            ended = time.monotonic()
    requests = [(at, frame) for at, frame in proxy.recorded if at >= started]
    naming = [at for at, frame in requests if missing.encode() in frame]
    during_wait = [at for at in naming if at <= failed]
    assert 2 <= len(during_wait) <= 6, during_wait  # 0, 0.1, 0.3, 0.7 s: not every 0.1 s
    after = [at - failed for at in naming if at > failed]
    assert after, "the regular refreshes still name it until it is idle"
    assert max(after) < 5.5, after  # forgotten 5 s after the send's last look
    idle_tail = [frame for at, frame in requests if at > failed + 5.5]
    assert idle_tail, "regular refreshes go on"
    assert all(live.encode() in frame for frame in idle_tail)  # a topic in use stays
    # All in all: the wait's few, then about one a second (metadata_max_age_ms).
    assert len(requests) <= len(during_wait) + (ended - failed) / 1.0 + 3, len(requests)


@pytest.mark.parametrize("call", ["send", "send_keyed", "send_many", "partitions_for"])
async def test_close_wakes_a_call_waiting_for_a_missing_topic(
    kafka_bootstrap: str, call: str
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    producer = Producer(bootstrap_servers=kafka_bootstrap, max_block_ms=10_000)
    await producer.start()
    waits: dict[str, Callable[[], Awaitable[object]]] = {
        "send": lambda: producer.send(missing, b"v"),
        "send_keyed": lambda: producer.send(missing, b"v", key=b"k"),
        "send_many": lambda: producer.send_many(missing, [(b"k", b"v")]),
        "partitions_for": lambda: producer.partitions_for(missing),
    }
    waiting = asyncio.ensure_future(waits[call]())
    await asyncio.sleep(0.5)
    assert not waiting.done()
    closing = time.monotonic()
    await asyncio.wait_for(producer.close(), 5)
    with pytest.raises(ProducerClosedError, match="closed while waiting"):
        await asyncio.wait_for(waiting, 1)
    assert time.monotonic() - closing < 1.0
