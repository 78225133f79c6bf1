"""Idempotence bookkeeping: producer id and epoch, per-partition sequence numbers.

A plain object, following the Java client's rules (TransactionManager, KIP-360):

- a batch gets its base sequence when first drained and keeps it across retries;
- per partition, batches in flight are kept in sequence order; a retried batch is sent only
  when it is the oldest unacknowledged one, so order survives retries;
- DUPLICATE_SEQUENCE_NUMBER means the broker already has the batch: success;
- OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID on the next expected batch mean the
  broker lost our state: bump the epoch locally (a new producer id once the epoch is
  exhausted), restart every partition's sequences at 0, and retry; on a later batch they only
  mean an earlier one is being retried: retry without bumping;
- a batch from an older epoch that fails is simply retried with the current one; a partition
  sends nothing new while batches of an older epoch are still in flight;
- INVALID_PRODUCER_EPOCH / PRODUCER_FENCED for the current epoch are fatal;
- sequences wrap from 2**31-1 to 0.
"""

from __future__ import annotations

from typing import Final, Literal

from aioproducer.batch import ProducerBatch
from aioproducer.metadata import TopicPartition

__all__ = ["IdempotenceState", "Verdict", "next_sequence"]

Verdict = Literal["retry", "fatal", "default"]

_SEQUENCE_SPAN: Final = 1 << 31
_MAX_EPOCH: Final = 32767
_OUT_OF_ORDER_SEQUENCE: Final = 45
_INVALID_PRODUCER_EPOCH: Final = 47
_UNKNOWN_PRODUCER_ID: Final = 59
_PRODUCER_FENCED: Final = 90
_LOST_STATE: Final = frozenset({_OUT_OF_ORDER_SEQUENCE, _UNKNOWN_PRODUCER_ID})
_STALE_EPOCH_ERRORS: Final = frozenset(
    {_OUT_OF_ORDER_SEQUENCE, _UNKNOWN_PRODUCER_ID, _INVALID_PRODUCER_EPOCH}
)


def next_sequence(sequence: int, increment: int) -> int:
    """``sequence + increment``, wrapping past 2**31-1 to 0 as Kafka does."""
    return (sequence + increment) % _SEQUENCE_SPAN


class IdempotenceState:
    """Producer id, epoch and sequence numbers of an idempotent producer."""

    def __init__(self) -> None:
        self.producer_id = -1
        self.epoch = -1
        self._next: dict[TopicPartition, int] = {}
        self._last_acked: dict[TopicPartition, int] = {}
        self._in_flight: dict[TopicPartition, list[ProducerBatch]] = {}
        self._bump_requested = False
        self.epoch_bumps = 0

    # -- producer id ----------------------------------------------------------------------------
    def has_producer_id(self) -> bool:
        return self.producer_id >= 0

    def set_producer_id(self, producer_id: int, epoch: int) -> None:
        """A producer id from InitProducerId: sequences start again at 0."""
        self.producer_id = producer_id
        self.epoch = epoch
        self._reset_sequences()

    def _reset_sequences(self) -> None:
        self._next.clear()
        self._last_acked.clear()

    @property
    def bump_requested(self) -> bool:
        return self._bump_requested

    def maybe_bump_epoch(self) -> bool:
        """Apply a requested epoch bump. Returns True when a new producer id is needed."""
        if not self._bump_requested:
            return False
        self._bump_requested = False
        self.epoch_bumps += 1
        if self.epoch >= _MAX_EPOCH:
            self.producer_id = -1
            self.epoch = -1
            self._reset_sequences()
            return True
        self.epoch += 1
        self._reset_sequences()
        return False

    # -- draining -------------------------------------------------------------------------------
    def _is_current(self, batch: ProducerBatch) -> bool:
        return batch.producer_id == self.producer_id and batch.producer_epoch == self.epoch

    def can_send(self, batch: ProducerBatch) -> bool:
        """May ``batch`` (the head of its partition's queue) be drained now?"""
        if self.producer_id < 0 or self._bump_requested:
            return False
        in_flight = self._in_flight.get(batch.tp)
        if not in_flight:
            return True
        if any(not self._is_current(b) for b in in_flight if b is not batch):
            return False  # wait until batches of an older epoch have resolved
        if batch.base_sequence >= 0 and self._is_current(batch):
            return in_flight[0] is batch  # a retry goes only as the oldest outstanding batch
        return len(in_flight) < 5

    def stamp(self, batch: ProducerBatch) -> None:
        """Give ``batch`` the current producer id/epoch and, if new to them, a sequence."""
        if self._is_current(batch) and batch.base_sequence >= 0:
            return
        tp = batch.tp
        in_flight = self._in_flight.setdefault(tp, [])
        if batch in in_flight:
            in_flight.remove(batch)
        sequence = self._next.get(tp, 0)
        self._next[tp] = next_sequence(sequence, batch.record_count)
        batch.stamp(self.producer_id, self.epoch, sequence)
        in_flight.append(batch)

    # -- outcomes --------------------------------------------------------------------------------
    def on_success(self, batch: ProducerBatch) -> None:
        self._forget(batch)
        if self._is_current(batch):
            self._last_acked[batch.tp] = next_sequence(batch.base_sequence, batch.record_count - 1)

    def on_failure(self, batch: ProducerBatch) -> None:
        """A batch failed for good: its sequence left a gap, so bump the epoch."""
        self._forget(batch)
        if batch.base_sequence >= 0 and self._is_current(batch):
            self._bump_requested = True

    def on_retry(self, batch: ProducerBatch) -> None:
        """The batch goes back to its queue (it stays tracked in sequence order)."""

    def on_error(self, batch: ProducerBatch, code: int) -> Verdict:
        """How the sender should treat a partition error for ``batch``."""
        if not self._is_current(batch) and code in _STALE_EPOCH_ERRORS:
            return "retry"  # written under an older epoch; it gets the current one on retry
        if code in _LOST_STATE:
            if self._is_next_expected(batch):
                self._bump_requested = True
            return "retry"
        if code in (_INVALID_PRODUCER_EPOCH, _PRODUCER_FENCED):
            return "fatal"
        return "default"

    def _is_next_expected(self, batch: ProducerBatch) -> bool:
        last = self._last_acked.get(batch.tp)
        expected = 0 if last is None else next_sequence(last, 1)
        return batch.base_sequence == expected

    def _forget(self, batch: ProducerBatch) -> None:
        in_flight = self._in_flight.get(batch.tp)
        if in_flight and batch in in_flight:
            in_flight.remove(batch)
