"""One partition of the fake broker: its leader, its stored batches, its producers' sequences.

A plain object (no event loop). :meth:`PartitionLog.append` checks a Produce request's
records as a Kafka broker does before writing them (size, one batch of magic 2, CRC, the
idempotent producer's epoch and sequence) and answers ``(error code, base offset)``:

- a batch repeating one of the producer's last five (same epoch and sequences) is not
  written again: it is answered with the offset it got the first time, as Kafka does;
- an older epoch is INVALID_PRODUCER_EPOCH; a newer one must start at sequence 0;
- within an epoch the base sequence must follow the last one, else
  OUT_OF_ORDER_SEQUENCE_NUMBER; a producer the partition does not know may start anywhere.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from aioproducer._protocol.error_codes import (
    CORRUPT_MESSAGE,
    INVALID_PRODUCER_EPOCH,
    INVALID_RECORD,
    MESSAGE_TOO_LARGE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
)
from aioproducer._protocol.primitives import INT64
from aioproducer._protocol.records import DecodedBatch, DecodedRecord, decode_batches
from aioproducer._protocol.sequence import next_sequence
from aioproducer.errors import ProtocolError

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "PartitionLog"]

DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_588
"""Kafka's default ``max.message.bytes``."""

_CACHED_BATCHES: Final = 5


@dataclass(slots=True)
class _Producer:
    epoch: int
    last_sequence: int = -1
    recent: deque[tuple[int, int, int]] = field(
        default_factory=lambda: deque(maxlen=_CACHED_BATCHES)
    )
    """``(base sequence, last sequence, base offset)`` of its last batches."""


@dataclass(slots=True)
class PartitionLog:
    """What the fake cluster keeps for one partition."""

    leader: int
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    leader_epoch: int = 0
    batches: list[DecodedBatch] = field(default_factory=list)
    """Every stored batch, with the offsets the log gave it, in log order."""
    _producers: dict[int, _Producer] = field(default_factory=dict, init=False, repr=False)

    @property
    def end_offset(self) -> int:
        """The offset the next record gets."""
        if not self.batches:
            return 0
        last = self.batches[-1]
        return last.base_offset + last.last_offset_delta + 1

    @property
    def records(self) -> list[DecodedRecord]:
        """Every stored record, in offset order."""
        return [record for batch in self.batches for record in batch.records]

    def append(
        self, data: bytes | bytearray | memoryview | None, fenced: Mapping[int, int]
    ) -> tuple[int, int]:
        """Check and store a Produce request's records; ``(error code, base offset)``.

        ``fenced`` maps producer ids to the error their batches get instead.
        """
        if data is None or len(data) > self.max_message_bytes:
            return (MESSAGE_TOO_LARGE if data is not None else INVALID_RECORD), -1
        try:
            decoded = decode_batches(data)
        except ProtocolError:
            return CORRUPT_MESSAGE, -1
        if len(decoded) != 1 or not decoded[0].records:
            return INVALID_RECORD, -1  # v3+: exactly one batch of magic 2
        batch = decoded[0]
        if batch.producer_id in fenced:
            return fenced[batch.producer_id], -1
        producer = self._producers.get(batch.producer_id) if batch.producer_id >= 0 else None
        if producer is not None:
            duplicate = self._duplicate_of(producer, batch)
            if duplicate is not None:
                return 0, duplicate
            error = self._check_sequence(producer, batch)
            if error:
                return error, -1
        base_offset = self.end_offset
        stored = bytearray(data)
        INT64.pack_into(stored, 0, base_offset)
        (placed,) = decode_batches(stored)
        self.batches.append(dataclasses.replace(placed, partition_leader_epoch=self.leader_epoch))
        if batch.producer_id >= 0:
            self._remember(batch, base_offset)
        return 0, base_offset

    @staticmethod
    def _duplicate_of(producer: _Producer, batch: DecodedBatch) -> int | None:
        if batch.producer_epoch != producer.epoch:
            return None
        last = next_sequence(batch.base_sequence, batch.last_offset_delta)
        for first_seq, last_seq, offset in producer.recent:
            if (first_seq, last_seq) == (batch.base_sequence, last):
                return offset
        return None

    @staticmethod
    def _check_sequence(producer: _Producer, batch: DecodedBatch) -> int:
        if batch.producer_epoch < producer.epoch:
            return INVALID_PRODUCER_EPOCH
        if batch.producer_epoch > producer.epoch:
            return OUT_OF_ORDER_SEQUENCE_NUMBER if batch.base_sequence != 0 else 0
        expected = next_sequence(producer.last_sequence, 1)
        return 0 if batch.base_sequence == expected else OUT_OF_ORDER_SEQUENCE_NUMBER

    def _remember(self, batch: DecodedBatch, base_offset: int) -> None:
        producer = self._producers.get(batch.producer_id)
        if producer is None or producer.epoch != batch.producer_epoch:
            producer = self._producers[batch.producer_id] = _Producer(batch.producer_epoch)
        last = next_sequence(batch.base_sequence, batch.last_offset_delta)
        producer.last_sequence = last
        producer.recent.append((batch.base_sequence, last, base_offset))
