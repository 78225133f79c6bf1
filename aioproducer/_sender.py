"""The sender: drains ready batches into Produce requests and settles their futures.

One task runs :meth:`Sender.run`. Each pass it asks the accumulator which brokers have
ready batches, drains at most one batch per partition per request (up to
``max_request_size``) for every broker whose connection has room for another in-flight
request, and writes the requests. Large compressed batches are built on a worker thread
first (:class:`~aioproducer._offloop.OffLoopBuilds`) and go in a later pass; the pool stops
with the sender. Responses are handled in callbacks, synchronously:

- success resolves every record's future (offset = base offset + index);
- a retriable error puts the batch back at the front of its partition's queue after a
  backoff, refreshing metadata first when the error says it is stale;
- MESSAGE_TOO_LARGE splits a multi-record batch;
- anything else fails the batch's futures with the typed broker error.

A batch past its absolute deadline (created + delivery_timeout_ms) fails with
:class:`~aioproducer.errors.DeliveryTimeoutError`. An unexpected exception fails only the
batches it touched; the loop keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Final

from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch import ProducerBatch
from aioproducer._clientlog import ClientLog
from aioproducer._clock import now_ms
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._connection import BrokerConnection
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._offloop import OffLoopBuilds
from aioproducer._protocol.api import Response
from aioproducer._protocol.compression import CompressionType
from aioproducer._protocol.error_codes import (
    CONCURRENT_TRANSACTIONS,
    MESSAGE_TOO_LARGE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
)
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.produce import (
    TOPIC_IDS_FROM,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
)
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer._transactions import CONCURRENT_BACKOFF_MS, TransactionManager
from aioproducer.errors import (
    BrokerError,
    BrokerUnavailableError,
    ClusterAuthorizationFailedError,
    ConnectionLostError,
    DeliveryTimeoutError,
    FencedProducerError,
    KafkaTimeoutError,
    ProducerError,
    TransactionAbortedError,
    UnsupportedCompressionTypeError,
    broker_error,
)

__all__ = ["Sender"]

log = logging.getLogger("aioproducer.sender")

#: A transaction's first Produce answered CONCURRENT_TRANSACTIONS (51): the partition leader
#: retried adding the partition for add.partitions.to.txn.retry.backoff.max.ms while the
#: previous transaction's markers were written; and OUT_OF_ORDER_SEQUENCE_NUMBER (45) for
#: the batches behind it. Retried after 20 ms (Java's wait for the same error on
#: AddPartitionsToTxn), not retry_backoff_ms: the markers are nearly written by then.
_TXN_QUICK_RETRY: Final = frozenset({CONCURRENT_TRANSACTIONS, OUT_OF_ORDER_SEQUENCE_NUMBER})
_IDLE_WAIT_MS: Final = 100
_PAUSED_POLL_MS: Final = 2
_TRANSACTION_V1_PRODUCE: Final = 11
_RETRY_WARNING_S: Final = 10.0  # one retry WARNING per error at most this often


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Sender:
    """Moves batches from the accumulator to the brokers."""

    def __init__(
        self,
        config: ProducerConfig,
        cluster: Cluster,
        accumulator: RecordAccumulator,
        idempotence: IdempotenceState | None,
        on_fatal: Callable[[ProducerError], None] | None = None,
    ) -> None:
        self.config = config
        self.transactions: TransactionManager | None = None
        """Set on a transactional producer: partitions join its transaction before their
        batches are drained, and a failed batch makes the transaction abortable."""
        self._log = ClientLog(log, config.client_id)
        self._retry_warned: dict[int | str, tuple[float, int]] = {}
        """Per error (code or class): when the last retry warning was logged, and how many
        retries it has had since (see :meth:`_warn_retry`)."""
        self.fatal_error: ProducerError | None = None
        """The error that ended this producer's use (it was fenced), once one did."""
        self._on_fatal = on_fatal
        self.cluster = cluster
        self.accumulator = accumulator
        self.idempotence = idempotence
        self._waiter: asyncio.Future[None] | None = None  # set while run() idles
        self._window_full: set[int] = set()
        """Brokers the last pass found with max_in_flight requests out: only a response
        (which wakes the sender) lets it send to them again."""
        self._quiet: set[TopicPartition] = set()
        """Partitions :meth:`wakeup_for` found led by one of them since the last pass (a
        backlogged partition reports every append as full)."""
        self.node_polled: Callable[[int, int, bool], None] | None = None
        """Told of each broker with ready batches each pass, and whether it could take them
        (adaptive partitioning's availability timeout)."""
        self._stopping = False
        self._force_close = False
        self._acks = config.acks
        self._id_task: asyncio.Task[None] | None = None
        self._timeout_ms = config.request_timeout_ms
        self._builds = (
            None
            if config.compression_type == CompressionType.NONE
            else OffLoopBuilds(config.compression_type, accumulator, self.wakeup)
        )
        if self._builds is not None:
            self._builds.log = ClientLog("aioproducer.offloop", config.client_id)
        self._zstd = config.compression_type is CompressionType.ZSTD

    # -- control ---------------------------------------------------------------------------
    def wakeup(self) -> None:
        """End the sender's idle wait now (a no-op while it is working: it looks again anyway)."""
        waiter = self._waiter
        if waiter is not None:
            _release(waiter)

    def wakeup_for(self, tp: TopicPartition) -> None:
        """A batch of ``tp`` opened or filled: :meth:`wakeup`, unless ``tp``'s leader has a
        full window of requests in flight (its next response wakes the sender anyway)."""
        waiter = self._waiter
        if waiter is None or tp in self._quiet:
            return
        window_full = self._window_full
        if window_full and self.cluster.metadata.leader(tp.topic, tp.partition) in window_full:
            self._quiet.add(tp)
            return
        _release(waiter)

    def initiate_close(self) -> None:
        """Finish what is queued, then stop."""
        self._stopping = True
        self.accumulator.close()
        self.wakeup()

    def force_close(self, exc: ProducerError) -> None:
        """Stop now; fail everything still queued with ``exc``."""
        self._stopping = True
        self._force_close = True
        if self._id_task is not None:
            self._id_task.cancel()
        self.accumulator.abort_all(exc)
        self.wakeup()

    # -- producer id -----------------------------------------------------------------------------
    async def init_producer_id(self, timeout_ms: int) -> None:
        """Get a producer id and epoch (InitProducerId), retrying for up to ``timeout_ms``."""
        idempotence = self.idempotence
        assert idempotence is not None
        cluster = self.cluster
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        last: ProducerError | None = None
        while loop.time() < deadline and not self._force_close:
            try:
                conn = cluster.any_connection()
                if conn is None:
                    conn = await cluster.connection(next(iter(cluster.metadata.brokers)))
                response = await conn.request(InitProducerIdRequest())
                assert isinstance(response, InitProducerIdResponse)
                if response.error_code == 0:
                    idempotence.set_producer_id(response.producer_id, response.producer_epoch)
                    self._log.info(
                        "producer id %d, epoch %d", response.producer_id, response.producer_epoch
                    )
                    self.wakeup()
                    return
                error = broker_error(response.error_code, "InitProducerId")
                if isinstance(error, ClusterAuthorizationFailedError):
                    raise self._no_idempotent_write(conn) from None
                if not error.retriable:
                    raise error
                last = error
            except (ConnectionLostError, BrokerUnavailableError, KafkaTimeoutError) as exc:
                last = exc
            except StopIteration:
                cluster.metadata.request_refresh()
                cluster.maybe_refresh()
            await asyncio.sleep(self.config.retry_backoff_ms / 1000)
        raise KafkaTimeoutError(
            f"could not get a producer id within {timeout_ms} ms"
            + (f": {last}" if last is not None else "")
        )

    def _no_idempotent_write(self, conn: BrokerConnection) -> ClusterAuthorizationFailedError:
        sasl = self.config.sasl
        who = f"user {sasl.username!r}" if sasl is not None and sasl.username else "this client"
        return ClusterAuthorizationFailedError(
            f"{conn} refused a producer id (InitProducerId): {who} may not write "
            "idempotently. Grant it IdempotentWrite on the cluster (or, on Kafka 3.0+, Write "
            "on a topic; kafka-acls --add --allow-principal User:<name> --operation "
            "IdempotentWrite --cluster), or turn idempotence off (enable_idempotence=False)"
        )

    async def _reinit_producer_id(self) -> None:
        try:
            await self.init_producer_id(self.config.delivery_timeout_ms)
        except ProducerError as exc:
            self._log.error("could not get a new producer id: %s", exc)
            self.accumulator.abort_all(exc)

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                try:
                    delay_ms = self._run_once()
                except Exception:  # keep the sender alive whatever happens
                    self._log.exception("unexpected error in the sender loop")
                    delay_ms = self.config.retry_backoff_ms
                if self._stopping and (self._force_close or not self.accumulator.has_incomplete()):
                    return
                if delay_ms > 0:
                    await self._idle(delay_ms)
                else:
                    await asyncio.sleep(0)
        finally:
            if self._builds is not None:
                self._builds.close()

    async def _idle(self, delay_ms: int) -> None:
        """Wait ``delay_ms`` or until :meth:`wakeup` (a future and a timer: this runs once per
        pass, and ``asyncio.timeout`` around an ``Event`` costs several times as much)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(delay_ms / 1000, _release, waiter)
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
            timer.cancel()

    def _run_once(self) -> int:
        now = now_ms()
        self._window_full.clear()
        self._quiet.clear()
        cluster = self.cluster
        cluster.maybe_refresh()
        self._fail_expired(now)
        idempotence = self.idempotence
        if self.transactions is not None:
            self._poll_transaction()
        elif idempotence is not None:
            if idempotence.maybe_bump_epoch():
                self._log.warning("producer epoch exhausted: asking for a new producer id")
            if not idempotence.has_producer_id():
                if self._id_task is None or self._id_task.done():
                    self._id_task = asyncio.get_running_loop().create_task(
                        self._reinit_producer_id()
                    )
                return _IDLE_WAIT_MS
        metadata = cluster.metadata
        result = self.accumulator.ready(now, metadata)
        if result.unknown_leader_topics:  # queued batches keep their topics wanted (Java)
            for topic in result.unknown_leader_topics:
                metadata.want(topic, now)
            metadata.request_refresh()
            cluster.maybe_refresh()
        delay = result.next_check_ms
        sendable: list[int] = []
        window_full = self._window_full
        for node_id in result.ready_nodes:
            conn = cluster.ready_connection(node_id)
            if conn is None:
                delay = min(delay, max(cluster.backoff_remaining_ms(node_id), 10))
                continue
            if conn.in_flight >= self.config.max_in_flight_requests_per_connection:
                window_full.add(node_id)
                continue
            if conn.throttled_until_ms > now:  # the broker throttles this client (a quota)
                delay = min(delay, conn.throttled_until_ms - now)
                continue
            if not conn.writable:  # the socket buffer is full: let it drain first
                delay = min(delay, _PAUSED_POLL_MS)
                continue
            sendable.append(node_id)
        if self.node_polled is not None:
            for node_id in result.ready_nodes:
                self.node_polled(node_id, now, node_id in sendable)
        if not sendable:
            return max(0, min(delay, _IDLE_WAIT_MS))
        drained = self.accumulator.drain(
            metadata, sendable, self.config.max_request_size, now, self._builds
        )
        for node_id, batches in drained.items():
            if batches:
                conn = cluster.ready_connection(node_id)
                if conn is None:
                    for batch in batches:
                        self._retry_or_fail(batch, ConnectionLostError("connection dropped"), now)
                    continue
                self._send(conn, batches, now)
        return 0 if drained else max(0, min(delay, _IDLE_WAIT_MS))

    def _poll_transaction(self) -> None:
        """Start adding new partitions to the transaction; once it must be aborted, fail
        the batches still queued (those in flight settle first: then EndTxn may go)."""
        txn, idempotence = self.transactions, self.idempotence
        assert txn is not None
        assert idempotence is not None
        idempotence.maybe_bump_epoch()  # resolves sequences; a bump waits for the abort
        if idempotence.bump_requested and not txn.aborting:
            txn.abortable(ProducerError("a batch's sequence is unresolved (out of order or lost)"))
        txn.poll()
        if txn.aborting and self.accumulator.has_undrained():
            cause = txn.last_error
            error = TransactionAbortedError(
                "the transaction was aborted"
                + (f" after an error: {cause}" if cause is not None else "")
            )
            error.__cause__ = cause
            for batch in self.accumulator.abort_queued(error):
                idempotence.on_failure(batch, adjust_sequences=True)

    # -- requests ------------------------------------------------------------------------------
    def _send(self, conn: BrokerConnection, batches: Sequence[ProducerBatch], now: int) -> None:
        by_topic: dict[str, list[tuple[int, bytes]]] = {}
        for batch in batches:
            by_topic.setdefault(batch.tp.topic, []).append((batch.tp.partition, batch.seal()))
        try:
            version = self._produce_version(conn)
            if self._zstd and version < 7:
                raise UnsupportedCompressionTypeError(  # as Java, which refuses before sending
                    f"zstd needs Produce v7 (Kafka 2.1+); {conn} offers up to v{version}: "
                    "it runs Kafka 2.0 or older"
                )
            ids = self._topic_ids(by_topic) if version >= TOPIC_IDS_FROM else None
            if ids is None:  # by name: v12 at most
                version = min(version, TOPIC_IDS_FROM - 1)
            request = ProduceRequest(
                acks=self._acks,
                timeout_ms=self._timeout_ms,
                topic_data=list(by_topic.items()),
                transactional_id=self.config.transactional_id,
                topic_ids=ids or (),
            )
            future = conn.send(request, version)
        except ProducerError as exc:
            for batch in batches:
                self._retry_or_fail(batch, exc, now)
            return
        metrics = self.accumulator.metrics
        if metrics is not None:
            metrics.request_sent(batches, now)
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug(
                "Produce to broker %d: %d batch(es), %d records, %d bytes",
                conn.node_id,
                len(batches),
                sum(batch.record_count for batch in batches),
                sum(len(batch.built or b"") for batch in batches),
            )
        if future is None:  # acks=0: written is done
            for batch in batches:
                self._complete(batch, -1, -1)
            return
        by_tp = {batch.tp: batch for batch in batches}
        sent_at = now_ms()
        names = None if ids is None else dict(zip(ids, by_topic, strict=True))
        future.add_done_callback(lambda f: self._on_response(f, by_tp, conn, names, sent_at))

    def _topic_ids(self, by_topic: dict[str, list[tuple[int, bytes]]]) -> list[uuid.UUID] | None:
        """Each topic's id from metadata, or None if one is not known (Produce v13 names
        topics by id; as Java does, a request falls back to names then)."""
        topics = self.cluster.metadata.topics
        ids = []
        for name in by_topic:
            info = topics.get(name)
            if info is None or info.topic_id == ZERO_UUID:
                return None
            ids.append(info.topic_id)
        return ids

    def _produce_version(self, conn: BrokerConnection) -> int:
        """Produce v12+ is transaction version 2 (partitions join implicitly, KIP-890): a
        transactional producer speaking version 1 stays at v11, as Java's does."""
        version = conn.version_for(ProduceRequest)
        txn = self.transactions
        if txn is None or txn.version >= 2:
            return version  # the highest both sides have
        return min(version, _TRANSACTION_V1_PRODUCE)

    def _on_response(
        self,
        future: asyncio.Future[Response],
        batches: dict[TopicPartition, ProducerBatch],
        conn: BrokerConnection,
        names: dict[uuid.UUID, str] | None,
        sent_at: int = -1,
    ) -> None:
        """Handle a Produce response; ``names`` maps the topic ids a v13+ response names
        back to topic names (None before v13)."""
        now = now_ms()
        try:
            exc: BaseException | None = (
                ConnectionLostError("request cancelled")
                if future.cancelled()
                else future.exception()
            )
            if exc is not None:
                error = exc if isinstance(exc, ProducerError) else ConnectionLostError(str(exc))
                self.cluster.metadata.request_refresh()
                for batch in batches.values():
                    self._retry_or_fail(batch, error, now)
                return
            response = future.result()
            assert isinstance(response, ProduceResponse)
            metrics = self.accumulator.metrics
            if metrics is not None and sent_at >= 0:
                metrics.produce_answered(
                    conn.node_id, now - sent_at, response.throttle_time_ms, now
                )
            if response.throttle_time_ms > 0 and conn.version_for(ProduceRequest) >= 6:
                conn.throttle(response.throttle_time_ms, now)  # older versions: the broker waited
            for topic in response.topics:
                name = topic.name if names is None else names.get(topic.topic_id, "")
                for part in topic.partitions:
                    found = batches.pop(TopicPartition(name, part.index), None)
                    if found is not None:
                        try:
                            self._on_partition(found, part, now)
                        except Exception:
                            batches[found.tp] = found  # failed below with the others left
                            raise
            for batch in batches.values():  # the broker left some out: retry them
                self._retry_or_fail(batch, ConnectionLostError(f"{conn} omitted a partition"), now)
        except Exception:
            self._log.exception("unexpected error handling a produce response")
            for batch in batches.values():
                if not batch.done:
                    self._fail(batch, ProducerError("internal error handling the response"))
        finally:
            self.wakeup()

    def _on_partition(self, batch: ProducerBatch, part: ProducePartitionResponse, now: int) -> None:
        code = part.error_code
        if batch.done:
            return  # aborted meanwhile
        if code == 0:
            self._complete(batch, part.base_offset, part.log_append_time_ms)
            return
        idempotence = self.idempotence
        verdict = "default"
        if idempotence is not None:
            verdict = idempotence.on_error(batch, code, part.log_start_offset)
            if verdict == "success":  # DUPLICATE_SEQUENCE_NUMBER: the broker has it
                self._complete(batch, part.base_offset, part.log_append_time_ms)
                return
        message = part.error_message
        if part.record_errors:
            message = "; ".join(f"record {e.batch_index}: {e.message}" for e in part.record_errors)
        error = broker_error(code, message or f"producing to {batch.tp.topic}-{batch.tp.partition}")
        if verdict == "fatal":
            fenced = FencedProducerError(f"this producer was fenced: {error}")
            fenced.__cause__ = error
            self._fail(batch, fenced, code)
            self.fail_fatally(fenced)
            return
        if code == MESSAGE_TOO_LARGE and batch.record_count > 1:
            self._log.info("splitting a batch of %d records for %s", batch.record_count, batch.tp)
            self.accumulator.split_and_reenqueue(batch, now)
            return
        self._retry_or_fail(batch, error, now, force_retriable=verdict == "retry")

    def fail_fatally(self, error: ProducerError) -> None:
        """Nothing can be sent any more (this producer was fenced): as Java does, fail every
        record not yet acknowledged with ``error`` and tell the producer, which refuses new
        records with it."""
        if self.fatal_error is not None:
            return
        self.fatal_error = error
        self._log.error("%s: failing every record not yet acknowledged", error)
        self.accumulator.abort_all(error)
        if self.transactions is not None:
            self.transactions.fatal(error)
        if self._on_fatal is not None:
            self._on_fatal(error)

    # -- outcomes ------------------------------------------------------------------------------
    def _retry_or_fail(
        self, batch: ProducerBatch, error: ProducerError, now: int, *, force_retriable: bool = False
    ) -> None:
        if batch.done:
            return
        retriable = (
            force_retriable
            or isinstance(error, ConnectionLostError)
            or (isinstance(error, BrokerError) and error.retriable)
        )
        if isinstance(error, BrokerError) and error.invalid_metadata:
            self.cluster.metadata.request_refresh()
        code = error.code if isinstance(error, BrokerError) else None
        txn = self.transactions
        if not retriable or self._force_close or (txn is not None and txn.aborting):
            self._fail(batch, error, code)
        elif now >= batch.deadline_ms:
            self._fail(batch, self._timeout_error(batch, error), code, sent=True)
        elif batch.attempts >= self.config.retries:
            self._fail(batch, error, code, sent=True)
        else:
            self._warn_retry(error, code)
            self._log.debug("retrying %s after %s", batch, error)
            batch.last_error = error
            backoff_ms = None
            if txn is not None and code in _TXN_QUICK_RETRY:
                backoff_ms = min(CONCURRENT_BACKOFF_MS, self.config.retry_backoff_ms)
            self.accumulator.reenqueue(batch, now, backoff_ms)

    def _warn_retry(self, error: ProducerError, code: int | None) -> None:
        """A WARNING for the first retry of a burst of one error, then at most one per
        ``_RETRY_WARNING_S`` for it, saying how many retries came meanwhile."""
        key: int | str = code if code is not None else type(error).__name__
        now = asyncio.get_running_loop().time()
        last, since = self._retry_warned.get(key, (-_RETRY_WARNING_S, 0))
        if now - last < _RETRY_WARNING_S:
            self._retry_warned[key] = (last, since + 1)
            return
        self._retry_warned[key] = (now, 0)
        name = f"error code {code}" if code is not None else type(error).__name__
        more = f" ({since} more retries for it in the last {now - last:.0f} s)" if since else ""
        self._log.warning("retrying after %s: %s%s", name, error, more)

    def _complete(self, batch: ProducerBatch, base_offset: int, log_append_time: int) -> None:
        if self.idempotence is not None:
            self.idempotence.on_success(batch, base_offset)
        self.accumulator.deallocate(batch)
        batch.complete(base_offset, log_append_time)

    def _fail(
        self,
        batch: ProducerBatch,
        error: ProducerError,
        code: int | None = None,
        *,
        sent: bool = False,
    ) -> None:
        """Fail ``batch`` for good; ``sent``: the broker may have written it anyway."""
        if self.idempotence is not None:
            self.idempotence.on_failure(batch, code, adjust_sequences=not sent)
        self.accumulator.deallocate(batch)
        batch.fail(error)
        if self.transactions is not None:
            self.transactions.batch_failed(error)

    def _fail_expired(self, now: int) -> None:
        for batch in self.accumulator.expired_batches(now):
            if self.idempotence is not None:
                self.idempotence.on_expired(batch)
            self.accumulator.deallocate(batch)
            last = batch.last_error if isinstance(batch.last_error, ProducerError) else None
            error = self._timeout_error(batch, last)
            batch.fail(error)
            if self.transactions is not None:
                self.transactions.batch_failed(error)

    def _timeout_error(
        self, batch: ProducerBatch, cause: ProducerError | None
    ) -> DeliveryTimeoutError:
        error = DeliveryTimeoutError(
            f"{batch.record_count} record(s) for {batch.tp.topic}-{batch.tp.partition} expired "
            f"after {self.config.delivery_timeout_ms} ms (delivery_timeout_ms)"
            + (f"; last error: {cause}" if cause is not None else "")
        )
        error.__cause__ = cause
        return error
