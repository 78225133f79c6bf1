"""What adaptive sticky partitioning reads (KIP-794, Java's ``RecordAccumulator.partitionReady``).

:class:`PartitionLoad` answers, when the sticky partitioner draws a new partition, how many
batches wait in each candidate partition's queue (a slow broker's queues grow), and leaves
out the partitions whose leader has had batches ready but taken none for more than
``availability_timeout_ms`` (Java's ``partitioner.availability.timeout.ms``; 0 = never).
The sender reports each broker it found with ready batches, and whether it could send to
it, through :meth:`PartitionLoad.node_polled` (Java's ``updateNodeLatencyStats``). Reading
is on demand, once per sticky switch, so nothing is added per record or per drain pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aioproducer._accumulator import LeaderLookup
from aioproducer._metadata import TopicPartition

__all__ = ["PartitionLoad"]


class PartitionLoad:
    """Queue sizes per partition and the brokers that stopped taking batches."""

    __slots__ = ("_leaders", "_nodes", "_queue_length", "availability_timeout_ms")

    def __init__(
        self,
        queue_length: Callable[[TopicPartition], int | None],
        leaders: LeaderLookup,
        availability_timeout_ms: int = 0,
    ) -> None:
        self._queue_length = queue_length
        """A partition's number of queued batches, None before its first
        (``RecordAccumulator.queue_length``)."""
        self._leaders = leaders
        self.availability_timeout_ms = availability_timeout_ms
        # node -> [last time it had batches ready, last time it could take them]
        self._nodes: dict[int, list[int]] = {}

    def node_polled(self, node: int, now_ms: int, can_drain: bool) -> None:
        """``node`` leads partitions with ready batches; the sender could send to it or not."""
        stats = self._nodes.get(node)
        if stats is None:
            self._nodes[node] = [now_ms, now_ms]
        else:
            stats[0] = now_ms
            if can_drain:
                stats[1] = now_ms

    def queue_sizes(self, topic: str, partitions: Sequence[int]) -> tuple[list[int], list[int]]:
        """The ``partitions`` still available and their numbers of queued batches.

        All of them, with equal sizes, until each has had a batch (Java's rule: until then
        its accumulator knows nothing of the others). Otherwise a partition is left out when
        it has batches queued and its leader has taken none for more than
        ``availability_timeout_ms`` while it had some ready, as in Java.
        """
        queue_length, timeout = self._queue_length, self.availability_timeout_ms
        ids: list[int] = []
        sizes: list[int] = []
        for partition in partitions:
            size = queue_length(TopicPartition(topic, partition))
            if size is None:
                return list(partitions), [0] * len(partitions)
            if size and timeout > 0:
                stats = self._nodes.get(self._leaders.leader(topic, partition))
                if stats is not None and stats[0] - stats[1] > timeout:
                    continue
            ids.append(partition)
            sizes.append(size)
        return ids, sizes
