"""Kafka's own Java producer through ``org.apache.kafka.tools.ProducerPerformance``: the ceiling.

It runs as a child JVM of the worker: its CPU seconds come from the worker's RUSAGE_CHILDREN
and its peak RSS from the JVM's VmHWM, sampled every 0.1 s (JVM start-up included in both).
ProducerPerformance sends null keys, so its MB/s counts values only; it does not run the
concurrency scenario (4).
"""

from __future__ import annotations

import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from aioproducer.testing.jars import java_command
from benchmarks.workload import Outcome, RunSpec

__all__ = ["parse_summary", "run"]

_SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)")
_LATENCY = {
    "p50": re.compile(r"(\d+) ms 50th"),
    "p99": re.compile(r"(\d+) ms 99th"),
    "p99.9": re.compile(r"(\d+) ms 99\.9th"),
    "max": re.compile(r"([\d.]+) ms max latency"),
}


def parse_summary(output: str) -> tuple[int, float, dict[str, float]]:
    """(records, records/s, latency percentiles in ms) from ProducerPerformance's last line."""
    lines = [line for line in output.splitlines() if _SUMMARY.search(line)]
    if not lines:
        raise RuntimeError(f"no summary line in ProducerPerformance output: {output[-500:]!r}")
    last = lines[-1]
    match = _SUMMARY.search(last)
    assert match is not None
    latency = {name: float(m.group(1)) for name, rx in _LATENCY.items() if (m := rx.search(last))}
    return int(match.group(1)), float(match.group(2)), latency


def _vm_hwm_kb(pid: int) -> int:
    """The peak RSS of process ``pid`` so far (0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(name: str, spec: RunSpec) -> Outcome:
    del name
    if spec.concurrency:
        raise RuntimeError("ProducerPerformance has no concurrent send_and_wait mode")
    if spec.kafka_libs is None:
        raise RuntimeError("Kafka's jars are unknown")
    props = [
        f"bootstrap.servers={spec.bootstrap}",
        f"acks={spec.acks}",
        *(f"{name}={value}" for name, value in spec.tuning("linger.ms", "batch.size").items()),
        f"compression.type={spec.compression or 'none'}",
        f"enable.idempotence={'true' if spec.idempotent else 'false'}",
    ]
    command = java_command(
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        spec.topic,
        "--num-records",
        str(spec.records),
        "--record-size",
        str(spec.value_size),
        "--throughput",
        str(spec.rate or -1),
        "--producer-props",
        *props,
        libs=Path(spec.kafka_libs),
        jvm=["-Xmx512m"],  # as kafka-producer-perf-test.sh
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        peak_kb = 0
        deadline = started + 900
        while proc.poll() is None:
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError("ProducerPerformance ran for over 900 s")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"ProducerPerformance exited {proc.returncode}: {stderr[-800:]}")
    records, rate, latency = parse_summary(stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Outcome(
        acked=records,
        seconds=records / rate if rate else wall,
        cpu_seconds=cpu,
        peak_rss_kb=peak_kb or after.ru_maxrss,
        record_bytes=spec.value_size,
        extra={f"java_{k}": v for k, v in latency.items()},
        note=f"null keys; CPU and RSS include JVM start-up (process wall {wall:.1f} s)",
    )
