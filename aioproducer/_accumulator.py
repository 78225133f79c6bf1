"""RecordAccumulator: per-partition queues of batches, and the buffer_memory account.

A plain object with no event loop in it: times are integer milliseconds passed in by the
caller, and nothing here waits. The producer calls :meth:`~RecordAccumulator.append`
(after :meth:`~RecordAccumulator.has_room`, waiting in the line of
:class:`~aioproducer._buffer_memory.BufferMemory`, its base, up to ``max_block_ms``; both
methods are BufferMemory's base's, :class:`~aioproducer._appender.Appender`, compiled or
not, which calls back :meth:`RecordAccumulator._append_new` for a record that opens a batch);
the sender loop calls, in this order::

    idempotence.maybe_bump_epoch()             # if idempotent
    for batch in acc.expired_batches(now):     # past created + delivery_timeout_ms
        idempotence.on_expired(batch); acc.deallocate(batch); batch.fail(timeout error)
    result = acc.ready(now, metadata)          # nodes with sendable data, when to look again
    drained = acc.drain(metadata, nodes, max_request_size, now, builds)  # sealed, stamped
    ... later, on the loop, for each batch drain() handed to ``builds``:
    acc.attach_built(batch, stamp, built_bytes_or_exception)
    ... send batch.built for each; then per batch, one of:
    acc.deallocate(batch); batch.complete(base_offset, log_append_time)   # success
    acc.reenqueue(batch, now)                  # retriable error: front of its queue, backoff
    acc.split_and_reenqueue(batch, now)        # MESSAGE_TOO_LARGE with several records
    acc.deallocate(batch); batch.fail(error)   # anything else

A partition's first batch is ready when it is full (or another batch queues behind it),
when ``linger_ms`` has passed since it was created, while a flush is in progress, while
closing, or while senders wait for buffer memory; a retried batch first waits out its
backoff (exponential with jitter), unless its partition has a new leader. Bytes appended
count against ``buffer_memory`` until their batch is deallocated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final, Protocol

from aioproducer._appender import AppendResult
from aioproducer._backoff import ExponentialBackoff
from aioproducer._batch import Completion, ProducerBatch, RecordGroup, Stamp
from aioproducer._batch_sizing import batch_capacity
from aioproducer._buffer_memory import BufferMemory
from aioproducer._clock import now_ms
from aioproducer._config import ProducerConfig
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.records import Header, RecordBatchBuilder, decode_batches
from aioproducer._protocol.sequence import is_after, next_sequence
from aioproducer.errors import BatchBuildError, ProducerClosedError
from aioproducer.metrics._registry import ProducerMetrics

__all__ = [
    "AppendResult",
    "BuildElsewhere",
    "LeaderLookup",
    "ReadyResult",
    "RecordAccumulator",
    "TransactionGate",
]

_NEVER: Final = 1 << 62
_NO_STATE: Final = (-1, -1, -1)


_NEW: Final = AppendResult.NEW_BATCH
_NEW_FULL: Final = AppendResult.NEW_BATCH | AppendResult.BATCH_FULL


class LeaderLookup(Protocol):
    """Where partitions live; ``ClusterMetadata`` is one. A negative node id = unknown."""

    def leader(self, topic: str, partition: int) -> int: ...


class TransactionGate(Protocol):
    """Which partitions joined the producer's transaction (``TransactionManager`` is one):
    told of every batch queued, asked before a partition's batch is drained."""

    def batch_opened(self, tp: TopicPartition) -> None: ...
    def may_send(self, tp: TopicPartition) -> bool: ...
    def batch_failed(self, error: BaseException) -> None: ...


class BuildElsewhere(Protocol):
    """Builds batches away from the caller (the sender's ``OffLoopBuilds`` is one): what it
    :meth:`wants`, it builds with ``batch.builder.build(*stamp)`` and passes the outcome to
    :meth:`RecordAccumulator.attach_built`; :meth:`submit` returns False if it cannot."""

    def wants(self, batch: ProducerBatch) -> bool: ...
    def submit(self, batch: ProducerBatch, stamp: Stamp) -> bool: ...


@dataclass(slots=True)
class ReadyResult:
    """What :meth:`RecordAccumulator.ready` found."""

    ready_nodes: set[int] = field(default_factory=set)
    next_check_ms: int = _NEVER
    """Milliseconds until some batch may become ready or expire."""
    unknown_leader_topics: set[str] = field(default_factory=set)


class RecordAccumulator(BufferMemory):
    """Queues of batches per partition; the state the producer and the sender share."""

    def __init__(
        self,
        config: ProducerConfig,
        *,
        idempotence: IdempotenceState | None = None,
        transactions: TransactionGate | None = None,
        on_space_freed: Callable[[], None] | None = None,
        on_topic_used: Callable[[str, int], None] | None = None,
        random: Callable[[], float] | None = None,
        clock: Callable[[], int] = now_ms,
        metrics: ProducerMetrics | None = None,
    ) -> None:
        super().__init__(config.buffer_memory)
        self.config = config
        self.metrics = metrics
        """Counts what the batches do (each new batch is given it)."""
        self._clock = clock
        self._on_topic_used = on_topic_used
        """Told (topic, now_ms) when a batch opens: how cluster metadata knows topics in use."""
        self.idempotence = idempotence
        self.transactions = transactions
        self._on_space_freed = on_space_freed
        self._batch_size = config.batch_size
        self.capacity = batch_capacity(config)
        """Each new batch's capacity (its builder's ``batch_size``; all appends honour it)."""
        self._compression = config.compression_type
        self._level = config.compression_level
        self._linger_ms = config.linger_ms
        self._delivery_timeout_ms = config.delivery_timeout_ms
        self._backoff = ExponentialBackoff(
            config.retry_backoff_ms, config.retry_backoff_max_ms, random=random
        )
        # One in flight per partition without idempotence and max in flight 1 (Java's
        # guaranteeMessageOrder): the partition is muted while its batch is in flight.
        self._guarantee_order = (
            idempotence is None and config.max_in_flight_requests_per_connection == 1
        )
        self._muted: set[TopicPartition] = set()
        self._reordered: set[TopicPartition] = set()
        self._incomplete: set[ProducerBatch] = set()
        self._next_flush_id = 0
        self._flushes = 0
        self._drain_start: dict[int, int] = {}

    def queue_length(self, tp: TopicPartition) -> int | None:
        """The number of ``tp``'s queued batches; None before its first batch."""
        queue = self._batches.get(tp)
        return None if queue is None else len(queue)

    def last_batch_full(self, tp: TopicPartition) -> bool:
        """``tp`` has no batch open for appends: its queue is empty or its last batch is
        full (Java's ``allBatchesFull``; the sticky partitioner switches only then)."""
        queue = self._batches.get(tp)
        if not queue:
            return True
        builder = queue[-1].builder
        return builder.estimated_size >= self._batch_size or builder.closed

    # -- buffer memory (the rest is BufferMemory's) ----------------------------------------------
    @property
    def batch_bytes(self) -> int:
        """Room :meth:`append_run` wants before it opens a batch: a whole batch_size."""
        return min(self._batch_size, self._buffer_memory)

    def deallocate(self, batch: ProducerBatch) -> None:
        """``batch`` is settled (or split): give back its bytes. Safe to call twice."""
        if batch not in self._incomplete:
            return
        self._incomplete.discard(batch)
        self._muted.discard(batch.tp)
        self.free(batch.builder.estimated_size)
        if self._on_space_freed is not None:
            self._on_space_freed()

    # -- appending (append() is the Appender's) -------------------------------------------------
    def append_run(  # noqa: PLR0917
        self,
        tp: TopicPartition,
        timestamp_ms: int,
        records: Sequence[tuple[bytes | None, bytes | None]],
        indices: Sequence[int],
        group: RecordGroup,
        now_ms: int = -1,
        held: int = 0,
    ) -> tuple[int, bool]:
        """Append ``records[i]`` for ``i`` in ``indices`` to ``tp``'s batches, as a run of
        ``group`` per batch; return (records appended, whether a batch is full).

        Fills the open batch, then opens new ones, each step only while :meth:`has_room`
        for what it may charge (the rest of the open batch, or a whole ``batch_size``);
        appends fewer than asked when it has not: the caller waits in line for
        :attr:`batch_bytes` and appends the rest. ``held``, the caller's grant, covers the
        first step.
        """
        if self._closed:
            raise ProducerClosedError("the accumulator is closed")
        queue = self._batches.get(tp)
        if queue is None:
            queue = self._batches[tp] = deque()
        total, done, full = len(indices), 0, False
        new_batch_bytes = self.batch_bytes
        while done < total:
            batch = queue[-1] if queue else None
            taken = 0
            if batch is not None:
                before = batch.builder.estimated_size
                room = min(batch.builder.batch_size - before, new_batch_bytes)  # filling it
                if room > 0 and not self.has_room(room, held):
                    break
                taken = batch.builder.append_run(timestamp_ms, records, indices[done:])
            if not taken:
                if not self.has_room(new_batch_bytes, held):
                    break
                if now_ms < 0:
                    now_ms = self._clock()
                batch = self._new_batch(tp, now_ms, self.capacity)
                before = 0
                taken = batch.builder.append_run(timestamp_ms, records, indices[done:])
                self._register(queue, batch)
            assert batch is not None
            batch.add_run(group, indices[done : done + taken], timestamp_ms)
            size = batch.builder.estimated_size
            self._used += size - before
            done += taken
            held = 0
            if size >= batch.builder.batch_size or len(queue) > 1:
                full = True
        return done, full

    def _append_new(  # noqa: PLR0917
        self,
        tp: TopicPartition,
        queue: deque[ProducerBatch] | None,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        completion: Completion,
        now_ms: int,
    ) -> AppendResult:
        """Open a batch of ``tp`` with the record (Appender.append's other case)."""
        if now_ms < 0:
            now_ms = self._clock()
        if queue is None:
            queue = self._batches[tp] = deque()
        batch = self._new_batch(tp, now_ms, self.capacity)
        batch.builder.append(timestamp_ms, key, value, headers)  # an empty batch takes one
        batch.completions.append(completion)
        batch.timestamps.append(timestamp_ms)
        self._register(queue, batch)
        self._used += batch.builder.estimated_size
        full = len(queue) > 1 or batch.builder.estimated_size >= batch.builder.batch_size
        return _NEW_FULL if full else _NEW

    def _new_batch(self, tp: TopicPartition, now_ms: int, limit: int) -> ProducerBatch:
        """A new, empty batch for ``tp``, not yet known to anyone (see :meth:`_register`)."""
        builder = RecordBatchBuilder(
            batch_size=limit,
            compression=self._compression,
            compression_level=self._level,
            transactional=self.transactions is not None,
        )
        batch = ProducerBatch(tp, builder, now_ms, now_ms + self._delivery_timeout_ms)
        batch.metrics = self.metrics
        return batch

    def _register(self, queue: deque[ProducerBatch], batch: ProducerBatch) -> None:
        """Queue ``batch`` once it holds its first records (the caller charges their bytes):
        a batch whose first append failed is never seen by the sender, flush() or close()."""
        self._next_flush_id += 1
        batch.flush_id = self._next_flush_id
        self._incomplete.add(batch)
        queue.append(batch)
        if self.transactions is not None:
            self.transactions.batch_opened(batch.tp)
        if self._on_topic_used is not None:
            self._on_topic_used(batch.tp.topic, batch.created_ms)

    # -- readiness and draining ----------------------------------------------------------------
    def ready(self, now_ms: int, leaders: LeaderLookup) -> ReadyResult:
        """Which brokers lead a partition with a sendable batch, and when to look again."""
        result = ReadyResult()
        ready_nodes = result.ready_nodes
        next_check = _NEVER
        force = self._flushes > 0 or self._closed or self._queued > 0
        linger, muted = self._linger_ms, self._muted
        for tp, queue in self._batches.items():
            if not queue:
                continue
            first = queue[0]
            next_check = min(next_check, first.deadline_ms - now_ms)
            leader = leaders.leader(tp.topic, tp.partition)
            if leader < 0:
                result.unknown_leader_topics.add(tp.topic)
                continue
            if leader in ready_nodes or tp in muted or first.building:
                continue
            if first.attempts and now_ms < first.retry_at_ms and leader == first.last_node:
                next_check = min(next_check, first.retry_at_ms - now_ms)
                continue
            waited = now_ms - first.created_ms
            if (
                force
                or waited >= linger
                or len(queue) > 1
                or first.attempts
                or first.builder.closed
                or first.builder.estimated_size >= first.builder.batch_size
            ):
                ready_nodes.add(leader)
            else:
                next_check = min(next_check, linger - waited)
        result.next_check_ms = max(next_check, 0)
        return result

    def drain(
        self,
        leaders: LeaderLookup,
        nodes: Collection[int],
        max_request_size: int,
        now_ms: int,
        builds: BuildElsewhere | None = None,
    ) -> dict[int, list[ProducerBatch]]:
        """For each of ``nodes``: at most one batch per partition it leads, in one request.

        Batches are sealed (compressed) before they leave their queue, stamped with the
        producer state they are then given; those ``builds`` wants are built by it instead
        and go in a later request. A request stops before ``max_request_size`` unless its
        first batch alone is larger. The start partition rotates per node for fairness.
        Drained batches are ``in_flight``.
        """
        by_node: dict[int, list[TopicPartition]] = {}
        for tp in self._batches:
            leader = leaders.leader(tp.topic, tp.partition)
            if leader in nodes:
                by_node.setdefault(leader, []).append(tp)
        drained: dict[int, list[ProducerBatch]] = {}
        for node, partitions in by_node.items():
            batches = self._drain_node(node, partitions, max_request_size, now_ms, builds)
            if batches:
                drained[node] = batches
        return drained

    def _drain_node(
        self,
        node: int,
        partitions: list[TopicPartition],
        max_request_size: int,
        now_ms: int,
        builds: BuildElsewhere | None,
    ) -> list[ProducerBatch]:
        count = len(partitions)
        start = self._drain_start.get(node, 0) % count
        idempotence = self.idempotence
        size = 0
        batches: list[ProducerBatch] = []
        stop_at = (start + 1) % count
        for step in range(count):
            index = (start + step) % count
            tp = partitions[index]
            head = self._built_head(tp, node, now_ms, builds)
            if head is None:
                continue
            first, wire_size = head
            if batches and size + wire_size > max_request_size:
                stop_at = index  # this partition goes first in the next request
                break
            queue = self._batches[tp]
            queue.popleft()
            if idempotence is not None:
                idempotence.assign(first)  # the state it was built with, unless that changed
            first.seal()  # (re-)stamped only if it changed
            size += wire_size
            first.in_flight = True
            first.last_node = node
            if self._guarantee_order:
                self._muted.add(tp)
            batches.append(first)
        self._drain_start[node] = stop_at
        return batches

    def _built_head(
        self, tp: TopicPartition, node: int, now_ms: int, builds: BuildElsewhere | None
    ) -> tuple[ProducerBatch, int] | None:
        """``tp``'s first batch and its size on the wire, if it may go to ``node`` now.

        An unbuilt batch is built here, stamped with the state :meth:`IdempotenceState.assign`
        will give it; or, if ``builds`` wants it, closed and handed over (it stays first in
        its queue, skipped until :meth:`attach_built`). A batch that cannot be built fails
        alone, having consumed no sequence, and the next one is looked at.
        """
        queue = self._batches[tp]
        idempotence = self.idempotence
        if self.transactions is not None and not self.transactions.may_send(tp):
            return None  # not in the transaction yet
        while queue and tp not in self._muted:
            first = queue[0]
            if first.building:
                return None
            if first.attempts and now_ms < first.retry_at_ms and node == first.last_node:
                return None
            if idempotence is not None and not idempotence.can_drain(first):
                return None
            if first.built is not None:
                return first, len(first.built)
            stamp = _NO_STATE if idempotence is None else idempotence.stamp_for(first)
            if builds is not None and builds.wants(first):
                first.building = True
                first.builder.close()
                if builds.submit(first, stamp):
                    return None
                first.building = False  # it could not take the batch: built here
            try:
                return first, len(first.seal(stamp))
            except Exception as exc:  # whatever the builder or the codec raised
                queue.popleft()
                self._fail_unbuilt(first, exc)
        return None

    def attach_built(
        self, batch: ProducerBatch, stamp: Stamp, result: bytes | BaseException | None
    ) -> None:
        """The end of a build :meth:`drain` handed over: the bytes ``batch.builder.build(*stamp)``
        returned, the exception it raised (the batch fails alone), or None (not built: the
        batch is an ordinary queued one again). Nothing changes if the batch was settled
        meanwhile (expired, or aborted by a forced close)."""
        batch.building = False
        if batch.done or result is None:
            return
        if isinstance(result, bytes):
            batch.attach(result, stamp)
            return
        self._batches[batch.tp].remove(batch)  # queued still: only built batches leave
        self._fail_unbuilt(batch, result)

    def _fail_unbuilt(self, batch: ProducerBatch, cause: BaseException) -> None:
        topic, partition = batch.tp
        error = BatchBuildError(
            f"could not build a batch of {batch.record_count} record(s) for "
            f"{topic}-{partition}: {cause!r}"
        )
        error.__cause__ = cause
        self.deallocate(batch)
        batch.fail(error)
        if self.transactions is not None:
            self.transactions.batch_failed(error)

    # -- retries, splits, expiry ----------------------------------------------------------------
    def reenqueue(self, batch: ProducerBatch, now_ms: int, backoff_ms: int | None = None) -> None:
        """Put a batch back at the front of its queue to retry after a backoff (``backoff_ms``,
        or retry_backoff_ms growing per attempt).

        With idempotence it goes in sequence order among other retried batches.
        """
        batch.in_flight = False
        batch.attempts += 1
        if self.metrics is not None:
            self.metrics.batch_retried(batch)
        if backoff_ms is None:
            backoff_ms = self._backoff.backoff(batch.attempts - 1)
        batch.retry_at_ms = now_ms + backoff_ms
        self._muted.discard(batch.tp)
        queue = self._batches.setdefault(batch.tp, deque())
        self._insert_in_order(queue, batch)

    def _insert_in_order(self, queue: deque[ProducerBatch], batch: ProducerBatch) -> None:
        """Put ``batch`` at the front, behind retried batches with earlier sequences."""
        self._reordered.add(batch.tp)  # deadlines may now be out of order: see expired_batches
        if not batch.has_sequence:
            queue.appendleft(batch)
            return
        base = batch.base_sequence
        index = 0
        for queued in queue:
            if not queued.has_sequence or not is_after(base, queued.base_sequence):
                break
            index += 1
        queue.insert(index, batch)

    def split_and_reenqueue(self, batch: ProducerBatch, now_ms: int) -> list[ProducerBatch]:
        """Split a batch the broker found too large (MESSAGE_TOO_LARGE) and queue the pieces.

        Records are re-read from the sealed bytes (nothing per record is kept for this).
        Each piece is at most half the original's size; pieces keep the original's creation
        time, deadline and completions, and its sequence range when it had one. The
        original's bytes are released and the pieces' charged.
        """
        batch.detach_runs()
        (decoded,) = decode_batches(batch.seal())
        limit = max(1, batch.builder.estimated_size // 2)
        pieces: list[ProducerBatch] = []
        piece: ProducerBatch | None = None
        for index, record in enumerate(decoded.records):
            if piece is None or (
                piece.builder.append(record.timestamp, record.key, record.value, record.headers)
                is None
            ):
                piece = ProducerBatch(
                    batch.tp,
                    RecordBatchBuilder(
                        batch_size=limit,
                        compression=self._compression,
                        compression_level=self._level,
                        transactional=batch.builder.transactional,
                    ),
                    batch.created_ms,
                    batch.deadline_ms,
                    batch.flush_id,
                )
                piece.builder.append(record.timestamp, record.key, record.value, record.headers)
                piece.metrics = self.metrics
                pieces.append(piece)
            piece.completions.append(batch.completions[index])
            piece.timestamps.append(batch.timestamps[index])
        batch.done = True  # its completions now belong to the pieces
        batch.in_flight = False
        sequence = batch.base_sequence
        for piece in pieces:
            piece.last_error = batch.last_error
            if batch.has_sequence:
                piece.set_producer_state(batch.producer_id, batch.producer_epoch, sequence)
                sequence = next_sequence(sequence, piece.record_count)
            piece.seal()
            self._incomplete.add(piece)
            self._used += piece.builder.estimated_size
        self.deallocate(batch)  # after the pieces are charged: the line is served from that
        if self.idempotence is not None:
            self.idempotence.replace_in_flight(batch, pieces)
        self._muted.discard(batch.tp)
        queue = self._batches.setdefault(batch.tp, deque())
        for piece in reversed(pieces):
            self._insert_in_order(queue, piece)
        return pieces

    def expired_batches(self, now_ms: int) -> list[ProducerBatch]:
        """Remove and return queued batches past their deadline (in-flight ones stay).

        The caller fails them (and deallocates); as in Java, only in-flight batches wait
        for their response or request timeout.
        """
        expired: list[ProducerBatch] = []
        for queue in self._batches.values():
            while queue and queue[0].deadline_ms <= now_ms:
                expired.append(queue.popleft())
        # Appended batches come in deadline order; only a queue a retry went back into
        # can hide an expired batch behind a live one.
        for tp in list(self._reordered):
            queue = self._batches[tp]
            if any(b.deadline_ms <= now_ms for b in queue):
                # keep the order of the others, drop the expired
                keep = [b for b in queue if b.deadline_ms > now_ms]
                expired.extend(b for b in queue if b.deadline_ms <= now_ms)
                queue.clear()
                queue.extend(keep)
            if all(a.deadline_ms <= b.deadline_ms for a, b in pairwise(queue)):
                self._reordered.discard(tp)
        return expired

    # -- flush, close, abort ---------------------------------------------------------------------
    def begin_flush(self) -> int:
        """Make every batch ready at once; return a token for :meth:`flush_done`."""
        self._flushes += 1
        return self._next_flush_id

    def flush_done(self, token: int) -> bool:
        """True when every batch created before ``begin_flush`` returned ``token`` settled."""
        return not any(batch.flush_id <= token for batch in self._incomplete)

    def end_flush(self) -> None:
        """The flush that called :meth:`begin_flush` is over (done, timed out or cancelled)."""
        self._flushes = max(0, self._flushes - 1)

    @property
    def flush_in_progress(self) -> bool:
        """A flush is waiting: linger is ignored."""
        return self._flushes > 0

    def close(self) -> None:
        """From now on every batch is ready at once, and appends raise."""
        self._closed = True

    @property
    def closed(self) -> bool:
        """:meth:`close` was called."""
        return self._closed

    def abort_all(self, error: BaseException) -> int:
        """Fail every incomplete batch, queued or in flight, with ``error``; return how many.

        Responses that arrive later for in-flight batches find them done and change nothing.
        """
        for queue in self._batches.values():
            queue.clear()
        batches = sorted(self._incomplete, key=lambda b: b.flush_id)
        for batch in batches:
            self.deallocate(batch)
            batch.in_flight = False
            if self.idempotence is not None:
                self.idempotence.on_failure(batch, adjust_sequences=False)
            batch.fail(error)
        return len(batches)

    def abort_queued(self, error: BaseException) -> list[ProducerBatch]:
        """Fail every batch waiting in a queue (in-flight ones stay) with ``error``, as the
        transaction they belong to is aborted; return them (the caller settles their
        sequences: one that had been sent holds one)."""
        batches = [batch for queue in self._batches.values() for batch in queue]
        for queue in self._batches.values():
            queue.clear()
        for batch in batches:
            self.deallocate(batch)
            batch.fail(error)
        return batches

    # -- queries ---------------------------------------------------------------------------------
    def has_undrained(self) -> bool:
        """Some batch waits in a queue."""
        return any(self._batches.values())

    def incomplete_records(self) -> int:
        """Records not settled yet (queued or in flight)."""
        return sum(batch.record_count for batch in self._incomplete)

    def has_incomplete(self) -> bool:
        """Some batch is not settled yet (queued or in flight)."""
        return bool(self._incomplete)

    def queued(self, tp: TopicPartition) -> list[ProducerBatch]:
        """``tp``'s queued batches, oldest first (a copy)."""
        return list(self._batches.get(tp, ()))
