"""The report of a benchmark run: machine description, markdown tables, a PNG chart."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.scenarios import CLIENT_LABELS

__all__ = ["chart", "machine_description", "markdown", "tables"]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _java_version() -> str:
    java = shutil.which("java")
    if java is None:
        return "not found"
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def machine_description(kafka_version: str) -> dict[str, Any]:
    librdkafka = "unknown"
    try:
        import confluent_kafka  # noqa: PLC0415

        librdkafka = str(confluent_kafka.libversion()[0])
    except ImportError:
        pass
    ram = _ram_gib()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1) if ram is not None else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "kafka": kafka_version,
        "java": _java_version(),
        "clients": {
            "aioproducer": _version("aioproducer"),
            "aiokafka": _version("aiokafka"),
            "confluent-kafka": f"{_version('confluent-kafka')} (librdkafka {librdkafka})",
            "kafka-python": _version("kafka-python"),
        },
    }


# -- tables ----------------------------------------------------------------------------------
def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _scenario_table(scenario: dict[str, Any]) -> str:
    latency = scenario["ratio_of"] != "msgs/s"
    head = ["client", "msgs/s", "MB/s", "CPU s per M msgs", "machine CPU s per M msgs"]
    head += ["peak RSS MB"]
    if latency:
        head += ["p50 ms", "p99 ms", "p99.9 ms", "max ms"]
    p99_beside = not latency and bool(scenario.get("ack_latency"))
    if p99_beside:
        head += ["p99 send->ack ms"]
    head += ["loop lag p99 ms", f"{scenario['ratio_of']} vs {scenario['baseline']}", "runs ok"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for row in scenario["rows"]:
        name = row["client"]
        cells = [f"{name}"]
        if not row["ok_runs"]:
            error = "; ".join(row["errors"]) or "no run"
            cells += ["failed"] + [""] * (len(head) - 3) + [f"0/{row['runs']}"]
            notes.append(f"{name} failed: {error}")
        else:
            cells += [
                _num(row["msgs_per_s"], ",.0f"),
                _num(row["mb_per_s"], ".1f"),
                _num(row["cpu_s_per_million"], ".1f"),
                _num(row.get("machine_cpu_s_per_million"), ".1f"),
                _num(row["peak_rss_mb"], ".0f"),
            ]
            if latency:
                cells += [
                    _num(row["latency_ms"].get(q), ".2f") for q in ("p50", "p99", "p99.9", "max")
                ]
            if p99_beside:
                cells.append(_num(row["latency_ms"].get("p99"), ",.0f"))
            cells.append(_num(row.get("loop_lag_p99_ms"), ".1f"))  # asyncio clients only
            ratio = row["ratio"]
            cells += [
                "-" if ratio is None else f"{ratio:.2f}x",
                f"{row['ok_runs']}/{row['runs']}",
            ]
            if row["errors"]:
                notes.append(f"{name}: some runs failed: {'; '.join(row['errors'])}")
        notes.extend(f"{name}: {note}" for note in row["notes"])
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text


def tables(results: dict[str, Any]) -> str:
    parts = []
    for scenario in results["scenarios"]:
        records = f" ({scenario['records']:,} records per run)" if scenario.get("records") else ""
        parts.append(f"### Scenario {scenario['number']}: {scenario['title']}{records}\n")
        parts.append(_scenario_table(scenario) + "\n")
    return "\n".join(parts)


def markdown(results: dict[str, Any], png_name: str) -> str:
    machine = results["machine"]
    clients = ", ".join(f"{k} {v}" for k, v in machine["clients"].items())
    legend = "\n".join(f"- `{k}`: {v}" for k, v in CLIENT_LABELS.items())
    ram = machine["ram_gib"]
    return f"""# Benchmarks

aioproducer side by side with the other Python Kafka producers and Kafka's own Java producer,
all against the same broker in one run. Absolute figures depend on the machine and on what else
it was doing; the ratios within one run are what to read.

Made by `{results["command"]}`, from {results["started"]} to {results["finished"]}:
{"quick sizes, " if results["quick"] else ""}the median of {results["repeats"]} repetition(s) \
per client, clients interleaved, after one run per scenario that is not counted (it warms \
the broker up; in the transactional scenarios every client has such a run, of 500 \
transactions, as the broker's transaction paths get faster for about a thousand).

- Machine: {machine["cpu"]}, {machine["cores"]} cores, {ram} GiB RAM, {machine["os"]}
- Python {machine["python"]}; Kafka {machine["kafka"]}, one local broker (three in scenario \
6); {machine["java"]}
- Clients: {clients}

![benchmark chart]({png_name})

How it is measured: every client run is its own worker process writing to a fresh 6-partition
topic (scenario 6: 12 partitions, replication factor 3) of local brokers that keep their logs in
memory (tmpfs, `/dev/shm`; `AIOPRODUCER_BENCH_DISK=1` puts them on disk); msgs/s and MB/s (key +
value bytes) run from the first send to the last acknowledgement; CPU is the worker's user +
system time (all threads) for the run, per million records; machine CPU is the whole machine's
busy time while the worker's client ran, from its start to its close (the brokers' JVMs, the
worker and anything else running), per million records. Once both cores are busy through a run
(machine CPU s per M msgs near 2,000,000 / msgs/s on 2 cores), what the brokers spend per record
bounds every client; peak RSS is the worker's peak resident set (`VmHWM`; the JVM's own for
Java). Every run's record count is checked against the topic: read back in full with
confluent-kafka's consumer in the first run of each client and scenario, by offsets in the
others. Ratios divide each client's median by the first client's median (msgs/s; p99 latency in
scenario 3, where lower is better). Scenario 6's p99 send->ack column times each record from its
send call to its acknowledgement while records are sent as fast as the client takes them, so it
is mostly the time a record waits in the client's buffer behind those before it (a measure of
how much the client queues, not of its latency at a moderate rate); Java's is
ProducerPerformance's own and confluent-sync's librdkafka's (every record), the Python-timed
clients' (asyncio ones and kafka-python) from one record in 64 (timing each would slow their
send loop and change their batches), and confluent-aio's includes the benchmark's 1,000-record
Python-side buffer.

`asyncio-floor` in scenarios 1 and 2 is not a client: it runs the same workload (`await send()`
per record, one asyncio future each, all gathered) around a `send` that does no Kafka work and
returns an already-resolved `asyncio.Future`. It is what the workload costs a producer that
returns asyncio's own futures, whose every done-callback is a loop callback of its own.
aioproducer's futures run the callbacks of a settled batch in one loop callback
(`aioproducer._futures`), which is how it can cost less than the floor.

Memory under overload (the producer faster than the broker takes) is not a speed figure and is
checked by a test instead: `tests/integration/test_overload.py` throttles the producer with a
broker quota and holds its peak RSS growth to `buffer_memory` + 4 MiB.

Clients:
{legend}

{tables(results)}"""


# -- chart -----------------------------------------------------------------------------------
def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    scenarios = results["scenarios"]
    fig, axes = plt.subplots(
        len(scenarios), 1, figsize=(9, 2.4 * max(1, len(scenarios)) + 0.6), squeeze=False
    )
    for ax, scenario in zip(axes[:, 0], scenarios, strict=True):
        latency = scenario["ratio_of"] != "msgs/s"
        rows = scenario["rows"]
        names, values, colors = [], [], []
        for row in rows:
            ok = bool(row["ok_runs"])
            value = (row["latency_ms"].get("p99") if latency else row["msgs_per_s"]) if ok else None
            names.append(row["client"] + ("" if ok else " (failed)"))
            values.append(value or 0.0)
            colors.append("tab:orange" if row["client"] == scenario["baseline"] else "tab:blue")
        ax.barh(names, values, color=colors)
        ax.invert_yaxis()
        ax.margins(x=0.12)  # room for the value labels
        ax.set_title(f"{scenario['number']}. {scenario['title']}", fontsize=8, loc="left")
        ax.set_xlabel("p99 send->ack latency, ms (lower is better)" if latency else "msgs/s")
        ax.tick_params(labelsize=7)
        for y, value in enumerate(values):
            if value:
                ax.text(
                    value,
                    y,
                    f" {value:,.1f}" if latency else f" {value:,.0f}",
                    va="center",
                    fontsize=7,
                )
    fig.suptitle(f"aioproducer and peers: {results['command']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
