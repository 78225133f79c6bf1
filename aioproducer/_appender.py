"""The per-partition append: the one step every record sent takes, and the bytes it charges.

:class:`Appender` is the base of :class:`~aioproducer._buffer_memory.BufferMemory` (and so
of :class:`~aioproducer._accumulator.RecordAccumulator`). It owns the counters of
buffer_memory (``_used``: bytes held by batches; ``_reserved`` and ``_queued``: the line's
grants and waiters, which BufferMemory keeps), ``_closed``, the queues of batches per
partition (``_batches``), :meth:`~AppenderProtocol.has_room` and
:meth:`~AppenderProtocol.append`: a record goes into its partition's open batch, or through
the accumulator's ``_append_new`` into a new one.

Two twins implement :class:`AppenderProtocol`: the compiled ``aioproducer._caccumulate``
(Cython), whose C API the fast send() (``_cext/fastsend.c``) calls, and :class:`AppenderPy`, the
reference. The choice is made once, at the end of this module.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from enum import IntFlag
from typing import TYPE_CHECKING, Final, Protocol, cast

from aioproducer._speedups_status import compiled
from aioproducer.errors import ProducerClosedError

if TYPE_CHECKING:
    from aioproducer._batch import Completion, ProducerBatch
    from aioproducer._metadata import TopicPartition
    from aioproducer._protocol.records import Header

__all__ = ["AppendResult", "Appender", "AppenderProtocol", "AppenderPy"]


class AppendResult(IntFlag):
    """What :meth:`AppenderProtocol.append` did; constants, so no object per record."""

    APPENDED = 0
    NEW_BATCH = 1
    BATCH_FULL = 2

    @property
    def new_batch(self) -> bool:
        """The record opened a new batch."""
        return bool(int(self) & 1)  # plain int arithmetic: Flag's own & is slow

    @property
    def batch_is_full(self) -> bool:
        """A batch of the partition is full: the sender has something to send."""
        return bool(int(self) & 2)


_APPENDED: Final = AppendResult.APPENDED
_FULL: Final = AppendResult.BATCH_FULL


class AppenderProtocol(Protocol):
    """What both twins are: the counters, the queues and the append of one record."""

    _buffer_memory: int
    _used: int
    """Bytes held by incomplete batches (uncompressed size, headers included)."""
    _reserved: int
    """Bytes granted to waiters that have not left the line yet."""
    _queued: int
    """Waiters in line, not yet granted (the line may also hold some that left)."""
    _closed: bool
    _batches: dict[TopicPartition, deque[ProducerBatch]]

    def has_room(self, nbytes: int, held: int = 0) -> bool:
        """True if ``nbytes`` may be taken now: nobody is in line and they fit beside the
        bytes in use and those granted. ``held``: the caller's own grant
        (``MemoryWaiter.held``), which it may use whoever waits."""
        ...

    def append(  # noqa: PLR0917 - the hot path: positional calls are cheapest
        self,
        tp: TopicPartition,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        completion: Completion,
        now_ms: int = -1,
    ) -> AppendResult:
        """Append one record to ``tp``'s open batch, or to a new one; never waits.

        ``now_ms`` (creation time of a new batch) defaults to the accumulator's clock, read
        only when a batch is opened. Charges the record's encoded bytes to buffer_memory;
        check :meth:`has_room` first.
        """
        ...


class AppenderPy:
    """The per-partition append in Python (see :class:`AppenderProtocol`)."""

    _append_new: Callable[..., AppendResult]
    """Open a batch of ``tp`` with the record: ``(tp, queue or None, timestamp_ms, key,
    value, headers, completion, now_ms)``, ``now_ms`` -1 for the accumulator's clock. The
    accumulator's (:meth:`RecordAccumulator._append_new`)."""

    def __init__(self, buffer_memory: int) -> None:
        self._buffer_memory = buffer_memory
        self._used = 0
        self._reserved = 0
        self._queued = 0
        self._closed = False
        self._batches: dict[TopicPartition, deque[ProducerBatch]] = {}

    def has_room(self, nbytes: int, held: int = 0) -> bool:
        """See :meth:`AppenderProtocol.has_room`."""
        if self._queued and not held:
            return False
        return self._used + self._reserved - held + nbytes <= self._buffer_memory

    def append(  # noqa: PLR0917 - the hot path: positional calls are cheapest
        self,
        tp: TopicPartition,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        completion: Completion,
        now_ms: int = -1,
    ) -> AppendResult:
        """See :meth:`AppenderProtocol.append`."""
        if self._closed:
            raise ProducerClosedError("the accumulator is closed")
        queue = self._batches.get(tp)
        if queue:
            batch = queue[-1]
            builder = batch.builder
            before = builder.estimated_size
            # The builder's append is the one step that can refuse or fail, and it changes
            # nothing when it does: what must match it comes after.
            if builder.append(timestamp_ms, key, value, headers) is not None:
                size = builder.estimated_size
                self._used += size - before
                batch.completions.append(completion)
                batch.timestamps.append(timestamp_ms)
                if size >= builder.batch_size or len(queue) > 1:
                    return _FULL
                return _APPENDED
        return self._append_new(tp, queue, timestamp_ms, key, value, headers, completion, now_ms)


def _compiled_appender() -> type[AppenderPy] | None:
    module = compiled("aioproducer._caccumulate")
    return None if module is None else cast(type[AppenderPy], module.Appender)


_TWINS_AGREE: type[AppenderProtocol] = AppenderPy

if TYPE_CHECKING:  # the base class of BufferMemory: one class to mypy, the twin
    Appender = AppenderPy
else:
    Appender = _compiled_appender() or AppenderPy
    """The per-partition append in use: the compiled one, else :class:`AppenderPy`."""
