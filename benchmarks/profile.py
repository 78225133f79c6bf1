"""Where a client's time goes in one scenario: py-spy samples of a benchmark worker, grouped.

    python -m benchmarks.profile --scenario 2 [--client aioproducer] [--records N]

Runs the worker of ``python -m benchmarks run`` for one client and scenario under
``py-spy record`` (raw stacks), then puts each sample in the first group below whose frame
appears in its stack and prints each group's share of the samples and, from the worker's
measured CPU, its microseconds per record. One unprofiled run goes first to warm the broker
up. Uses $KAFKA_BOOTSTRAP_SERVERS or starts a broker. Sampling slows the worker a little.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

from benchmarks.run import ROOT, broker, create_topic, delete_topic, for_client
from benchmarks.scenarios import SCENARIOS, variant

__all__ = ["GROUPS", "group_samples", "main"]

#: (group, frames that put a sample in it); the first group with a frame in the stack wins.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "asyncio futures and gather (the workload's floor)",
        ("_done_callback", "gather (asyncio", "BaseEventLoop.call_soon", "create_future"),
    ),
    ("send path: checks, route, partition, append", ("Producer._enqueue", "Producer.send")),
    ("sealing: build, compress, CRC", ("ProducerBatch.seal",)),
    ("TLS: encrypt, decrypt, buffers (asyncio sslproto)", ("sslproto.py",)),
    ("socket writes", ("_SelectorSocketTransport.write",)),
    ("requests: drain and encode", ("Sender._send ", "RecordAccumulator.drain")),
    ("settling futures", ("ProducerBatch.complete",)),
    ("responses: read, decode, handle", ("_read_ready", "Sender._on_response")),
    ("sender loop: readiness, expiry", ("Sender.run",)),
    # before the event loop's group: the workload's task runs inside _run_once too
    ("the benchmark's own loop", ("throughput", "_bulk", "Payloads", "_timed")),
    ("event loop iterations", ("_run_once",)),
)


#: A sample whose innermost Python frame is the workload's call of the client's send (``one``,
#: or the throughput loop's list comprehension, which calls ``send`` in line) is in C code
#: that call runs: for aioproducer, FastSend, the send path's common call.
SEND_CALL_FRAMES = (("one", "benchmarks/clients/"), ("<listcomp>", "_asyncio_common.py"))


def group_samples(raw: str) -> Counter[str]:
    """Samples per group from py-spy's raw output (``frame;frame;... count`` lines)."""
    counts: Counter[str] = Counter()
    send_path = GROUPS[1][0]
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        leaf = stack.rpartition(";")[2]
        function, _, where = leaf.partition(" (")
        name = function.rpartition(".")[2]
        if any(name == frame and place in where for frame, place in SEND_CALL_FRAMES):
            counts[send_path] += int(number)
            continue
        for name, frames in GROUPS:
            if any(frame in stack for frame in frames):
                counts[name] += int(number)
                break
        else:
            counts["other (start-up, imports, GC elsewhere)"] += int(number)
    return counts


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install -e '.[dev]')")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--scenario", type=int, choices=sorted(SCENARIOS), default=1)
    parser.add_argument("--client", default="aioproducer")
    parser.add_argument("--records", type=int, default=None, help="default: the scenario's")
    parser.add_argument("--rate", type=int, default=400, help="samples per second")
    parser.add_argument("--raw", type=Path, default=None, help="also keep py-spy's raw stacks here")
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    if args.client not in scenario.clients:
        parser.error(f"scenario {scenario.number} runs {', '.join(scenario.clients)}")
    with (
        broker(scenario.brokers, scenario.secure) as (bootstrap, _, sasl_ssl),
        tempfile.TemporaryDirectory() as work,
    ):
        topic = f"profile-s{scenario.number}-{uuid.uuid4().hex[:8]}"
        spec = for_client(args.client, scenario.spec(bootstrap, topic, False, None), sasl_ssl)
        client, spec = variant(args.client, spec)
        worker = [sys.executable, "-m", "benchmarks.worker", client]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        create_topic(bootstrap, topic, scenario)
        if args.records:
            spec = replace(spec, records=args.records)
        # one run unprofiled first, so that the broker's JIT is warm for the profiled one
        subprocess.run(
            [*worker, str(spec.scenario), spec.to_json()],
            capture_output=True,
            check=False,
            cwd=ROOT,
            env=env,
        )
        delete_topic(bootstrap, topic)
        topic = f"{topic}-profiled"
        create_topic(bootstrap, topic, scenario)
        spec = replace(spec, topic=topic)
        raw = Path(work) / "samples.txt"
        command = [_py_spy(), "record", "-r", str(args.rate), "-f", "raw", "-o", str(raw), "--"]
        done = subprocess.run(
            [*command, *worker, str(spec.scenario), spec.to_json()],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env=env,
        )
        delete_topic(bootstrap, topic)
        if done.returncode != 0 or not raw.exists():
            print(done.stdout, done.stderr, file=sys.stderr)
            return 1
        result = json.loads([x for x in done.stdout.splitlines() if x.startswith("{")][-1])
        counts = group_samples(raw.read_text())
        if args.raw is not None:
            shutil.copyfile(raw, args.raw)
    total = sum(counts.values())
    cpu_per_record_us = result["cpu_s_per_million"]  # s per million = us per record
    print(
        f"{args.client}, scenario {scenario.number}: {spec.records:,} records, "
        f"{result['msgs_per_s']:,.0f} msgs/s, {cpu_per_record_us:.1f} us CPU per record, "
        f"{total:,} samples"
    )
    for name, count in counts.most_common():
        share = count / total
        print(f"  {share:6.1%}  {share * cpu_per_record_us:5.2f} us  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
