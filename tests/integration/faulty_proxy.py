"""A fault-injecting TCP proxy between a client and one Kafka broker (a test helper).

It forwards bytes both ways, reading Kafka's frames to learn which request each response
answers. With ``drop_every=N`` it lets the broker append every Nth Produce request but cuts
the connection before the response reaches the client, so the client must retry a batch the
broker already wrote: exactly the case idempotence exists for. With ``stall_every=N`` it
instead goes silent after every Nth Produce response, as a hung broker would. With
``response_delay=S`` it holds each Produce response S seconds before passing it on, as a
slow broker would (one connection's responses stay in order, so one comes every S seconds).

With ``chaos=Chaos(seed, ...)`` it rolls a die for every frame instead (see :class:`Chaos`);
:attr:`FaultyProxy.faults` counts what it did. Each connection draws from its own
``random.Random`` seeded with the seed and the connection's number, so a seed replays the
same faults for the same traffic (the broker's and the client's timing still vary).

It counts the requests it forwards by API key (:attr:`FaultyProxy.requests`), and keeps the
frames of those whose keys it is told to ``record``, with when they passed.
:func:`proxied_cluster` starts a one-broker cluster that advertises the proxy, so that every
connection a client opens goes through it; :func:`proxied_brokers` does so for a cluster of
several brokers, with a proxy each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aioproducer.testing import LocalKafkaCluster, free_port
from aioproducer.testing.cluster import BrokerNode

__all__ = ["Chaos", "FaultyProxy", "proxied_brokers", "proxied_cluster"]

log = logging.getLogger("faulty_proxy")

_HEADER = struct.Struct(">hhi")  # api_key, api_version, correlation_id
_PRODUCE = 0
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(frozen=True)
class Chaos:
    """Probabilities of a fault per frame, and the seed of the dice.

    - ``blackhole``: stop forwarding both ways for ``blackhole_s`` seconds (the frame is held,
      the sockets stay open): a request timeout fires if the silence outlasts it;
    - ``kill``: reset both sockets (before a request reaches the broker, or after the broker
      answered, then sometimes with part of the response sent);
    - ``drop``: a Produce response only: swallow it and close the connection, as drop_every;
    - ``delay``: a response only: hold it (and those behind it) ``delay_ms`` milliseconds.
    """

    seed: int
    blackhole: float = 0.0
    kill: float = 0.0
    drop: float = 0.0
    delay: float = 0.0
    blackhole_s: tuple[float, float] = (0.2, 3.0)
    delay_ms: tuple[float, float] = (1.0, 300.0)

    def roll(self, rng: random.Random, *, response: bool, produce: bool) -> str | None:
        """The fault for one frame (``response``: broker to client), or None."""
        x = rng.random()
        for kind, p in (
            ("blackhole", self.blackhole),
            ("kill", self.kill),
            ("drop", self.drop if response and produce else 0.0),
            ("delay", self.delay if response else 0.0),
        ):
            if x < p:
                return kind
            x -= p
        return None


class _Link:
    """One client connection and its connection to the broker."""

    def __init__(
        self,
        number: int,
        client: asyncio.StreamWriter,
        broker: asyncio.StreamWriter,
        rng: random.Random,
    ) -> None:
        self.number = number
        self.client = client
        self.broker = broker
        self.rng = rng
        self.api_keys: dict[int, int] = {}
        self.quiet_until = 0.0

    async def wait_quiet(self) -> None:
        """Sleep while a blackhole lasts (another may extend it meanwhile)."""
        loop = asyncio.get_running_loop()
        while (left := self.quiet_until - loop.time()) > 0:  # noqa: ASYNC110 - not a poll
            await asyncio.sleep(left)

    def abort(self) -> None:
        """Close both sockets at once, with a reset (SO_LINGER 0), not a FIN."""
        for writer in (self.client, self.broker):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            writer.transport.abort()


class FaultyProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target_port``."""

    def __init__(
        self,
        port: int,
        target_port: int,
        *,
        drop_every: int = 0,
        stall_every: int = 0,
        response_delay: float = 0.0,
        chaos: Chaos | None = None,
        record: Collection[int] = (),
    ) -> None:
        self.port = port
        self.target_port = target_port
        self.requests: Counter[int] = Counter()
        """Requests forwarded, by API key."""
        self.record = frozenset(record)
        self.recorded: list[tuple[float, bytes]] = []
        """(time.monotonic(), frame) of each request forwarded whose API key is in ``record``."""
        self.response_delay = response_delay
        self.drop_every = drop_every
        self.stall_every = stall_every
        """Hold every Nth Produce response and all after it on that connection, as a hung
        broker would, until the client gives up and closes the connection."""
        self.chaos = chaos
        """Random faults (None: none); set to None to stop them, e.g. before reading back."""
        self.faults: Counter[str] = Counter()
        """What :attr:`chaos` did: blackhole, kill, kill_after_produce, drop, delay."""
        self.blackhole_seconds: list[float] = []
        self.stalled = 0
        self.produce_responses = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._links = 0
        self._forced: list[str] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        writers = list(self._writers)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        # stop() cancels the work (a blackhole may hold it for seconds), not this task: the
        # server's callback on this task takes a cancellation for an error (Python 3.11).
        task = asyncio.create_task(self._serve(client_r, client_w))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.wait([task])
        if not task.cancelled():
            task.result()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers.update((client_w, broker_w))
        self._links += 1
        seed = self.chaos.seed if self.chaos is not None else 0
        link = _Link(self._links, client_w, broker_w, random.Random(f"{seed}/{self._links}"))
        upstream = asyncio.create_task(self._requests(client_r, link))
        try:
            await self._responses(broker_r, link)
        except ConnectionError:
            pass  # the client went away while a response was being written
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upstream
            for writer in (client_w, broker_w):
                writer.close()
                self._writers.discard(writer)

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes | None:
        try:
            size = await reader.readexactly(4)
            return size + await reader.readexactly(struct.unpack(">i", size)[0])
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    @staticmethod
    async def _forward(writer: asyncio.StreamWriter, frame: bytes) -> bool:
        """Write ``frame``; False when that side has gone."""
        if writer.is_closing():
            return False
        writer.write(frame)
        await writer.drain()
        return True

    def force(self, kind: str) -> None:
        """While chaos is on, give the next frame that fits one fault ``kind`` (a kind of
        :attr:`faults`) whatever the dice say."""
        if kind not in self._forced:
            self._forced.append(kind)

    def _take_forced(self, *, response: bool, produce: bool) -> str | None:
        fits = {
            "blackhole": True,
            "kill": True,
            "kill_after_produce": response and produce,
            "drop": response and produce,
            "delay": response,
        }
        kind = next((k for k in self._forced if fits[k]), None)
        if kind is None:
            return None
        self._forced.remove(kind)
        return "kill" if kind == "kill_after_produce" else kind

    def _fault(self, link: _Link, *, response: bool, produce: bool) -> str | None:
        """Roll the dice for one frame; start a blackhole or count the fault to apply."""
        chaos = self.chaos
        if chaos is None:
            return None
        fault = chaos.roll(link.rng, response=response, produce=produce)
        if fault is None and self._forced:
            fault = self._take_forced(response=response, produce=produce)
        if fault is None:
            return None
        self.faults[fault] += 1
        if fault == "blackhole":
            seconds = link.rng.uniform(*chaos.blackhole_s)
            self.blackhole_seconds.append(seconds)
            link.quiet_until = asyncio.get_running_loop().time() + seconds
            log.info("link %d: blackhole for %.2f s", link.number, seconds)
            return None  # the frame waits in wait_quiet() like every other one
        if fault == "kill" and response and produce:
            self.faults["kill_after_produce"] += 1
        log.info("link %d: %s (%s)", link.number, fault, "response" if response else "request")
        return fault

    async def _requests(self, reader: asyncio.StreamReader, link: _Link) -> None:
        writer = link.broker
        while (frame := await self._frame(reader)) is not None:
            api_key, _, correlation_id = _HEADER.unpack_from(frame, 4)
            link.api_keys[correlation_id] = api_key
            if self._fault(link, response=False, produce=api_key == _PRODUCE) == "kill":
                link.abort()
                return
            await link.wait_quiet()
            self.requests[api_key] += 1
            if api_key in self.record:
                self.recorded.append((time.monotonic(), frame))
            if not await self._forward(writer, frame):
                return
        writer.close()

    async def _responses(self, reader: asyncio.StreamReader, link: _Link) -> None:
        writer = link.client
        while (frame := await self._frame(reader)) is not None:
            (correlation_id,) = struct.unpack_from(">i", frame, 4)
            produce = link.api_keys.pop(correlation_id, None) == _PRODUCE
            if produce:
                self.produce_responses += 1
                if self.drop_every and self.produce_responses % self.drop_every == 0:
                    self.dropped += 1
                    return  # the broker wrote the batch; the client never hears of it
                if self.stall_every and self.produce_responses % self.stall_every == 0:
                    self.stalled += 1
                    while await self._frame(reader) is not None:
                        pass  # swallow everything until a side closes
                    return
                if self.response_delay:
                    await asyncio.sleep(self.response_delay)
            fault = self._fault(link, response=True, produce=produce)
            if fault == "drop":
                return
            if fault == "kill":
                if link.rng.random() < 0.5:  # part of the response first
                    await self._forward(writer, frame[: link.rng.randrange(1, len(frame))])
                link.abort()
                return
            if fault == "delay":
                assert self.chaos is not None
                await asyncio.sleep(link.rng.uniform(*self.chaos.delay_ms) / 1000)
            await link.wait_quiet()
            if not await self._forward(writer, frame):
                return


class _ProxiedCluster(LocalKafkaCluster):
    """A cluster whose node ``i`` advertises ``proxy_ports[i]`` for PLAINTEXT, so clients
    (and the brokers' own replication) reach it only through the proxy on that port."""

    def __init__(self, brokers: int, proxy_ports: Mapping[int, int]) -> None:
        super().__init__(brokers)
        self.proxy_ports = dict(proxy_ports)

    def _mode_properties(self, node: BrokerNode) -> dict[str, str]:
        settings = super()._mode_properties(node)
        settings["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{self.proxy_ports[node.node_id]}"
        return settings


@contextlib.asynccontextmanager
async def proxied_brokers(
    brokers: int, **proxy_options: Any
) -> AsyncIterator[tuple[LocalKafkaCluster, list[FaultyProxy]]]:
    """A new cluster of ``brokers`` KRaft nodes, each behind its own FaultyProxy (given
    ``proxy_options``; the list is in node order), which its Metadata names, so every
    connection a client opens goes through the proxy of the broker it reaches. A proxy may
    be stopped and started again (the broker then looks down to clients, not to Kafka)."""
    ports = {node_id: free_port() for node_id in range(1, brokers + 1)}
    cluster = _ProxiedCluster(brokers, ports)
    proxies = [
        FaultyProxy(ports[node.node_id], node.port, **proxy_options) for node in cluster.nodes
    ]
    for proxy in proxies:
        await proxy.start()
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster, proxies
    finally:
        for proxy in proxies:
            await proxy.stop()
        await asyncio.to_thread(cluster.stop)


@contextlib.asynccontextmanager
async def proxied_cluster(
    *, drop_every: int = 0, stall_every: int = 0, record: Collection[int] = ()
) -> AsyncIterator[tuple[LocalKafkaCluster, FaultyProxy]]:
    """A new one-broker cluster that advertises a FaultyProxy in front of itself, so a
    client reaches the broker only through the proxy (Metadata names the proxy's port)."""
    async with proxied_brokers(
        1, drop_every=drop_every, stall_every=stall_every, record=record
    ) as (cluster, [proxy]):
        yield cluster, proxy
