"""ProducerBatch: the records of one partition travelling together, and their completions.

A batch is open while records are appended to its
:class:`~aioproducer._protocol.records.RecordBatchBuilder`, sealed into bytes once when first
drained (:meth:`ProducerBatch.seal`), and re-stamped with producer id, epoch and base
sequence (no recompression) whenever idempotence changes them. It settles each record's
completion exactly once: :class:`RecordMetadata` on success (offset = base offset + index),
or the error on failure.

There is no asyncio here: a completion is anything with ``done()``, ``cancelled()``,
``exception()``, ``set_result()`` and ``set_exception()`` (an ``asyncio.Future`` is one).
Per record the batch holds only that completion and the record's timestamp, kept in an
``array`` of int64. Records of ``Producer.send_many`` come in runs: the batch holds one
entry per run and settles the run's :class:`RecordGroup` at once.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, overload

from aioproducer._metadata import TopicPartition
from aioproducer._protocol.records import RecordBatchBuilderProtocol, set_producer_state
from aioproducer._protocol.sequence import last_sequence
from aioproducer._speedups_status import c as _c

if TYPE_CHECKING:
    import asyncio

    from aioproducer.metrics._registry import ProducerMetrics

__all__ = [
    "Completion",
    "ProducerBatch",
    "RecordGroup",
    "RecordMetadata",
    "SentRecords",
    "Stamp",
    "resolve_run_py",
    "settle_py",
    "track_py",
]

Stamp = tuple[int, int, int]
"""The producer state a built batch carries: producer id, epoch, base sequence."""

NO_SEQUENCE: Final = -1
_NO_STATE: Final = (-1, -1, -1)
_MINUS_ONE_I: Final = array("i", (-1,))
_MINUS_ONE_Q: Final = array("q", (-1,))


class RecordMetadata(NamedTuple):
    """Where a record was written."""

    topic: str
    partition: int
    offset: int
    """-1 when acks=0 or the broker reported a duplicate (it does not say where)."""
    timestamp_ms: int
    """The record's CreateTime, or the broker's LogAppendTime when the topic uses it."""


class Completion(Protocol):
    """What the batch settles for each record; ``asyncio.Future[RecordMetadata]`` fits."""

    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def set_result(self, result: RecordMetadata, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


class SentRecords(Sequence[RecordMetadata]):
    """The metadata of the records of one ``send_many`` call, in input order.

    Kept as arrays (partition, offset, timestamp per record); a :class:`RecordMetadata` is
    made only when an item is read.
    """

    __slots__ = ("offsets", "partitions", "timestamps", "topic")

    def __init__(
        self, topic: str, partitions: array[int], offsets: array[int], timestamps: array[int]
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.offsets = offsets
        self.timestamps = timestamps

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> RecordMetadata: ...
    @overload
    def __getitem__(self, index: slice) -> list[RecordMetadata]: ...
    def __getitem__(self, index: int | slice) -> RecordMetadata | list[RecordMetadata]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return RecordMetadata(
            self.topic, self.partitions[index], self.offsets[index], self.timestamps[index]
        )

    def __iter__(self) -> Iterator[RecordMetadata]:
        topic = self.topic
        for partition, offset, timestamp in zip(
            self.partitions, self.offsets, self.timestamps, strict=True
        ):
            yield RecordMetadata(topic, partition, offset, timestamp)

    def __repr__(self) -> str:
        return f"<SentRecords {self.topic} records={len(self)}>"


class RecordGroup:
    """One future for the records of a ``Producer.send_many`` call.

    The accumulator hands whole runs of the group's records to a batch
    (:meth:`ProducerBatch.add_run`); the batch settles a run at once (:meth:`resolve`).
    A record appended alone (one with headers) gets a :class:`_Slot` as its completion.
    The future resolves to :class:`SentRecords` once every record has a result and
    :meth:`close` was called, or fails with the first error.
    """

    __slots__ = ("_closed", "_pending", "future", "offsets", "partitions", "timestamps", "topic")

    def __init__(
        self, future: asyncio.Future[SentRecords], topic: str, count: int, timestamp_ms: int
    ) -> None:
        self.future = future
        self.topic = topic
        self.partitions = array("i", _MINUS_ONE_I) * count
        self.offsets = array("q", _MINUS_ONE_Q) * count
        self.timestamps = array("q", (timestamp_ms,)) * count
        self._pending = count
        self._closed = False

    def slot(self, index: int) -> _Slot:
        """The completion of record ``index`` when it is appended on its own."""
        return _Slot(self, index)

    def close(self) -> None:
        """Every record is appended (or the call failed before appending any)."""
        self._closed = True
        self._maybe_done()

    def resolve(
        self, indices: Sequence[int], partition: int, base_offset: int, log_append_time_ms: int
    ) -> None:
        """Records ``indices`` were written at ``base_offset`` on (-1: unknown)."""
        partitions, offsets, count = self.partitions, self.offsets, len(indices)
        if type(indices) is range and indices.step == 1:
            run = slice(indices.start, indices.stop)
            partitions[run] = array("i", (partition,)) * count
            if base_offset >= 0:
                offsets[run] = array("q", range(base_offset, base_offset + count))
            if log_append_time_ms >= 0:
                self.timestamps[run] = array("q", (log_append_time_ms,)) * count
        elif type(indices) is memoryview:  # send_many's int64 index runs
            _resolve_run(
                indices, partitions, offsets, self.timestamps, partition, base_offset,
                log_append_time_ms,
            )  # fmt: skip
        else:
            resolve_run_py(
                indices, partitions, offsets, self.timestamps, partition, base_offset,
                log_append_time_ms,
            )  # fmt: skip
        self._pending -= count
        self._maybe_done()

    def fail(self, error: BaseException) -> None:
        """Fail the whole group (the first error wins), marked retrieved: the caller may
        never await it."""
        if not self.future.done():
            self.future.set_exception(error)
            self.future.exception()
            _track([self.future])  # the C relay's futures are untracked until they fail

    def _set(self, index: int, metadata: RecordMetadata) -> None:
        self.partitions[index] = metadata.partition
        self.offsets[index] = metadata.offset
        self.timestamps[index] = metadata.timestamp_ms
        self._pending -= 1
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self._closed and not self._pending and not self.future.done():
            self.future.set_result(
                SentRecords(self.topic, self.partitions, self.offsets, self.timestamps)
            )


class _Slot:
    """A record's place in a :class:`RecordGroup`; satisfies :class:`Completion`."""

    __slots__ = ("_done", "group", "index")

    def __init__(self, group: RecordGroup, index: int) -> None:
        self.group = group
        self.index = index
        self._done = False

    def done(self) -> bool:
        return self._done or self.group.future.done()

    def cancelled(self) -> bool:
        return self.group.future.cancelled()

    def exception(self) -> BaseException | None:
        future = self.group.future
        if future.done() and not future.cancelled():
            return future.exception()
        return None

    def set_result(self, result: RecordMetadata, /) -> None:
        self._done = True
        self.group._set(self.index, result)

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        self.group.fail(exception)


class ProducerBatch:
    """One partition's batch, from first record to settled completions.

    Times are absolute integer milliseconds of the caller's clock. ``attempts`` counts
    re-enqueues (retries), as Java's ``ProducerBatch.attempts()`` does.
    """

    __slots__ = (
        "attempts",
        "base_sequence",
        "builder",
        "building",
        "built",
        "completions",
        "created_ms",
        "deadline_ms",
        "done",
        "flush_id",
        "in_flight",
        "last_error",
        "last_node",
        "metrics",
        "producer_epoch",
        "producer_id",
        "retry_at_ms",
        "run_records",
        "runs",
        "sequence_reset",
        "stamped",
        "timestamps",
        "tp",
    )

    def __init__(
        self,
        tp: TopicPartition,
        builder: RecordBatchBuilderProtocol,
        created_ms: int,
        deadline_ms: int,
        flush_id: int = 0,
    ) -> None:
        self.tp = tp
        self.builder = builder
        self.created_ms = created_ms
        self.deadline_ms = deadline_ms
        """``created_ms + delivery_timeout_ms``: the batch fails if not acknowledged by then."""
        self.flush_id = flush_id
        """Creation order, inherited by the pieces of a split; flush() waits by it."""
        self.completions: list[Completion | None] = []
        """One per record, by offset delta; None for a record of a run (see :meth:`add_run`)."""
        self.timestamps = array("q")
        self.runs: list[tuple[RecordGroup, int, Sequence[int]]] = []
        """Runs of ``send_many`` records: (group, first offset delta, the group's indices)."""
        self.run_records = 0
        self.attempts = 0
        self.retry_at_ms = 0
        """While ``attempts > 0``: not to be sent again before this time (retry backoff)."""
        self.last_node = -1
        """The broker the batch was last drained for (a new leader skips the backoff)."""
        self.last_error: BaseException | None = None
        self.in_flight = False
        self.done = False
        self.built: bytes | None = None
        """The sealed wire bytes (compressed once), stamped with ``stamped``."""
        self.stamped: Stamp = _NO_STATE
        self.building = False
        """Its builder is closed and being built off the event loop (:meth:`attach` next)."""
        self.producer_id = -1
        self.producer_epoch = -1
        self.base_sequence = NO_SEQUENCE
        self.sequence_reset = False
        """Its sequence was rewritten by an epoch bump (KIP-360) after it was sent."""
        self.metrics: ProducerMetrics | None = None
        """Told when the batch settles (its records counted as acknowledged or failed)."""

    def __repr__(self) -> str:
        topic, partition = self.tp
        return (
            f"<ProducerBatch {topic}-{partition} records={self.record_count} "
            f"seq={self.base_sequence} attempts={self.attempts}>"
        )

    @property
    def record_count(self) -> int:
        """Records in the batch."""
        return len(self.completions)

    @property
    def has_sequence(self) -> bool:
        """True once idempotence gave the batch a base sequence."""
        return self.base_sequence != NO_SEQUENCE

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record (wrapping past 2**31-1)."""
        return last_sequence(self.base_sequence, len(self.completions))

    @property
    def estimated_size(self) -> int:
        """Uncompressed bytes, header included; what buffer_memory is charged for."""
        return self.builder.estimated_size

    @property
    def closed(self) -> bool:
        """No more records can be appended (sealed, or split off another batch)."""
        return self.builder.closed

    def set_producer_state(self, producer_id: int, epoch: int, base_sequence: int) -> None:
        """Record the producer state the batch must carry; :meth:`seal` stamps it."""
        self.producer_id = producer_id
        self.producer_epoch = epoch
        self.base_sequence = base_sequence

    def seal(self, stamp: Stamp | None = None) -> bytes:
        """The wire bytes: built (and compressed) once, re-stamped when the state changed.

        ``stamp`` (producer id, epoch, base sequence) replaces the batch's own state: the one
        it is about to be given, so that giving it needs no re-stamp.
        """
        built = self.built
        state = (
            (self.producer_id, self.producer_epoch, self.base_sequence) if stamp is None else stamp
        )
        if built is None:
            built = self.builder.build(*state)  # stamped as built: one copy, one CRC
        elif state != self.stamped:
            built = set_producer_state(built, *state, self.builder.transactional)
        self.stamped = state
        self.built = built
        return built

    def attach(self, built: bytes, stamp: Stamp) -> None:
        """Take the bytes ``builder.build(*stamp)`` returned elsewhere (see :attr:`building`)."""
        self.built = built
        self.stamped = stamp
        self.building = False

    def add_run(self, group: RecordGroup, indices: Sequence[int], timestamp_ms: int) -> None:
        """The builder just took records ``indices`` of ``group``, all stamped ``timestamp_ms``."""
        count = len(indices)
        self.runs.append((group, len(self.completions), indices))
        self.run_records += count
        self.completions += [None] * count
        self.timestamps += array("q", (timestamp_ms,)) * count

    def detach_runs(self) -> None:
        """Give each record of a run its own completion (before the batch is split)."""
        completions = self.completions
        for group, first, indices in self.runs:
            for delta, index in enumerate(indices, first):
                completions[delta] = group.slot(index)
        self.runs = []
        self.run_records = 0

    def complete(self, base_offset: int, log_append_time_ms: int = -1) -> None:
        """Resolve every completion: offset ``base_offset + index`` (-1 if unknown)."""
        if self.done:
            return
        self.done = True
        if self.metrics is not None:
            self.metrics.batch_acknowledged(self)
        topic, partition = self.tp
        for group, first, indices in self.runs:
            group.resolve(
                indices,
                partition,
                base_offset + first if base_offset >= 0 else -1,
                log_append_time_ms,
            )
        if self.run_records == len(self.completions):
            return
        _settle(
            self.completions,
            RecordMetadata,
            topic,
            partition,
            base_offset,
            log_append_time_ms,
            self.timestamps,
        )

    def fail(self, error: BaseException) -> None:
        """Fail every record's completion with ``error`` (marked retrieved: no loop warnings)."""
        if self.done:
            return
        self.done = True
        self.last_error = error
        if self.metrics is not None:
            self.metrics.batch_failed(self)
        for group, _, _ in self.runs:
            group.fail(error)
        for completion in self.completions:
            if completion is not None and not completion.done():
                completion.set_exception(error)
                completion.exception()  # the caller may never await a fire-and-forget send
        _track(self.completions)  # the C relay's futures are untracked until they fail


def settle_py(  # noqa: PLR0917 - the compiled settle's twin, same signature
    completions: Sequence[Completion | None],
    metadata_type: type[RecordMetadata],
    topic: str,
    partition: int,
    base_offset: int,
    log_append_time_ms: int,
    timestamps: array[int],
) -> None:
    """The completions' loop of :meth:`ProducerBatch.complete` (the compiled ``settle``'s
    twin): each pending completion gets its record's metadata (offset ``base_offset +
    index``, -1 when unknown; the broker's append time, else the record's timestamp)."""
    new = tuple.__new__  # metadata_type(...) without its Python-level __new__
    for index, completion in enumerate(completions):
        if completion is not None and not completion.done():
            completion.set_result(
                new(
                    metadata_type,
                    (
                        topic,
                        partition,
                        base_offset + index if base_offset >= 0 else -1,
                        log_append_time_ms if log_append_time_ms >= 0 else timestamps[index],
                    ),
                )
            )


def resolve_run_py(  # noqa: PLR0917 - the compiled resolve_run's twin, same signature
    indices: Sequence[int],
    partitions: array[int],
    offsets: array[int],
    timestamps: array[int],
    partition: int,
    base_offset: int,
    log_append_time_ms: int,
) -> None:
    """:meth:`RecordGroup.resolve`'s loop for scattered indices (the compiled
    ``resolve_run``'s twin): the k-th index gets ``partition``, offset ``base_offset + k``
    (when known) and the broker's append time (when given)."""
    for index in indices:
        partitions[index] = partition
    if base_offset >= 0:  # else they stay -1, as made
        for offset, index in enumerate(indices, base_offset):
            offsets[index] = offset
    if log_append_time_ms >= 0:
        for index in indices:
            timestamps[index] = log_append_time_ms


def track_py(objects: list[Any], /) -> None:
    """The compiled ``track``'s twin: Python's futures are tracked from birth."""


# The compiled twins when the extension runs: chosen once, here. ``_track`` tracks failed
# futures again (the C relay's futures are untracked until they fail).
_track: Callable[[list[Any]], None] = track_py if _c is None else _c.track
_settle = settle_py if _c is None else _c.settle
_resolve_run: Callable[[memoryview, array[int], array[int], array[int], int, int, int], None] = (
    resolve_run_py if _c is None else _c.resolve_run
)
