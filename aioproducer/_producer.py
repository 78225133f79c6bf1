"""The public producer: ``await producer.send(...)`` returns a future of the record's metadata.

:meth:`Producer.send` validates and serializes synchronously, picks the partition, appends
the record to its partition's open batch and returns a future, suspending only when the
topic's metadata is unknown or ``buffer_memory`` is exhausted.
A :class:`~aioproducer._sender.Sender` task moves batches to the brokers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar, Unpack, overload

from aioproducer._accumulator import AppendResult, RecordAccumulator
from aioproducer._batch import Completion, RecordGroup, RecordMetadata, SentRecords
from aioproducer._buffer_memory import NO_WAIT, MemoryWaiter
from aioproducer._clientlog import ClientLog, redacted_settings
from aioproducer._clock import now_ms
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig, ProducerOptions, build_config
from aioproducer._consumer_group import ConsumerGroupMetadata, parse_offsets
from aioproducer._futures import relay_for
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._partition_choice import (
    appended_unkeyed,
    batches_full,
    choose_partition,
    partitioner_for,
)
from aioproducer._partition_load import PartitionLoad
from aioproducer._partitioner import DefaultPartitioner, murmur2
from aioproducer._producer_state import ProducerState, unusable_error
from aioproducer._protocol.records import Header
from aioproducer._record_check import RECORD_BOUND as _RECORD_BOUND
from aioproducer._record_check import (
    CheckedRecord,
    RecordCheck,
    check_timeout,
    check_topic,
    raise_bad_partition,
)
from aioproducer._send_many import Plan, SendManyPlanner
from aioproducer._sender import Sender
from aioproducer._speedups_status import c as _c
from aioproducer._telemetry import ClientTelemetry
from aioproducer._transactions import TransactionManager, TransactionState
from aioproducer.errors import (
    AbortableTransactionError,
    BufferFullError,
    ConfigurationError,
    IllegalStateError,
    KafkaTimeoutError,
    ProducerClosedError,
    ProducerError,
    SerializationError,
    WrongEventLoopError,
)
from aioproducer.metrics import MetricSample
from aioproducer.metrics._registry import ProducerMetrics

__all__ = ["Producer", "RecordMetadata", "SentRecords"]

_NEW: Final = ProducerState.NEW
_STARTING: Final = ProducerState.STARTING
_RUNNING: Final = ProducerState.RUNNING
_STALLED: Final = ProducerState.STALLED
_DROPPED: Final = ProducerState.DROPPED
_FAILED: Final = ProducerState.FAILED
_CLOSED: Final = ProducerState.CLOSED
_APPENDED: Final = AppendResult.APPENDED
_OPENED: Final = AppendResult.NEW_BATCH
_OPENED_FULL: Final = AppendResult.NEW_BATCH | AppendResult.BATCH_FULL
_NEED_ROUTE: Final = -1
_FILLED: Final = 1  # appended, and the record opened a batch behind a full one
_yield = asyncio.sleep
_wall_clock_ns = time.time_ns  # a record's default timestamp: wall-clock ms, as Java
log = logging.getLogger("aioproducer.producer")
_C = TypeVar("_C", bound=Completion)
_T = TypeVar("_T")
_IN_TRANSACTION: Final = TransactionState.IN_TRANSACTION
_OPEN_STATES: Final = (  # close() aborts a transaction in these
    _IN_TRANSACTION,
    TransactionState.ABORTABLE_ERROR,
    TransactionState.ABORTING,
)


async def _ready_py(future: asyncio.Future[RecordMetadata]) -> asyncio.Future[RecordMetadata]:
    return future


async def _after_fill(future: asyncio.Future[RecordMetadata]) -> asyncio.Future[RecordMetadata]:
    """``future``, after one yield: the record is queued behind a batch that just filled
    (the sender gets to write that batch while the caller goes on producing), or send()
    has queued batch_size bytes since it last yielded (the loop's other tasks get to run)."""
    await _yield(0)
    return future


#: What send() returns when the record is queued: awaiting it gives the record's future
#: (in C, a Ready: registered as a Coroutine, so asyncio.create_task takes it too).
_ready: Callable[
    [asyncio.Future[RecordMetadata]], Coroutine[Any, Any, asyncio.Future[RecordMetadata]]
] = _ready_py if _c is None else _c.Ready


def _settle(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _no_loop() -> asyncio.Future[Any]:
    raise ProducerClosedError("the producer is not started")


def _nothing() -> None:
    return None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _nothing_for(tp: TopicPartition) -> None:
    return None


def _sender_stopped(
    producer_ref: weakref.ref[Producer], cluster: Cluster, task: asyncio.Task[None]
) -> None:
    """The sender task ended. Unless close() ended it, it was cancelled from outside (every
    task cancelled at shutdown) or died: the producer stops taking records, and close()
    delivers what is queued. Holds no reference to the producer, which may be gone (then
    its connections are closed here)."""
    producer = producer_ref()
    if producer is None or producer._state is _DROPPED:
        cluster.shutdown()
        return
    if producer._state is not _RUNNING:
        return
    reason = "was cancelled" if task.cancelled() else f"died: {task.exception()!r}"
    producer._stall(f"its sender task {reason}")


def _weakly(method: Callable[[_T], None]) -> Callable[[_T], None]:
    """``method`` (bound) called through a weak reference to its object."""
    ref = weakref.WeakMethod(method)

    def call(arg: _T) -> None:
        bound = ref()
        if bound is not None:
            bound(arg)

    return call


@functools.cache
def _default_options() -> dict[str, object]:
    """Every setting's default (what the start line leaves out)."""
    return ProducerConfig().options()


def _levels(accumulator: RecordAccumulator, cluster: Cluster) -> tuple[int, int, int, int, float]:
    """The metrics read from the producer's state: buffer bytes available, tasks waiting
    for buffer, requests in flight, open connections, metadata age (s)."""
    refreshed = cluster.metadata.last_refresh_ms
    age = (now_ms() - refreshed) / 1000 if refreshed >= 0 else math.nan
    return (
        accumulator.available(),
        accumulator.memory_waiters,
        cluster.in_flight(),
        cluster.connection_count(),
        age,
    )


DeliveryCallback = Callable[[RecordMetadata | None, BaseException | None], object]
"""``on_delivery(metadata, error)``: one of the two is None (Java's ``Callback``)."""


def _delivery(
    callback: Callable[[Any, BaseException | None], object],
    logger: logging.LoggerAdapter[logging.Logger],
) -> Callable[[asyncio.Future[Any]], None]:
    """A done-callback that calls ``callback(result, None)`` or ``callback(None, error)``,
    logging what it raises."""
    if not callable(callback):
        raise ConfigurationError(f"on_delivery must be callable or None, not {callback!r}")

    def delivered(future: asyncio.Future[Any]) -> None:
        try:
            if future.cancelled():
                callback(None, asyncio.CancelledError())
            elif (error := future.exception()) is not None:
                callback(None, error)
            else:
                callback(future.result(), None)
        except Exception:
            logger.exception("an on_delivery callback raised (other records go on)")

    return delivered


class Producer:
    """An asyncio Kafka producer. Use as ``async with Producer(...) as producer``."""

    def __init__(
        self,
        config: ProducerConfig | Mapping[str, object] | None = None,
        **options: Unpack[ProducerOptions],
    ) -> None:
        self.config = build_config(config, **options)
        self._log = ClientLog(log, self.config.client_id)
        self._state = _NEW
        self._cluster: Cluster | None = None
        self._accumulator: RecordAccumulator | None = None
        self._sender: Sender | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._idempotence: IdempotenceState | None = None
        self._txn: TransactionManager | None = None
        self._partitioner = partitioner_for(self.config)
        self._space_freed: asyncio.Event | None = None
        self._valid_topics: set[str] = set()
        self._routes: dict[str, tuple[TopicInfo, list[TopicPartition]]] = {}
        self._topics: dict[str, TopicInfo] = {}
        self._checked_record = RecordCheck(self.config)  # send()'s and send_many()'s
        # keyed records hashed as Java does (FastSend's rule), else placed by the partitioner
        self._java_partitioning = (
            self.config.partitioner is None and not self.config.partitioner_ignore_keys
        )
        self._keys_ignored = self.config.partitioner_ignore_keys  # all reported to on_append
        self._max_record_size = self._checked_record.max_size
        self._yield_every = self.config.batch_size  # send() yields at least every this many
        self._unyielded = 0  # bytes it queued since it last yielded
        self._planner = SendManyPlanner(
            self._checked_record,
            self._partitioner,
            java_partitioning=self._java_partitioning,
            keys_ignored=self._keys_ignored,
            log=self._log,
        )
        # the futures send() and send_many() return: RecordFutures of the loop start() ran in
        self._create_future: Callable[[], asyncio.Future[Any]] = _no_loop
        self._wakeup: Callable[[], None] = _nothing
        self._wakeup_for: Callable[[TopicPartition], None] = _nothing_for
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0  # the thread start() ran in, the loop's
        self._stall_reason = ""
        self._closed: asyncio.Future[None] | None = None  # done once close() has finished
        self._metrics = ProducerMetrics(
            self.config.client_id,
            self.config.metrics_num_samples,
            self.config.metrics_sample_window_ms,
            self.config.buffer_memory,
        )
        self._telemetry: ClientTelemetry | None = None

    def __repr__(self) -> str:
        return f"<Producer {self._state} client_id={self.config.client_id!r}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        """A producer dropped while running: say so, with the records it still holds, and
        let its sender deliver them while the loop runs (then it closes its connections)."""
        state = self.__dict__.get("_state")  # absent if __init__ raised
        if state is not _RUNNING and state is not _STALLED and state is not _FAILED:
            return
        self._state = _DROPPED
        accumulator, sender, loop = self._accumulator, self._sender, self._loop
        pending = accumulator.incomplete_records() if accumulator is not None else 0
        with contextlib.suppress(Exception):  # at interpreter exit, modules may be gone
            _warn(
                f"unclosed {self!r} with {pending} record(s) not yet delivered: "
                "await producer.close(), or use 'async with Producer(...)'",
                ResourceWarning,
                source=self,
            )
            self._log.error(  # the client id, not the producer: a record keeps its arguments
                "producer %r was dropped without close(): %d record(s) not yet delivered "
                "(delivered only if its event loop runs on until they are)",
                self.config.client_id,
                pending,
            )
            if loop is not None and not loop.is_closed():
                if state is _STALLED and self._cluster is not None:  # no sender to finish
                    loop.call_soon_threadsafe(self._cluster.shutdown)
                elif sender is not None:
                    loop.call_soon_threadsafe(sender.initiate_close)

    def _in_loop(self) -> bool:
        """Called in the producer's event loop: on its thread while it runs (a second loop
        on that thread can only run once the first has stopped). Cheaper than asyncio's
        ``_get_running_loop()``, which makes a getpid() system call on CPython 3.11."""
        loop = self._loop
        return threading.get_ident() == self._thread and loop is not None and loop.is_running()

    def _unusable(self, what: str) -> ProducerError:
        """The error for ``what`` (a call) when the producer cannot take it now."""
        fatal_error = self._sender.fatal_error if self._sender is not None else None
        return unusable_error(self._state, what, fatal_error, self._stall_reason)

    def _fail(self, error: ProducerError) -> None:
        """A fatal error (fenced): every later call raises ``error``; close() still works."""
        if self._state is not _RUNNING:
            return
        self._state = _FAILED
        self.__dict__.pop("send", None)  # the FastSend, if any
        if self._space_freed is not None:
            self._space_freed.set()
        if self._accumulator is not None:
            self._accumulator.wake_waiters()  # each raises the reason
        self._stop_waits()

    def _stall(self, reason: str) -> None:
        """Stop taking records (see :func:`_sender_stopped`)."""
        self._state = _STALLED
        self._stall_reason = reason
        self.__dict__.pop("send", None)  # the FastSend, if any
        if self._space_freed is not None:
            self._space_freed.set()
        if self._accumulator is not None:
            self._accumulator.wake_waiters()  # each raises the reason
        self._stop_waits()
        self._log.error(
            "producer stopped taking records: %s (close() delivers what is queued)", reason
        )

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to the cluster (within max_block_ms) and start the sender."""
        if self._state is not _NEW:
            raise ProducerClosedError(f"start() on a producer that is {self._state}")
        self._state = _STARTING
        config = self.config
        self._log.info(
            "starting: bootstrap %s; settings: %s",
            ",".join(f"{host}:{port}" for host, port in config.bootstrap_servers),
            redacted_settings(config.options(), _default_options()),
        )
        cluster = Cluster(config, self._metrics)
        self._cluster = cluster
        self._space_freed = asyncio.Event()
        if config.enable_idempotence:
            self._idempotence = IdempotenceState(transactional=config.transactional_id is not None)
            self._idempotence.log = ClientLog("aioproducer.idempotence", config.client_id)
        self._accumulator = RecordAccumulator(
            config,
            on_space_freed=self._space_freed.set,
            on_topic_used=cluster.metadata.want,
            idempotence=self._idempotence,
            metrics=self._metrics,
        )
        self._metrics.bind(functools.partial(_levels, self._accumulator, cluster))
        load = self._adapt(self._accumulator, cluster)
        self._sender = Sender(  # no strong reference back: a dropped producer is collected
            config, cluster, self._accumulator, self._idempotence, _weakly(self._fail)
        )
        if config.transactional_id is not None and self._idempotence is not None:
            self._txn = TransactionManager(
                config,
                cluster,
                self._idempotence,
                on_fatal=self._sender.fail_fatally,
                on_state=_weakly(self._transaction_state),
                wakeup=self._sender.wakeup,
            )
            self._sender.transactions = self._accumulator.transactions = self._txn
        if load is not None and load.availability_timeout_ms:
            self._sender.node_polled = load.node_polled
        try:
            await cluster.bootstrap(config.max_block_ms / 1000)
            if self._txn is not None:
                await self._txn.initialize(config.max_block_ms)
            elif self._idempotence is not None:
                await self._sender.init_producer_id(config.max_block_ms)
        except BaseException:
            await cluster.close()
            self._state = _CLOSED
            raise
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._thread = threading.get_ident()
        self._sender_task = loop.create_task(self._sender.run(), name="aioproducer-sender")
        self._sender_task.add_done_callback(
            functools.partial(_sender_stopped, weakref.ref(self), cluster)
        )
        if config.enable_metrics_push:  # KIP-714: idle unless the cluster subscribes
            self._telemetry = ClientTelemetry(
                cluster.any_connection,
                weakref.WeakMethod(self.metric_samples),
                client_id=config.client_id,
            )
            self._telemetry.start()
        self._create_future = relay_for(loop).create_future
        self._wakeup = self._sender.wakeup
        self._wakeup_for = self._sender.wakeup_for
        self._topics = cluster.metadata.topics
        self._state = _RUNNING
        self._install_fast_send()

    def _adapt(self, accumulator: RecordAccumulator, cluster: Cluster) -> PartitionLoad | None:
        """The default partitioner learns when its partition's batches are full (to switch
        then, as Java) and, adaptive (KIP-794), reads queue sizes."""
        partitioner = self._partitioner
        if not isinstance(partitioner, DefaultPartitioner) or self.config.partitioner is not None:
            return None  # a partitioner of the caller's: left as given
        partitioner.batches_full = batches_full(accumulator, self._routes)
        if not self.config.partitioner_adaptive_partitioning_enable:
            return None
        partitioner.load = PartitionLoad(
            accumulator.queue_length,
            cluster.metadata,
            self.config.partitioner_availability_timeout_ms,
        )
        return partitioner.load

    def _install_fast_send(self) -> None:
        """Answer the common send() in C when nothing of ours must run for it (no
        serializers, Java's partitioning): the instance's ``send`` becomes a FastSend that
        hands every other call to :meth:`send`. close() takes it away."""
        config, accumulator, loop = self.config, self._accumulator, self._loop
        if _c is None or accumulator is None or self._sender is None or loop is None:
            return
        if self._txn is not None and self._txn.state is not _IN_TRANSACTION:
            return  # begin_transaction() installs it; leaving the transaction removes it
        if config.key_serializer or config.value_serializer or not self._java_partitioning:
            return
        self.send = _c.FastSend(  # type: ignore[method-assign]
            self.send,
            self._create_future,
            self._routes,
            self._topics,
            accumulator,
            self._wakeup_for,
            self._max_record_size,
            config.batch_size,
            _RECORD_BOUND,
            loop.is_running,  # with the thread: what _in_loop() checks
            self._thread,
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- sending ---------------------------------------------------------------------------------
    def send(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[Header] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> Coroutine[Any, Any, asyncio.Future[RecordMetadata]]:
        """Queue one record; return an awaitable of the future of its :class:`RecordMetadata`.

        Use as ``future = await producer.send(...)``. The record is checked and queued when
        send() is called (a bad record raises then); the awaitable suspends while the
        topic's metadata is unknown or buffer_memory is full (both bounded by max_block_ms),
        and the record is then queued when it is awaited; else it yields once at most, so
        that a loop of sends lets the event loop run at least every batch_size bytes. A
        started producer without serializers or a custom partitioner answers the common
        call, ``send(topic, value, key)`` with bytes, in C
        (``aioproducer._speedups.FastSend``, set as the instance's ``send``); this method
        decides every other call.

        ``on_delivery(metadata, error)`` (Java's ``Callback``) runs once the record is
        acknowledged (``metadata``, None) or failed (None, the error; a cancelled future
        gives ``asyncio.CancelledError``), on the event loop; what it raises is logged and
        touches nothing else. :meth:`flush` returns only after the callbacks of every
        record sent before it have run. A send() that raises queued nothing: no callback.
        """
        if self._state is not _RUNNING or not self._in_loop():
            raise self._unusable("send()")
        if self._txn is not None and self._txn.state is not _IN_TRANSACTION:
            raise self._txn.send_error("send()")
        record = self._checked_record(key, value, headers, timestamp_ms)
        future: asyncio.Future[RecordMetadata] = self._create_future()
        if on_delivery is not None:
            future.add_done_callback(_delivery(on_delivery, self._log))
        need = self._enqueue(topic, record, partition, future)
        if need:
            if need == _FILLED:
                self._unyielded = 0
                return _after_fill(future)
            return self._enqueue_slowly(need, topic, record, partition, future)
        # Yield at least every batch_size bytes, as FastSend does: batches that grow to
        # 1 MiB would otherwise let a loop of sends hold the event loop for tens of ms.
        unyielded = self._unyielded + record[4]
        if unyielded >= self._yield_every:
            self._unyielded = 0
            return _after_fill(future)
        self._unyielded = unyielded
        return _ready(future)

    async def send_many(
        self,
        topic: str,
        records: Iterable[tuple[object, object] | tuple[object, object, Sequence[Header]]],
        *,
        partition: int | None = None,
        on_delivery: Callable[[SentRecords | None, BaseException | None], object] | None = None,
    ) -> asyncio.Future[SentRecords]:
        """Queue many ``(key, value)`` or ``(key, value, headers)`` records at once.

        Returns one future of :class:`SentRecords` (every record's metadata, in input
        order); it fails with the first error any record meets. All records get the same
        timestamp. Every record is checked before any is queued: a bad one raises here and
        queues nothing. Much cheaper per record than :meth:`send`: the records of a
        partition are encoded in runs, and settled a batch at a time. Waits for
        buffer_memory as :meth:`send` does; if it stays full for max_block_ms the
        :class:`~aioproducer.errors.BufferFullError` says how many records went in before
        (those are still delivered). ``on_delivery(records, error)`` runs once, when the
        returned future is done, as :meth:`send`'s does.
        """
        if self._state is not _RUNNING or not self._in_loop():
            raise self._unusable("send_many()")
        if self._txn is not None and self._txn.state is not _IN_TRANSACTION:
            raise self._txn.send_error("send_many()")
        callback = None if on_delivery is None else _delivery(on_delivery, self._log)
        if type(topic) is not str:
            check_topic(topic)  # raises InvalidTopicNameError
        if not isinstance(records, Iterable):
            raise SerializationError(
                f"send_many() takes an iterable of records, not {type(records).__name__}"
            )
        records = list(records)
        route = self._routes.get(topic)
        if route is None or self._topics.get(topic) is not route[0]:
            route = await self._route(topic)
        info, tps = route
        if partition is not None and (type(partition) is not int or not 0 <= partition < len(tps)):
            raise_bad_partition(topic, partition, len(tps))
        timestamp_ms = _wall_clock_ns() // 1_000_000
        plan = self._planner.plan(topic, info, len(tps), records, partition)
        group = RecordGroup(self._create_future(), topic, len(records), timestamp_ms)
        if callback is not None:
            group.future.add_done_callback(callback)
        filled = await self._queue_planned(
            topic, tps, partition, timestamp_ms, records, plan, group
        )
        group.close()
        if filled:
            self._wakeup()
            await _yield(0)  # let the sender write what filled up
        return group.future

    async def _queue_planned(  # noqa: PLR0917
        self,
        topic: str,
        tps: list[TopicPartition],
        partition: int | None,
        timestamp_ms: int,
        records: list[Any],
        plan: Plan,
        group: RecordGroup,
    ) -> bool:
        """Append the checked records of ``send_many``: each partition's run, then those
        with headers one by one, waiting for buffer space (max_block_ms per wait). Returns
        whether a batch filled up. An error while waiting says how many went in before."""
        accumulator = self._accumulator
        assert accumulator is not None
        runs, alone = plan
        filled, queued = False, 0
        try:
            for number, run in runs:
                indices = run
                tp, first = tps[number], False
                done, full = accumulator.append_run(tp, timestamp_ms, records, indices, group)
                while True:
                    filled |= full
                    queued += done
                    indices = indices[done:]
                    if not indices:
                        break
                    if full:
                        self._wakeup()
                    deadline = time.monotonic() + self.config.max_block_ms / 1000
                    size = accumulator.batch_bytes
                    waiter = await self._wait_for_space(size, deadline, first, "send_many()")
                    try:
                        held = waiter.held
                        done, full = accumulator.append_run(
                            tp, timestamp_ms, records, indices, group, held=held
                        )
                    finally:
                        accumulator.leave(waiter)
                    first = held > 0 and not done  # the grant was not enough: keep the turn
            for index in alone:
                key, value, headers, _, size = records[index]  # a CheckedRecord
                record = (key, value, headers, timestamp_ms, size)
                slot = group.slot(index)
                need = self._enqueue(topic, record, partition, slot)
                if need:
                    await self._enqueue_slowly(need, topic, record, partition, slot)
                queued += 1
        except (BufferFullError, ProducerClosedError) as exc:
            raise type(exc)(
                f"{exc}; {queued} of the {len(records)} records went in before and are "
                "still delivered"
            ) from exc
        return filled

    def _enqueue(
        self,
        topic: str,
        record: CheckedRecord,
        partition: int | None,
        completion: Completion,
        held: int = 0,
    ) -> int:
        """Append one record now, checked already (``held``: bytes of buffer_memory
        granted to the caller).

        Returns 0 when appended; ``_FILLED`` when appended behind a batch that just filled
        up (the caller should yield to the sender); ``_NEED_ROUTE`` when the topic's
        metadata must be waited for; else the bytes of buffer_memory the record needs.
        """
        key_bytes, value_bytes, header_list, timestamp_ms, size = record
        if timestamp_ms is None:  # the time it is appended, after any wait (Java's)
            timestamp_ms = _wall_clock_ns() // 1_000_000

        # Where it goes: a cached list of TopicPartitions per known topic.
        if type(topic) is not str:
            check_topic(topic)  # raises InvalidTopicNameError
        route = self._routes.get(topic)
        if route is None or self._topics.get(topic) is not route[0]:
            return _NEED_ROUTE
        info, tps = route
        if partition is None:
            if key_bytes is not None and self._java_partitioning:
                partition = (murmur2(key_bytes) & 0x7FFFFFFF) % len(tps)  # no frame of ours
            else:
                partition = choose_partition(
                    self._partitioner, topic, key_bytes, value_bytes, len(tps), info.available
                )
        elif type(partition) is not int or not 0 <= partition < len(tps):
            raise_bad_partition(topic, partition, len(tps))
        accumulator = self._accumulator
        assert accumulator is not None
        if not accumulator.has_room(size, held):
            return size
        tp = tps[partition]
        if key_bytes is not None and not self._keys_ignored:
            result = accumulator.append(
                tp, timestamp_ms, key_bytes, value_bytes, header_list, completion
            )
            if result is _APPENDED:
                return 0
        else:  # the sticky partitioner counts the bytes the batch grew by, as Java does
            used = accumulator.used_bytes
            result = accumulator.append(
                tp, timestamp_ms, key_bytes, value_bytes, header_list, completion
            )
            # It may switch only once the partition's last batch is full (Java's
            # allBatchesFull); APPENDED and NEW_BATCH say that it is not.
            full = result is not _APPENDED and result is not _OPENED
            appended_unkeyed(
                self._partitioner,
                topic,
                partition,
                accumulator.used_bytes - used,
                full and accumulator.last_batch_full(tp),
                self._log,
            )
            if result is _APPENDED:
                return 0
        # The other results: BATCH_FULL, NEW_BATCH, or both (constants: compared by identity).
        self._wakeup_for(tp)
        return _FILLED if result is _OPENED_FULL else 0

    async def _enqueue_slowly(
        self, need: int, topic: str, record: CheckedRecord, partition: int | None, completion: _C
    ) -> _C:
        """Wait for metadata or buffer space (max_block_ms in all), then append; return
        ``completion``.

        ``need == _FILLED``: the record is in; yield once so the sender can write the batch
        that just filled up while the caller goes on producing.
        """
        if need == _FILLED:
            await _yield(0)
            return completion
        accumulator = self._accumulator
        assert accumulator is not None
        deadline = time.monotonic() + self.config.max_block_ms / 1000
        first = False
        while need > _FILLED or need == _NEED_ROUTE:
            if need == _NEED_ROUTE:
                await self._route(topic, max(0.0, deadline - time.monotonic()))
                self._check_running("send()")
                need = self._enqueue(topic, record, partition, completion)
                continue
            waiter = await self._wait_for_space(need, deadline, first, "send()")
            try:
                held = waiter.held
                need = self._enqueue(topic, record, partition, completion, held)
            finally:
                accumulator.leave(waiter)
            first = held > 0  # the grant was not enough: keep the turn
        return completion

    def _check_running(self, what: str) -> None:
        if self._state is not _RUNNING:
            raise self._unusable(f"{what} (while it waited)")
        if self._txn is not None and self._txn.state is not _IN_TRANSACTION:
            raise self._txn.send_error(f"{what} (while it waited)")

    async def _route(
        self, topic: str, timeout: float | None = None
    ) -> tuple[TopicInfo, list[TopicPartition]]:
        """The topic's metadata and partitions, waiting for them up to ``timeout`` seconds."""
        if topic not in self._valid_topics:
            self._valid_topics.add(check_topic(topic))
        cluster = self._cluster
        assert cluster is not None
        cluster.metadata.want(topic, now_ms())
        info = cluster.metadata.topics.get(topic)
        if info is None or info.error is not None:
            if timeout is None:
                timeout = self.config.max_block_ms / 1000
            info = await cluster.wait_for_topic(topic, timeout)
        route = (info, [TopicPartition(topic, p) for p in range(info.num_partitions)])
        self._routes[topic] = route
        return route

    async def _wait_for_space(
        self, size: int, deadline: float, first: bool, what: str
    ) -> MemoryWaiter:
        """Wait in line for ``size`` bytes of buffer_memory, until ``deadline``
        (time.monotonic()), joining at its head if ``first``. Returns the waiter, granted
        the bytes (its ``held``; ``NO_WAIT``, holding none, when there was room at once):
        the caller appends, then leaves the line whatever happens. BufferFullError when
        the deadline passes first; ProducerClosedError when close() ends the wait."""
        accumulator, sender = self._accumulator, self._sender
        assert accumulator is not None
        assert sender is not None
        self._check_running(what)
        if accumulator.has_room(size):
            return NO_WAIT
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        waiter = accumulator.wait_for_memory(size, functools.partial(_wake, woken), first=first)
        if woken.done():  # granted at once
            return waiter
        sender.wakeup()  # every batch is ready while someone waits (Java)
        timer = loop.call_later(deadline - time.monotonic(), _wake, woken)
        began = time.perf_counter_ns()
        try:
            await woken
        except BaseException:  # cancelled
            accumulator.leave(waiter)
            raise
        finally:
            timer.cancel()
            self._metrics.buffer_waited(time.perf_counter_ns() - began)
        if not waiter.held or self._state is not _RUNNING:  # the deadline passed, or close()
            accumulator.leave(waiter)
            self._check_running(what)
            raise BufferFullError(
                f"buffer_memory ({self.config.buffer_memory} bytes) stayed full for "
                f"max_block_ms ({self.config.max_block_ms} ms)"
            )
        return waiter

    async def send_and_wait(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[Header] | None = None,
    ) -> RecordMetadata:
        """Send one record and wait until it is acknowledged."""
        future = await self.send(
            topic, value, key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )
        return await future

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged or failed, and the
        done-callbacks of their futures have run (Java's contract)."""
        accumulator, sender, event = self._accumulator, self._sender, self._space_freed
        timeout = check_timeout("flush()", timeout)
        if accumulator is None or sender is None or event is None:
            return
        if not self._in_loop():
            raise self._unusable("flush()")
        token = accumulator.begin_flush()
        sender.wakeup()
        try:
            async with asyncio.timeout(timeout):
                while not accumulator.flush_done(token):
                    event.clear()
                    await event.wait()
                await self._callbacks_run()
        except TimeoutError as exc:
            raise KafkaTimeoutError(f"flush() did not finish within {timeout} s") from exc
        finally:
            accumulator.end_flush()

    async def _callbacks_run(self) -> None:
        """Return once the done-callbacks of every record future settled so far have run:
        the futures' relay runs callbacks in the order they were scheduled, so one
        scheduled now runs after all of them."""
        assert self._loop is not None
        marker, done = self._create_future(), self._loop.create_future()
        marker.add_done_callback(functools.partial(_settle, done))
        marker.set_result(None)
        await done

    # -- metrics ---------------------------------------------------------------------------------
    @overload
    def metrics(self) -> dict[str, float]: ...
    @overload
    def metrics(self, *, topic: Literal[True]) -> dict[str, dict[str, float]]: ...
    @overload
    def metrics(self, *, node: Literal[True]) -> dict[int, dict[str, float]]: ...
    def metrics(
        self, *, topic: bool = False, node: bool = False
    ) -> dict[str, float] | dict[str, dict[str, float]] | dict[int, dict[str, float]]:
        """The producer's metrics now, by the Java producer's names (see docs/monitoring.md).

        ``metrics()``: group producer-metrics, ``{"record-send-total": 1000.0, ...}``.
        ``metrics(topic=True)``: producer-topic-metrics, ``{topic: {name: value}}``.
        ``metrics(node=True)``: producer-node-metrics, ``{node_id: {name: value}}`` (node -1:
        the bootstrap connections). Rates, averages and maxima cover the last
        ``metrics_num_samples`` windows of ``metrics_sample_window_ms``; an average or
        maximum with nothing in that time is NaN, as in Java. Works in any state, and from
        other threads (read without a lock: a value may be one batch behind).
        """
        if topic and node:
            raise ValueError("metrics(): ask for topic=True or node=True, not both")
        if topic:
            return self._metrics.topic_values()
        if node:
            return self._metrics.node_values()
        return self._metrics.producer_values()

    def metric_samples(self) -> list[MetricSample]:
        """Every metric now, of all three groups, as :class:`~aioproducer.metrics.MetricSample`
        (what the Prometheus and OpenTelemetry exporters read)."""
        return self._metrics.samples()

    async def partitions_for(self, topic: str) -> list[int]:
        """The partition numbers of ``topic`` (waiting up to max_block_ms for its metadata)."""
        if self._state is not _RUNNING or not self._in_loop():
            raise self._unusable("partitions_for()")
        _, tps = await self._route(topic)
        return list(range(len(tps)))

    # -- transactions ----------------------------------------------------------------------------
    def _transactional(self, what: str) -> TransactionManager:
        """The transaction manager, if ``what`` may run now."""
        if self.config.transactional_id is None:
            raise IllegalStateError(f"{what} needs a transactional producer (transactional_id)")
        txn = self._txn
        if txn is not None and self._state is _FAILED and txn.last_error is not None:
            raise txn.last_error
        if txn is None or self._state is not _RUNNING or not self._in_loop():
            raise self._unusable(what)
        return txn

    def _transaction_state(self, state: TransactionState) -> None:
        if state is _IN_TRANSACTION:
            self._install_fast_send()
        else:
            self.__dict__.pop("send", None)  # the FastSend: send() says why it cannot

    def begin_transaction(self) -> None:
        """Start a transaction: records sent until it is committed or aborted belong to it."""
        self._transactional("begin_transaction()").begin()

    async def commit_transaction(self) -> None:
        """Deliver every record of the transaction, then commit it (EndTxn).

        If a record failed, raises AbortableTransactionError: call :meth:`abort_transaction`.
        After a timeout (KafkaTimeoutError) it may be called again.
        """
        txn = self._transactional("commit_transaction()")
        txn.begin_commit()
        await self.flush()
        await txn.end(commit=True)

    async def abort_transaction(self) -> None:
        """Abort the transaction: records not yet sent fail with TransactionAbortedError,
        those sent become invisible to ``read_committed`` consumers."""
        txn = self._transactional("abort_transaction()")
        txn.begin_abort()
        self._wakeup()  # the sender fails what is queued
        await self.flush()
        await txn.end(commit=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Self]:
        """``async with producer.transaction():`` begins a transaction, commits it when the
        block ends normally and aborts it when the block raises (the error is re-raised)."""
        self.begin_transaction()
        try:
            yield self
        except BaseException:
            await self._abort_after_error()
            raise
        try:
            await self.commit_transaction()
        except AbortableTransactionError:  # a record failed: abort, so the producer goes on
            await self._abort_after_error()
            raise

    async def _abort_after_error(self) -> None:
        txn = self._txn
        if txn is not None and txn.state is not TransactionState.FATAL_ERROR:
            try:
                await self.abort_transaction()
            except ProducerError:
                log.exception("aborting the transaction after an error failed")

    async def send_offsets_to_transaction(
        self,
        offsets: Mapping[Any, Any] | Sequence[Any],
        group: str | ConsumerGroupMetadata | bytes | object,
    ) -> None:
        """Commit a consumer group's ``offsets`` as part of the transaction.

        ``offsets``: ``{(topic, partition): offset}`` (TopicPartition keys too) or a list
        of confluent-kafka ``TopicPartition`` with offsets; each is the next offset the
        group should read. ``group``: the group id, or the consumer's group metadata
        (:class:`ConsumerGroupMetadata`, one with the same attributes, or confluent-kafka's
        ``consumer_group_metadata()``), which fences zombie consumers (KIP-447).
        """
        txn = self._transactional("send_offsets_to_transaction()")
        if txn.state is not _IN_TRANSACTION:
            raise txn.send_error("send_offsets_to_transaction()")
        parsed = parse_offsets(offsets)
        metadata = ConsumerGroupMetadata.parse(group)
        if parsed:
            await txn.send_offsets(parsed, metadata)

    async def _abort_open_transaction(self) -> None:
        """close(): a transaction left open is aborted (Java does so too)."""
        txn = self._txn
        if txn is None or txn.state not in _OPEN_STATES:
            return
        log.info("close(): aborting the open transaction")
        try:
            txn.begin_abort()
            self._wakeup()
            await self.flush()
            await txn.end(commit=False)
        except ProducerError as exc:
            log.warning("close(): aborting the open transaction failed: %s", exc)

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then stop the sender and close every connection.

        Records not delivered within ``timeout`` seconds (None: as long as their
        ``delivery_timeout_ms`` allows) fail with ProducerClosedError. Returns only once the
        shutdown is complete, with every record settled and its done-callbacks run: a
        concurrent close() waits for the first one, and a close() that is cancelled fails
        what is undelivered and finishes the shutdown before the cancellation goes on.
        When the cluster subscribed to this client's metrics (KIP-714), a last push with the
        final counts goes out before the connections close, within what is left of
        ``timeout`` and at most ``request_timeout_ms`` (docs/telemetry.md).
        """
        timeout = check_timeout("close()", timeout)
        if self._loop is None:  # never started, or start() failed (and cleaned up)
            if self._state is _STARTING:
                raise IllegalStateError("close() while start() is still running")
            self._state = _CLOSED
            return
        if not self._in_loop():
            raise WrongEventLoopError("close() called outside the event loop start() ran in")
        if self._closed is not None:
            await asyncio.shield(self._closed)
            return
        self._closed = closed = self._loop.create_future()
        try:
            await self._shut_down(timeout)
        finally:
            closed.set_result(None)
            metrics = self._metrics
            self._log.info(
                "closed: %d record(s) acknowledged, %d failed",
                metrics.send_total,
                metrics.error_total,
            )

    async def _shut_down(self, timeout: float | None) -> None:
        self._state = _CLOSED
        self._stop_waits()  # a send() waiting for a topic's metadata raises at once
        self.__dict__.pop("send", None)  # the FastSend, if any: send() now raises
        if self._space_freed is not None:
            self._space_freed.set()
        if self._accumulator is not None:
            self._accumulator.wake_waiters()  # each raises ProducerClosedError
        sender, cluster, telemetry = self._sender, self._cluster, self._telemetry
        assert sender is not None
        assert cluster is not None
        started = asyncio.get_running_loop().time()
        try:
            try:
                async with asyncio.timeout(timeout):
                    await self._abort_open_transaction()
                    await self._deliver_queued(sender)
            except TimeoutError:
                self._stop_now(sender, f"the producer was closed (timeout {timeout} s)")
            await self._callbacks_run()
            if telemetry is not None:  # the terminating push, with the final counts
                left = self.config.request_timeout_ms / 1000
                if timeout is not None:
                    left = min(left, timeout - (asyncio.get_running_loop().time() - started))
                await telemetry.close(left)
        except BaseException:  # cancelled: fail what is left, and finish closing all the same
            self._stop_now(sender, "close() was cancelled")
            raise
        finally:
            if telemetry is not None:
                telemetry.stop()
            cluster.shutdown()  # every connection, at once
            await cluster.close()

    async def _deliver_queued(self, sender: Sender) -> None:
        """Let the sender deliver everything queued; it stops when nothing is left. If its
        task was cancelled (every task cancelled at shutdown), run its loop here instead."""
        sender.initiate_close()
        task = self._sender_task
        if task is not None and not task.done():
            await asyncio.wait((task,))  # returns, without raising, if the task is cancelled
        accumulator = self._accumulator
        if accumulator is not None and accumulator.has_incomplete():
            await sender.run()

    def _stop_now(self, sender: Sender, why: str) -> None:
        """Fail every record not yet delivered with ProducerClosedError and stop the sender."""
        sender.force_close(
            ProducerClosedError(
                f"{why} before these records were acknowledged (those already sent may "
                "have been written)"
            )
        )
        task = self._sender_task
        if task is not None and not task.done():
            task.cancel()

    stop = close  # aiokafka's name

    def _stop_waits(self) -> None:
        """Wake every send(), send_many() and partitions_for() waiting for metadata: they
        raise ProducerClosedError."""
        if self._cluster is not None:
            self._cluster.stop_waits()

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED
