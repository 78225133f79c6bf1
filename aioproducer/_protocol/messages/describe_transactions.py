"""DescribeTransactions (API key 65), version 0 (flexible): the state of transactional ids.

An admin API (KIP-664) answered by each id's transaction coordinator. A transactional
producer asks about its own id (DESCRIBE on it, which WRITE implies) to learn when the
markers of the transaction it just ended are written: see ``_transactions``.
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
    """One transactional id's state at its coordinator, or the error explaining why not."""

    error_code: int
    transactional_id: str
    state: str
    """``Empty``, ``Ongoing``, ``PrepareCommit``, ``PrepareAbort``, ``CompleteCommit``,
    ``CompleteAbort``, ``Dead`` or ``PrepareEpochFence``."""
    timeout_ms: int
    start_time_ms: int
    producer_id: int
    producer_epoch: int
    topics: tuple[tuple[str, tuple[int, ...]], ...]
    """The partitions in the transaction; while it prepares to end, those still without
    their marker."""


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
        states = tuple(r.array(_read_state, True))
        r.skip_tagged_fields()
        return DescribeTransactionsResponse(throttle_time_ms, states)


def _read_state(r: Reader) -> TransactionDescription:
    found = TransactionDescription(
        r.int16(),  # error code
        r.string(True),  # transactional id
        r.string(True),  # state
        r.int32(),  # timeout ms
        r.int64(),  # start time ms
        r.int64(),  # producer id
        r.int16(),  # producer epoch
        tuple(r.array(_read_topic, True)),
    )
    r.skip_tagged_fields()
    return found


def _read_topic(r: Reader) -> tuple[str, tuple[int, ...]]:
    topic = (r.string(True), r.int32_array(True))
    r.skip_tagged_fields()
    return topic
