"""A producer the broker throttles: its memory stays bounded by buffer_memory, and it sends
nothing while a throttle lasts.

The broker throttles the producer's client id with a byte-rate quota (set with Kafka's own
ConfigCommand), so ``send()`` outpaces what the broker takes and must wait for buffer space.
Records are counted or read back with confluent-kafka.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer._clock import now_ms
from aioproducer._connection import BrokerConnection
from aioproducer._protocol.api import Request
from aioproducer._protocol.messages.produce import ProduceRequest
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.quotas import set_producer_byte_rate
from aioproducer.testing.readback import consume_all, count_records

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Kafka's ConfigCommand needs Java"),
]

MIB = 1024 * 1024
WORKER = Path(__file__).with_name("overload_worker.py")


def test_peak_rss_is_bounded_by_buffer_memory_under_overload(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=6)
    client_id = f"overload-{topic}"
    # 32 MiB of values at 2 MiB/s: Kafka averages a client's rate over about ten seconds, so
    # it throttles once that average is above the quota. The data is well beyond what the
    # kernel's socket buffers absorb, so an unbounded producer would hold much of it.
    buffer_memory, records = MIB, 32_000
    set_producer_byte_rate(kafka_bootstrap, client_id, 2 * MIB)
    try:
        arguments = [kafka_bootstrap, topic, client_id, str(buffer_memory), str(records)]
        done = subprocess.run(
            [sys.executable, str(WORKER), *arguments],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        set_producer_byte_rate(kafka_bootstrap, client_id, None)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["waited_for_memory"], "the quota did not put the producer under overload"
    growth = figures["after"] - figures["before"]
    # The queued records' bytes are bounded by buffer_memory; their futures and the request
    # frames in flight add a little on top. With buffer_memory at 64 MiB the same run grows
    # by about 15 MiB.
    assert growth <= buffer_memory + 4 * MIB, f"peak RSS grew by {growth / MIB:.1f} MiB"
    assert count_records(kafka_bootstrap, topic) == 1000 + records


async def test_no_request_goes_to_a_broker_while_it_throttles_us(
    kafka_bootstrap: str, new_topic: TopicFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KIP-219: the broker answers at once with a throttle time and mutes the connection;
    the producer, like Java's, holds its requests until the throttle time has passed."""
    topic = new_topic(partitions=3)
    client_id = f"throttled-{topic}"
    set_producer_byte_rate(kafka_bootstrap, client_id, 256 * 1024)
    early: list[int] = []
    throttled: list[int] = []
    real_send = BrokerConnection.send

    def watched_send(self: BrokerConnection, request: Request, version: int | None = None) -> Any:
        if isinstance(request, ProduceRequest):
            now = now_ms()
            if self.throttled_until_ms > now:
                early.append(self.throttled_until_ms - now)
            if self.throttled_until_ms:
                throttled.append(self.throttled_until_ms)
        return real_send(self, request, version)

    monkeypatch.setattr(BrokerConnection, "send", watched_send)
    value = b"x" * 1024
    try:
        # 16 KiB batches (a fixed cap, not the default's growing ones): many requests, so
        # that some are due while the broker throttles (4 MB in a few 1 MiB requests may
        # all leave before the first throttle time comes back).
        async with Producer(
            bootstrap_servers=kafka_bootstrap, client_id=client_id, batch_size=16384
        ) as producer:
            futures = [await producer.send(topic, value, i.to_bytes(4, "big")) for i in range(4000)]
            sent = [await f for f in futures]
    finally:
        set_producer_byte_rate(kafka_bootstrap, client_id, None)
    assert throttled, "the broker never throttled the producer"
    assert early == []
    read = consume_all(kafka_bootstrap, topic)
    assert sorted(r.key or b"" for r in read) == [i.to_bytes(4, "big") for i in range(4000)]
    assert {(r.partition, r.offset) for r in read} == {(m.partition, m.offset) for m in sent}
