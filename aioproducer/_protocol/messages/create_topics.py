"""CreateTopics (key 19), versions 0-7 (used by tooling and the test harness)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
    INT16,
    INT32,
    ZERO_UUID,
    Reader,
    write_array_length,
    write_bool,
    write_int32_array,
    write_nullable_string,
    write_string,
)

__all__ = [
    "CreatableTopic",
    "CreatableTopicResult",
    "CreateTopicsRequest",
    "CreateTopicsResponse",
    "TopicConfigEntry",
]


@dataclass(frozen=True, slots=True)
class CreatableTopic:
    """A topic to create. -1 partitions/replication means the broker default (v4+)."""

    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    assignments: Sequence[tuple[int, Sequence[int]]] = ()
    """``(partition index, broker ids)`` pairs for a manual replica assignment."""
    configs: Sequence[tuple[str, str | None]] = ()


@dataclass(frozen=True, slots=True)
class TopicConfigEntry:
    """A config of a created topic, as reported from v5."""

    name: str
    value: str | None
    read_only: bool
    config_source: int
    is_sensitive: bool


@dataclass(frozen=True, slots=True)
class CreatableTopicResult:
    """The outcome for one topic."""

    name: str
    error_code: int
    error_message: str | None = None
    topic_id: uuid.UUID = ZERO_UUID
    topic_config_error_code: int = 0
    num_partitions: int = -1
    replication_factor: int = -1
    configs: tuple[TopicConfigEntry, ...] | None = None


@dataclass(frozen=True, slots=True)
class CreateTopicsResponse:
    """Normalized CreateTopics response, whatever the version."""

    topics: tuple[CreatableTopicResult, ...]
    throttle_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class CreateTopicsRequest:
    """CreateTopics request."""

    API_KEY: ClassVar[int] = ApiKey.CREATE_TOPICS
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 7
    FLEXIBLE_FROM: ClassVar[int] = 5

    topics: Sequence[CreatableTopic]
    timeout_ms: int = 60000
    validate_only: bool = False

    def encode(self, version: int) -> bytes:
        """Encode the request body."""
        check_version(CreateTopicsRequest, version)
        if version == 0 and self.validate_only:
            raise ValueError("CreateTopics v0 cannot validate only")
        flexible = version >= 5
        buf = bytearray()
        write_array_length(buf, len(self.topics), flexible)
        for topic in self.topics:
            write_string(buf, topic.name, flexible)
            buf += INT32.pack(topic.num_partitions)
            buf += INT16.pack(topic.replication_factor)
            write_array_length(buf, len(topic.assignments), flexible)
            for index, broker_ids in topic.assignments:
                buf += INT32.pack(index)
                write_int32_array(buf, broker_ids, flexible)
                if flexible:
                    buf.append(0)
            write_array_length(buf, len(topic.configs), flexible)
            for name, value in topic.configs:
                write_string(buf, name, flexible)
                write_nullable_string(buf, value, flexible)
                if flexible:
                    buf.append(0)
            if flexible:
                buf.append(0)
        buf += INT32.pack(self.timeout_ms)
        if version >= 1:
            write_bool(buf, self.validate_only)
        if flexible:
            buf.append(0)
        return bytes(buf)

    def expects_response(self) -> bool:
        """CreateTopics is always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> CreateTopicsResponse:
        """Decode a response body of the given version."""
        check_version(cls, version)
        r = Reader(data)
        flexible = version >= 5
        throttle = r.int32() if version >= 2 else 0
        topics = tuple(_result(r, version, flexible) for _ in range(r.array_length(flexible)))
        if flexible:
            r.skip_tagged_fields()
        return CreateTopicsResponse(topics, throttle)


def _config(r: Reader) -> TopicConfigEntry:
    entry = TopicConfigEntry(
        r.string(True), r.nullable_string(True), r.boolean(), r.int8(), r.boolean()
    )
    r.skip_tagged_fields()
    return entry


def _result(r: Reader, version: int, flexible: bool) -> CreatableTopicResult:
    name = r.string(flexible)
    topic_id = r.uuid() if version >= 7 else ZERO_UUID
    error_code = r.int16()
    message = r.nullable_string(flexible) if version >= 1 else None
    if not flexible:
        return CreatableTopicResult(name, error_code, message, topic_id)
    num_partitions = r.int32()
    replication_factor = r.int16()
    configs = r.nullable_array(_config, True)
    config_error = 0
    for tag, raw in r.tagged_fields().items():
        if tag == 0:
            config_error = Reader(raw).int16()
    return CreatableTopicResult(
        name,
        error_code,
        message,
        topic_id,
        config_error,
        num_partitions,
        replication_factor,
        None if configs is None else tuple(configs),
    )
