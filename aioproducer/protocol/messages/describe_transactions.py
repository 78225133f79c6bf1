"""DescribeTransactions (API key 65), version 0 (flexible): the coordinator's view of
transactional ids (KIP-664).

A transactional producer asks the coordinator for its own id after a commit or abort in
transaction protocol version 2: while the state is ``PrepareCommit`` or ``PrepareAbort``
the markers of the transaction before are still being written, and the first Produce of
the next one would be held back by the partition leader (CONCURRENT_TRANSACTIONS, retried
by the broker every ``add.partitions.to.txn.retry.backoff.ms``). DESCRIBE on the
transactional id, implied by its WRITE, is enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer.protocol.api import ApiKey, check_version
from aioproducer.protocol.primitives import (
    Reader,
    write_array_length,
    write_string,
    write_tagged_fields,
)

__all__ = [
    "DescribeTransactionsRequest",
    "DescribeTransactionsResponse",
    "TransactionDescription",
]


@dataclass(frozen=True, slots=True)
class TransactionDescription:
    """The coordinator's state of one transactional id (partitions not kept)."""

    error_code: int
    transactional_id: str
    state: str
    """``Empty``, ``Ongoing``, ``PrepareCommit``, ``PrepareAbort``, ``CompleteCommit``,
    ``CompleteAbort``, ``PrepareEpochFence`` or ``Dead``."""
    timeout_ms: int
    start_time_ms: int
    producer_id: int
    producer_epoch: int


@dataclass(frozen=True, slots=True)
class DescribeTransactionsResponse:
    """Normalized DescribeTransactions response."""

    throttle_time_ms: int
    transactions: tuple[TransactionDescription, ...]


@dataclass(frozen=True, slots=True)
class DescribeTransactionsRequest:
    """Describe ``transactional_ids`` (sent to their transaction coordinator)."""

    API_KEY: ClassVar[int] = ApiKey.DESCRIBE_TRANSACTIONS
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 0
    FLEXIBLE_FROM: ClassVar[int] = 0

    transactional_ids: Sequence[str]

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        buf = bytearray()
        write_array_length(buf, len(self.transactional_ids), True)
        for name in self.transactional_ids:
            write_string(buf, name, True)
        write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> DescribeTransactionsResponse:
        """Decode a response body; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        throttle_time_ms = r.int32()
        return DescribeTransactionsResponse(
            throttle_time_ms, tuple(r.array(_read_transaction, True))
        )


def _read_transaction(r: Reader) -> TransactionDescription:
    error_code = r.int16()
    transactional_id, state = r.string(True), r.string(True)
    timeout_ms, start_time_ms = r.int32(), r.int64()
    producer_id, producer_epoch = r.int64(), r.int16()
    for _ in range(r.array_length(True)):  # the partitions without markers yet: not kept
        r.string(True)
        r.int32_array(True)
        r.skip_tagged_fields()
    r.skip_tagged_fields()
    return TransactionDescription(
        error_code, transactional_id, state, timeout_ms, start_time_ms, producer_id, producer_epoch
    )
