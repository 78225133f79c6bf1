"""The public producer: ``await producer.send(...)`` returns a future of the record's metadata.

:meth:`Producer.send` validates and serializes synchronously, picks the partition, appends
the record to its partition's open batch and returns a future, suspending only when the
topic's metadata is unknown or ``buffer_memory`` is exhausted.
A :class:`~aioproducer._sender.Sender` task moves batches to the brokers.

Every public method is here, with the docstring users read; the longer bodies are functions
of the producer beside it: ``send_many()`` in ``_send_many.py``, the waits for metadata and
``buffer_memory`` in ``_producer_waits.py``, the transaction API in
``_producer_transactions.py``, ``flush()``, ``close()`` and the ways a producer stops in
``_shutdown.py``, the callables it hands out in ``_producer_callbacks.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar, Unpack, overload

from aioproducer import _producer_transactions, _producer_waits, _send_many, _shutdown
from aioproducer._accumulator import AppendResult, RecordAccumulator
from aioproducer._batch import Completion, RecordMetadata, SentRecords
from aioproducer._clientlog import ClientLog, redacted_settings
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig, ProducerOptions, build_config
from aioproducer._consumer_group import ConsumerGroupMetadata
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
from aioproducer._producer_callbacks import delivery as _delivery
from aioproducer._producer_callbacks import levels as _levels
from aioproducer._producer_callbacks import no_loop as _no_loop
from aioproducer._producer_callbacks import nothing as _nothing
from aioproducer._producer_callbacks import nothing_for as _nothing_for
from aioproducer._producer_callbacks import weakly as _weakly
from aioproducer._producer_state import ProducerState, unusable_error
from aioproducer._protocol.records import Header
from aioproducer._record_check import RECORD_BOUND as _RECORD_BOUND
from aioproducer._record_check import (
    CheckedRecord,
    RecordCheck,
    check_topic,
    raise_bad_partition,
)
from aioproducer._send_many import SendManyPlanner
from aioproducer._sender import Sender
from aioproducer._shutdown import sender_stopped as _sender_stopped
from aioproducer._speedups_status import c as _c
from aioproducer._telemetry import ClientTelemetry
from aioproducer._transactions import TransactionManager, TransactionState
from aioproducer.errors import ProducerClosedError, ProducerError
from aioproducer.metrics import MetricSample
from aioproducer.metrics._registry import ProducerMetrics

__all__ = ["Producer", "RecordMetadata", "SentRecords"]

_NEW: Final = ProducerState.NEW
_STARTING: Final = ProducerState.STARTING
_RUNNING: Final = ProducerState.RUNNING
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
_IN_TRANSACTION: Final = TransactionState.IN_TRANSACTION


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
#: The C form of send()'s common call; without the extension, none (send() is Producer.send).
_FastSend: Callable[..., Any] | None = None if _c is None else _c.FastSend


@functools.cache
def _default_options() -> dict[str, object]:
    """Every setting's default (what the start line leaves out)."""
    return ProducerConfig().options()


DeliveryCallback = Callable[[RecordMetadata | None, BaseException | None], object]
"""``on_delivery(metadata, error)``: one of the two is None (Java's ``Callback``)."""


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
        self._fast_send: Any = None  # the FastSend start() made (C), if any
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

    __del__ = _shutdown.dropped  # a producer dropped while running warns, and delivers

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
        _shutdown.fail(self, error)

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
        hands every other call to :meth:`send`. A transactional producer's is enabled only
        inside a transaction (so a ``send`` bound before one is fast in it too); close()
        disables it and takes it away."""
        config, accumulator, loop = self.config, self._accumulator, self._loop
        if _FastSend is None or accumulator is None or self._sender is None or loop is None:
            return
        if config.key_serializer or config.value_serializer or not self._java_partitioning:
            return
        self.send = self._fast_send = _FastSend(  # type: ignore[method-assign]
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
        if self._txn is not None:
            self._transaction_state(self._txn.state)

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
        # Yield at least every batch_size bytes (16384 by default), as FastSend does: batches of
        # up to 1 MiB would otherwise let a loop of sends hold the event loop for tens of ms.
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
        return await _send_many.send_many(self, topic, records, partition, on_delivery)

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

    # what send() and send_many() wait for, within max_block_ms (_producer_waits.py)
    _check_running = _producer_waits.check_running
    _route = _producer_waits.route
    _wait_for_space = _producer_waits.wait_for_space

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
        await _shutdown.flush(self, timeout)

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
    def _transaction_state(self, state: TransactionState) -> None:
        if self._fast_send is not None and self._state is _RUNNING:
            self._fast_send.enabled = state is _IN_TRANSACTION  # else send() says why not

    def begin_transaction(self) -> None:
        """Start a transaction: records sent until it is committed or aborted belong to it."""
        _producer_transactions.transactional(self, "begin_transaction()").begin()

    async def commit_transaction(self) -> None:
        """Deliver every record of the transaction, then commit it (EndTxn).

        If a record failed, raises AbortableTransactionError: call :meth:`abort_transaction`.
        After a timeout (KafkaTimeoutError) it may be called again.
        """
        await _producer_transactions.commit(self)

    async def abort_transaction(self) -> None:
        """Abort the transaction: records not yet sent fail with TransactionAbortedError,
        those sent become invisible to ``read_committed`` consumers."""
        await _producer_transactions.abort(self)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Self]:
        """``async with producer.transaction():`` begins a transaction, commits it when the
        block ends normally and aborts it when the block raises (the error is re-raised)."""
        return _producer_transactions.transaction(self)

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
        await _producer_transactions.send_offsets(self, offsets, group)

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
        await _shutdown.close(self, timeout)

    stop = close  # aiokafka's name

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED
