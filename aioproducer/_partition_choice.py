"""How the producer asks its partitioner: the checked choice, and what it is told after.

:meth:`Producer.send <aioproducer.Producer.send>` and the planning of
:meth:`Producer.send_many <aioproducer.Producer.send_many>` place a record with a key by
Java's hash themselves when the default partitioner would (the fast rule); every other
record goes through :func:`choose_partition`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from aioproducer._accumulator import RecordAccumulator
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._partitioner import DefaultPartitioner, Partitioner, RoundRobinPartitioner
from aioproducer.errors import InvalidPartitionError

__all__ = ["appended_unkeyed", "batches_full", "choose_partition", "partitioner_for"]


def choose_partition(  # noqa: PLR0917
    partitioner: Partitioner,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    partitions: int,
    available: Sequence[int],
) -> int:
    """The partitioner's choice, checked: a partition of ``topic``, or InvalidPartitionError."""
    try:
        partition = partitioner.partition(topic, key, value, range(partitions), available)
    except Exception as exc:
        raise InvalidPartitionError(
            f"the partitioner raised {type(exc).__name__} for topic {topic!r}: {exc}"
        ) from exc
    if type(partition) is not int or not 0 <= partition < partitions:
        raise InvalidPartitionError(
            f"the partitioner returned {partition!r} for topic {topic!r}, which has "
            f"{partitions} partitions (0 to {partitions - 1})"
        )
    return partition


def partitioner_for(config: ProducerConfig) -> Partitioner:
    """The partitioner ``config`` names (None: the sticky default)."""
    if config.partitioner is None:
        return DefaultPartitioner(
            batch_size=config.batch_size, ignore_keys=config.partitioner_ignore_keys
        )
    if config.partitioner == "round_robin":
        return RoundRobinPartitioner()
    return config.partitioner


def appended_unkeyed(  # noqa: PLR0917
    partitioner: Partitioner,
    topic: str,
    partition: int,
    size: int,
    switch_allowed: bool,
    logger: logging.LoggerAdapter[logging.Logger],
) -> None:
    """Tell the partitioner of a record without a key that is queued now: what its
    ``on_append`` raises cannot unqueue the record, so it is logged instead."""
    try:
        partitioner.on_append(topic, partition, size, switch_allowed)
    except Exception:
        logger.exception("the partitioner's on_append raised; the record is queued all the same")


def batches_full(
    accumulator: RecordAccumulator, routes: Mapping[str, tuple[TopicInfo, list[TopicPartition]]]
) -> Callable[[str, int], bool]:
    """``(topic, partition) -> bool``: no batch of the partition is open for appends. Asked
    for each record placed while a switch is put off (half of them, or so): the routes'
    TopicPartitions save making one."""
    last_batch_full = accumulator.last_batch_full

    def full(topic: str, partition: int) -> bool:
        route = routes.get(topic)
        if route is not None and 0 <= partition < len(route[1]):
            return last_batch_full(route[1][partition])
        return last_batch_full(TopicPartition(topic, partition))

    return full
