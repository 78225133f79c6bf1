"""One client run in its own process: ``python -m benchmarks.worker <client> <scenario> <json>``.

Running each client alone in a fresh interpreter keeps CPU seconds (this process's user+sys,
every thread included) and peak RSS (``VmHWM``) its own; the machine's busy CPU over the
same span (``/proc/stat``) adds what the brokers spent meanwhile. The last line on stdout is one
JSON object; the exit status is 0 when the client ran, 1 when it failed (with ``error``).
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import traceback
from typing import Any

from aioproducer.testing.process import peak_rss_kb
from benchmarks.clients import load
from benchmarks.workload import RunSpec

__all__ = ["latency_summary", "main"]


def latency_summary(samples: list[float]) -> dict[str, float]:
    """p50, p99, p99.9 (nearest rank) and max of ``samples``, in the samples' unit."""
    if not samples:
        return {}
    ordered = sorted(samples)
    n = len(ordered)

    def rank(q: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(q * n) - 1))]

    return {"p50": rank(0.50), "p99": rank(0.99), "p99.9": rank(0.999), "max": ordered[-1]}


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every process, every core:
    ``/proc/stat``'s first line less idle and iowait); 0.0 where there is no ``/proc``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _measure(client: str, spec: RunSpec) -> dict[str, Any]:
    run = load(client)  # imports the client library before the counters are read
    busy_before = machine_busy_seconds()
    before = resource.getrusage(resource.RUSAGE_SELF)
    outcome = run(client, spec)
    after = resource.getrusage(resource.RUSAGE_SELF)
    busy = machine_busy_seconds() - busy_before
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if outcome.cpu_seconds is not None:
        cpu = outcome.cpu_seconds
    rss_kb = outcome.peak_rss_kb if outcome.peak_rss_kb is not None else peak_rss_kb()
    record_bytes = outcome.record_bytes if outcome.record_bytes is not None else spec.record_bytes
    seconds = max(outcome.seconds, 1e-9)
    latency = latency_summary(outcome.latencies_ms or [])
    if not latency and "java_p99" in outcome.extra:
        latency = {k.removeprefix("java_"): v for k, v in outcome.extra.items()}
    return {
        "ok": True,
        "acked": outcome.acked,
        "seconds": outcome.seconds,
        "msgs_per_s": outcome.acked / seconds,
        "mb_per_s": outcome.acked * record_bytes / seconds / 1e6,
        "cpu_seconds": cpu,
        "cpu_s_per_million": cpu / outcome.acked * 1e6 if outcome.acked else None,
        # the whole machine (brokers included) while the client ran, start and close too
        "machine_cpu_s_per_million": busy / outcome.acked * 1e6 if outcome.acked else None,
        "peak_rss_mb": rss_kb / 1024,
        "latency_ms": latency,
        "loop_lag_p99_ms": outcome.extra.get("loop_lag_p99_ms"),
        "note": outcome.note,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m benchmarks.worker <client> <scenario> <json args>", file=sys.stderr)
        return 2
    client, scenario, args = argv
    try:
        spec = RunSpec.from_json(args)
        if spec.scenario != int(scenario):
            raise ValueError(f"scenario {scenario} does not match the spec's {spec.scenario}")
        result = _measure(client, spec)
    except Exception as exc:  # reported to the parent, which carries on with the next run
        traceback.print_exc(file=sys.stderr)
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result.update(client=client, scenario=int(scenario))
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
