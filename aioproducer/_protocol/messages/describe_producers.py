"""DescribeProducers (API key 61), version 0 (flexible): the active producers of partitions.

An admin/tooling API (KIP-664), sent to each partition's leader: for every partition, the
producers with state there, their epochs, last sequences and any open transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
    Reader,
    write_array_length,
    write_int32_array,
    write_string,
    write_tagged_fields,
)

__all__ = [
    "DescribeProducersPartitionResult",
    "DescribeProducersRequest",
    "DescribeProducersResponse",
    "ProducerState",
]


@dataclass(frozen=True, slots=True)
class ProducerState:
    """One producer with state on a partition."""

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int
    current_txn_start_offset: int
    """First offset of the producer's open transaction, or -1 if none."""


@dataclass(frozen=True, slots=True)
class DescribeProducersPartitionResult:
    """The producers of one partition, or the error explaining why not."""

    topic: str
    partition: int
    error_code: int
    error_message: str | None
    active_producers: tuple[ProducerState, ...]


@dataclass(frozen=True, slots=True)
class DescribeProducersResponse:
    """Normalized DescribeProducers response."""

    throttle_time_ms: int
    partitions: tuple[DescribeProducersPartitionResult, ...]


@dataclass(frozen=True, slots=True)
class DescribeProducersRequest:
    """Describe the active producers of ``topics``' partitions (indexes by topic)."""

    API_KEY: ClassVar[int] = ApiKey.DESCRIBE_PRODUCERS
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 0
    FLEXIBLE_FROM: ClassVar[int] = 0

    topics: Mapping[str, Sequence[int]]

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        buf = bytearray()
        write_array_length(buf, len(self.topics), True)
        for name, partitions in self.topics.items():
            write_string(buf, name, True)
            write_int32_array(buf, partitions, True)
            write_tagged_fields(buf)
        write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> DescribeProducersResponse:
        """Decode a response body; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        throttle_time_ms = r.int32()
        results: list[DescribeProducersPartitionResult] = []
        for _ in range(r.array_length(True)):
            topic = r.string(True)
            for _ in range(r.array_length(True)):
                partition, error_code = r.int32(), r.int16()
                error_message = r.nullable_string(True)
                producers = tuple(r.array(_read_producer, True))
                r.skip_tagged_fields()
                results.append(
                    DescribeProducersPartitionResult(
                        topic, partition, error_code, error_message, producers
                    )
                )
            r.skip_tagged_fields()
        r.skip_tagged_fields()
        return DescribeProducersResponse(throttle_time_ms, tuple(results))


def _read_producer(r: Reader) -> ProducerState:
    state = ProducerState(r.int64(), r.int32(), r.int32(), r.int64(), r.int32(), r.int64())
    r.skip_tagged_fields()
    return state
