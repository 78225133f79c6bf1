"""CPU per keyed send() that FastSend answers, against the fake broker, in process.

Run with ``python -m benchmarks.send_bench [--records N] [--repeat R] [--against REV]
[--cython [--in-process]]``.
Each run makes five bursts of ``N`` calls ``send(topic, 100-byte value, 8-byte key)`` to a
6-partition topic, not awaited until the burst ends (so the sender does not run between
them: the time is send()'s own, the appends and the batches they open included), and
prints the process's CPU time per call. With ``--against REV`` a snapshot of git revision
``REV`` (its extension built) runs the same in turns with this tree, each run a process of
its own; the table gives the medians and their ratio. With ``--cython`` the Cython candidate
(``benchmarks/cython_candidates/fastsend_cy.pyx``, built by ``relay_bench.build_candidates``)
runs in turns with the C FastSend of this tree, installed in the worker in place of
``aioproducer._producer._FastSend`` both ways it can be (its bound ``send`` method, and the
instance with its ``__call__``); the table adds the median of the turn-by-turn ratios. Every
run checks that each send() it timed returned the variant's own Ready (so the variant's fast
path answered them all). ``--in-process`` makes each run a burst of one producer instead,
its FastSend swapped between bursts (a round of warm-up first, a collection before each
burst): the turns are then milliseconds apart, which keeps
the machine's other load out of the ratios better than processes seconds apart do. A burst
counts freeing what its sends returned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from benchmarks.run import ROOT, revision_snapshot

BURSTS = 5
#: The FastSend a worker installs: the C one, or the Cython candidate's bound send method
#: or instance.
VARIANTS = ("C", "Cython send", "Cython __call__")


def _variant(variant: str) -> tuple[Callable[..., Any], type]:
    """The FastSend of ``variant`` (what Producer._install_fast_send calls) and the type of
    the Ready its fast path returns."""
    from aioproducer import _speedups_status  # noqa: PLC0415

    c = _speedups_status.c
    assert c is not None, "the C extension is not built"
    if variant == "C":
        return c.FastSend, c.Ready
    from benchmarks.relay_bench import BUILT  # noqa: PLC0415

    if str(BUILT) not in sys.path:
        sys.path.insert(0, str(BUILT))  # built by build_candidates()
    import fastsend_cy  # type: ignore[import-not-found]  # noqa: PLC0415

    Coroutine.register(fastsend_cy.Ready)  # as _speedups_status registers C's
    if variant == "Cython send":
        return (lambda *args: fastsend_cy.FastSend(*args).send), fastsend_cy.Ready
    return fastsend_cy.FastSend, fastsend_cy.Ready


async def _burst(
    producer: Any, records: int, keys: list[bytes], ready_type: type | None = None
) -> float:
    """CPU seconds of ``records`` calls send("t", 100 bytes, key) and of freeing what they
    returned (awaited, and the records flushed, in between); with ``ready_type``, each call
    must have returned one."""
    value = b"v" * 100
    start = time.process_time()
    pending = [producer.send("t", value, keys[i % 1000]) for i in range(records)]
    spent = time.process_time() - start
    if ready_type is not None and not all(type(r) is ready_type for r in pending):
        raise SystemExit(f"a send() was not answered by {ready_type}")
    for ready in pending:
        await ready
    await producer.flush()
    start = time.process_time()
    del pending
    return spent + time.process_time() - start


@contextlib.asynccontextmanager
async def _producer() -> AsyncIterator[Any]:
    """A started producer of topic "t" (6 partitions) on a fake broker, a record sent."""
    from aioproducer import Producer  # noqa: PLC0415 - the tree this process runs
    from aioproducer.testing import FakeBroker  # noqa: PLC0415

    async with FakeBroker() as broker:
        broker.create_topic("t", partitions=6)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers,
            buffer_memory=1 << 30,
            linger_ms=5,
            acks=1,
            enable_idempotence=False,
        ) as producer:
            await producer.send("t", b"v" * 100, b"x")
            await producer.flush()
            yield producer


KEYS = [b"k%07d" % i for i in range(1000)]


async def _per_send(records: int, variant: str | None = None) -> float:
    """Nanoseconds of CPU per send() (the mean of the bursts), with ``variant``'s FastSend
    installed (each send() timed checked to have been answered by it)."""
    from aioproducer import _producer as module  # noqa: PLC0415

    ready_type = None
    if variant is not None:
        module._FastSend, ready_type = _variant(variant)
    async with _producer() as producer:
        spent = 0.0
        for _ in range(BURSTS):
            spent += await _burst(producer, records, KEYS, ready_type)
    return spent / BURSTS / records * 1e9


async def _alternate(records: int, rounds: int) -> dict[str, list[float]]:
    """Nanoseconds of CPU per send() of each burst of each variant: one producer, its
    FastSend swapped before each burst, the variants taking turns in each round."""
    from aioproducer import _producer as module  # noqa: PLC0415

    variants = {name: _variant(name) for name in VARIANTS}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    async with _producer() as producer:
        for turn in range(-1, rounds):  # round -1 warms up (buffers, pools): not counted
            for name in VARIANTS[turn % len(VARIANTS) :] + VARIANTS[: turn % len(VARIANTS)]:
                module._FastSend, ready_type = variants[name]
                producer.__dict__.pop("send", None)
                producer._install_fast_send()
                gc.collect()  # each burst starts with the collector's counts at zero
                spent = await _burst(producer, records, KEYS, ready_type)
                if turn >= 0:
                    times[name].append(spent / records * 1e9)
    return times


def _run(source: Path, records: int, variant: str | None = None) -> float:
    command = [sys.executable, "-m", "benchmarks.send_bench", "--worker", str(records)]
    if variant is not None:
        command += ["--variant", variant]
    done = subprocess.run(command, cwd=source, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments; run the worker, or the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", help="a git revision to compare with")
    parser.add_argument("--cython", action="store_true", help="C against the Cython candidate")
    parser.add_argument(
        "--in-process", action="store_true", help="with --cython: bursts in one process"
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        from aioproducer import speedups_enabled  # noqa: PLC0415

        if not speedups_enabled():
            raise SystemExit("the compiled extensions do not run: FastSend is not measured")
        print(f"{asyncio.run(_per_send(args.worker, args.variant)):.1f}")
        return
    if args.cython:
        _compare_cython(args.records, args.repeat, in_process=args.in_process)
        return
    with contextlib.ExitStack() as stack:
        trees = {"this tree": ROOT}
        if args.against:
            trees[args.against] = stack.enter_context(revision_snapshot(args.against, ROOT))
        times: dict[str, list[float]] = {name: [] for name in trees}
        for turn in range(args.repeat):
            names = list(trees)[turn % len(trees) :] + list(trees)[: turn % len(trees)]
            for name in names:
                times[name].append(_run(trees[name], args.records))
    print(f"| tree | ns of CPU per send() (median of {args.repeat}) | runs | vs this tree |")
    print("|---|---|---|---|")
    mine = statistics.median(times["this tree"])
    for name, runs in times.items():
        median = statistics.median(runs)
        listed = " ".join(f"{run:.0f}" for run in runs)
        print(f"| {name} | {median:.0f} | {listed} | {median / mine:.3f}x |")


def _compare_cython(records: int, repeat: int, *, in_process: bool) -> None:
    """C's FastSend and the Cython candidate's, in turns: each run a process of its own, or
    (``in_process``) each a burst of one producer."""
    from benchmarks.relay_bench import build_candidates  # noqa: PLC0415

    build_candidates(("fastsend_cy",))
    if in_process:
        times = asyncio.run(_alternate(records, repeat))
    else:
        times = {name: [] for name in VARIANTS}
        for turn in range(repeat):
            for name in VARIANTS[turn % len(VARIANTS) :] + VARIANTS[: turn % len(VARIANTS)]:
                times[name].append(_run(ROOT, records, name))
    print(
        f"| FastSend | ns of CPU per send() (median of {repeat}) | runs | vs C (median by turn) |"
    )
    print("|---|---|---|---|")
    for name, runs in times.items():
        ratios = [run / c for run, c in zip(runs, times["C"], strict=True)]
        listed = " ".join(f"{run:.0f}" for run in runs)
        print(
            f"| {name} | {statistics.median(runs):.0f} | {listed} | "
            f"{statistics.median(ratios):.3f}x |"
        )


if __name__ == "__main__":
    main()
