"""What one benchmark run does, shared by the parent (``benchmarks.run``) and the worker.

A :class:`RunSpec` travels to the worker as JSON on its command line; the worker's client
returns an :class:`Outcome`. Payloads come from small pre-built pools (random upper-case
letters, like Kafka's ProducerPerformance), so building records costs every client the same
and does not grow the worker's memory with the record count.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "LatencyRecorder",
    "Outcome",
    "Payloads",
    "RunSpec",
    "pace_async",
    "pace_sync",
]

_KEY_POOL = 4096
_VALUE_POOL = 1024


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One client run: where to produce, how much, and with which producer settings."""

    bootstrap: str
    topic: str
    scenario: int
    records: int
    value_size: int
    key_size: int  # 0 means null keys
    partitions: int = 6
    acks: str = "1"  # "0", "1" or "all"
    linger_ms: int | None = 5  # None: the client's own default (and so for batch_size)
    batch_size: int | None = 16384
    compression: str | None = None  # None or a codec name ("lz4", ...)
    idempotent: bool = False
    rate: int = 0  # records/s for the latency scenario; 0 is as fast as possible
    concurrency: int = 0  # concurrent send_and_wait tasks (scenario 4)
    transaction_records: int = 0  # records per transaction (scenario 8); 0 is no transactions
    #: in a transaction, wait for each record (gather its future, count its delivery
    #: callback); False: send and commit only, the commit's success the proof (scenario 11)
    record_waits: bool = True
    kafka_libs: str | None = None  # directory of Kafka's jars, for the Java client
    half_repetitive: bool = False  # values half random bytes, half one repeated byte
    ack_latency: bool = False  # a throughput run that also times send->ack per record
    sasl_ssl: dict[str, str] | None = None  # SASL_SSL: cafile, mechanism, username, password

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    def transactions(self) -> list[range]:
        """The record numbers of each transaction, in order (scenario 8)."""
        size = self.transaction_records
        return [range(i, min(i + size, self.records)) for i in range(0, self.records, size)]

    @property
    def transactional_id(self) -> str:
        """A transactional id of this run's own (the topic is fresh per run)."""
        return f"bench-{self.topic}"

    def tuning(self, linger: str, batch: str) -> dict[str, int]:
        """``{linger: linger_ms, batch: batch_size}`` under the client's names for them,
        leaving out those that are None (the client's own default then applies)."""
        given = {linger: self.linger_ms, batch: self.batch_size}
        return {name: value for name, value in given.items() if value is not None}

    @property
    def record_bytes(self) -> int:
        """Key plus value bytes of one record (what MB/s counts)."""
        return self.key_size + self.value_size


@dataclass(slots=True)
class Outcome:
    """What a client reports: records acknowledged and the time from first send to last ack."""

    acked: int
    seconds: float
    # Not in the repr: asyncio.run() of Python 3.11 formats its main task's result (this
    # Outcome) when it restores the SIGINT handler, inside the CPU measured for the run.
    latencies_ms: list[float] | None = field(default=None, repr=False)
    note: str = ""
    # Measured by the client itself when the work runs in a child process (Java).
    cpu_seconds: float | None = None
    peak_rss_kb: int | None = None
    record_bytes: int | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Payloads:
    """Pools of keys and values; ``key(i)``/``value(i)`` cycle through them."""

    def __init__(self, spec: RunSpec, seed: int = 7) -> None:
        rng = random.Random(seed)
        letters = bytes(range(65, 91))
        size = spec.value_size
        if spec.half_repetitive:  # compresses to about half
            self.values = [
                rng.randbytes(size // 2) + b"a" * (size - size // 2) for _ in range(_VALUE_POOL)
            ]
        else:
            self.values = [bytes(rng.choices(letters, k=size)) for _ in range(_VALUE_POOL)]
        self.keys: list[bytes | None] = (
            [rng.randbytes(spec.key_size) for _ in range(_KEY_POOL)]
            if spec.key_size
            else [None] * _KEY_POOL
        )

    def key(self, i: int) -> bytes | None:
        return self.keys[i & (_KEY_POOL - 1)]

    def value(self, i: int) -> bytes:
        return self.values[i & (_VALUE_POOL - 1)]


LATENCY_SAMPLE_EVERY = 64
"""In a throughput run with send->ack latency (scenario 6), a client timed in Python times
one record in this many (records 0, 64, 128, ...): a coroutine and a done-callback for every
record would slow the loop that sends, and so change the batches (more and smaller) and the
rate it measures, where librdkafka and Java time every record in their own code for free."""


class LatencyRecorder:
    """Send->ack latencies in milliseconds, measured with ``time.perf_counter``."""

    def __init__(self, expected: int) -> None:
        self.samples: list[float] = []
        self.expected = expected

    def done(self, started: float) -> None:
        self.samples.append((time.perf_counter() - started) * 1000.0)


async def pace_async(count: int, rate: int, send: Callable[[int], Awaitable[None]]) -> None:
    """Call ``send(i)`` for ``i < count`` at ``rate`` per second (no catch-up bursts beyond
    the schedule: a late call is made at once, the next one keeps its own slot)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(i)


def pace_sync(
    count: int, rate: int, send: Callable[[int], None], idle: Callable[[float], object]
) -> None:
    """The synchronous form of :func:`pace_async`; ``idle(seconds)`` waits or polls."""
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        while (delay := due - time.perf_counter()) > 0:
            idle(delay)  # may return early (poll() serves callbacks as they come)
        send(i)
