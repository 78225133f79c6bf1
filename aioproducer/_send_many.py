""":meth:`Producer.send_many <aioproducer.Producer.send_many>` (the method delegates here):
every record checked, then grouped by partition into runs (the plan), which the accumulator
appends a batch at a time, waiting for buffer space between them.

Planning is synchronous and queues nothing: a bad record raises before any is queued.
Records of ``(bytes, bytes)`` placed by Java's hash (no serializers, the default
partitioner, no partition given) take one tight loop, ``plan_keyed`` (compiled when the
extension is built); every other record is checked by :class:`RecordCheck` and placed one
at a time.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from aioproducer._batch import RecordGroup, SentRecords
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._partition_choice import appended_unkeyed, choose_partition
from aioproducer._partitioner import Partitioner, positive_murmur2
from aioproducer._producer_callbacks import delivery
from aioproducer._producer_state import ProducerState
from aioproducer._protocol.records import Header
from aioproducer._record_check import RECORD_BOUND, RecordCheck, check_topic, raise_bad_partition
from aioproducer._speedups_status import c as _c
from aioproducer._transactions import TransactionState
from aioproducer.errors import BufferFullError, ProducerClosedError, SerializationError

if TYPE_CHECKING:
    from aioproducer._producer import Producer

__all__ = ["Plan", "SendManyPlanner", "plan_keyed_py", "send_many"]

_RUNNING: Final = ProducerState.RUNNING
_IN_TRANSACTION: Final = TransactionState.IN_TRANSACTION
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


async def send_many(
    producer: Producer,
    topic: str,
    records: Iterable[tuple[object, object] | tuple[object, object, Sequence[Header]]],
    partition: int | None,
    on_delivery: Callable[[SentRecords | None, BaseException | None], object] | None,
) -> asyncio.Future[SentRecords]:
    """:meth:`Producer.send_many <aioproducer.Producer.send_many>`: check, plan, queue."""
    if producer._state is not _RUNNING or not producer._in_loop():
        raise producer._unusable("send_many()")
    if producer._txn is not None and producer._txn.state is not _IN_TRANSACTION:
        raise producer._txn.send_error("send_many()")
    callback = None if on_delivery is None else delivery(on_delivery, producer._log)
    if type(topic) is not str:
        check_topic(topic)  # raises InvalidTopicNameError
    if not isinstance(records, Iterable):
        raise SerializationError(
            f"send_many() takes an iterable of records, not {type(records).__name__}"
        )
    records = list(records)
    route = producer._routes.get(topic)
    if route is None or producer._topics.get(topic) is not route[0]:
        route = await producer._route(topic)
    info, tps = route
    if partition is not None and (type(partition) is not int or not 0 <= partition < len(tps)):
        raise_bad_partition(topic, partition, len(tps))
    timestamp_ms = time.time_ns() // 1_000_000
    plan = producer._planner.plan(topic, info, len(tps), records, partition)
    group = RecordGroup(producer._create_future(), topic, len(records), timestamp_ms)
    if callback is not None:
        group.future.add_done_callback(callback)
    filled = await _queue_planned(
        producer, topic, tps, partition, timestamp_ms, records, plan, group
    )
    group.close()
    if filled:
        producer._wakeup()
        await asyncio.sleep(0)  # let the sender write what filled up
    return group.future


async def _queue_planned(  # noqa: PLR0917
    producer: Producer,
    topic: str,
    tps: list[TopicPartition],
    partition: int | None,
    timestamp_ms: int,
    records: list[Any],
    plan: Plan,
    group: RecordGroup,
) -> bool:
    """Append the checked records of ``send_many``: each partition's run, then those
    with headers one by one, waiting for buffer space (max_block_ms per wait). Returns
    whether a batch filled up. An error while waiting says how many went in before."""
    accumulator = producer._accumulator
    assert accumulator is not None
    runs, alone = plan
    filled, queued = False, 0
    try:
        for number, run in runs:
            indices = run
            tp, first = tps[number], False
            done, full = accumulator.append_run(tp, timestamp_ms, records, indices, group)
            while True:
                filled |= full
                queued += done
                indices = indices[done:]
                if not indices:
                    break
                if full:
                    producer._wakeup()
                deadline = time.monotonic() + producer.config.max_block_ms / 1000
                size = accumulator.batch_bytes
                waiter = await producer._wait_for_space(size, deadline, first, "send_many()")
                try:
                    held = waiter.held
                    done, full = accumulator.append_run(
                        tp, timestamp_ms, records, indices, group, held=held
                    )
                finally:
                    accumulator.leave(waiter)
                first = held > 0 and not done  # the grant was not enough: keep the turn
        for index in alone:
            key, value, headers, _, size = records[index]  # a CheckedRecord
            record = (key, value, headers, timestamp_ms, size)
            slot = group.slot(index)
            need = producer._enqueue(topic, record, partition, slot)
            if need:
                await producer._enqueue_slowly(need, topic, record, partition, slot)
            queued += 1
    except (BufferFullError, ProducerClosedError) as exc:
        raise type(exc)(
            f"{exc}; {queued} of the {len(records)} records went in before and are still delivered"
        ) from exc
    return filled
