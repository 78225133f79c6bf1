"""DescribeTransactions (API key 65), version 0 (flexible): transactions' states (KIP-664).

Sent to a transactional id's coordinator. A transactional producer asks it for its own id
(DESCRIBE on the id, which WRITE implies) to learn when the previous transaction's markers
are written: the coordinator says PrepareCommit or PrepareAbort until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
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
    """The state of one transactional id, or the error explaining why not."""

    error_code: int
    transactional_id: str
    state: str
    """The coordinator's name: Empty, Ongoing, PrepareCommit, CompleteCommit, ..."""
    timeout_ms: int
    start_time_ms: int
    producer_id: int
    producer_epoch: int
    partitions: tuple[tuple[str, tuple[int, ...]], ...]
    """The transaction's partitions (while preparing: those without their marker yet)."""


@dataclass(frozen=True, slots=True)
class DescribeTransactionsResponse:
    """Normalized DescribeTransactions response."""

    throttle_time_ms: int
    transactions: tuple[TransactionDescription, ...]


@dataclass(frozen=True, slots=True)
class DescribeTransactionsRequest:
    """Describe the transactions of ``transactional_ids``."""

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
        for transactional_id in self.transactional_ids:
            write_string(buf, transactional_id, True)
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
        transactions = tuple(r.array(_read_transaction, True))
        r.skip_tagged_fields()
        return DescribeTransactionsResponse(throttle_time_ms, transactions)


def _read_topic(r: Reader) -> tuple[str, tuple[int, ...]]:
    topic = (r.string(True), r.int32_array(True))
    r.skip_tagged_fields()
    return topic


def _read_transaction(r: Reader) -> TransactionDescription:
    error_code, transactional_id, state = r.int16(), r.string(True), r.string(True)
    timeout_ms, start_time_ms = r.int32(), r.int64()
    producer_id, producer_epoch = r.int64(), r.int16()
    partitions = tuple(r.array(_read_topic, True))
    r.skip_tagged_fields()
    return TransactionDescription(
        error_code,
        transactional_id,
        state,
        timeout_ms,
        start_time_ms,
        producer_id,
        producer_epoch,
        partitions,
    )
