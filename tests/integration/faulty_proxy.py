"""A fault-injecting TCP proxy between a client and one Kafka broker (a test helper).

It forwards bytes both ways, reading Kafka's frames to learn which request each response
answers. With ``drop_every=N`` it lets the broker append every Nth Produce request but cuts
the connection before the response reaches the client, so the client must retry a batch the
broker already wrote: exactly the case idempotence exists for. With ``stall_every=N`` it
instead goes silent after every Nth Produce response, as a hung broker would. It counts the
requests it forwards by API key, and keeps the frames of those whose keys it is told to
``record``, with when they passed.

:func:`proxied_cluster` starts a one-broker cluster that advertises the proxy, so that every
connection a client opens goes through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Collection

from aioproducer.testing import LocalKafkaCluster, free_port

_HEADER = struct.Struct(">hhi")  # api_key, api_version, correlation_id
_PRODUCE = 0


class FaultyProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target_port``."""

    def __init__(
        self,
        port: int,
        target_port: int,
        *,
        drop_every: int = 0,
        stall_every: int = 0,
        record: Collection[int] = (),
    ) -> None:
        self.port = port
        self.target_port = target_port
        self.drop_every = drop_every
        self.stall_every = stall_every
        """Hold every Nth Produce response and all after it on that connection, as a hung
        broker would, until the client gives up and closes the connection."""
        self.stalled = 0
        self.produce_responses = 0
        self.dropped = 0
        self.requests: Counter[int] = Counter()
        """Requests forwarded, by API key."""
        self.record = frozenset(record)
        self.recorded: list[tuple[float, bytes]] = []
        """(time.monotonic(), frame) of each request forwarded whose API key is in ``record``."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        writers = list(self._writers)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers.update((client_w, broker_w))
        api_keys: dict[int, int] = {}
        upstream = asyncio.create_task(self._requests(client_r, broker_w, api_keys))
        try:
            await self._responses(broker_r, client_w, api_keys)
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

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, api_keys: dict[int, int]
    ) -> None:
        while (frame := await self._frame(reader)) is not None:
            api_key, _, correlation_id = _HEADER.unpack_from(frame, 4)
            api_keys[correlation_id] = api_key
            self.requests[api_key] += 1
            if api_key in self.record:
                self.recorded.append((time.monotonic(), frame))
            writer.write(frame)
            await writer.drain()
        writer.close()

    async def _responses(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, api_keys: dict[int, int]
    ) -> None:
        while (frame := await self._frame(reader)) is not None:
            (correlation_id,) = struct.unpack_from(">i", frame, 4)
            if api_keys.pop(correlation_id, None) == _PRODUCE:
                self.produce_responses += 1
                if self.drop_every and self.produce_responses % self.drop_every == 0:
                    self.dropped += 1
                    return  # the broker wrote the batch; the client never hears of it
                if self.stall_every and self.produce_responses % self.stall_every == 0:
                    self.stalled += 1
                    while await self._frame(reader) is not None:
                        pass  # swallow everything until a side closes
                    return
            writer.write(frame)
            await writer.drain()


@contextlib.asynccontextmanager
async def proxied_cluster(
    *, drop_every: int = 0, stall_every: int = 0, record: Collection[int] = ()
) -> AsyncIterator[tuple[LocalKafkaCluster, FaultyProxy]]:
    """A one-broker cluster that advertises a :class:`FaultyProxy` in front of itself."""
    proxy_port = free_port()
    cluster = LocalKafkaCluster(1)
    cluster.broker_config["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{proxy_port}"
    proxy = FaultyProxy(
        proxy_port,
        cluster.nodes[0].port,
        drop_every=drop_every,
        stall_every=stall_every,
        record=record,
    )
    await proxy.start()
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster, proxy
    finally:
        await proxy.stop()
        await asyncio.to_thread(cluster.stop)
