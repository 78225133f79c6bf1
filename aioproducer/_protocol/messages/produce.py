"""Produce (key 0), versions 3-13 (record batch v2; Kafka 4 brokers dropped 0-2).

Each partition's records are already-encoded record batches (``bytes``, or None); the request
is written into one ``bytearray`` with the batches appended as they are. v12 has v11's schema
(KIP-890 part 2: in a transaction it also adds the partition to it); from v13 (Kafka 4.1) each
topic is named by its id (KIP-516), given by ``ProduceRequest.topic_ids``, and responses carry
ids instead of names (``ProduceTopicResponse.topic_id``).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
    INT16,
    INT32,
    ZERO_UUID,
    Reader,
    write_nullable_bytes,
    write_nullable_string,
    write_string,
    write_unsigned_varint,
    write_uuid,
)

__all__ = [
    "TOPIC_IDS_FROM",
    "LeaderIdAndEpoch",
    "NodeEndpoint",
    "PartitionData",
    "ProducePartitionResponse",
    "ProduceRequest",
    "ProduceResponse",
    "ProduceTopicResponse",
    "RecordError",
    "TopicData",
]

PartitionData = tuple[int, bytes | bytearray | memoryview | None]
"""``(partition index, encoded record batches or None)``."""
TopicData = tuple[str, Sequence[PartitionData]]
"""``(topic name, partitions)``."""

TOPIC_IDS_FROM = 13
"""The first version that names topics by id, not by name."""

_pack_int16 = INT16.pack
_pack_int32 = INT32.pack
_NULL_INT32 = _pack_int32(-1)


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that caused its batch to be dropped (v8+)."""

    batch_index: int
    message: str | None


@dataclass(frozen=True, slots=True)
class LeaderIdAndEpoch:
    """The partition's current leader, sent with NOT_LEADER errors (v10+, KIP-951)."""

    leader_id: int
    leader_epoch: int


@dataclass(frozen=True, slots=True)
class NodeEndpoint:
    """A broker endpoint for the leaders named in CurrentLeader (v10+)."""

    node_id: int
    host: str
    port: int
    rack: str | None


@dataclass(slots=True)  # not frozen: one per partition per response; frozen costs 4x to build
class ProducePartitionResponse:
    """The result of writing one partition's batches."""

    index: int
    error_code: int
    base_offset: int
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    record_errors: tuple[RecordError, ...] = ()
    error_message: str | None = None
    current_leader: LeaderIdAndEpoch | None = None


@dataclass(frozen=True, slots=True)
class ProduceTopicResponse:
    """The results for one topic: named by ``name`` before v13, by ``topic_id`` from v13
    (``name`` is then empty)."""

    name: str
    partitions: tuple[ProducePartitionResponse, ...]
    topic_id: uuid.UUID = ZERO_UUID


@dataclass(frozen=True, slots=True)
class ProduceResponse:
    """Normalized Produce response, whatever the version."""

    topics: tuple[ProduceTopicResponse, ...]
    throttle_time_ms: int = 0
    node_endpoints: tuple[NodeEndpoint, ...] = ()

    def iter_partitions(self) -> Iterator[tuple[str, ProducePartitionResponse]]:
        """Every ``(topic name, partition response)`` pair, in response order (the name is
        empty from v13: see ``ProduceTopicResponse.topic_id``)."""
        for topic in self.topics:
            for partition in topic.partitions:
                yield topic.name, partition


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """Produce request; ``acks=0`` requests get no response from the broker.

    ``topic_ids`` (needed from v13 only) holds each topic's id, in ``topic_data``'s order;
    v13 writes the ids and not the names.
    """

    API_KEY: ClassVar[int] = ApiKey.PRODUCE
    MIN_VERSION: ClassVar[int] = 3
    MAX_VERSION: ClassVar[int] = 13
    FLEXIBLE_FROM: ClassVar[int] = 9

    acks: int
    timeout_ms: int
    topic_data: Sequence[TopicData]
    transactional_id: str | None = None
    topic_ids: Sequence[uuid.UUID] = ()

    def encode(self, version: int) -> bytes:
        """Encode the request body."""
        buf = bytearray()
        self.encode_into(buf, version)
        return bytes(buf)

    def encode_into(self, buf: bytearray, version: int) -> None:
        """Append the request body to ``buf`` (no intermediate copies of the batches)."""
        check_version(ProduceRequest, version)
        if version >= 9:
            self._encode_flexible(buf, version >= TOPIC_IDS_FROM)
            return
        write_nullable_string(buf, self.transactional_id)
        buf += _pack_int16(self.acks)
        buf += _pack_int32(self.timeout_ms)
        buf += _pack_int32(len(self.topic_data))
        for name, partitions in self.topic_data:
            write_string(buf, name)
            buf += _pack_int32(len(partitions))
            for index, records in partitions:
                buf += _pack_int32(index)
                if records is None:
                    buf += _NULL_INT32
                else:
                    buf += _pack_int32(len(records))
                    buf += records

    def _encode_flexible(self, buf: bytearray, by_id: bool) -> None:
        ids = self.topic_ids
        if by_id and (len(ids) != len(self.topic_data) or ZERO_UUID in ids):
            raise ValueError("Produce v13+ needs the (non-zero) id of every topic")
        write_nullable_string(buf, self.transactional_id, True)
        buf += _pack_int16(self.acks)
        buf += _pack_int32(self.timeout_ms)
        write_unsigned_varint(buf, len(self.topic_data) + 1)
        for i, (name, partitions) in enumerate(self.topic_data):
            if by_id:
                write_uuid(buf, ids[i])
            else:
                write_string(buf, name, True)
            write_unsigned_varint(buf, len(partitions) + 1)
            for index, records in partitions:
                buf += _pack_int32(index)
                write_nullable_bytes(buf, records, True)
                buf.append(0)
            buf.append(0)
        buf.append(0)

    def expects_response(self) -> bool:
        """False for acks=0: the broker sends nothing back."""
        return self.acks != 0

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> ProduceResponse:
        """Decode a response body of the given version."""
        check_version(cls, version)
        r = Reader(data)
        flexible = version >= 9
        topics = tuple(_topic(r, version, flexible) for _ in range(r.array_length(flexible)))
        throttle = r.int32()
        endpoints: tuple[NodeEndpoint, ...] = ()
        if flexible:
            for tag, raw in r.tagged_fields().items():
                if tag == 0 and version >= 10:
                    endpoints = tuple(Reader(raw).array(_node_endpoint, True))
        return ProduceResponse(topics, throttle, endpoints)


def _record_error(r: Reader, flexible: bool) -> RecordError:
    error = RecordError(r.int32(), r.nullable_string(flexible))
    if flexible:
        r.skip_tagged_fields()
    return error


def _leader(raw: memoryview) -> LeaderIdAndEpoch:
    r = Reader(raw)
    leader = LeaderIdAndEpoch(r.int32(), r.int32())
    r.skip_tagged_fields()
    return leader


def _node_endpoint(r: Reader) -> NodeEndpoint:
    endpoint = NodeEndpoint(r.int32(), r.string(True), r.int32(), r.nullable_string(True))
    r.skip_tagged_fields()
    return endpoint


_PARTITION_FIXED = struct.Struct(">ihqqq")  # index .. log_start_offset (v5+)
_NOTHING_MORE = {
    True: b"\x01\x00\x00",  # no record errors, null message, no tagged fields
    False: b"\x00\x00\x00\x00\xff\xff",  # no record errors, null message
}


def _partition(r: Reader, version: int, flexible: bool) -> ProducePartitionResponse:
    if version >= 8:  # the usual reply in one unpack (v5+), and no more when all is well
        index, error_code, base_offset, log_append_time, log_start_offset = r.fields(
            _PARTITION_FIXED, "partition response"
        )
        if r.skip_exact(_NOTHING_MORE[flexible]):
            return ProducePartitionResponse(
                index, error_code, base_offset, log_append_time, log_start_offset
            )
    else:
        index = r.int32()
        error_code = r.int16()
        base_offset = r.int64()
        log_append_time = r.int64()
        log_start_offset = r.int64() if version >= 5 else -1
    record_errors: tuple[RecordError, ...] = ()
    error_message = None
    if version >= 8:
        n = r.array_length(flexible)
        record_errors = tuple(_record_error(r, flexible) for _ in range(n))
        error_message = r.nullable_string(flexible)
    leader = None
    if flexible:
        for tag, raw in r.tagged_fields().items():
            if tag == 0 and version >= 10:
                leader = _leader(raw)
    return ProducePartitionResponse(
        index,
        error_code,
        base_offset,
        log_append_time,
        log_start_offset,
        record_errors,
        error_message,
        leader,
    )


def _topic(r: Reader, version: int, flexible: bool) -> ProduceTopicResponse:
    name, topic_id = (
        ("", r.uuid()) if version >= TOPIC_IDS_FROM else (r.string(flexible), ZERO_UUID)
    )
    n = r.array_length(flexible)
    partitions = tuple(_partition(r, version, flexible) for _ in range(n))
    if flexible:
        r.skip_tagged_fields()
    return ProduceTopicResponse(name, partitions, topic_id)
