"""``python -m benchmarks run [--quick] [--scenarios 1,2,...] [--repeats N] [--out docs/]``.

Runs the side-by-side benchmark of issue 6 (see ``benchmarks.run``) and writes
``benchmarks/results/<timestamp>.json``, ``<out>/benchmarks.md`` and ``<out>/benchmarks.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from benchmarks.clients import MODULES
from benchmarks.run import Options, command_line, main
from benchmarks.scenarios import SCENARIOS, base_client

DEFAULT_REPEATS: Final = 5
"""Repetitions per client and scenario. On this kind of machine (a shared VM), a CPU-bound
loop's time varies up to 1.7x from second to second; a median of five is steadier than of
three."""


def _scenarios(text: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of scenario numbers: {text!r}") from None
    unknown = [n for n in numbers if n not in SCENARIOS]
    if unknown or not numbers:
        raise argparse.ArgumentTypeError(f"scenarios are {sorted(SCENARIOS)}, not {text!r}")
    return numbers


def _clients(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if base_client(n) not in MODULES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown clients {unknown}; known: {', '.join(MODULES)}")
    return names


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmark and write the report")
    run.add_argument("--quick", action="store_true", help="smaller record counts (a smoke run)")
    run.add_argument(
        "--scenarios",
        type=_scenarios,
        default=tuple(SCENARIOS),
        help="comma-separated scenario numbers (default: all)",
    )
    run.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repetitions per client (default 5, or 1 with --quick)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path("docs"),
        help="where benchmarks.md and benchmarks.png go (default docs/)",
    )
    run.add_argument(
        "--clients",
        type=_clients,
        default=None,
        help="only these clients (comma-separated; default: all)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds before a client run is abandoned as failed (default 900)",
    )
    run.add_argument(
        "--against",
        metavar="REV",
        default=None,
        help="also run aioproducer as of git revision REV (client aioproducer@REV, and "
        "aioproducer-default@REV beside aioproducer-default) under the same workload, "
        "interleaved with this tree's: old against new in one run",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else DEFAULT_REPEATS)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    return Options(
        quick=args.quick,
        scenarios=args.scenarios,
        repeats=repeats,
        out=args.out,
        clients=args.clients,
        timeout=args.timeout,
        command=command_line(argv),
        against=args.against,
    )


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
