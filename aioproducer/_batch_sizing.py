"""BatchSizing: how many bytes each new batch of a partition may hold.

With ``batch_size`` left at its default, a partition's batches grow while records arrive
faster than the sender takes them: a batch that opens behind a queued one (the one before
filled up before it could leave: a backlog) opens with :data:`GROWTH` times the partition's
capacity, up to :attr:`BatchSizing.ceiling` (``max_request_size``, and a quarter of
``buffer_memory``). Whatever holds the sender back (a full window of in-flight requests,
connections still opening, the producer id still awaited) builds that backlog; a backlog
at the start of a run is measured in tens of MiB, so growth does not wait for a sign from
the sender. A batch drained less than half full, with nothing queued behind it and its
leader's window not found full since the partition's last drain, halves the capacity
again, down to ``batch_size`` (a batch drained early because memory ran short or a flush
began says nothing of the rate). A low rate never builds a backlog, so its batches stay
at ``batch_size``; an explicit ``batch_size`` is a hard cap (the ceiling is ``batch_size``).

Growth is decided when a batch opens, not when one is drained: a producer that outpaces
the brokers has queued many batches by the time the first is drained, and batches keep the
capacity they opened with.

A plain object, no loop or clock: the accumulator asks :meth:`~BatchSizing.capacity` when
it opens a batch (the batch's builder keeps that capacity, which every append path
honours) and reports each drained batch to :meth:`~BatchSizing.drained`; the sender reports
the brokers whose window it found full with :meth:`~BatchSizing.windows_full`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition

__all__ = ["GROWTH", "BatchSizing"]

GROWTH: Final = 4
"""A batch opened behind a queued one has this many times its partition's capacity: from
16 KiB, 1 MiB is three batches away."""

_BUFFER_SHARE: Final = 4
"""A batch grows to at most this fraction (1/n) of ``buffer_memory``."""


class BatchSizing:
    """Each partition's batch capacity, between ``base`` and ``ceiling`` bytes."""

    __slots__ = ("_capacity", "_full_passes", "_seen", "base", "ceiling")

    def __init__(self, base: int, ceiling: int) -> None:
        self.base = base
        self.ceiling = max(base, ceiling)
        """The largest capacity; equal to ``base``: batches never grow."""
        self._capacity: dict[TopicPartition, int] = {}
        self._full_passes: dict[int, int] = {}
        """Per broker: how many passes found its window full (a running count)."""
        self._seen: dict[TopicPartition, int] = {}
        """Per partition: its leader's count at the partition's last drain."""

    @classmethod
    def for_config(cls, config: ProducerConfig) -> BatchSizing:
        """Growing only when ``batch_size`` was left at its default."""
        base = config.batch_size
        if not config.adaptive_batch_size:
            return cls(base, base)
        return cls(base, min(config.max_request_size, config.buffer_memory // _BUFFER_SHARE))

    @property
    def adaptive(self) -> bool:
        """Batches may grow beyond ``base``."""
        return self.ceiling > self.base

    def capacity(self, tp: TopicPartition, behind: bool = False) -> int:
        """Bytes (uncompressed, header included) the batch of ``tp`` opening now may hold;
        ``behind``: it opens behind queued batches of ``tp``."""
        current = self._capacity.get(tp, self.base)
        if behind and current < self.ceiling:
            current = self._capacity[tp] = min(self.ceiling, current * GROWTH)
        return current

    def windows_full(self, nodes: Collection[int]) -> None:
        """The sender's pass found these brokers with ready batches and a full window (their
        partitions' batches do not shrink until drained again)."""
        if self.ceiling > self.base and nodes:
            counts = self._full_passes
            for node in nodes:
                counts[node] = counts.get(node, 0) + 1

    def drained(
        self, tp: TopicPartition, node: int, size: int, capacity: int, backlog: bool
    ) -> None:
        """A batch of ``tp`` of ``size`` bytes, opened with ``capacity``, leaves for
        ``node``; ``backlog``: more batches of ``tp`` are queued behind it."""
        passes = self._full_passes.get(node, 0)
        pressed = self._seen.get(tp, 0) != passes  # its window was full meanwhile
        self._seen[tp] = passes
        current = self._capacity.get(tp)
        if current is None or backlog or pressed or size >= capacity // 2:
            return
        smaller = max(self.base, current // 2)
        if smaller == self.base:
            del self._capacity[tp]
        else:
            self._capacity[tp] = smaller
