"""The fake broker's transaction coordinator: the broker's side of the transaction APIs.

Decoders of FindCoordinator, AddPartitionsToTxn (client form, v0-3), AddOffsetsToTxn,
TxnOffsetCommit, EndTxn and DescribeTransactions requests, encoders of their normalized
responses (registered in :mod:`._fake_wire`), and :class:`FakeTransactions`, the state
behind them: which partitions and groups joined each transactional id's transaction, how
each one ended, and the offsets committed. One node coordinates every transaction and group
(:attr:`FakeTransactions.coordinator`); the others answer NOT_COORDINATOR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aioproducer._protocol.api import ApiKey, Request
from aioproducer._protocol.error_codes import (
    INVALID_PRODUCER_EPOCH,
    INVALID_TXN_STATE,
    NOT_COORDINATOR,
    PRODUCER_FENCED,
)
from aioproducer._protocol.messages.add_offsets_to_txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
)
from aioproducer._protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnPartitionResult,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult,
)
from aioproducer._protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    TransactionDescription,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.find_coordinator import (
    Coordinator,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.txn_offset_commit import (
    TxnOffset,
    TxnOffsetCommitPartitionResult,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from aioproducer._protocol.primitives import (
    Reader,
    write_array_length,
    write_int16,
    write_int32,
    write_int64,
    write_nullable_string,
    write_string,
    write_tagged_fields,
)

__all__ = [
    "TXN_DECODERS",
    "TXN_SERVED",
    "FakeTransaction",
    "FakeTransactions",
    "encode_txn_response",
]


TXN_SERVED: Final[dict[int, type[Request]]] = {
    ApiKey.FIND_COORDINATOR: FindCoordinatorRequest,
    ApiKey.ADD_PARTITIONS_TO_TXN: AddPartitionsToTxnRequest,
    ApiKey.ADD_OFFSETS_TO_TXN: AddOffsetsToTxnRequest,
    ApiKey.TXN_OFFSET_COMMIT: TxnOffsetCommitRequest,
    ApiKey.END_TXN: EndTxnRequest,
    ApiKey.DESCRIBE_TRANSACTIONS: DescribeTransactionsRequest,
}


# ------------------------------------------------------------------------------ requests


def _find_coordinator(r: Reader, version: int, flexible: bool) -> FindCoordinatorRequest:
    if version <= 3:
        key = r.string(flexible)
        key_type = r.int8() if version >= 1 else 0
        keys = [key]
    else:
        key_type = r.int8()
        keys = [r.string(True) for _ in range(r.array_length(True))]
    if flexible:
        r.skip_tagged_fields()
    return FindCoordinatorRequest(keys, key_type)


def _add_partitions(r: Reader, version: int, flexible: bool) -> AddPartitionsToTxnRequest:
    tid, pid, epoch = r.string(flexible), r.int64(), r.int16()
    topics: dict[str, list[int]] = {}
    for _ in range(r.array_length(flexible)):
        name = r.string(flexible)
        topics[name] = list(r.int32_array(flexible))
        if flexible:
            r.skip_tagged_fields()
    if flexible:
        r.skip_tagged_fields()
    return AddPartitionsToTxnRequest(tid, pid, epoch, topics)


def _add_offsets(r: Reader, version: int, flexible: bool) -> AddOffsetsToTxnRequest:
    request = AddOffsetsToTxnRequest(r.string(flexible), r.int64(), r.int16(), r.string(flexible))
    if flexible:
        r.skip_tagged_fields()
    return request


def _txn_offset_commit(r: Reader, version: int, flexible: bool) -> TxnOffsetCommitRequest:
    tid, group, pid, epoch = r.string(flexible), r.string(flexible), r.int64(), r.int16()
    generation, member, instance = -1, "", None
    if version >= 3:
        generation, member, instance = r.int32(), r.string(True), r.nullable_string(True)
    offsets: list[TxnOffset] = []
    for _ in range(r.array_length(flexible)):
        topic = r.string(flexible)
        for _ in range(r.array_length(flexible)):
            partition, offset = r.int32(), r.int64()
            leader_epoch = r.int32() if version >= 2 else -1
            metadata = r.nullable_string(flexible)
            offsets.append(TxnOffset(topic, partition, offset, leader_epoch, metadata))
            if flexible:
                r.skip_tagged_fields()
        if flexible:
            r.skip_tagged_fields()
    if flexible:
        r.skip_tagged_fields()
    return TxnOffsetCommitRequest(tid, group, pid, epoch, offsets, generation, member, instance)


def _describe_transactions(r: Reader, version: int, flexible: bool) -> DescribeTransactionsRequest:
    ids = [r.string(True) for _ in range(r.array_length(True))]
    r.skip_tagged_fields()
    return DescribeTransactionsRequest(ids)


def _end_txn(r: Reader, version: int, flexible: bool) -> EndTxnRequest:
    request = EndTxnRequest(r.string(flexible), r.int64(), r.int16(), r.boolean())
    if flexible:
        r.skip_tagged_fields()
    return request


TXN_DECODERS: Final[dict[int, Callable[[Reader, int, bool], Any]]] = {
    ApiKey.FIND_COORDINATOR: _find_coordinator,
    ApiKey.ADD_PARTITIONS_TO_TXN: _add_partitions,
    ApiKey.ADD_OFFSETS_TO_TXN: _add_offsets,
    ApiKey.TXN_OFFSET_COMMIT: _txn_offset_commit,
    ApiKey.END_TXN: _end_txn,
    ApiKey.DESCRIBE_TRANSACTIONS: _describe_transactions,
}


# ----------------------------------------------------------------------------- responses


def encode_txn_response(buf: bytearray, response: object, version: int, flexible: bool) -> bool:
    """Append ``response``'s body to ``buf``; False if it is none of the transaction APIs'."""
    if isinstance(response, FindCoordinatorResponse):
        _coordinators(buf, response, version, flexible)
    elif isinstance(response, AddPartitionsToTxnResponse):
        write_int32(buf, response.throttle_time_ms)
        (result,) = response.results
        by_topic: dict[str, list[AddPartitionsToTxnPartitionResult]] = {}
        for part in result.partitions:
            by_topic.setdefault(part.topic, []).append(part)
        _per_partition(buf, by_topic, flexible)
    elif isinstance(response, TxnOffsetCommitResponse):
        write_int32(buf, response.throttle_time_ms)
        grouped: dict[str, list[TxnOffsetCommitPartitionResult]] = {}
        for item in response.partitions:
            grouped.setdefault(item.topic, []).append(item)
        _per_partition(buf, grouped, flexible)
    elif isinstance(response, DescribeTransactionsResponse):
        write_int32(buf, response.throttle_time_ms)
        write_array_length(buf, len(response.transactions), True)
        for found in response.transactions:
            write_int16(buf, found.error_code)
            write_string(buf, found.transactional_id, True)
            write_string(buf, found.state, True)
            write_int32(buf, found.timeout_ms)
            write_int64(buf, found.start_time_ms)
            write_int64(buf, found.producer_id)
            write_int16(buf, found.producer_epoch)
            write_array_length(buf, 0, True)  # the partitions: none told
            write_tagged_fields(buf)
    elif isinstance(response, AddOffsetsToTxnResponse | EndTxnResponse):
        write_int32(buf, response.throttle_time_ms)
        write_int16(buf, response.error_code)
        if isinstance(response, EndTxnResponse) and version >= 5:
            write_int64(buf, response.producer_id)
            write_int16(buf, response.producer_epoch)
    else:
        return False
    if flexible:
        write_tagged_fields(buf)
    return True


def _per_partition(
    buf: bytearray,
    by_topic: dict[str, list[AddPartitionsToTxnPartitionResult]]
    | dict[str, list[TxnOffsetCommitPartitionResult]],
    flexible: bool,
) -> None:
    write_array_length(buf, len(by_topic), flexible)
    for topic, parts in by_topic.items():
        write_string(buf, topic, flexible)
        write_array_length(buf, len(parts), flexible)
        for part in parts:
            write_int32(buf, part.partition)
            write_int16(buf, part.error_code)
            if flexible:
                write_tagged_fields(buf)
        if flexible:
            write_tagged_fields(buf)


def _coordinators(
    buf: bytearray, response: FindCoordinatorResponse, version: int, flexible: bool
) -> None:
    if version >= 1:
        write_int32(buf, response.throttle_time_ms)
    if version <= 3:
        (found,) = response.coordinators
        write_int16(buf, found.error_code)
        if version >= 1:
            write_nullable_string(buf, found.error_message, flexible)
        write_int32(buf, found.node_id)
        write_string(buf, found.host, flexible)
        write_int32(buf, found.port)
        return
    write_array_length(buf, len(response.coordinators), True)
    for found in response.coordinators:
        write_string(buf, found.key or "", True)
        write_int32(buf, found.node_id)
        write_string(buf, found.host, True)
        write_int32(buf, found.port)
        write_int16(buf, found.error_code)
        write_nullable_string(buf, found.error_message, True)
        write_tagged_fields(buf)


# --------------------------------------------------------------------------------- state


@dataclass(slots=True)
class FakeTransaction:
    """One transaction of a transactional id, as the coordinator saw it."""

    partitions: set[tuple[str, int]] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    offsets: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)
    result: bool | None = None
    """True: committed; False: aborted; None: still open."""


class FakeTransactions:
    """What the fake coordinator knows: open and ended transactions, committed offsets."""

    def __init__(self, coordinator: int, address: Callable[[int], tuple[str, int]]) -> None:
        self.coordinator = coordinator
        """The node that coordinates every transaction and group (tests may move it)."""
        self._address = address
        self.producer_ids: dict[str, int] = {}
        """The producer id given to each transactional id."""
        self.ended: list[tuple[str, FakeTransaction]] = []
        """Every transaction ended, in order: (transactional id, the transaction)."""
        self.open: dict[str, FakeTransaction] = {}
        self.committed_offsets: dict[str, dict[tuple[str, int], int]] = {}
        """Offsets committed by committed transactions, per group."""
        self.markers_describes = 0
        """How many DescribeTransactions after each EndTxn say PrepareCommit (PrepareAbort):
        the markers being written (tests set it; 0: written at once)."""
        self._preparing: dict[str, int] = {}

    def add(self, transactional_id: str, topic: str, partition: int) -> None:
        """Add the partition to the transaction (transaction version 2: Produce does it)."""
        self.open.setdefault(transactional_id, FakeTransaction()).partitions.add((topic, partition))

    def added(self, transactional_id: str | None, topic: str, partition: int) -> bool:
        """The partition joined ``transactional_id``'s open transaction."""
        txn = self.open.get(transactional_id or "")
        return txn is not None and (topic, partition) in txn.partitions

    def handle(
        self,
        node_id: int,
        request: object,
        version: int,
        error: int,
        current_epoch: Callable[[int], int],
    ) -> object:
        """The response to a transaction API request (``error``: a scripted error code)."""
        if isinstance(request, FindCoordinatorRequest):
            host, port = self._address(self.coordinator)
            return FindCoordinatorResponse(
                0,
                tuple(
                    Coordinator(key if version >= 4 else None, self.coordinator, host, port, error)
                    for key in request.keys
                ),
            )
        if not error and node_id != self.coordinator:
            error = NOT_COORDINATOR
        if isinstance(request, DescribeTransactionsRequest):
            return DescribeTransactionsResponse(
                0, tuple(self._describe(tid, error) for tid in request.transactional_ids)
            )
        if not error and isinstance(
            request, AddPartitionsToTxnRequest | AddOffsetsToTxnRequest | EndTxnRequest
        ):
            epoch = current_epoch(request.producer_id)
            if request.producer_epoch < epoch:
                error = PRODUCER_FENCED if version >= 2 else INVALID_PRODUCER_EPOCH
        if isinstance(request, AddPartitionsToTxnRequest):
            txn = self.open.setdefault(request.transactional_id, FakeTransaction())
            parts = []
            for topic, partitions in request.topics.items():
                for partition in partitions:
                    if not error:
                        txn.partitions.add((topic, partition))
                    parts.append(AddPartitionsToTxnPartitionResult(topic, partition, error))
            return AddPartitionsToTxnResponse(0, 0, (AddPartitionsToTxnResult(None, tuple(parts)),))
        if isinstance(request, AddOffsetsToTxnRequest):
            if not error:
                txn = self.open.setdefault(request.transactional_id, FakeTransaction())
                txn.groups.add(request.group_id)
            return AddOffsetsToTxnResponse(0, error)
        if isinstance(request, TxnOffsetCommitRequest):
            if version >= 5 and not error:  # adds the group itself (KIP-890)
                txn = self.open.setdefault(request.transactional_id, FakeTransaction())
                txn.groups.add(request.group_id)
            found = self.open.get(request.transactional_id)
            if found is not None and not error:
                pending = found.offsets.setdefault(request.group_id, {})
                for item in request.offsets:
                    pending[(item.topic, item.partition)] = item.offset
            return TxnOffsetCommitResponse(
                0,
                tuple(
                    TxnOffsetCommitPartitionResult(o.topic, o.partition, error)
                    for o in request.offsets
                ),
            )
        assert isinstance(request, EndTxnRequest)
        if not error and request.transactional_id not in self.open:
            if version >= 5 and not request.committed:
                return EndTxnResponse(0, 0)  # version 2 aborts what never reached us (KIP-890)
            # a retry of the last end (answered alike), or an end with nothing begun
            last = self._last_ended(request.transactional_id)
            if last is None or last.result is not request.committed:
                error = INVALID_TXN_STATE
            return EndTxnResponse(0, error)
        if not error:
            txn = self.open.pop(request.transactional_id)
            txn.result = request.committed
            self.ended.append((request.transactional_id, txn))
            self._preparing[request.transactional_id] = self.markers_describes
            if request.committed:
                for group, offsets in txn.offsets.items():
                    self.committed_offsets.setdefault(group, {}).update(offsets)
        return EndTxnResponse(0, error)

    def _describe(self, transactional_id: str, error: int) -> TransactionDescription:
        """DescribeTransactions' answer for one id (its producer id and epoch left out)."""
        last = self._last_ended(transactional_id)
        if error:
            state = ""
        elif transactional_id in self.open:
            state = "Ongoing"
        elif last is None:
            state = "Empty"
        else:
            left = self._preparing.get(transactional_id, 0)
            self._preparing[transactional_id] = max(left - 1, 0)
            done = "Prepare" if left else "Complete"
            state = done + ("Commit" if last.result else "Abort")
        return TransactionDescription(error, transactional_id, state, 60000, -1, -1, -1, ())

    def _last_ended(self, transactional_id: str) -> FakeTransaction | None:
        """The last transaction of ``transactional_id`` that ended, if any."""
        return next((t for tid, t in reversed(self.ended) if tid == transactional_id), None)
