"""ProducerBatch: the records of one partition travelling together, and their futures.

A batch is open while records are appended, sealed into wire bytes when first drained, and
re-stamped (producer id, epoch, base sequence) without recompression whenever idempotence
needs it. It settles each record's future exactly once: with :class:`RecordMetadata` on
success (offset = base offset + index), or with the error on failure.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from aioproducer.errors import ProducerError
from aioproducer.metadata import TopicPartition
from aioproducer.protocol.records import RecordBatchBuilder, set_producer_state

__all__ = ["ProducerBatch", "RecordMetadata"]


class RecordMetadata(NamedTuple):
    """Where a record was written."""

    topic: str
    partition: int
    offset: int
    """-1 when acks=0 (the broker does not say)."""
    timestamp_ms: int
    """The record's CreateTime, or the broker's LogAppendTime when the topic uses it."""


class ProducerBatch:
    """One partition's batch, from first record to settled futures."""

    __slots__ = (
        "attempts",
        "base_sequence",
        "builder",
        "created_ms",
        "deadline_ms",
        "done",
        "futures",
        "in_flight",
        "last_error",
        "producer_epoch",
        "producer_id",
        "reserved",
        "retry_at_ms",
        "sealed",
        "stamped",
        "timestamps",
        "tp",
    )

    def __init__(
        self, tp: TopicPartition, builder: RecordBatchBuilder, created_ms: int, deadline_ms: int
    ) -> None:
        self.tp = tp
        self.builder = builder
        self.created_ms = created_ms
        self.deadline_ms = deadline_ms
        self.futures: list[asyncio.Future[RecordMetadata]] = []
        self.timestamps: list[int] = []
        self.reserved = 0
        self.attempts = 0
        self.retry_at_ms = 0
        self.last_error: ProducerError | None = None
        self.sealed: bytes | None = None
        self.stamped: bytes | None = None
        self.producer_id = -1
        self.producer_epoch = -1
        self.base_sequence = -1
        self.in_flight = False
        self.done = False

    def __repr__(self) -> str:
        return (
            f"<ProducerBatch {self.tp.topic}-{self.tp.partition} records={self.record_count} "
            f"seq={self.base_sequence} attempts={self.attempts}>"
        )

    @property
    def record_count(self) -> int:
        return len(self.futures)

    @property
    def is_full(self) -> bool:
        """Sealed, or too full to take another typical record."""
        return self.sealed is not None or self.builder.closed

    def seal(self) -> bytes:
        """Build the wire bytes once (compressing), with no producer state."""
        if self.sealed is None:
            self.sealed = self.builder.build()
            self.stamped = self.sealed
        return self.sealed

    def wire(self) -> bytes:
        """The bytes to send: sealed, stamped with the producer state if any."""
        if self.stamped is None:
            self.seal()
        assert self.stamped is not None
        return self.stamped

    def stamp(self, producer_id: int, epoch: int, base_sequence: int) -> None:
        """Set producer id, epoch and base sequence in the header (CRC recomputed)."""
        sealed = self.seal()
        self.producer_id = producer_id
        self.producer_epoch = epoch
        self.base_sequence = base_sequence
        self.stamped = set_producer_state(sealed, producer_id, epoch, base_sequence)

    def complete(self, base_offset: int, log_append_time_ms: int) -> None:
        """Resolve every record's future with its metadata."""
        if self.done:
            return
        self.done = True
        topic, partition = self.tp
        futures, timestamps = self.futures, self.timestamps
        for index, future in enumerate(futures):
            if not future.done():
                offset = base_offset + index if base_offset >= 0 else -1
                ts = log_append_time_ms if log_append_time_ms >= 0 else timestamps[index]
                future.set_result(RecordMetadata(topic, partition, offset, ts))

    def fail(self, error: ProducerError) -> None:
        """Fail every record's future with ``error``."""
        if self.done:
            return
        self.done = True
        for future in self.futures:
            if not future.done():
                future.set_exception(error)
        # A future nobody awaits must not log "exception was never retrieved".
        for future in self.futures:
            if not future.cancelled():
                future.exception()
