"""AddPartitionsToTxn (API key 24): add partitions to a producer's ongoing transaction.

The schema has two shapes, so there are two request classes sharing one response type:

* :class:`AddPartitionsToTxnRequest`, versions 0-3, the **client** form: one transaction.
  Producers use this one; its ``MAX_VERSION`` of 3 keeps ``negotiate()`` from picking v4+.
* :class:`AddPartitionsToTxnBatchRequest`, versions 4-5, the **broker** form (KIP-890):
  several transactions at once, with ``verify_only``. Brokers send it to transaction
  coordinators (and require cluster permission); here for tooling and tests.

Both decode into :class:`AddPartitionsToTxnResponse`: one :class:`AddPartitionsToTxnResult`
per transaction, each with a flat tuple of per-partition results in wire order. v0-3
responses do not echo the transactional id, so their single result has ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version, is_flexible
from aioproducer._protocol.primitives import (
    Reader,
    write_array_length,
    write_bool,
    write_int16,
    write_int32_array,
    write_int64,
    write_string,
    write_tagged_fields,
)

__all__ = [
    "AddPartitionsToTxnBatchRequest",
    "AddPartitionsToTxnPartitionResult",
    "AddPartitionsToTxnRequest",
    "AddPartitionsToTxnResponse",
    "AddPartitionsToTxnResult",
    "AddPartitionsToTxnTransaction",
]

_FLEXIBLE_FROM = 3


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnPartitionResult:
    """The outcome for one partition."""

    topic: str
    partition: int
    error_code: int


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnResult:
    """The outcome for one transaction."""

    transactional_id: str | None
    """None in v0-3 responses, which answer the one transaction sent."""
    partitions: tuple[AddPartitionsToTxnPartitionResult, ...]


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnResponse:
    """Normalized AddPartitionsToTxn response (every version)."""

    throttle_time_ms: int
    error_code: int
    """Top-level error (v4+); 0 in v0-3, whose errors are all per partition."""
    results: tuple[AddPartitionsToTxnResult, ...]


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnTransaction:
    """One transaction of a batched (v4+) request."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    topics: Mapping[str, Sequence[int]]
    """Partition indexes to add, by topic."""
    verify_only: bool = False


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnRequest:
    """Client form (v0-3): add ``topics``' partitions to the producer's transaction."""

    API_KEY: ClassVar[int] = ApiKey.ADD_PARTITIONS_TO_TXN
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 3
    FLEXIBLE_FROM: ClassVar[int] = _FLEXIBLE_FROM

    transactional_id: str
    producer_id: int
    producer_epoch: int
    topics: Mapping[str, Sequence[int]]
    """Partition indexes to add, by topic."""

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        write_string(buf, self.transactional_id, flexible)
        write_int64(buf, self.producer_id)
        write_int16(buf, self.producer_epoch)
        _write_topics(buf, self.topics, flexible)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> AddPartitionsToTxnResponse:
        """Decode a v0-3 response body; trailing bytes are ignored."""
        check_version(cls, version)
        return _decode_response(data, version)


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnBatchRequest:
    """Broker form (v4-5): add partitions to, or verify, several transactions."""

    API_KEY: ClassVar[int] = ApiKey.ADD_PARTITIONS_TO_TXN
    MIN_VERSION: ClassVar[int] = 4
    MAX_VERSION: ClassVar[int] = 5
    FLEXIBLE_FROM: ClassVar[int] = _FLEXIBLE_FROM

    transactions: Sequence[AddPartitionsToTxnTransaction]

    def encode(self, version: int) -> bytes:
        """Encode the body (always flexible)."""
        check_version(type(self), version)
        buf = bytearray()
        write_array_length(buf, len(self.transactions), True)
        for txn in self.transactions:
            write_string(buf, txn.transactional_id, True)
            write_int64(buf, txn.producer_id)
            write_int16(buf, txn.producer_epoch)
            write_bool(buf, txn.verify_only)
            _write_topics(buf, txn.topics, True)
            write_tagged_fields(buf)
        write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> AddPartitionsToTxnResponse:
        """Decode a v4-5 response body; trailing bytes are ignored."""
        check_version(cls, version)
        return _decode_response(data, version)


def _write_topics(buf: bytearray, topics: Mapping[str, Sequence[int]], flexible: bool) -> None:
    write_array_length(buf, len(topics), flexible)
    for name, partitions in topics.items():
        write_string(buf, name, flexible)
        write_int32_array(buf, partitions, flexible)
        if flexible:
            write_tagged_fields(buf)


def _decode_response(data: memoryview, version: int) -> AddPartitionsToTxnResponse:
    flexible = version >= _FLEXIBLE_FROM
    r = Reader(data)
    throttle_time_ms = r.int32()
    if version >= 4:
        error_code = r.int16()
        results = tuple(r.array(_read_txn_result, True))
    else:
        error_code = 0
        results = (AddPartitionsToTxnResult(None, _read_topic_results(r, flexible)),)
    if flexible:
        r.skip_tagged_fields()
    return AddPartitionsToTxnResponse(throttle_time_ms, error_code, results)


def _read_txn_result(r: Reader) -> AddPartitionsToTxnResult:
    # Only in v4+, which are all flexible.
    result = AddPartitionsToTxnResult(r.string(True), _read_topic_results(r, True))
    r.skip_tagged_fields()
    return result


def _read_topic_results(r: Reader, flexible: bool) -> tuple[AddPartitionsToTxnPartitionResult, ...]:
    out: list[AddPartitionsToTxnPartitionResult] = []
    for _ in range(r.array_length(flexible)):
        topic = r.string(flexible)
        for _ in range(r.array_length(flexible)):
            out.append(AddPartitionsToTxnPartitionResult(topic, r.int32(), r.int16()))
            if flexible:
                r.skip_tagged_fields()
        if flexible:
            r.skip_tagged_fields()
    return tuple(out)
