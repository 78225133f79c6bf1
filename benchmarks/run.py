"""The benchmark run: a broker, a fresh topic per client run, workers, read-back, medians.

Each client run is a ``python -m benchmarks.worker`` subprocess (see ``benchmarks.worker``),
so a crash or a hang costs that run only: it is reported as failed with its error.
Clients take turns within each repetition (the order rotates between repetitions) so that
load from elsewhere on the machine spreads over all of them. Each scenario starts with a
warm-up run that is not counted, so that no client meets a cold broker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.clients import NO_KAFKA
from benchmarks.scenarios import SCENARIOS, SECURE_CLIENTS, Scenario, baseline_client, variant
from benchmarks.workload import RunSpec

__all__ = ["Options", "main"]

ClusterConfig = tuple[tuple[str, str], ...]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool
    scenarios: tuple[int, ...]
    repeats: int
    out: Path
    clients: tuple[str, ...] | None  # None means every client of each scenario
    timeout: float
    command: str
    source: Path = ROOT  # where the workers import aioproducer and benchmarks from
    against: str | None = None  # a git revision whose aioproducer runs beside this tree's
    against_source: Path | None = None  # its snapshot, with this tree's benchmarks
    sasl_ssl: dict[str, str] | None = None  # the secure broker's SASL_SSL listener (bootstrap,
    # cafile, mechanism, username, password), when a scenario needs it


#: The aioproducer clients that run beside their ``--against REV`` twin (``NAME@REV``).
AGAINST_CLIENTS = ("aioproducer", "aioproducer-default")


# -- the broker ------------------------------------------------------------------------------
#: Where the local brokers keep their logs: memory (tmpfs) unless $AIOPRODUCER_BENCH_DISK
#: is 1. Each run writes to a new topic, and a broker's first writes to a new partition's
#: index files (sparse, memory-mapped) cost a page fault each, which a virtual disk can
#: make slow: 1.4 ms each on the ext4 of the VM measured on 2026-12-06 (0.01 ms on tmpfs),
#: which made the first transaction of a run 35-486 ms. That is the host's disk, not the
#: producer, and it weighed most on the fastest client.
MEMORY_ROOT = Path("/dev/shm")


def broker_root() -> str | None:
    """The directory the local brokers' work directories go in (None: the system's)."""
    disk = os.environ.get("AIOPRODUCER_BENCH_DISK", "")
    if disk not in ("", "1"):  # as AIOPRODUCER_PURE_PYTHON: 1 or unset, nothing else
        raise ValueError(f"AIOPRODUCER_BENCH_DISK={disk!r}: set it to 1 (logs on disk) or unset")
    if disk:
        return None
    if MEMORY_ROOT.is_dir() and os.access(MEMORY_ROOT, os.W_OK):
        return str(MEMORY_ROOT)
    return None


@contextlib.contextmanager
def broker(
    brokers: int = 1, secure: bool = False, config: Sequence[tuple[str, str]] = ()
) -> Iterator[tuple[str, str, dict[str, str] | None]]:
    """(bootstrap servers, Kafka version, SASL_SSL settings): $KAFKA_BOOTSTRAP_SERVERS (for
    one broker) or a local cluster of ``brokers``; with ``secure``, always a local broker with
    the harness's secure listeners (the SASL_SSL settings are then those of its SASL_SSL
    listener and user alice; the secure cluster has one broker); with broker ``config``,
    always a local cluster with those settings."""
    if secure and brokers != 1:
        raise ValueError("the secure cluster has one broker")
    if secure and config:
        raise ValueError("the secure cluster has the default broker settings")
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external and brokers == 1 and not secure and not config:
        yield external, "external cluster (version not probed)", None
        return
    from aioproducer.testing import LocalKafkaCluster  # noqa: PLC0415
    from aioproducer.testing.security import secure_cluster, secure_setup  # noqa: PLC0415

    tls = " with TLS and SASL" if secure else ""
    settings = "".join(f", {key}={value}" for key, value in config)
    print(f"starting a local Kafka cluster of {brokers} broker(s){tls}{settings} ...", flush=True)
    root = broker_root()
    print(f"the brokers' logs are in {root or tempfile.gettempdir()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="aioproducer-benchmarks-kafka-", dir=root) as workdir:
        if secure:
            cluster = secure_cluster(Path(workdir), heap="1g")
        else:
            cluster = LocalKafkaCluster(
                brokers,
                heap="1g" if brokers == 1 else "512m",
                broker_config=dict(config),
                workdir=Path(workdir),
            )
        try:
            cluster.start()
            sasl_ssl = None
            if secure:
                setup = secure_setup(cluster)
                sasl_ssl = {
                    "bootstrap": setup.bootstrap("SASL_SSL"),
                    "cafile": str(setup.certificates.ca_file),
                    "mechanism": "SCRAM-SHA-256",
                    "username": "alice",
                    "password": setup.users["alice"],
                }
            yield cluster.bootstrap_servers, cluster.version, sasl_ssl
        finally:
            cluster.stop()
            print("local broker stopped", flush=True)


def _kafka_libs() -> str | None:
    try:
        from aioproducer.testing import kafka_libs  # noqa: PLC0415

        return str(kafka_libs())
    except Exception as exc:  # the Java client then reports itself as failed
        print(f"Kafka's jars are unavailable ({exc}); the Java run will fail", flush=True)
        return None


def create_topic(bootstrap: str, name: str, scenario: Scenario) -> None:
    from aioproducer.testing import AdminClient  # noqa: PLC0415

    partitions = scenario.partitions
    with AdminClient(bootstrap.split(",", maxsplit=1)[0]) as admin:
        admin.create_topic(name, partitions, scenario.replication, dict(scenario.topic_config))
        admin.wait_for_leaders(name, partitions)


def delete_topic(bootstrap: str, name: str) -> None:
    """Free the broker's disk once a run is verified (best effort)."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    with contextlib.suppress(Exception):
        futures = AdminClient({"bootstrap.servers": bootstrap}).delete_topics([name])
        for future in futures.values():
            future.result(timeout=30)


def watermark_total(bootstrap: str, topic: str) -> int:
    """Records in ``topic`` by its offsets (a cheap check for the runs not read back in full)."""
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"wm-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        total = 0
        for p in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return int(total)
    finally:
        consumer.close()


def read_back(bootstrap: str, topic: str) -> int:
    from aioproducer.testing.readback import count_records  # noqa: PLC0415

    return count_records(bootstrap, topic)


# -- one run ---------------------------------------------------------------------------------
def for_client(client: str, spec: RunSpec, sasl_ssl: dict[str, str] | None) -> RunSpec:
    """``spec`` for ``client``: the secure ones connect to the SASL_SSL listener."""
    if client not in SECURE_CLIENTS:
        return spec
    if sasl_ssl is None:
        raise RuntimeError(f"{client} needs the secure broker")
    settings = dict(sasl_ssl)
    return replace(spec, bootstrap=settings.pop("bootstrap"), sasl_ssl=settings)


@contextlib.contextmanager
def source_snapshot() -> Iterator[Path]:
    """A copy of ``aioproducer/`` (with its built extension) and ``benchmarks/`` for the
    workers to import: editing the tree during a run cannot change the runs still to come."""
    with tempfile.TemporaryDirectory(prefix="aioproducer-benchmarks-") as tmp:
        for package in ("aioproducer", "benchmarks"):
            shutil.copytree(
                ROOT / package,
                Path(tmp) / package,
                ignore=shutil.ignore_patterns("__pycache__", "results", "*.c"),
            )
        yield Path(tmp)


@contextlib.contextmanager
def revision_snapshot(revision: str, benchmarks_from: Path) -> Iterator[Path]:
    """``aioproducer/`` as of git ``revision`` (its C extension built), beside the
    ``benchmarks/`` of ``benchmarks_from``: the old library under the same workload."""
    with tempfile.TemporaryDirectory(prefix="aioproducer-against-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        subprocess.run(
            [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
            cwd=tree,
            capture_output=True,
            check=True,
        )
        source = Path(tmp) / "source"
        shutil.copytree(
            tree / "aioproducer",
            source / "aioproducer",
            ignore=shutil.ignore_patterns("__pycache__", "*.c"),
        )
        shutil.copytree(benchmarks_from / "benchmarks", source / "benchmarks")
        yield source


def run_worker(client: str, spec: RunSpec, timeout: float, source: Path = ROOT) -> dict[str, Any]:
    """Run ``client`` in a worker process that imports from ``source``; its JSON result,
    or a failure with the error."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        client,
        str(spec.scenario),
        spec.to_json(),
    ]
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=source
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"ok": False, "error": f"worker exited {proc.returncode}: {' | '.join(tail)}"}
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": f"unreadable worker output: {exc}"}
    return result


def verify(result: dict[str, Any], bootstrap: str, topic: str, expected: int, full: bool) -> None:
    """Check the record count; a full read-back with confluent-kafka or the offsets."""
    if not result.get("ok"):
        return
    try:
        count = read_back(bootstrap, topic) if full else watermark_total(bootstrap, topic)
    except Exception as exc:
        result.update(ok=False, error=f"read-back failed: {type(exc).__name__}: {exc}")
        return
    result["verified"] = "read back" if full else "offsets"
    result["count"] = count
    if count != expected or result.get("acked") != expected:
        result.update(
            ok=False,
            error=f"expected {expected} records: {result.get('acked')} acked, {count} in the topic",
        )


def _line(result: dict[str, Any]) -> str:
    if not result.get("ok"):
        return f"FAILED: {result.get('error')}"
    latency = result.get("latency_ms") or {}
    text = (
        f"{result['msgs_per_s']:>11,.0f} msg/s {result['mb_per_s']:7.1f} MB/s "
        f"cpu {result['cpu_s_per_million']:6.1f} s/M rss {result['peak_rss_mb']:6.0f} MB"
    )
    if result.get("machine_cpu_s_per_million") is not None:
        text += f" machine cpu {result['machine_cpu_s_per_million']:6.1f} s/M"
    scenario = SCENARIOS.get(result.get("scenario", 0))
    if scenario is not None and (scenario.latency or scenario.ack_latency) and "p99" in latency:
        text += f" p99 {latency['p99']:.2f} ms"
    if result.get("loop_lag_p99_ms") is not None:
        text += f" lag p99 {result['loop_lag_p99_ms']:.1f} ms"
    return text + f" [{result.get('verified')}]"


# -- medians ---------------------------------------------------------------------------------
def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(
    scenario: Scenario, clients: Sequence[str], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for client in clients:
        mine = [r for r in runs if r["client"] == client]
        good = [r for r in mine if r.get("ok")]
        row: dict[str, Any] = {
            "client": client,
            "runs": len(mine),
            "ok_runs": len(good),
            "errors": sorted({str(r.get("error")) for r in mine if not r.get("ok")}),
            "notes": sorted({str(r["note"]) for r in good if r.get("note")}),
        }
        for field in (
            "msgs_per_s",
            "mb_per_s",
            "cpu_s_per_million",
            "machine_cpu_s_per_million",
            "peak_rss_mb",
            "loop_lag_p99_ms",
        ):
            row[field] = _median([r.get(field) for r in good])
        latency = {}
        for q in ("p50", "p99", "p99.9", "max"):
            value = _median([(r.get("latency_ms") or {}).get(q) for r in good])
            if value is not None:
                latency[q] = value
        row["latency_ms"] = latency
        rows.append(row)
    base = next((r for r in rows if r["client"] == baseline_client(scenario)), None)
    for row in rows:
        row["ratio"] = None
        if base is None or not row["ok_runs"] or not base["ok_runs"]:
            continue
        if scenario.latency:
            mine, theirs = row["latency_ms"].get("p99"), base["latency_ms"].get("p99")
        else:
            mine, theirs = row["msgs_per_s"], base["msgs_per_s"]
        if mine is not None and theirs:
            row["ratio"] = mine / theirs
    return {
        "number": scenario.number,
        "records": max((int(r.get("records", 0)) for r in runs), default=0),
        "title": scenario.title,
        "baseline": baseline_client(scenario),
        "ratio_of": "p99 latency" if scenario.latency else "msgs/s",
        "ack_latency": scenario.ack_latency,
        "rows": rows,
    }


# -- the whole run ---------------------------------------------------------------------------
def run_once(
    client: str,
    scenario: Scenario,
    bootstrap: str,
    libs: str | None,
    options: Options,
    full: bool,
    *,
    warm_up: bool = False,
) -> dict[str, Any]:
    """One client run on a fresh topic, verified (read back in full when ``full``); a
    ``warm_up`` run is not verified, and the paced scenario's runs at its quick length."""
    name = "warm-up" if warm_up else client
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("@", "-at-"))  # --against h/x too
    topic = f"bench-s{scenario.number}-{safe}-{uuid.uuid4().hex[:8]}"
    quick = options.quick or (warm_up and bool(scenario.rate))
    spec = for_client(
        client, scenario.spec(bootstrap, topic, quick, libs, warm_up=warm_up), options.sasl_ssl
    )
    worker, spec = variant(client.partition("@")[0], spec)  # aioproducer-default@REV too
    try:
        create_topic(bootstrap, topic, scenario)
    except Exception as exc:
        result: dict[str, Any] = {
            "ok": False,
            "error": f"creating the topic failed: {type(exc).__name__}: {exc}",
        }
    else:
        if "@" in client:
            assert options.against_source is not None
            result = run_worker(worker, spec, options.timeout, options.against_source)
        else:
            result = run_worker(worker, spec, options.timeout, options.source)
        if warm_up:
            if result.get("ok"):
                result["verified"] = "not counted"
        elif client in NO_KAFKA:
            result["verified"] = "no Kafka I/O"
        else:
            verify(result, bootstrap, topic, spec.records, full)
        delete_topic(bootstrap, topic)
    result.update(client=client, scenario=scenario.number, topic=topic, records=spec.records)
    return result


def warm_up(
    client: str, scenario: Scenario, bootstrap: str, libs: str | None, options: Options
) -> dict[str, Any]:
    """One run of ``client`` that is not counted, before the scenario's repetitions.

    A broker serves its first requests of a kind slower (the JVM compiles its hot paths
    as they run); without this the first client measured, always the same one in the
    first repetition, pays for it.
    """
    began = time.monotonic()
    result = run_once(client, scenario, bootstrap, libs, options, False, warm_up=True)
    print(
        f"  [warm-up] {client:<21} {_line(result)} ({time.monotonic() - began:.0f} s)", flush=True
    )
    return result


def run_scenario(
    scenario: Scenario, bootstrap: str, libs: str | None, options: Options
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every client of ``scenario``, interleaved over the repetitions, after a warm-up run
    of the first one (of each, if the scenario sets ``warm_up_records``); (runs, summary).
    The warm-up is in the summary, not in the medians."""
    clients = [c for c in scenario.clients if options.clients is None or c in options.clients]
    for name in AGAINST_CLIENTS if options.against is not None else ():
        if name in clients:
            clients.insert(clients.index(name) + 1, f"{name}@{options.against}")
    print(f"\n== scenario {scenario.number}: {scenario.title}", flush=True)
    warming = clients if scenario.warm_up_records else clients[:1]
    warm = [warm_up(client, scenario, bootstrap, libs, options) for client in warming]
    runs: list[dict[str, Any]] = []
    read_back: set[str] = set()  # clients whose count was read back in full already
    for rep in range(options.repeats):
        shift = rep % len(clients) if clients else 0
        for client in clients[shift:] + clients[:shift]:
            began = time.monotonic()
            # Offsets count transaction markers too: transactional runs are read back.
            full = client not in read_back or bool(scenario.transaction_records)
            result = run_once(client, scenario, bootstrap, libs, options, full)
            result["repetition"] = rep
            if result.get("ok") and full:
                read_back.add(client)
            runs.append(result)
            print(
                f"  [{rep + 1}/{options.repeats}] {client:<21} {_line(result)} "
                f"({time.monotonic() - began:.0f} s)",
                flush=True,
            )
    summary = summarize(scenario, clients, runs)
    summary["warm_up"] = warm  # one run, or one per client
    return runs, summary


def run(options: Options) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    all_runs: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    libs = _kafka_libs()
    # the one-broker cluster has the secure listeners when a scenario needs them
    secure = any(SCENARIOS[number].secure for number in options.scenarios)
    with contextlib.ExitStack() as stack:
        # (brokers, broker settings) -> broker()
        clusters: dict[tuple[int, ClusterConfig], tuple[str, str, dict[str, str] | None]] = {}

        def cluster(scenario: Scenario) -> tuple[str, str, dict[str, str] | None]:
            brokers, config = scenario.brokers, scenario.broker_config
            if (brokers, config) not in clusters:
                clusters[brokers, config] = stack.enter_context(
                    broker(brokers, secure and brokers == 1 and not config, config)
                )
            return clusters[brokers, config]

        bootstrap, kafka_version, _ = cluster(SCENARIOS[options.scenarios[0]])
        source = stack.enter_context(source_snapshot())
        against = None
        if options.against is not None:
            against = stack.enter_context(revision_snapshot(options.against, source))
        print(f"broker: {bootstrap} (Kafka {kafka_version})", flush=True)
        options = replace(options, source=source, against_source=against)
        for number in options.scenarios:
            bootstrap, _, sasl_ssl = cluster(SCENARIOS[number])
            scenario_options = replace(options, sasl_ssl=sasl_ssl)
            runs, summary = run_scenario(SCENARIOS[number], bootstrap, libs, scenario_options)
            all_runs.extend(runs)
            summaries.append(summary)
    return {
        "command": options.command,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "repeats": options.repeats,
        "machine": report.machine_description(kafka_version),
        "scenarios": summaries,
        "runs": all_runs,
    }


def main(options: Options) -> int:
    results = run(options)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = RESULTS_DIR / f"{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    baseline_ran = all(
        any(r["client"] == s["baseline"] and r["ok_runs"] for r in s["rows"])
        for s in results["scenarios"]
    )
    out = options.out if baseline_ran else RESULTS_DIR
    if not baseline_ran:
        print(
            f"\naioproducer did not run in every scenario: the report goes to {out}/ "
            f"instead of {options.out}/",
            flush=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    png = out / ("benchmarks.png" if baseline_ran else f"{stamp}.png")
    md = out / ("benchmarks.md" if baseline_ran else f"{stamp}.md")
    report.chart(results, png)
    text = report.markdown(results, png.name)
    md.write_text(text)
    print("\n" + report.tables(results))
    print(f"results: {json_path}\nreport: {md}\nchart: {png}")
    return 0


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(["python", "-m", "benchmarks", *argv])
