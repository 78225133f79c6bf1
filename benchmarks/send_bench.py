"""CPU per keyed send() that FastSend answers, against the fake broker, in process.

Run with ``python -m benchmarks.send_bench [--records N] [--repeat R] [--against REV]``.
Each run makes five bursts of ``N`` calls ``send(topic, 100-byte value, 8-byte key)`` to a
6-partition topic, not awaited until the burst ends (so the sender does not run between
them: the time is send()'s own, the appends and the batches they open included), and
prints the process's CPU time per call. With ``--against REV`` a snapshot of git revision
``REV`` (its extension built) runs the same in turns with this tree, each run a process of
its own; the table gives the medians and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import ROOT, revision_snapshot

BURSTS = 5


async def _per_send(records: int) -> float:
    """Nanoseconds of CPU per send() (the mean of the bursts)."""
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
            keys = [b"k%07d" % i for i in range(1000)]
            value = b"v" * 100
            await producer.send("t", value, b"x")
            await producer.flush()
            spent = 0.0
            for _ in range(BURSTS):
                start = time.process_time()
                pending = [producer.send("t", value, keys[i % 1000]) for i in range(records)]
                spent += time.process_time() - start
                for ready in pending:
                    await ready
                await producer.flush()
    return spent / BURSTS / records * 1e9


def _run(source: Path, records: int) -> float:
    command = [sys.executable, "-m", "benchmarks.send_bench", "--worker", str(records)]
    done = subprocess.run(command, cwd=source, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments; run the worker, or the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", help="a git revision to compare with")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        from aioproducer import speedups_enabled  # noqa: PLC0415

        if not speedups_enabled():
            raise SystemExit("the compiled extensions do not run: FastSend is not measured")
        print(f"{asyncio.run(_per_send(args.worker)):.1f}")
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


if __name__ == "__main__":
    main()
