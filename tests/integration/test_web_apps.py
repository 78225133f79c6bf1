"""examples/fastapi_app.py under uvicorn and examples/aiohttp_app.py under aiohttp's run_app,
each on asyncio's and uvloop's event loop, as real servers on 127.0.0.1 against the real
broker: hundreds of concurrent requests, then a signal; every record a response acknowledged
is read back exactly once with confluent-kafka."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from asyncio.subprocess import PIPE, STDOUT
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from aioproducer.testing import free_port
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 500
CONNECTIONS = 100


@dataclass(frozen=True)
class Server:
    """How to start one example app on one event loop."""

    app: str
    loop: str

    def command(self, port: int) -> list[str]:
        if self.app == "fastapi":
            return [
                *(sys.executable, "-m", "uvicorn", "examples.fastapi_app:app"),
                *("--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port)),
                *("--loop", self.loop, "--no-access-log"),
            ]
        script = str(ROOT / "examples" / "aiohttp_app.py")
        return [sys.executable, script, "--port", str(port), "--loop", self.loop]

    def exit_code(self, sig: signal.Signals) -> int:
        """uvicorn re-raises a SIGTERM once it has shut down gracefully (so a supervisor
        sees the signal); a SIGINT, and aiohttp's run_app for both, end in a clean exit."""
        return -sig if self.app == "fastapi" and sig == signal.SIGTERM else 0


SERVERS = [Server(app, loop) for app in ("fastapi", "aiohttp") for loop in ("asyncio", "uvloop")]


@dataclass
class Running:
    process: asyncio.subprocess.Process
    url: str
    output: bytes = b""

    async def exited(self) -> int:
        """The exit code, once the server has exited (within 60 s); its output is kept."""
        self.output, _ = await asyncio.wait_for(self.process.communicate(), timeout=60)
        assert self.process.returncode is not None
        return self.process.returncode

    async def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return await self.exited()


@contextlib.asynccontextmanager
async def running(server: Server, bootstrap: str, topic: str) -> AsyncIterator[Running]:
    """The server, answering on a free loopback port; killed if the test left it running."""
    port = free_port()
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else ""),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
    }
    process = await asyncio.create_subprocess_exec(
        *server.command(port), cwd=ROOT, env=env, stdout=PIPE, stderr=STDOUT
    )
    handle = Running(process, f"http://127.0.0.1:{port}")
    try:
        await _wait_ready(handle, server.loop)
        yield handle
    finally:
        if process.returncode is None:
            process.kill()
            await handle.exited()


async def _wait_ready(handle: Running, loop: str) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(handle.url) as session:
        while True:
            if handle.process.returncode is not None:
                await handle.exited()
                pytest.fail(f"the server exited at start-up:\n{handle.output.decode()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get("/health") as response:
                    body = await response.json()
                # the module of the running loop's class: asyncio.unix_events or uvloop
                assert body["loop"].split(".")[0] == loop
                return
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            await asyncio.sleep(0.1)


async def post(session: aiohttp.ClientSession, i: int) -> tuple[int, int] | None:
    """POST record ``i``: its (partition, offset) from a 2xx response, None from another."""
    async with session.post("/events", data=f"req-{i}", headers={"x-key": f"k{i % 37}"}) as r:
        if not 200 <= r.status < 300:
            return None
        body = await r.json()
    return body["partition"], body["offset"]


def session_for(handle: Running) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    return aiohttp.ClientSession(
        handle.url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    )


def check_shutdown(server: Server, handle: Running, sig: signal.Signals, code: int) -> None:
    output = handle.output.decode(errors="replace")
    assert code == server.exit_code(sig), output
    assert "Traceback" not in output, output
    if server.app == "fastapi":
        assert "Application shutdown complete." in output, output


@pytest.mark.parametrize(
    ("server", "sig"),
    [
        (server, sig)
        for server, sig in zip(
            SERVERS, [signal.SIGTERM, signal.SIGINT, signal.SIGINT, signal.SIGTERM], strict=True
        )
    ],
    ids=lambda value: value.app + "-" + value.loop if isinstance(value, Server) else value.name,
)
async def test_concurrent_requests_then_a_signal_deliver_every_record(
    server: Server, sig: signal.Signals, kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    async with running(server, kafka_bootstrap, topic) as handle:
        started = time.perf_counter()
        async with session_for(handle) as session:
            answers = await asyncio.gather(*(post(session, i) for i in range(REQUESTS)))
        assert None not in answers, f"{answers.count(None)} requests were not acknowledged"
        elapsed = time.perf_counter() - started
        code = await handle.stop(sig)
    check_shutdown(server, handle, sig, code)

    records = await asyncio.to_thread(consume_all, kafka_bootstrap, topic)
    assert len(records) == REQUESTS
    where = {(r.partition, r.offset): r for r in records}
    for i, answer in enumerate(answers):
        assert answer is not None
        partition, offset = answer
        if offset == -1:  # acknowledged as a duplicate: the broker does not say where
            continue
        record = where[partition, offset]
        assert (record.key, record.value) == (f"k{i % 37}".encode(), f"req-{i}".encode())
    assert Counter(r.value for r in records) == Counter(
        f"req-{i}".encode() for i in range(REQUESTS)
    )
    print(
        f"\n{server.app}/{server.loop}: {REQUESTS} concurrent requests acknowledged in "
        f"{elapsed:.2f} s ({REQUESTS / elapsed:,.0f}/s); {sig.name} -> exit {code}, "
        f"{len(records)} read back"
    )


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: f"{s.app}-{s.loop}")
async def test_requests_arriving_during_shutdown_lose_no_acknowledged_record(
    server: Server, kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    acked: dict[int, tuple[int, int]] = {}
    after_signal: set[int] = set()  # answered 2xx though started before the signal
    enough, signalled = asyncio.Event(), asyncio.Event()
    attempted = 0

    async def worker(session: aiohttp.ClientSession, first: int) -> None:
        nonlocal attempted
        for i in range(first, first + 10_000 * 64, 64):  # bounded: stops at the first refusal
            attempted += 1
            before = signalled.is_set()
            try:
                answer = await post(session, i)
            except aiohttp.ClientError:  # the server stopped: refused, reset or closed
                return
            if answer is not None:
                acked[i] = answer
                if len(acked) >= 300:
                    enough.set()
                if signalled.is_set() and not before:
                    after_signal.add(i)

    async with running(server, kafka_bootstrap, topic) as handle:
        async with session_for(handle) as session:
            workers = [asyncio.create_task(worker(session, w)) for w in range(64)]
            await asyncio.wait_for(enough.wait(), timeout=60)
            handle.process.send_signal(signal.SIGTERM)
            signalled.set()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
        code = await handle.exited()
    check_shutdown(server, handle, signal.SIGTERM, code)

    records = await asyncio.to_thread(consume_all, kafka_bootstrap, topic)
    counts = Counter(r.value for r in records)
    assert all(n == 1 for n in counts.values()), [v for v, n in counts.items() if n > 1][:5]
    missing = [i for i in acked if f"req-{i}".encode() not in counts]
    assert not missing, f"{len(missing)} acknowledged records are not in the topic: {missing[:5]}"
    print(
        f"\n{server.app}/{server.loop}: {attempted} requests, {len(acked)} acknowledged "
        f"({len(after_signal)} of them answered after SIGTERM), {len(records)} in the topic"
    )
    assert after_signal, "no request in flight at the signal was answered"
