"""TxnOffsetCommit (API key 28), versions 0-5: commit consumer offsets inside a transaction.

Sent to the group coordinator after :mod:`.add_offsets_to_txn`. v2 adds each partition's
committed leader epoch (dropped below v2, as the schema marks it ignorable); v3 adds the
consumer's group metadata (generation, member id, instance id), which older versions cannot
carry, so setting it raises UnsupportedVersionError there; v3+ are flexible. v5 is v4 on
the wire: in transaction protocol version 2 it also adds the group to the transaction, so
no AddOffsetsToTxn precedes it (KIP-890); a version 1 transaction must stay at v4.

The request takes a flat list of :class:`TxnOffset` and groups it by topic on the wire
(in first-seen order); the response is a flat tuple of per-partition results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._broker_errors import UnsupportedVersionError
from aioproducer._protocol.api import ApiKey, check_version, is_flexible
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
    "TxnOffset",
    "TxnOffsetCommitPartitionResult",
    "TxnOffsetCommitRequest",
    "TxnOffsetCommitResponse",
]


@dataclass(frozen=True, slots=True)
class TxnOffset:
    """The offset to commit for one partition (the next record the group should read)."""

    topic: str
    partition: int
    offset: int
    leader_epoch: int = -1
    """Leader epoch of the last consumed record (v2+; -1 if unknown)."""
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitPartitionResult:
    """The outcome for one partition."""

    topic: str
    partition: int
    error_code: int


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitResponse:
    """Normalized TxnOffsetCommit response (every version)."""

    throttle_time_ms: int
    partitions: tuple[TxnOffsetCommitPartitionResult, ...]


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitRequest:
    """Commit ``offsets`` for ``group_id`` as part of the producer's transaction."""

    API_KEY: ClassVar[int] = ApiKey.TXN_OFFSET_COMMIT
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 5
    FLEXIBLE_FROM: ClassVar[int] = 3

    transactional_id: str
    group_id: str
    producer_id: int
    producer_epoch: int
    offsets: Sequence[TxnOffset]
    generation_id: int = -1
    """Consumer group generation (v3+)."""
    member_id: str = ""
    """Consumer group member id (v3+)."""
    group_instance_id: str | None = None
    """Static membership instance id (v3+)."""

    def encode(self, version: int) -> bytes:
        """Encode the body; raises UnsupportedVersionError for group metadata below v3."""
        check_version(type(self), version)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        write_string(buf, self.transactional_id, flexible)
        write_string(buf, self.group_id, flexible)
        write_int64(buf, self.producer_id)
        write_int16(buf, self.producer_epoch)
        if version >= 3:
            write_int32(buf, self.generation_id)
            write_string(buf, self.member_id, flexible)
            write_nullable_string(buf, self.group_instance_id, flexible)
        elif (self.generation_id, self.member_id, self.group_instance_id) != (-1, "", None):
            msg = f"TxnOffsetCommit v{version} cannot carry consumer group metadata (needs v3+)"
            raise UnsupportedVersionError(msg)
        by_topic: dict[str, list[TxnOffset]] = {}
        for item in self.offsets:
            by_topic.setdefault(item.topic, []).append(item)
        write_array_length(buf, len(by_topic), flexible)
        for topic, items in by_topic.items():
            write_string(buf, topic, flexible)
            write_array_length(buf, len(items), flexible)
            for item in items:
                write_int32(buf, item.partition)
                write_int64(buf, item.offset)
                if version >= 2:
                    write_int32(buf, item.leader_epoch)
                write_nullable_string(buf, item.metadata, flexible)
                if flexible:
                    write_tagged_fields(buf)
            if flexible:
                write_tagged_fields(buf)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> TxnOffsetCommitResponse:
        """Decode a response body of any version; trailing bytes are ignored."""
        check_version(cls, version)
        flexible = is_flexible(cls, version)
        r = Reader(data)
        throttle_time_ms = r.int32()
        results: list[TxnOffsetCommitPartitionResult] = []
        for _ in range(r.array_length(flexible)):
            topic = r.string(flexible)
            for _ in range(r.array_length(flexible)):
                results.append(TxnOffsetCommitPartitionResult(topic, r.int32(), r.int16()))
                if flexible:
                    r.skip_tagged_fields()
            if flexible:
                r.skip_tagged_fields()
        if flexible:
            r.skip_tagged_fields()
        return TxnOffsetCommitResponse(throttle_time_ms, tuple(results))
