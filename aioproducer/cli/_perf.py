"""``aioproducer perf TOPIC``: Kafka's ``kafka-producer-perf-test``, line for line.

The same workload (``--num-records`` values of ``--record-size`` random capital letters,
no key, throttled to ``--throughput`` records/s, -1 for no limit) and the same output as
Java's ``ProducerPerformance``: a line per 5-second window, then the total with the
latency percentiles, so the figures compare with the Java client's directly. Latency is a
record's, in whole milliseconds, from ``send()`` to its acknowledgement; the clock starts
before the producer connects, as Java's starts before its first send fetches metadata.
Records go one by one through ``send()``, as Java's do.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TextIO

from aioproducer._clock import now_ms
from aioproducer._producer import Producer
from aioproducer.cli._input import InputError
from aioproducer.cli._options import (
    DEFAULT_SETTINGS,
    add_producer_options,
    largest_record,
    parse_property,
    producer_config,
)
from aioproducer.cli._report import Tally

__all__ = ["PerfOptions", "PerfStats", "payloads", "perf", "perf_parser"]

_MAX_SAMPLES: Final = 500_000  # Java keeps at most this many latencies for percentiles
_WINDOW_MS: Final = 5000
_PERCENTILES: Final = (0.5, 0.95, 0.99, 0.999)
_POOL_BYTES: Final = 16 * 1024 * 1024  # distinct payloads, so compression sees no repeats
_POOL_MAX: Final = 4096
_LETTERS: Final = bytes(65 + i % 26 for i in range(256))  # a random byte to A-Z
_MIN_SLEEP: Final = 0.002  # seconds: the throttle sleeps once it is this far ahead


class PerfStats:
    """Java's ``ProducerPerformance.Stats``: counts, 5-second windows, sampled latencies."""

    def __init__(self, num_records: int, now_ms: int, out: Callable[[str], None]) -> None:
        self._start = self._window_start = now_ms
        self._out = out
        self._sampling = num_records // min(num_records, _MAX_SAMPLES)
        self._samples = array("i")
        self._iteration = 0
        self.count = 0
        self._bytes = 0
        self._max = 0
        self._total = 0
        self._window_count = 0
        self._window_bytes = 0
        self._window_max = 0
        self._window_total = 0

    def record(self, latency_ms: int, size: int, now_ms: int) -> None:
        """A record of ``size`` bytes was acknowledged ``latency_ms`` after its send."""
        self.count += 1
        self._bytes += size
        self._total += latency_ms
        self._max = max(self._max, latency_ms)
        self._window_count += 1
        self._window_bytes += size
        self._window_total += latency_ms
        self._window_max = max(self._window_max, latency_ms)
        if self._iteration % self._sampling == 0:
            self._samples.append(latency_ms)
        if now_ms - self._window_start >= _WINDOW_MS:
            self._out(self.window_line(now_ms))
            self._window_start = now_ms
            self._window_count = self._window_bytes = self._window_max = self._window_total = 0
        self._iteration += 1

    def window_line(self, now_ms: int) -> str:
        count, elapsed_ms = self._window_count, now_ms - self._window_start
        return (
            f"{count} records sent, {_per_second(count, elapsed_ms):.1f} records/sec "
            f"({_mb_per_second(self._window_bytes, elapsed_ms):.2f} MB/sec), "
            f"{_average(self._window_total, count):.1f} ms avg latency, "
            f"{float(self._window_max):.1f} ms max latency."
        )

    def total_line(self, now_ms: int) -> str:
        count, elapsed_ms = self.count, now_ms - self._start
        p50, p95, p99, p999 = self.percentiles()
        return (
            f"{count} records sent, {_per_second(count, elapsed_ms):f} records/sec "
            f"({_mb_per_second(self._bytes, elapsed_ms):.2f} MB/sec), "
            f"{_average(self._total, count):.2f} ms avg latency, "
            f"{float(self._max):.2f} ms max latency, {p50} ms 50th, {p95} ms 95th, "
            f"{p99} ms 99th, {p999} ms 99.9th."
        )

    def percentiles(self) -> list[int]:
        """The sampled latencies at 50, 95, 99 and 99.9 % (Java's index: int(p * n))."""
        samples = sorted(self._samples)
        if not samples:
            return [0] * len(_PERCENTILES)
        return [samples[int(p * len(samples))] for p in _PERCENTILES]


def _per_second(count: int, elapsed_ms: int) -> float:
    return 1000.0 * count / elapsed_ms if elapsed_ms > 0 else 0.0


def _mb_per_second(size: int, elapsed_ms: int) -> float:
    return _per_second(size, elapsed_ms) / (1024.0 * 1024.0)


def _average(total: int, count: int) -> float:
    return total / count if count else 0.0


def payloads(record_size: int, num_records: int, seed: int = 0) -> list[bytes]:
    """Distinct values of ``record_size`` random capital letters, as Java's perf test
    sends: enough of them that a batch does not repeat one (16 MiB at most)."""
    count = max(1, min(num_records, _POOL_MAX, _POOL_BYTES // record_size))
    letters = random.Random(seed).randbytes(count * record_size).translate(_LETTERS)
    return [letters[i : i + record_size] for i in range(0, len(letters), record_size)]


@dataclass(frozen=True, slots=True)
class PerfOptions:
    """What ``perf`` was asked to do, checked."""

    topic: str
    num_records: int
    record_size: int
    throughput: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> PerfOptions:
        topics = [t for t in (args.topic, args.topic_option) if t is not None]
        if len(topics) != 1:
            raise InputError("name the topic once: aioproducer perf TOPIC (or --topic TOPIC)")
        if args.num_records <= 0:
            raise InputError("--num-records must be greater than zero")
        if args.record_size <= 0:
            raise InputError("--record-size must be greater than zero")
        if args.throughput == 0 or args.throughput != args.throughput:
            raise InputError("--throughput must be records per second, or -1 for no limit")
        return cls(topics[0], args.num_records, args.record_size, args.throughput)


class _Run:
    """One perf run: sends ``values`` in turn, throttles, counts what is acknowledged."""

    def __init__(
        self, options: PerfOptions, values: list[bytes], stats: PerfStats, tally: Tally
    ) -> None:
        self._options = options
        self._values = values
        self._stats = stats
        self._tally = tally

    def _done(self, sent_ms: int, size: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._tally.settled(future)
            return
        now = now_ms()
        self._stats.record(now - sent_ms, size, now)

    async def send_all(self, producer: Producer, started: float) -> None:
        """Send every record; the throttle counts from ``started`` (``time.monotonic()``)."""
        options, values = self._options, self._values
        topic, send, done, partial = options.topic, producer.send, self._done, functools.partial
        per_second, clock = options.throughput, time.monotonic
        for i in range(options.num_records):
            value = values[i % len(values)]
            sent_ms = now_ms()
            future = await send(topic, value)
            future.add_done_callback(partial(done, sent_ms, len(value)))
            if per_second > 0:
                ahead = started + (i + 1) / per_second - clock()
                if ahead >= _MIN_SLEEP:
                    await asyncio.sleep(ahead)


async def perf(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``perf``; the exit code (1 if any record failed)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    options = PerfOptions.from_args(args)
    config = producer_config(args, {**DEFAULT_SETTINGS, "client.id": "perf-producer-client"})
    limit = largest_record(config)
    if options.record_size > limit:
        raise InputError(
            f"--record-size {options.record_size} is more than a record may be "
            f"({limit} bytes: max.request.size, buffer.memory)"
        )

    def print_line(line: str) -> None:
        print(line, file=out, flush=True)

    values = payloads(options.record_size, options.num_records)
    tally = Tally()
    producer = Producer(config)
    started = time.monotonic()  # before connecting, as Java's clock starts before metadata
    stats = PerfStats(options.num_records, now_ms(), print_line)
    await producer.start()
    try:
        await _Run(options, values, stats, tally).send_all(producer, started)
    finally:
        await producer.close()
        print_line(stats.total_line(now_ms()))
        code = tally.report(err)
    return code


def perf_parser(prog: str) -> argparse.ArgumentParser:
    """The arguments of ``perf``."""
    parser = argparse.ArgumentParser(
        prog=f"{prog} perf",
        description="measure as Kafka's kafka-producer-perf-test does, with its output",
    )
    parser.add_argument("topic", metavar="TOPIC", nargs="?")
    parser.add_argument("--topic", dest="topic_option", metavar="TOPIC", help=argparse.SUPPRESS)
    parser.add_argument("--num-records", type=int, required=True, metavar="N")
    parser.add_argument("--record-size", type=int, required=True, metavar="BYTES")
    parser.add_argument(
        "--throughput",
        type=float,
        required=True,
        metavar="PER_SECOND",
        help="at most this many records/s; -1: no limit",
    )
    add_producer_options(parser)
    parser.add_argument(
        "--producer-props",
        dest="properties",
        metavar="NAME=VALUE",
        nargs="+",
        action="extend",
        type=parse_property,
        help="settings, as kafka-producer-perf-test takes them (as -X)",
    )
    parser.set_defaults(command=perf)
    return parser
