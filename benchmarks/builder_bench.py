"""Records/s of record batch builders: ours against aiokafka (C and Python) and kafka-python.

Run with ``python -m benchmarks.builder_bench [--records N] [--repeat R] [--codec NAME]``.
Each run appends ``N`` records (8-byte key, 100-byte value, no headers) into 16 KiB
batches, building every batch as it fills; the table shows the median of ``R`` runs.
Implementations take turns within each repetition, and time is the process's CPU time,
so that other load on the machine skews the comparison as little as possible.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

from aiokafka.record import _crecords
from aiokafka.record import default_records as aiokafka_py

from aioproducer._protocol.compression import CompressionType
from aioproducer._protocol.records import RecordBatchBuilder

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.record import default_records as kafka_records

BATCH_SIZE = 16 * 1024
TIMESTAMP = 1_700_000_000_000

Runner = Callable[[int, bytes, bytes, int], int]


def run_ours(count: int, key: bytes, value: bytes, codec: int) -> int:
    """Append ``count`` records with our builder; return the number of batches built."""
    compression = CompressionType(codec)
    builder = RecordBatchBuilder(batch_size=BATCH_SIZE, compression=compression)
    batches = 0
    for _ in range(count):
        if builder.append(TIMESTAMP, key, value) is None:
            builder.build()
            batches += 1
            builder = RecordBatchBuilder(batch_size=BATCH_SIZE, compression=compression)
            builder.append(TIMESTAMP, key, value)
    builder.build()
    return batches + 1


def their_runner(builder_cls: Callable[..., Any]) -> Runner:
    """A runner for aiokafka's and kafka-python's builders (same constructor and append)."""

    def run(count: int, key: bytes, value: bytes, codec: int) -> int:
        builder = builder_cls(2, codec, 0, -1, -1, -1, BATCH_SIZE)
        headers: list[tuple[str, bytes | None]] = []
        offset = batches = 0
        for _ in range(count):
            if builder.append(offset, TIMESTAMP, key, value, headers) is None:
                builder.build()
                batches += 1
                builder = builder_cls(2, codec, 0, -1, -1, -1, BATCH_SIZE)
                offset = 0
                builder.append(offset, TIMESTAMP, key, value, headers)
            offset += 1
        builder.build()
        return batches + 1

    return run


IMPLEMENTATIONS: dict[str, Runner] = {
    "aioproducer": run_ours,
    "aiokafka (C)": their_runner(_crecords.DefaultRecordBatchBuilder),
    "aiokafka (Python)": their_runner(aiokafka_py._DefaultRecordBatchBuilderPy),
    "kafka-python": their_runner(kafka_records.DefaultRecordBatchBuilder),
}


def measure(run: Runner, count: int, codec: int) -> float:
    """Records/s of one run."""
    key, value = b"k" * 8, os.urandom(50) * 2
    start = time.process_time()
    run(count, key, value, codec)
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--codec", default="none", help="none, gzip, snappy, lz4 or zstd")
    args = parser.parse_args()
    codec = int(CompressionType.parse(args.codec))
    print(
        f"{args.records:,} records of 8+100 bytes into 16 KiB batches, codec {args.codec}, "
        f"median of {args.repeat}"
    )
    rates: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    for _ in range(args.repeat):
        for name, run in IMPLEMENTATIONS.items():
            slow = name in ("aiokafka (Python)", "kafka-python")
            rates[name].append(measure(run, args.records // 4 if slow else args.records, codec))
    results = {name: statistics.median(values) for name, values in rates.items()}
    ours = results["aioproducer"]
    print(f"{'builder':<20}{'records/s':>14}{'vs ours':>10}")
    for name, rate in results.items():
        print(f"{name:<20}{rate:>14,.0f}{rate / ours:>9.2f}x")


if __name__ == "__main__":
    main()
