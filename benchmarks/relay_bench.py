"""Hand-written C against Cython for the record futures' callback relay, the one piece of
compiled code still written in C by hand besides FastSend (``aioproducer/_cext/``).

Run with ``python -m benchmarks.relay_bench [--futures N] [--repeat R]``. The Cython
candidate (``benchmarks/cython_candidates/relay_cy.pyx``, the same behaviour as
``aioproducer/_cext/relay.c``) is built into ``build/cython_candidates/`` first.
Implementations take turns within each repetition and time is the process's CPU time, so
that other load on the machine skews the comparison as little as possible; the table shows
medians in ns per future and Cython's time over C's. (The loops of
``aioproducer/_speedups.pyx`` were measured the same way against their C versions before the
C went: docs/benchmarks.md.)

``--variant-dir`` only prints a folder to put first on ``PYTHONPATH`` so that every producer
of a process uses the Cython relay (its ``sitecustomize`` swaps it in): the end-to-end check,
``PYTHONPATH=$(python -m benchmarks.relay_bench --variant-dir):. python -m benchmarks run
--scenarios 5 ...`` against the same command without it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from aioproducer import _speedups_status
from aioproducer._futures import CallbackRelay, RecordFuture

ROOT = Path(__file__).resolve().parent.parent
SOURCES = Path(__file__).resolve().parent / "cython_candidates"
BUILT = ROOT / "build" / "cython_candidates"  # build/ is ignored by git, ruff and mypy
CANDIDATES = ("relay_cy", "fastsend_cy")

SITECUSTOMIZE = '''"""Written by benchmarks/relay_bench.py: every producer uses the Cython relay."""
import os
import sys

sys.path.insert(0, os.getcwd())  # a benchmark worker imports aioproducer from its cwd

import aioproducer._futures as _futures
import aioproducer._producer as _producer
import relay_cy


def _relay_for(loop):
    return relay_cy.CallbackRelay(loop, _futures.RecordFuture)


_futures.relay_for = _producer.relay_for = _relay_for
'''


def build_candidates(names: tuple[str, ...] = CANDIDATES) -> dict[str, ModuleType]:
    """The Cython candidates ``names``, built (when their source is newer) and imported."""
    from Cython.Build import cythonize  # noqa: PLC0415 - a build-time dependency
    from setuptools import Distribution, Extension  # type: ignore[import-untyped]  # noqa: PLC0415

    BUILT.mkdir(parents=True, exist_ok=True)
    stale = [
        name
        for name in names
        if not any(
            built.stat().st_mtime > (SOURCES / f"{name}.pyx").stat().st_mtime
            for built in BUILT.glob(f"{name}.*.so")
        )
    ]
    if stale:
        extensions = [
            Extension(
                name,
                [str(SOURCES / f"{name}.pyx")],
                include_dirs=[str(ROOT / "aioproducer")],
                extra_compile_args=["-O2"],
            )
            for name in stale
        ]
        command: Any = Distribution(
            {"ext_modules": cythonize(extensions, build_dir=str(BUILT / "c"), quiet=True)}  # type: ignore[no-untyped-call]
        ).get_command_obj("build_ext")
        command.build_lib, command.build_temp = str(BUILT), str(BUILT / "tmp")
        command.ensure_finalized()
        command.run()
    sys.path.insert(0, str(BUILT))
    return {name: importlib.import_module(name) for name in names}


# -- the relay ------------------------------------------------------------------------------


def _noop(_: object) -> None:
    return None


async def _gather_pending(make: Callable[[], RecordFuture[Any]], count: int) -> None:
    """What a caller of send() that gathers its records meets: each future pending when
    gather adds its callback, then a batch's settle sets them all."""
    futures = [make() for _ in range(count)]
    for chunk in range(0, count, 1000):  # batches of 1,000 records settle one at a time
        waiting = asyncio.gather(*futures[chunk : chunk + 1000])
        for future in futures[chunk : chunk + 1000]:
            future.set_result(None)
        await waiting


async def _callbacks_done(make: Callable[[], RecordFuture[Any]], count: int) -> None:
    """Done futures given a callback each (a copied context per callback, as in a gather of
    records that were acknowledged already), run in one go."""
    futures = [make() for _ in range(count)]
    for future in futures:
        future.set_result(None)
    for future in futures:
        future.add_done_callback(_noop)
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _create(make: Callable[[], RecordFuture[Any]], count: int) -> None:
    for _ in range(count):
        make()


RELAY_WORKLOADS = {
    "gather pending futures": _gather_pending,
    "callbacks on done futures": _callbacks_done,
    "create_future": _create,
}


def _relays(candidates: dict[str, ModuleType]) -> dict[str, Callable[[Any], Any]]:
    c = _speedups_status.c
    assert c is not None, "the C extension is not built"
    return {
        "C": lambda loop: c.CallbackRelay(loop, RecordFuture),
        "Cython": lambda loop: candidates["relay_cy"].CallbackRelay(loop, RecordFuture),
        "Python": CallbackRelay,
    }


def measure_relay(make_relay: Callable[[Any], Any], workload: Any, count: int) -> float:
    """CPU ns per future of one run of ``workload`` on a fresh loop (the collector on)."""
    loop = asyncio.new_event_loop()
    try:
        relay = make_relay(loop)
        gc.collect()
        start = time.process_time()
        loop.run_until_complete(workload(relay.create_future, count))
        return (time.process_time() - start) / count * 1e9
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--futures", type=int, default=100_000, help="futures a run")
    parser.add_argument("--repeat", type=int, default=9, help="runs per implementation")
    parser.add_argument("--variant-dir", action="store_true", help="see the module docstring")
    args = parser.parse_args()
    candidates = build_candidates(("relay_cy",))
    if args.variant_dir:
        (BUILT / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        print(BUILT)
        return
    relays = _relays(candidates)
    rows: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.repeat):
        for workload_name, workload in RELAY_WORKLOADS.items():
            row = rows.setdefault(workload_name, {})
            for name, make in relays.items():
                row.setdefault(name, []).append(measure_relay(make, workload, args.futures))
    print(f"{args.futures:,} futures a run, median of {args.repeat}, CPU ns per future")
    print(f"{'':32} {'C':>8} {'Cython':>8} {'Python':>8} {'Cython/C':>9}")
    for label, row in rows.items():
        median = {name: statistics.median(times) for name, times in row.items()}
        print(
            f"{label:32} {median['C']:8.0f} {median['Cython']:8.0f} {median['Python']:8.0f} "
            f"{median['Cython'] / median['C']:9.2f}"
        )


if __name__ == "__main__":
    main()
