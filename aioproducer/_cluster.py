"""The async side of cluster metadata: connections per broker and metadata refreshes.

:class:`Cluster` owns one :class:`~aioproducer._connection.BrokerConnection` per node,
reconnecting with exponential backoff, and keeps :class:`~aioproducer._metadata.ClusterMetadata`
fresh: a refresh runs when its policy says one is due, at most one at a time, and anyone may
wait for the next. :meth:`Cluster.stop_waits` ends every wait for a topic (close() calls it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from aioproducer._backoff import ExponentialBackoff
from aioproducer._clientlog import ClientLog
from aioproducer._clock import now_ms
from aioproducer._config import ProducerConfig
from aioproducer._connection import BrokerConnection
from aioproducer._metadata import BrokerAddress, ClusterMetadata, TopicInfo
from aioproducer._protocol.messages.metadata import MetadataRequest, MetadataResponse
from aioproducer.errors import (
    AuthenticationError,
    BrokerUnavailableError,
    ConnectionLostError,
    ProducerClosedError,
    ProducerError,
    UnknownTopicError,
)
from aioproducer.metrics._registry import ProducerMetrics

__all__ = ["Cluster"]

log = logging.getLogger("aioproducer.cluster")


class Cluster:
    """Connections to the brokers and the metadata that says which broker leads what."""

    def __init__(self, config: ProducerConfig, metrics: ProducerMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self._log = ClientLog(log, config.client_id)
        self._ever_connected: set[int] = set()
        self.metadata = ClusterMetadata(
            config.bootstrap_servers,
            config.metadata_max_age_ms,
            max_idle_ms=config.metadata_max_idle_ms,
            backoff=ExponentialBackoff(config.retry_backoff_ms, config.retry_backoff_max_ms),
        )
        self._sasl = config.sasl  # one for every connection: OAUTHBEARER's token cache
        self._connections: dict[int, BrokerConnection] = {}
        self._connecting: dict[int, asyncio.Task[BrokerConnection]] = {}
        self._failures: dict[int, int] = {}
        self._retry_at: dict[int, float] = {}
        self._reconnect = ExponentialBackoff(
            config.reconnect_backoff_ms, config.reconnect_backoff_max_ms
        )
        self._refresh: asyncio.Task[None] | None = None
        self._updated = asyncio.Event()
        self._next_idle_check = 0.0
        self._closed = False
        self._waits_stopped = False
        self.features: dict[str, int] = {}
        """The cluster's finalized feature levels, from the newest ApiVersions answer
        (highest features epoch) of any connection."""
        self._features_epoch = -1

    # -- bootstrap ------------------------------------------------------------------------
    async def bootstrap(self, timeout: float) -> None:
        """Connect to any bootstrap server and load the broker list, within ``timeout`` s."""
        deadline = asyncio.get_running_loop().time() + timeout
        errors: list[str] = []
        while True:
            for host, port in self.config.bootstrap_servers:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                conn = self._new_connection(host, port)
                try:
                    await conn.connect(min(remaining, self.config.request_timeout_ms / 1000))
                    self._learn_features(conn)
                    await self._refresh_with(conn)
                    return
                except AuthenticationError:
                    raise  # refused, not unreachable: trying again would be refused again
                except ProducerError as exc:
                    errors.append(f"{host}:{port}: {exc}")
                    self._log.info("bootstrap from %s:%d failed: %s", host, port, exc)
                finally:
                    conn.close()
            if asyncio.get_running_loop().time() >= deadline:
                servers = ", ".join(f"{h}:{p}" for h, p in self.config.bootstrap_servers)
                raise BrokerUnavailableError(
                    f"could not bootstrap from {servers} within {timeout:.1f}s: "
                    + "; ".join(errors[-3:])
                )
            await asyncio.sleep(min(0.2, max(0.0, deadline - asyncio.get_running_loop().time())))

    # -- connections ----------------------------------------------------------------------
    def ready_connection(self, node_id: int) -> BrokerConnection | None:
        """The live connection to ``node_id``, or None (starting one in the background)."""
        conn = self._connections.get(node_id)
        if conn is not None and conn.connected:
            return conn
        if conn is not None:
            del self._connections[node_id]
        self._start_connecting(node_id)
        return None

    async def connection(self, node_id: int) -> BrokerConnection:
        """Wait for a connection to ``node_id`` (one attempt, honouring reconnect backoff)."""
        conn = self.ready_connection(node_id)
        if conn is not None:
            return conn
        task = self._connecting.get(node_id)
        if task is None:
            raise BrokerUnavailableError(f"node {node_id} is backing off after failures")
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                # the attempt was cancelled, not this caller (every task cancelled at shutdown)
                raise ConnectionLostError(f"connecting to node {node_id} was cancelled") from None
            raise

    def _start_connecting(self, node_id: int) -> None:
        if self._closed or node_id in self._connecting:
            return
        if time.monotonic() < self._retry_at.get(node_id, 0.0):
            return
        address = self.metadata.broker(node_id)
        if address is None:
            return
        task = asyncio.get_running_loop().create_task(self._connect(address))
        self._connecting[node_id] = task
        task.add_done_callback(self._connect_done)

    def _connect_done(self, task: asyncio.Task[BrokerConnection]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: a failure is handled by whoever asks next
        for node_id, attempt in list(self._connecting.items()):
            if attempt is task:  # cancelled before it ran, its own clean-up never did
                del self._connecting[node_id]

    async def _connect(self, address: BrokerAddress) -> BrokerConnection:
        conn = self._new_connection(address.host, address.port, address.node_id)
        try:
            await conn.connect(self.config.request_timeout_ms / 1000)
        except ProducerError as exc:
            failures = self._failures.get(address.node_id, 0)
            self._failures[address.node_id] = failures + 1
            delay = self._reconnect.backoff(failures) / 1000
            self._log.info(
                "could not connect to broker %d at %s:%d (next try in %.2f s): %s",
                address.node_id,
                address.host,
                address.port,
                delay,
                exc,
            )
            self._retry_at[address.node_id] = time.monotonic() + delay
            self.metadata.request_refresh()
            raise
        finally:
            self._connecting.pop(address.node_id, None)
        failures = self._failures.pop(address.node_id, 0)
        self._retry_at.pop(address.node_id, None)
        if self._closed:
            conn.close()
            raise ConnectionLostError("the producer is closing")
        self._connections[address.node_id] = conn
        again = address.node_id in self._ever_connected
        self._ever_connected.add(address.node_id)
        self._log.info(
            "%s broker %d at %s:%d%s",
            "reconnected to" if again else "connected to",
            address.node_id,
            address.host,
            address.port,
            f" after {failures} failed attempt(s)" if failures else "",
        )
        self._learn_features(conn)
        return conn

    def _new_connection(self, host: str, port: int, node_id: int = -1) -> BrokerConnection:
        """A connection (not yet connected) with this client's settings, its requests and
        bytes counted in the metrics under its node id (-1 for a bootstrap server, Java's
        ``node--1``)."""
        conn = BrokerConnection(
            host,
            port,
            node_id=node_id,
            client_id=self.config.client_id,
            request_timeout_ms=self.config.request_timeout_ms,
            tls=self.config.tls,
            sasl=self._sasl,
        )
        if self.metrics is not None:
            conn.stats = self.metrics.node(node_id)
        return conn

    def connection_count(self) -> int:
        """Open connections to brokers (callable from another thread: reads a copy)."""
        return sum(1 for conn in list(self._connections.values()) if conn.connected)

    def in_flight(self) -> int:
        """Requests written and not answered yet, over every connection (callable from
        another thread: reads a copy)."""
        return sum(conn.in_flight for conn in list(self._connections.values()))

    def _learn_features(self, conn: BrokerConnection) -> None:
        if conn.finalized_features_epoch > self._features_epoch:
            self._features_epoch = conn.finalized_features_epoch
            self.features = conn.finalized_features

    def any_connection(self) -> BrokerConnection | None:
        """A live connection, the least loaded one."""
        live = [c for c in self._connections.values() if c.connected]
        return min(live, key=lambda c: c.in_flight) if live else None

    def backoff_remaining_ms(self, node_id: int) -> int:
        return max(0, int((self._retry_at.get(node_id, 0.0) - time.monotonic()) * 1000))

    # -- metadata -------------------------------------------------------------------------
    def close_idle(self) -> None:
        """Close connections idle for connections_max_idle_ms (they reopen when needed)."""
        max_idle = self.config.connections_max_idle_ms
        if max_idle < 0 or not self._connections:
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_idle_check:
            return
        self._next_idle_check = now + min(max_idle / 1000, 1.0)
        for node_id, conn in list(self._connections.items()):
            if conn.in_flight == 0 and now - conn.last_used > max_idle / 1000:
                self._log.debug("closing %s: idle for over %d ms", conn, max_idle)
                del self._connections[node_id]
                conn.close()

    def maybe_refresh(self) -> None:
        """Start a metadata refresh in the background if one is due and none is running."""
        self.close_idle()
        if self._closed or (self._refresh is not None and not self._refresh.done()):
            return
        if self.metadata.refresh_due_in_ms(now_ms()) > 0:
            return
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_once())

    async def _refresh_once(self) -> None:
        conn = self.any_connection()
        try:
            if conn is None:
                nodes = list(self.metadata.brokers) or []
                random.shuffle(nodes)
                for node_id in nodes:
                    try:
                        conn = await self.connection(node_id)
                        break
                    except ProducerError:
                        continue
            if conn is None:
                await self.bootstrap(self.config.request_timeout_ms / 1000)
                return
            await self._refresh_with(conn)
        except ProducerError as exc:
            self._log.info("metadata refresh failed: %s", exc)
            self.metadata.refresh_failed(now_ms())
        except Exception:
            self._log.exception("unexpected error refreshing metadata")
            self.metadata.refresh_failed(now_ms())

    async def _refresh_with(self, conn: BrokerConnection) -> None:
        topics = self.metadata.begin_refresh(now_ms())
        request = MetadataRequest(topics=topics, allow_auto_topic_creation=True)
        response = await conn.request(request)
        assert isinstance(response, MetadataResponse)
        before = dict(self.metadata.topics)
        self.metadata.update(
            [BrokerAddress(b.node_id, b.host, b.port) for b in response.brokers],
            [
                (
                    t.name,
                    t.error_code,
                    [(p.partition_index, p.error_code, p.leader_id) for p in t.partitions],
                )
                for t in response.topics
                if t.name is not None
            ],
            now_ms(),
            {t.name: t.topic_id for t in response.topics if t.name is not None},
        )
        self._log_moves(before)
        self._updated.set()
        self._updated = asyncio.Event()

    def _log_moves(self, before: dict[str, TopicInfo]) -> None:
        """INFO when a refresh moved partitions' leaders (the first few are named)."""
        moves: list[str] = []
        for name, info in self.metadata.topics.items():
            old = before.get(name)
            if old is None or old is info or old.error is not None or info.error is not None:
                continue
            for partition, (was, now) in enumerate(zip(old.leaders, info.leaders, strict=False)):
                if was != now:
                    moves.append(f"{name}-{partition}: {was} -> {now}")
        if moves:
            shown = ", ".join(moves[:5]) + (f" and {len(moves) - 5} more" if len(moves) > 5 else "")
            self._log.info("metadata moved %d partition leader(s): %s", len(moves), shown)

    async def wait_for_topic(self, topic: str, timeout: float) -> TopicInfo:
        """Wait until ``topic``'s partitions are known, up to ``timeout`` seconds.

        Raises ProducerClosedError at once when :meth:`stop_waits` is called meanwhile.
        """
        metadata = self.metadata
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._waits_stopped:
                raise ProducerClosedError(
                    f"the producer was closed while waiting for topic {topic!r}'s metadata"
                )
            now = now_ms()
            metadata.want(topic, now)  # in use while waited for: never forgotten meanwhile
            info = metadata.topic(topic)
            if info is not None:
                if info.error is not None:
                    raise info.error
                return info
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise UnknownTopicError(
                    f"topic {topic!r} is not in the cluster's metadata after "
                    f"{timeout * 1000:.0f} ms (max_block_ms)"
                )
            metadata.request_refresh()
            self.maybe_refresh()
            # Woken by the next refresh's end; else look again when one may start.
            pause = max(metadata.refresh_due_in_ms(now), self.config.retry_backoff_ms, 1) / 1000
            updated = self._updated
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, pause)):
                    await updated.wait()

    def stop_waits(self) -> None:
        """Make every :meth:`wait_for_topic`, now and from now on, raise ProducerClosedError."""
        self._waits_stopped = True
        self._updated.set()

    # -- shutdown -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Close every connection and cancel every task of the cluster, now (and stop every
        wait for a topic)."""
        self.stop_waits()
        self._closed = True
        for task in self._tasks():
            task.cancel()
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    async def close(self) -> None:
        """:meth:`shutdown`, then wait for its tasks to end."""
        tasks = self._tasks()
        self.shutdown()
        if tasks:
            await asyncio.wait(tasks)  # their outcome is of no interest; a cancel of ours is
        await asyncio.sleep(0)  # let the aborted transports close their sockets

    def _tasks(self) -> list[asyncio.Task[Any]]:
        tasks: list[asyncio.Task[Any]] = [*self._connecting.values()]
        if self._refresh is not None:
            tasks.append(self._refresh)
        return [task for task in tasks if not task.done()]
