"""Metadata (key 3), versions 0-12: brokers, topics, partition leaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
    ZERO_UUID,
    Reader,
    write_bool,
    write_nullable_array_length,
    write_string,
    write_uuid,
)

__all__ = [
    "MetadataBroker",
    "MetadataPartition",
    "MetadataRequest",
    "MetadataResponse",
    "MetadataTopic",
]

AUTHORIZED_OPERATIONS_UNSET = -(1 << 31)


@dataclass(frozen=True, slots=True)
class MetadataBroker:
    """A broker of the cluster."""

    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class MetadataPartition:
    """One partition: its leader and replicas."""

    error_code: int
    partition_index: int
    leader_id: int
    leader_epoch: int = -1
    replica_nodes: tuple[int, ...] = ()
    isr_nodes: tuple[int, ...] = ()
    offline_replicas: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class MetadataTopic:
    """One topic and its partitions."""

    error_code: int
    name: str | None
    partitions: tuple[MetadataPartition, ...]
    topic_id: uuid.UUID = ZERO_UUID
    is_internal: bool = False
    topic_authorized_operations: int = AUTHORIZED_OPERATIONS_UNSET


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    """Normalized Metadata response, whatever the version."""

    brokers: tuple[MetadataBroker, ...]
    topics: tuple[MetadataTopic, ...]
    throttle_time_ms: int = 0
    cluster_id: str | None = None
    controller_id: int = -1
    cluster_authorized_operations: int = AUTHORIZED_OPERATIONS_UNSET


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    """Metadata request. ``topics=None`` asks for every topic; ``()`` for none (v1+)."""

    API_KEY: ClassVar[int] = ApiKey.METADATA
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 12
    FLEXIBLE_FROM: ClassVar[int] = 9

    topics: Sequence[str] | None = None
    allow_auto_topic_creation: bool = True
    include_cluster_authorized_operations: bool = False
    include_topic_authorized_operations: bool = False

    def encode(self, version: int) -> bytes:
        """Encode the request body."""
        check_version(MetadataRequest, version)
        flexible = version >= 9
        topics = self.topics
        buf = bytearray()
        if version == 0:
            if topics is not None and not topics:
                raise ValueError("Metadata v0 cannot ask for no topics (empty means all)")
            topics = topics or ()
        write_nullable_array_length(buf, None if topics is None else len(topics), flexible)
        for name in topics or ():
            if version >= 10:
                write_uuid(buf, ZERO_UUID)
            write_string(buf, name, flexible)
            if flexible:
                buf.append(0)
        if version >= 4:
            write_bool(buf, self.allow_auto_topic_creation)
        if 8 <= version <= 10:
            write_bool(buf, self.include_cluster_authorized_operations)
        if version >= 8:
            write_bool(buf, self.include_topic_authorized_operations)
        if flexible:
            buf.append(0)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Metadata is always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> MetadataResponse:
        """Decode a response body of the given version."""
        check_version(cls, version)
        r = Reader(data)
        flexible = version >= 9
        throttle = r.int32() if version >= 3 else 0
        brokers = tuple(_broker(r, version, flexible) for _ in range(r.array_length(flexible)))
        cluster_id = r.nullable_string(flexible) if version >= 2 else None
        controller_id = r.int32() if version >= 1 else -1
        topics = tuple(_topic(r, version, flexible) for _ in range(r.array_length(flexible)))
        cluster_ops = r.int32() if 8 <= version <= 10 else AUTHORIZED_OPERATIONS_UNSET
        if flexible:
            r.skip_tagged_fields()
        return MetadataResponse(brokers, topics, throttle, cluster_id, controller_id, cluster_ops)


def _broker(r: Reader, version: int, flexible: bool) -> MetadataBroker:
    node_id = r.int32()
    host = r.string(flexible)
    port = r.int32()
    rack = r.nullable_string(flexible) if version >= 1 else None
    if flexible:
        r.skip_tagged_fields()
    return MetadataBroker(node_id, host, port, rack)


def _partition(r: Reader, version: int, flexible: bool) -> MetadataPartition:
    error_code = r.int16()
    index = r.int32()
    leader = r.int32()
    epoch = r.int32() if version >= 7 else -1
    replicas = r.int32_array(flexible)
    isr = r.int32_array(flexible)
    offline = r.int32_array(flexible) if version >= 5 else ()
    if flexible:
        r.skip_tagged_fields()
    return MetadataPartition(error_code, index, leader, epoch, replicas, isr, offline)


def _topic(r: Reader, version: int, flexible: bool) -> MetadataTopic:
    error_code = r.int16()
    name = r.nullable_string(flexible) if version >= 12 else r.string(flexible)
    topic_id = r.uuid() if version >= 10 else ZERO_UUID
    internal = r.boolean() if version >= 1 else False
    n = r.array_length(flexible)
    partitions = tuple(_partition(r, version, flexible) for _ in range(n))
    ops = r.int32() if version >= 8 else AUTHORIZED_OPERATIONS_UNSET
    if flexible:
        r.skip_tagged_fields()
    return MetadataTopic(error_code, name, partitions, topic_id, internal, ops)
