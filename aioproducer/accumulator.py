"""RecordAccumulator: per-partition queues of batches, and the buffer_memory account.

A plain object with no event loop in it; times are integer milliseconds passed in by the
caller. The producer appends; the sender asks :meth:`ready` which brokers have sendable
batches and :meth:`drain` takes at most one batch per partition for each of them.

A partition's first batch is ready when it is full (or others queue behind it), when
``linger_ms`` has passed since it was created, while a flush is in progress, or when closing;
a retried batch waits out its backoff. Bytes appended count against ``buffer_memory`` until
their batch is settled (:meth:`deallocate`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from aioproducer.backoff import ExponentialBackoff
from aioproducer.batch import ProducerBatch, RecordMetadata
from aioproducer.config import ProducerConfig
from aioproducer.errors import ProducerError
from aioproducer.metadata import ClusterMetadata, TopicPartition
from aioproducer.protocol.records import RecordBatchBuilder, decode_batches

if TYPE_CHECKING:
    from aioproducer.idempotence import IdempotenceState

__all__ = ["AppendResult", "ReadyResult", "RecordAccumulator"]

Header = tuple[str, bytes | None]
_NEVER = 1 << 62


class AppendResult(NamedTuple):
    new_batch: bool
    batch_is_full: bool


@dataclass(slots=True)
class ReadyResult:
    ready_nodes: set[int] = field(default_factory=set)
    next_check_ms: int = _NEVER
    unknown_leader_topics: set[str] = field(default_factory=set)


class _FlushWaiter:
    __slots__ = ("callback", "pending")

    def __init__(self, pending: set[ProducerBatch], callback: Callable[[], None]) -> None:
        self.pending = pending
        self.callback = callback


class RecordAccumulator:
    """Queues of batches per partition; all state the producer and sender share."""

    def __init__(
        self,
        config: ProducerConfig,
        *,
        on_space_freed: Callable[[], None] = lambda: None,
        idempotence: IdempotenceState | None = None,
    ) -> None:
        self.config = config
        self.idempotence = idempotence
        self._on_space_freed = on_space_freed
        self._batches: dict[TopicPartition, deque[ProducerBatch]] = {}
        self._incomplete: set[ProducerBatch] = set()
        self._used = 0
        self._flushes: list[_FlushWaiter] = []
        self._closing = False
        self._drain_index = 0
        self._backoff = ExponentialBackoff(config.retry_backoff_ms, config.retry_backoff_max_ms)
        self._batch_size = config.batch_size
        self._linger = config.linger_ms
        self._delivery_timeout = config.delivery_timeout_ms
        self._compression = config.compression
        self._level = config.compression_level

    # -- appending -----------------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        return self._used

    def has_room(self, size: int) -> bool:
        return self._used + size <= self.config.buffer_memory

    def append(  # noqa: PLR0917 - the hot path takes positional arguments
        self,
        tp: TopicPartition,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        future: asyncio.Future[RecordMetadata],
        now_ms: int,
        size: int,
    ) -> AppendResult:
        """Append one record to ``tp``'s open batch (or a new one); never waits."""
        queue = self._batches.get(tp)
        if queue is None:
            queue = self._batches[tp] = deque()
        new_batch = False
        if queue:
            batch = queue[-1]
            if (
                batch.sealed is None
                and batch.builder.append(timestamp_ms, key, value, headers) is not None
            ):
                batch.futures.append(future)
                batch.timestamps.append(timestamp_ms)
                batch.reserved += size
                self._used += size
                return AppendResult(False, batch.builder.estimated_size >= self._batch_size)
        batch = self._new_batch(tp, now_ms)
        batch.builder.append(timestamp_ms, key, value, headers)
        batch.futures.append(future)
        batch.timestamps.append(timestamp_ms)
        batch.reserved += size
        self._used += size
        queue.append(batch)
        new_batch = True
        return AppendResult(
            new_batch, len(queue) > 1 or batch.builder.estimated_size >= self._batch_size
        )

    def _new_batch(self, tp: TopicPartition, now_ms: int) -> ProducerBatch:
        builder = RecordBatchBuilder(
            batch_size=self._batch_size,
            compression=self._compression,
            compression_level=self._level,
        )
        batch = ProducerBatch(tp, builder, now_ms, now_ms + self._delivery_timeout)
        self._incomplete.add(batch)
        return batch

    # -- readiness and draining ------------------------------------------------------------------
    def ready(self, now_ms: int, metadata: ClusterMetadata) -> ReadyResult:
        """Which brokers have a sendable batch, and when to look again."""
        result = ReadyResult()
        flushing = bool(self._flushes) or self._closing
        linger = self._linger
        for tp, queue in self._batches.items():
            if not queue:
                continue
            leader = metadata.leader(tp.topic, tp.partition)
            if leader < 0:
                result.unknown_leader_topics.add(tp.topic)
                continue
            if leader in result.ready_nodes:
                continue
            first = queue[0]
            if first.retry_at_ms > now_ms:
                result.next_check_ms = min(result.next_check_ms, first.retry_at_ms - now_ms)
                continue
            if (
                flushing
                or len(queue) > 1
                or first.attempts > 0
                or first.builder.estimated_size >= self._batch_size
                or first.builder.closed
                or now_ms - first.created_ms >= linger
            ):
                result.ready_nodes.add(leader)
            else:
                result.next_check_ms = min(result.next_check_ms, first.created_ms + linger - now_ms)
        return result

    def drain(
        self,
        metadata: ClusterMetadata,
        nodes: Iterable[int],
        max_request_size: int,
        now_ms: int,
    ) -> dict[int, list[ProducerBatch]]:
        """Take at most one batch per partition for each of ``nodes``, up to max_request_size."""
        wanted = set(nodes)
        by_node: dict[int, list[TopicPartition]] = {}
        for tp, queue in self._batches.items():
            if queue:
                leader = metadata.leader(tp.topic, tp.partition)
                if leader in wanted:
                    by_node.setdefault(leader, []).append(tp)
        drained: dict[int, list[ProducerBatch]] = {}
        self._drain_index += 1
        idempotence = self.idempotence
        for node, tps in by_node.items():
            start = self._drain_index % len(tps)
            size = 0
            batches: list[ProducerBatch] = []
            for tp in tps[start:] + tps[:start]:
                queue = self._batches[tp]
                first = queue[0]
                if first.retry_at_ms > now_ms:
                    continue
                if idempotence is not None and not idempotence.can_send(first):
                    continue
                wire_size = len(first.seal())
                if batches and size + wire_size > max_request_size:
                    break
                queue.popleft()
                first.attempts += 1
                first.in_flight = True
                size += wire_size
                batches.append(first)
            if batches:
                drained[node] = batches
        return drained

    # -- retries and expiry ------------------------------------------------------------------------
    def reenqueue(self, batch: ProducerBatch, now_ms: int) -> None:
        """Put a batch to retry at the front of its queue, in sequence order, after a backoff."""
        batch.in_flight = False
        batch.retry_at_ms = now_ms + self._backoff.backoff(batch.attempts - 1)
        queue = self._batches.setdefault(batch.tp, deque())
        if batch.base_sequence < 0:
            queue.appendleft(batch)
            return
        index = 0
        for index, queued in enumerate(queue):  # noqa: B007 - index is the insertion point
            if queued.base_sequence < 0 or queued.base_sequence > batch.base_sequence:
                break
        else:
            index = len(queue)
        queue.insert(index, batch)

    def expired_batches(self, now_ms: int) -> list[ProducerBatch]:
        """Remove and return queued batches past their delivery deadline."""
        expired: list[ProducerBatch] = []
        for queue in self._batches.values():
            if (
                queue
                and queue[0].deadline_ms <= now_ms
                or any(b.deadline_ms <= now_ms for b in queue)
            ):
                keep = [b for b in queue if b.deadline_ms > now_ms]
                expired.extend(b for b in queue if b.deadline_ms <= now_ms)
                queue.clear()
                queue.extend(keep)
        return expired

    def split_and_reenqueue(self, batch: ProducerBatch, now_ms: int) -> None:
        """Split a batch the broker found too large into halves, keeping record order."""
        (decoded,) = decode_batches(batch.seal())
        records = decoded.records
        half = max(1, len(records) // 2)
        pieces: list[ProducerBatch] = []
        for start in (0, half):
            chunk = records[start : start + half] if start == 0 else records[start:]
            if not chunk:
                continue
            piece = ProducerBatch(
                batch.tp,
                RecordBatchBuilder(
                    batch_size=max(1, self._batch_size),
                    compression=self._compression,
                    compression_level=self._level,
                ),
                batch.created_ms,
                batch.deadline_ms,
            )
            for index, record in enumerate(chunk, start):
                piece.builder.append(record.timestamp, record.key, record.value, record.headers)
                piece.futures.append(batch.futures[index])
                piece.timestamps.append(batch.timestamps[index])
            piece.reserved = batch.reserved * len(chunk) // len(records)
            piece.attempts = batch.attempts
            pieces.append(piece)
        # Hand the reservation over to the pieces.
        self._incomplete.discard(batch)
        batch.done = True
        queue = self._batches.setdefault(batch.tp, deque())
        for piece in reversed(pieces):
            self._incomplete.add(piece)
            queue.appendleft(piece)
        leftover = batch.reserved - sum(p.reserved for p in pieces)
        self._release_bytes(leftover)
        self._replace_in_flushes(batch, pieces)

    # -- settling ------------------------------------------------------------------------------------
    def deallocate(self, batch: ProducerBatch) -> None:
        """A batch is settled: give back its bytes and wake flushes that waited for it."""
        if batch not in self._incomplete:
            return
        self._incomplete.discard(batch)
        self._release_bytes(batch.reserved)
        if self._flushes:
            finished = []
            for waiter in self._flushes:
                waiter.pending.discard(batch)
                if not waiter.pending:
                    finished.append(waiter)
            for waiter in finished:
                self._flushes.remove(waiter)
                waiter.callback()

    def _release_bytes(self, nbytes: int) -> None:
        if nbytes:
            self._used -= nbytes
            self._on_space_freed()

    def _replace_in_flushes(self, old: ProducerBatch, new: list[ProducerBatch]) -> None:
        for waiter in self._flushes:
            if old in waiter.pending:
                waiter.pending.discard(old)
                waiter.pending.update(new)

    def begin_flush(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every batch incomplete now is settled; send without linger."""
        if not self._incomplete:
            callback()
            return
        self._flushes.append(_FlushWaiter(set(self._incomplete), callback))

    def close(self) -> None:
        """From now on every batch is ready at once."""
        self._closing = True

    def abort_all(self, error: ProducerError) -> None:
        """Fail every queued (not in-flight) batch with ``error``."""
        for queue in self._batches.values():
            while queue:
                batch = queue.popleft()
                self.deallocate(batch)
                batch.fail(error)

    def has_undrained(self) -> bool:
        return any(self._batches.values())

    def has_incomplete(self) -> bool:
        return bool(self._incomplete)
