"""The planning of :meth:`Producer.send_many <aioproducer.Producer.send_many>`: every record
checked, then grouped by partition into runs the accumulator appends a batch at a time.

Planning is synchronous and queues nothing: a bad record raises before any is queued.
Records of ``(bytes, bytes)`` placed by Java's hash (no serializers, the default
partitioner, no partition given) take one tight loop, ``plan_keyed`` (compiled when the
extension is built); every other record is checked by :class:`RecordCheck` and placed one
at a time.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

from aioproducer._metadata import TopicInfo
from aioproducer._partition_choice import appended_unkeyed, choose_partition
from aioproducer._partitioner import Partitioner, positive_murmur2
from aioproducer._record_check import RECORD_BOUND, RecordCheck
from aioproducer._speedups_status import c as _c
from aioproducer.errors import SerializationError

__all__ = ["Plan", "SendManyPlanner", "plan_keyed_py"]

_INDEX: Final = struct.Struct("=q")  # a record's index in a run (native, as memoryview 'q')

#: ``(runs, alone)``: the indices of the records of each partition (``(partition, indices)``,
#: appended as runs), and those of records with headers (appended one by one, after).
Plan = tuple[list[tuple[int, Sequence[int]]], list[int]]


def plan_keyed_py(records: list[Any], runs: list[bytearray], limit: int, start: int) -> int:
    """The Python twin of the compiled ``plan_keyed``: place records from ``start`` on that are
    (bytes, bytes) within ``limit`` by Java's hash; return where it stopped."""
    extend = [run.extend for run in runs]
    pack, partitions = _INDEX.pack, len(runs)
    for index in range(start, len(records)):
        record = records[index]
        if type(record) is not tuple or len(record) != 2:
            return index
        key, value = record
        if type(key) is not bytes or type(value) is not bytes or len(key) + len(value) > limit:
            return index
        extend[positive_murmur2(key) % partitions](pack(index))
    return len(records)


_plan_keyed: Callable[[list[Any], list[bytearray], int, int], int] = (
    plan_keyed_py if _c is None else _c.plan_keyed
)


class SendManyPlanner:
    """Checks and places the records of one ``send_many()`` call at a time (see the module)."""

    __slots__ = ("_check", "_java_partitioning", "_keys_ignored", "_log", "_partitioner")

    def __init__(
        self,
        check: RecordCheck,
        partitioner: Partitioner,
        *,
        java_partitioning: bool,
        keys_ignored: bool,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self._check = check
        self._partitioner = partitioner
        self._java_partitioning = java_partitioning  # keyed records by Java's hash
        self._keys_ignored = keys_ignored  # every record reported to on_append
        self._log = log

    def plan(
        self,
        topic: str,
        info: TopicInfo,
        partitions: int,
        records: list[Any],
        partition: int | None,
    ) -> Plan:
        """Check every record (serializing in place); return the indices per partition and
        those of records with headers (appended one by one)."""
        runs = [bytearray() for _ in range(partitions)]  # int64 indices, native order
        alone: list[int] = []
        if self._check.plain and partition is None and self._java_partitioning:
            # The common case: bytes keys and values, Java's hash, compiled or one tight loop.
            limit = self._check.max_size - RECORD_BOUND
            index = 0
            while index < len(records):
                index = _plan_keyed(records, runs, limit, index)
                if index < len(records):
                    self._place(topic, info, records, index, partition, runs, alone)
                    index += 1
        else:
            for index in range(len(records)):
                self._place(topic, info, records, index, partition, runs, alone)
        if partition is not None and not alone:
            return [(partition, range(len(records)))], []
        return [
            (number, memoryview(run).cast("q")) for number, run in enumerate(runs) if run
        ], alone

    def _place(  # noqa: PLR0917
        self,
        topic: str,
        info: TopicInfo,
        records: list[Any],
        index: int,
        partition: int | None,
        runs: list[bytearray],
        alone: list[int],
    ) -> None:
        """Check and serialize ``records[index]`` and add its index to its partition's run
        (or to ``alone`` when it has headers: the record becomes a :data:`CheckedRecord`)."""
        record = records[index]
        if not isinstance(record, tuple | list) or len(record) not in (2, 3):
            raise SerializationError(
                f"send_many() takes (key, value) or (key, value, headers) records, not {record!r}"
            )
        headers = record[2] if len(record) == 3 else None
        checked = self._check(record[0], record[1], headers, None)
        if len(record) == 3:  # with headers: appended alone, after the runs
            records[index] = checked
            alone.append(index)
            return
        key, value, _, _, size = checked
        records[index] = (key, value)
        if partition is None:
            if key is not None and self._java_partitioning:
                partition = positive_murmur2(key) % len(runs)
            else:
                partition = choose_partition(
                    self._partitioner, topic, key, value, len(runs), info.available
                )
                if key is None or self._keys_ignored:
                    appended_unkeyed(self._partitioner, topic, partition, size, True, self._log)
        runs[partition] += _INDEX.pack(index)
