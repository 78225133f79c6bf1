"""Choosing a partition for a record, exactly as the Java producer does.

Keyed records go to ``(murmur2(key) & 0x7fffffff) % num_partitions``, so a key lands in
the same partition whichever client produced it. Records without a key use the sticky
strategy of Java's ``BuiltInPartitioner`` (KIP-794): every topic has a current partition
that receives all of them until about ``batch_size`` bytes have been appended to it; then
a new one is drawn uniformly from the partitions whose leader is available (from all
partitions when none is known to be), weighted away from long queues of unsent batches
when given a :class:`QueueLoad` (adaptive, KIP-794). This fills whole batches instead of
scattering records, which random or round-robin choice per record would do;
:class:`RoundRobinPartitioner` does the latter for those who want it (docs/partitioning.md).

How the accumulator drives a partitioner (an explicit partition given to ``send()`` is
handled by the producer and never reaches it)::

    p = partitioner.partition(topic, key, value, partitions, available)
    ... append the record to partition p's open batch ...
    if key is None:
        partitioner.on_append(topic, p, appended_bytes, switch_allowed)

Only records without a key are reported, as in Java (every record when the partitioner
ignores keys), with the bytes the batch grew by. ``switch_allowed`` is False while p's last
batch still has room: as in Java, the sticky partition then changes only at a batch
boundary, or in any case once twice ``batch_size`` bytes have gone to it. A switch so put
off happens before the next record is placed if p's batches have filled or left meanwhile
(Java's ``partitionChanged``), when the partitioner is told how through ``batches_full``. A
custom :class:`Partitioner` that needs no feedback implements ``on_append`` as a no-op.

:func:`murmur2` is the compiled extension's (``aioproducer/_cext/encode.h``, which the compiled
send() hashes with too) when it runs, else its pure-Python twin; the choice is made once.
"""

from __future__ import annotations

import random
import struct
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Protocol

from aioproducer._speedups_status import c as _speedups
from aioproducer.errors import ConfigurationError

__all__ = [
    "DefaultPartitioner",
    "Partitioner",
    "QueueLoad",
    "RoundRobinPartitioner",
    "murmur2",
    "partition_for_key",
    "positive_murmur2",
]

_SEED = 0x9747B28C
# Java's Utils.murmur2 results, from its UtilsTest.
_JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _murmur2_py(data: bytes, _unpack: Callable[..., tuple[int, ...]] = struct.unpack_from) -> int:
    """Pure-Python murmur2: 32-bit words little-endian, signed result, Java's seed."""
    length = len(data)
    h = _SEED ^ length
    words = length >> 2
    if words:
        for word in _unpack(f"<{words}I", data):
            k = (word * 0x5BD1E995) & 0xFFFFFFFF
            # masking distributes over xor, so one mask serves both products
            h = ((h * 0x5BD1E995) ^ ((k ^ (k >> 24)) * 0x5BD1E995)) & 0xFFFFFFFF
    rest = length & 3
    if rest:
        tail = length - rest
        if rest == 3:
            h ^= data[tail + 2] << 16
        if rest >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * 0x5BD1E995) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 0x5BD1E995) & 0xFFFFFFFF
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


murmur2: Callable[[bytes], int] = _murmur2_py if _speedups is None else _speedups.murmur2
"""Java's ``Utils.murmur2(bytes)``: a signed 32-bit int."""


def positive_murmur2(key: bytes) -> int:
    """``toPositive(murmur2(key))``, the Java partitioner's hash of a key."""
    return murmur2(key) & 0x7FFFFFFF


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """The partition Java's default partitioner picks for ``key``."""
    return positive_murmur2(key) % num_partitions


class Partitioner(Protocol):
    """What the accumulator calls to place records; see the module docstring."""

    def partition(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partitions: Sequence[int],
        available: Sequence[int],
    ) -> int:
        """Return a partition id of ``topic`` (``partitions`` lists all of them)."""
        ...

    def on_append(self, topic: str, partition: int, nbytes: int, switch_allowed: bool) -> None:
        """Told after a record without a key was appended (``nbytes`` bytes)."""
        ...


class QueueLoad(Protocol):
    """Where adaptive sticky partitioning reads the load of partitions (the producer's is
    :class:`~aioproducer._partition_load.PartitionLoad`)."""

    def queue_sizes(self, topic: str, partitions: Sequence[int]) -> tuple[list[int], list[int]]:
        """Those of ``partitions`` that may be chosen, and their numbers of queued batches."""
        ...


def _weighted_choice(ids: Sequence[int], sizes: Sequence[int], rng: random.Random) -> int:
    """One of ``ids``, each weighted by ``max(sizes) + 1 - size`` (Java's cumulative
    frequency table in ``BuiltInPartitioner``): a longer queue, fewer new records."""
    top = max(sizes) + 1
    cumulative = list(accumulate(top - size for size in sizes))
    return ids[bisect_right(cumulative, rng.randrange(cumulative[-1]))]


class DefaultPartitioner:
    """murmur2 for keyed records; a sticky partition per topic for the others.

    ``batch_size`` is how many bytes go to a sticky partition before switching (Java uses
    the producer's ``batch.size``). ``rng`` may be given to make choices reproducible.
    With ``ignore_keys`` (Java's ``partitioner.ignore.keys``) keyed records are placed as
    if they had none, and must be reported to :meth:`on_append` too. Given a ``load``
    (adaptive partitioning, KIP-794), a new sticky partition is drawn with weights from the
    queue sizes it reports (see ``_weighted_choice``); else uniformly. ``batches_full``
    (``(topic, partition) -> bool``: no batch of it open for appends) lets a switch that
    ``on_append`` put off happen as soon as the sticky partition's batches are full or gone.
    """

    __slots__ = ("_batch_size", "_ignore_keys", "_rng", "_sticky", "batches_full", "load")

    def __init__(
        self,
        *,
        batch_size: int = 16384,
        rng: random.Random | None = None,
        ignore_keys: bool = False,
        load: QueueLoad | None = None,
        batches_full: Callable[[str, int], bool] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, not {batch_size}")
        self._batch_size = batch_size
        self._ignore_keys = ignore_keys
        self._rng = rng or random.Random()
        self.load = load
        self.batches_full = batches_full
        # topic -> [sticky partition, bytes appended to it since it was chosen]
        self._sticky: dict[str, list[int]] = {}

    def partition(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partitions: Sequence[int],
        available: Sequence[int],
    ) -> int:
        """Partition for a record; ``available`` are the partitions with a known leader."""
        if key is not None and not self._ignore_keys:
            return partition_for_key(key, len(partitions))
        state = self._sticky.get(topic)
        if state is not None:
            if state[1] < self._batch_size:
                return state[0]
            # a switch put off until the batch filled (Java's partitionChanged)
            full = self.batches_full
            if full is None or not full(topic, state[0]):
                return state[0]
        chosen = self._next_partition(topic, partitions, available)
        self._sticky[topic] = [chosen, 0]
        return chosen

    def _next_partition(
        self, topic: str, partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        """Java's ``nextPartition``: weighted by queue sizes when they differ or some
        partition is left out, else uniform among the available (or all) partitions."""
        if self.load is not None and available and len(partitions) > 1:
            ids, sizes = self.load.queue_sizes(topic, available)
            if ids and (len(ids) < len(available) or min(sizes) != max(sizes)):
                return _weighted_choice(ids, sizes, self._rng)
        return self._rng.choice(available or partitions)

    def on_append(
        self, topic: str, partition: int, nbytes: int, switch_allowed: bool = True
    ) -> None:
        """Count bytes appended to the sticky partition; switch after ~batch_size of them."""
        state = self._sticky.get(topic)
        if state is None or state[0] != partition:
            return  # not the sticky partition (it may have switched meanwhile)
        produced = state[1] + nbytes
        state[1] = produced
        if (switch_allowed and produced >= self._batch_size) or produced >= 2 * self._batch_size:
            del self._sticky[topic]  # the next unkeyed record draws a new partition

    def sticky_partition(self, topic: str) -> int | None:
        """The current sticky partition of ``topic``, if one is chosen."""
        state = self._sticky.get(topic)
        return None if state is None else state[0]


class RoundRobinPartitioner:
    """Each record to the next available partition of its topic in turn, keyed or not
    (Java's ``RoundRobinPartitioner``): a counter per topic indexes the available
    partitions, or all of them when none is known to be available."""

    __slots__ = ("_counters",)

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def partition(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partitions: Sequence[int],
        available: Sequence[int],
    ) -> int:
        """The next partition of ``topic`` in turn among ``available`` (else ``partitions``)."""
        turn = self._counters.get(topic, 0)
        self._counters[topic] = turn + 1
        candidates = available or partitions
        return candidates[turn % len(candidates)]

    def on_append(self, topic: str, partition: int, nbytes: int, switch_allowed: bool) -> None:
        """Nothing to learn from appends."""
