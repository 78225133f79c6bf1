"""The three asyncio workloads, written once for every client that returns asyncio futures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from benchmarks.workload import (
    LATENCY_SAMPLE_EVERY,
    LatencyRecorder,
    Outcome,
    Payloads,
    RunSpec,
    pace_async,
)

__all__ = ["LAG_KEY", "RecordSend", "SendFn", "drive", "transactions", "with_loop_lag"]

#: ``await send(i)`` queues record ``i`` and returns the future of its acknowledgement.
SendFn = Callable[[int], Awaitable["asyncio.Future[Any]"]]

#: The client's own ``send(topic, value, key)`` and the payloads: the throughput and task
#: loops call it in line, as confluent-sync's loop calls ``produce`` (no wrapper frame).
RecordSend = tuple[Callable[[str, bytes, bytes | None], Awaitable["asyncio.Future[Any]"]], Payloads]

#: The key of :attr:`Outcome.extra` that holds the event loop's p99 lag in milliseconds.
LAG_KEY = "loop_lag_p99_ms"
_LAG_SLEEP = 0.001


async def _lag_probe(samples: list[float]) -> None:
    """Sleep 1 ms in a loop, recording how much later than asked each sleep ends (ms)."""
    clock = time.perf_counter
    while True:
        start = clock()
        await asyncio.sleep(_LAG_SLEEP)
        samples.append(max(0.0, (clock() - start - _LAG_SLEEP) * 1000.0))


async def with_loop_lag(work: Awaitable[Outcome]) -> Outcome:
    """``work``'s outcome, with the p99 of a 1 ms sleeper's oversleep meanwhile in
    ``extra[LAG_KEY]``: throughput bought with a frozen loop shows there."""
    samples: list[float] = []
    probe = asyncio.get_running_loop().create_task(_lag_probe(samples))
    try:
        outcome = await work
    finally:
        probe.cancel()
    if samples:
        samples.sort()
        outcome.extra[LAG_KEY] = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return outcome


async def _nothing() -> None:
    return None


def _timed(send: SendFn, recorder: LatencyRecorder) -> SendFn:
    """``send`` that records each record's send->ack time from a done callback."""

    async def timed(i: int) -> asyncio.Future[Any]:
        t0 = time.perf_counter()
        future = await send(i)
        future.add_done_callback(lambda _f: recorder.done(t0))
        return future

    return timed


async def throughput(
    spec: RunSpec,
    send: SendFn,
    before_gather: Callable[[], Awaitable[None]] = _nothing,
    direct: RecordSend | None = None,
) -> Outcome:
    """Every record sent as fast as ``send`` lets us, futures gathered at the end (with
    ``spec.ack_latency``, one record in :data:`LATENCY_SAMPLE_EVERY` timed send->ack)."""
    recorder = LatencyRecorder(spec.records) if spec.ack_latency else None
    started = time.perf_counter()
    if recorder is not None:
        timed = _timed(send, recorder)
        futures = [
            await (send(i) if i % LATENCY_SAMPLE_EVERY else timed(i)) for i in range(spec.records)
        ]
    elif direct is not None:
        record_send, payloads = direct
        key, value, topic = payloads.key, payloads.value, spec.topic
        futures = [await record_send(topic, value(i), key(i)) for i in range(spec.records)]
    else:
        futures = [await send(i) for i in range(spec.records)]
    await before_gather()
    results = await asyncio.gather(*futures)
    return Outcome(
        acked=len(results),
        seconds=time.perf_counter() - started,
        latencies_ms=None if recorder is None else recorder.samples,
    )


async def latency(
    spec: RunSpec, send: SendFn, before_gather: Callable[[], Awaitable[None]] = _nothing
) -> Outcome:
    """``spec.rate`` records per second; send->ack time of each from a done callback."""
    recorder = LatencyRecorder(spec.records)
    futures: list[asyncio.Future[Any]] = []
    timed = _timed(send, recorder)

    async def one(i: int) -> None:
        futures.append(await timed(i))

    started = time.perf_counter()
    await pace_async(spec.records, spec.rate, one)
    await before_gather()
    results = await asyncio.gather(*futures)
    return Outcome(
        acked=len(results),
        seconds=time.perf_counter() - started,
        latencies_ms=recorder.samples,
    )


async def concurrent(spec: RunSpec, send: SendFn, direct: RecordSend | None = None) -> Outcome:
    """``spec.concurrency`` tasks, each sending and awaiting one record at a time."""
    tasks = spec.concurrency
    acked = 0

    if direct is None:

        async def worker(first: int) -> None:
            nonlocal acked
            for i in range(first, spec.records, tasks):
                await (await send(i))
                acked += 1

    else:
        record_send, payloads = direct
        key, value, topic = payloads.key, payloads.value, spec.topic

        async def worker(first: int) -> None:  # the same, with the client's send in line
            nonlocal acked
            for i in range(first, spec.records, tasks):
                await (await record_send(topic, value(i), key(i)))
                acked += 1

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for first in range(min(tasks, spec.records)):
            group.create_task(worker(first))
    return Outcome(acked=acked, seconds=time.perf_counter() - started)


async def drive(
    spec: RunSpec,
    send: SendFn,
    before_gather: Callable[[], Awaitable[None]] = _nothing,
    direct: RecordSend | None = None,
) -> Outcome:
    """The workload of ``spec``'s scenario (1, 2 and 5 are throughput; 3 latency; 4 tasks),
    with the event loop's lag measured beside it. With ``direct``, the throughput and task
    loops call the client's ``send(topic, value, key)`` themselves instead of ``send(i)``."""
    if spec.rate:
        return await with_loop_lag(latency(spec, send, before_gather))
    if spec.concurrency:
        return await with_loop_lag(concurrent(spec, send, direct))
    return await with_loop_lag(throughput(spec, send, before_gather, direct))


async def transactions(
    spec: RunSpec, send: SendFn, transaction: Callable[[], AbstractAsyncContextManager[Any]]
) -> Outcome:
    """``async with transaction()`` around each ``spec.transaction_records`` sends; its
    commit at the end returns once every record of it is acknowledged (scenario 8). The
    futures are gathered after each commit, or (``spec.record_waits`` False, scenario 11)
    dropped: a commit that returned acknowledged every record of its transaction."""
    return await with_loop_lag(_transactions(spec, send, transaction))


async def _transactions(
    spec: RunSpec, send: SendFn, transaction: Callable[[], AbstractAsyncContextManager[Any]]
) -> Outcome:
    acked = 0
    started = time.perf_counter()
    if not spec.record_waits:
        for records in spec.transactions():
            async with transaction():
                for i in records:
                    await send(i)
            acked += len(records)
        return Outcome(
            acked=acked,
            seconds=time.perf_counter() - started,
            note="async with transaction(): await send() per record, the future dropped",
        )
    for records in spec.transactions():
        async with transaction():
            futures = [await send(i) for i in records]
        acked += len(await asyncio.gather(*futures))
    return Outcome(acked=acked, seconds=time.perf_counter() - started)
