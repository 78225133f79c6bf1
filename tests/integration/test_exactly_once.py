"""examples/consume_transform_produce.py killed with SIGKILL mid-run and restarted: each of
100,000 input records is in the output exactly once for a read_committed reader."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from aioproducer import Producer
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import committed_offsets, consume_all, end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "consume_transform_produce.py"
RECORDS = 100_000
#: The first run is killed once this many records are committed.
KILL_AFTER = 30_000


def _value(i: int) -> bytes:
    return b"record-%06d" % i


async def _fill(bootstrap: str, topic: str) -> None:
    async with Producer(bootstrap_servers=bootstrap, linger_ms=5) as producer:
        for first in range(0, RECORDS, 10_000):
            pairs = [(b"k%d" % i, _value(i)) for i in range(first, first + 10_000)]
            await producer.send_many(topic, pairs)


async def _start(bootstrap: str, source: str, sink: str, group: str) -> asyncio.subprocess.Process:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        *("--bootstrap", bootstrap, "--input", source, "--output", sink, "--group", group),
        *("--transactional-id", f"{group}-tx", "--group-instance-id", f"{group}-0"),
        *("--idle-exit", "3"),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )


async def _committed_before_kill(process: asyncio.subprocess.Process) -> int:
    """Read the example's progress until KILL_AFTER records are committed, then SIGKILL it;
    the records it had committed by then."""
    assert process.stdout is not None
    while True:
        line = (await process.stdout.readline()).decode()
        assert line, f"the example exited early ({await process.wait()})"
        if line.startswith("committed "):
            total = int(line.split()[3])
            if total >= KILL_AFTER:
                # Into the next transaction, whose records are then on the broker
                # but not committed (read_uncommitted shows how many).
                await asyncio.sleep(0.01)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                return total


async def test_kill_9_mid_run_then_restart(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    source = await asyncio.to_thread(new_topic, 3)
    sink = await asyncio.to_thread(new_topic, 3)
    group = f"ctp-{uuid.uuid4().hex[:8]}"
    await _fill(kafka_bootstrap, source)

    first = await _start(kafka_bootstrap, source, sink, group)
    try:
        async with asyncio.timeout(60):
            before_kill = await _committed_before_kill(first)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert before_kill < RECORDS, "the first run finished before it was killed"

    second = await _start(kafka_bootstrap, source, sink, group)
    try:
        async with asyncio.timeout(90):
            out, _ = await second.communicate()
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    assert second.returncode == 0, out.decode()[-2000:]
    done = out.decode().splitlines()[-1].split()
    assert done[0] == "done"
    assert 0 < int(done[2]) <= RECORDS - before_kill  # resumed near where it was killed

    committed = await asyncio.to_thread(
        partial(consume_all, kafka_bootstrap, sink, 60.0, isolation_level="read_committed")
    )
    everything = await asyncio.to_thread(
        partial(consume_all, kafka_bootstrap, sink, 60.0, isolation_level="read_uncommitted")
    )
    counts = Counter(r.value for r in committed)
    expected = {_value(i).upper() for i in range(RECORDS)}
    print(
        f"\nexactly once: killed after {before_kill} records committed; the restart did "
        f"{done[2]} in {done[1]} transactions; read_committed {len(committed)} records, "
        f"read_uncommitted {len(everything)} (the killed transaction's records included)"
    )
    assert set(counts) == expected, "records were lost"
    assert max(counts.values()) == 1, "records were written twice"
    assert len(committed) == RECORDS
    # The group's offsets were committed in the transactions, up to the end of the input.
    ends = await asyncio.to_thread(end_offsets, kafka_bootstrap, source)
    assert await asyncio.to_thread(committed_offsets, kafka_bootstrap, group, source) == ends
