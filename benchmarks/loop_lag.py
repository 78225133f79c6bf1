"""Event-loop lag while producing large compressed batches.

``python -m benchmarks.loop_lag --bootstrap HOST:PORT`` produces for ``--seconds`` per codec
into 1 MiB batches (1 KiB JSON-like records, a yield every 64 sends, as a cooperative
application would) while a task sleeping 1 ms in a loop records how late it wakes. It
prints, per codec, that lag's p50 / p99 / max, the records acknowledged per second, and the
event loop thread's CPU time per record (steadier than wall time on a loaded machine).

``--tree DIR`` (repeatable) runs each codec once per aioproducer source tree, in a child
process with ``PYTHONPATH=DIR``, taking turns per codec, and prints a table per tree: the
way to compare a change with the code before it. ``--costs`` needs no broker: it times each
codec per batch size against a hop to a thread and back, the figures behind
``aioproducer._offloop.OFF_LOOP_MIN_BYTES``.

This file imports nothing from ``benchmarks`` so that a child can run it by path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

CODECS: Final = ("none", "gzip", "snappy", "lz4", "zstd")
_SLEEP: Final = 0.001
_YIELD_EVERY: Final = 64
_VALUE_POOL: Final = 256


def _values(size: int, count: int, seed: int = 1) -> list[bytes]:
    """JSON-like records: gzip and zstd take them to about 26%, lz4 and snappy to 40-45%."""
    rnd = random.Random(seed)
    words = [
        "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9)))
        for _ in range(500)
    ]
    values = []
    for _ in range(count):
        text = ""
        while len(text) < size:
            text += (
                f'{{"id": {rnd.randint(0, 10**9)}, "name": "{rnd.choice(words)}", '
                f'"score": {rnd.random():.6f}}}'
            )
        values.append(text[:size].encode())
    return values


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _produce(options: argparse.Namespace, codec: str) -> dict[str, Any]:
    from aioproducer import Producer  # noqa: PLC0415 - the tree under test, via PYTHONPATH
    from aioproducer.testing.admin import AdminClient  # noqa: PLC0415

    topic = f"loop-lag-{codec}-{uuid.uuid4().hex[:8]}"
    with AdminClient(options.bootstrap) as admin:
        admin.create_topic(topic, 1, 1, {})
        admin.wait_for_leaders(topic, 1)
    values = _values(options.record_size, _VALUE_POOL)
    lags: list[float] = []
    producing = True

    async def sleeper() -> None:
        while producing:
            started = time.perf_counter()
            await asyncio.sleep(_SLEEP)
            lags.append(time.perf_counter() - started - _SLEEP)

    async with Producer(
        bootstrap_servers=options.bootstrap,
        compression_type=codec,
        batch_size=options.batch_size,
        linger_ms=100,
    ) as producer:
        outcomes = [0, 0]  # acknowledged, failed (futures are not kept: no GC load of ours)

        def settled(future: asyncio.Future[Any]) -> None:
            outcomes[future.exception() is not None] += 1

        probe = asyncio.create_task(sleeper())
        started, loop_cpu = time.perf_counter(), time.thread_time()
        sent = 0
        while time.perf_counter() - started < options.seconds:
            for _ in range(_YIELD_EVERY):
                future = await producer.send(topic, values[sent % _VALUE_POOL])
                future.add_done_callback(settled)
                sent += 1
            await asyncio.sleep(0)
        await producer.flush()
        elapsed = time.perf_counter() - started
        loop_cpu = time.thread_time() - loop_cpu
        producing = False
        await probe
    lags.sort()
    return {
        "codec": codec,
        "records": outcomes[0],
        "failed": outcomes[1],
        "seconds": elapsed,
        "loop_cpu": loop_cpu,
        "p50_ms": _percentile(lags, 0.5) * 1000,
        "p99_ms": _percentile(lags, 0.99) * 1000,
        "max_ms": (lags[-1] if lags else 0.0) * 1000,
    }


def _row(result: dict[str, Any]) -> str:
    records = max(1, result["records"])
    failed = f"  ({result['failed']} failed)" if result["failed"] else ""
    return (
        f"{result['codec']:<8}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.1f}"
        f"{result['max_ms']:>9.1f}{records / result['seconds']:>12,.0f}"
        f"{result['loop_cpu'] / records * 1e6:>14.1f}{failed}"
    )


def _table(title: str, results: list[dict[str, Any]]) -> None:
    print(title)
    print(f"{'codec':<8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'msgs/s':>12}{'loop us/msg':>14}")
    for result in results:
        print(_row(result))


def _child(tree: str, options: argparse.Namespace, codec: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=tree)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--bootstrap",
        options.bootstrap,
        "--codecs",
        codec,
        "--seconds",
        str(options.seconds),
        "--batch-size",
        str(options.batch_size),
        "--record-size",
        str(options.record_size),
    ]
    if options.uvloop:
        command.append("--uvloop")
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _run(options: argparse.Namespace, codec: str) -> dict[str, Any]:
    if options.uvloop:
        import uvloop  # noqa: PLC0415

        return uvloop.run(_produce(options, codec))
    return asyncio.run(_produce(options, codec))


def _builders(codec: Any, size: int, count: int) -> list[Any]:
    from aioproducer._protocol.records import RecordBatchBuilder  # noqa: PLC0415

    values = _values(512, _VALUE_POOL)
    builders = []
    for _ in range(count):
        builder = RecordBatchBuilder(batch_size=size, compression=codec)
        index = 0
        while builder.append(0, None, values[index % _VALUE_POOL]) is not None:
            index += 1
        builders.append(builder)
    return builders


async def _loop_cpu_per_build(builders: list[Any], off_loop: bool) -> float:
    """Event-loop thread CPU per build, each awaited before the next (as one partition's)."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1) as executor:
        started = time.thread_time()
        for builder in builders:
            if off_loop:
                await loop.run_in_executor(executor, builder.build)
            else:
                builder.build()
                await asyncio.sleep(0)
        return (time.thread_time() - started) / len(builders)


def _costs() -> None:
    from aioproducer._protocol.compression import CompressionType  # noqa: PLC0415

    sizes = [4 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20]
    print("event-loop thread CPU per batch build (us): built on the loop / on a thread")
    print(f"{'codec':<8}" + "".join(f"{size >> 10:>12}K" for size in sizes))
    for codec in CompressionType:
        if codec == CompressionType.NONE:
            continue
        cells = []
        for size in sizes:
            count = max(5, (4 << 20) // size)
            best = [float("inf"), float("inf")]
            for _ in range(3):
                for mode in (0, 1):
                    builders = _builders(codec, size, count)
                    cost = asyncio.run(_loop_cpu_per_build(builders, bool(mode)))
                    best[mode] = min(best[mode], cost)
            cells.append(f"{best[0] * 1e6:>7.0f}/{best[1] * 1e6:<5.0f}")
        print(f"{codec!s:<8}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--batch-size", type=int, default=1 << 20)
    parser.add_argument("--record-size", type=int, default=1024)
    parser.add_argument("--tree", action="append", default=[], help="aioproducer source tree")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--costs", action="store_true", help="codec costs only (no broker)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.costs:
        _costs()
        return
    codecs = [codec.strip() for codec in options.codecs.split(",") if codec.strip()]
    if options.child:
        print(json.dumps(_run(options, codecs[0])))
        return
    if not options.tree:
        _table("this tree", [_run(options, codec) for codec in codecs])
        return
    by_tree: dict[str, list[dict[str, Any]]] = {tree: [] for tree in options.tree}
    for codec in codecs:
        for tree in options.tree:
            by_tree[tree].append(_child(tree, options, codec))
    for tree, results in by_tree.items():
        _table(f"{tree}:", results)


if __name__ == "__main__":
    main()
