"""Idempotence bookkeeping: producer id and epoch, per-partition sequence numbers.

A plain object following the Java client's rules (``TransactionManager``,
``TxnPartitionEntry``, KIP-360), for the idempotent (non-transactional) producer:

- a batch gets its base sequence when it is first drained (:meth:`assign`) and keeps it
  across retries; sequences wrap from 2**31-1 to 0;
- per partition, batches that have a sequence and are not settled ("in flight" here, even
  while queued for a retry) are kept in sequence order, at most 5; a batch being retried
  may be drained only when it is the oldest of them (:meth:`can_drain`), so a retried batch
  goes before everything behind it;
- DUPLICATE_SEQUENCE_NUMBER means the broker already has the batch: success;
- OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID on the batch the broker should see
  next mean it lost our state: the epoch is bumped locally and the affected partitions'
  in-flight batches are re-stamped from sequence 0 (a new producer id is needed once the
  epoch reaches 32767); on a later batch they only mean an earlier one is being retried;
- a batch that fails for good after being sent leaves a gap: epoch bump for its partition;
  one that expires while queued for a retry leaves the partition "unresolved" (no new
  batches) until its in-flight batches settle, then a bump if the sequence did not resolve;
- INVALID_PRODUCER_EPOCH / PRODUCER_FENCED on a batch carrying the current epoch are fatal.

The sender calls :meth:`maybe_bump_epoch` once per loop (nothing is drained while a bump is
pending) and, when it returns True, gets a new producer id and calls :meth:`set_producer_id`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final, Literal

from aioproducer._batch import NO_SEQUENCE, ProducerBatch, Stamp
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.error_codes import (
    DUPLICATE_SEQUENCE_NUMBER,
    INVALID_PRODUCER_EPOCH,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    PRODUCER_FENCED,
    UNKNOWN_PRODUCER_ID,
)
from aioproducer._protocol.sequence import is_after, next_sequence

__all__ = ["IdempotenceState", "Verdict"]

log = logging.getLogger("aioproducer.idempotence")

Verdict = Literal["retry", "success", "fatal", "default"]
"""How the sender treats an error: retry (within deadline), complete, fail all, or as usual."""

MAX_IN_FLIGHT_PER_PARTITION: Final = 5
MAX_EPOCH: Final = 32767


@dataclass(slots=True)
class _Partition:
    producer_id: int
    epoch: int
    next_sequence: int = 0
    last_acked: int = NO_SEQUENCE
    last_acked_offset: int = -1
    in_flight: list[ProducerBatch] = field(default_factory=list)
    unresolved: int | None = None
    """After an expired retry: the sequence that must become the next one to resolve."""
    known_producer_id: int = -1
    """The producer id the partition acknowledged a batch of (in any epoch): the broker
    knows it, so a new epoch must start at sequence 0 there and a later batch cannot land
    before the first."""


class IdempotenceState:
    """Producer id, epoch and per-partition sequence numbers of an idempotent producer."""

    def __init__(self, *, first_batch_alone: bool = True, transactional: bool = False) -> None:
        """``first_batch_alone``: until a partition acknowledges a batch of the current epoch,
        keep only that batch in flight (the broker takes any first sequence from a producer
        it does not know, so a later batch could otherwise land first). ``transactional``:
        the epoch is never bumped here; a requested bump waits (nothing drains) until the
        transaction is aborted and :meth:`new_epoch` brings one from the coordinator."""
        self._first_batch_alone = first_batch_alone
        self._transactional = transactional
        self.producer_id = -1
        self.epoch = -1
        self.fatal_code: int | None = None
        """Set by INVALID_PRODUCER_EPOCH / PRODUCER_FENCED: the producer must stop."""
        self.epoch_bumps = 0
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._bump_partitions: set[TopicPartition] = set()
        self._bump_required = False
        self.log: logging.Logger | logging.LoggerAdapter[logging.Logger] = log
        """Where its lines go (the producer gives its client's logger)."""

    def __repr__(self) -> str:
        return f"<IdempotenceState producer_id={self.producer_id} epoch={self.epoch}>"

    # -- producer id and epoch -------------------------------------------------------------
    def has_producer_id(self) -> bool:
        """True once InitProducerId gave us an id (and it was not reset since)."""
        return self.producer_id >= 0

    def set_producer_id(self, producer_id: int, epoch: int) -> None:
        """Store the result of InitProducerId.

        Partitions left without a producer id (epoch exhausted) re-stamp their in-flight
        batches at once; the others start again at 0 when their in-flight batches settle.
        """
        self.producer_id = producer_id
        self.epoch = epoch
        for entry in self._partitions.values():
            if entry.producer_id < 0:
                self._restart_sequences(entry)

    def new_epoch(self, producer_id: int, epoch: int) -> None:
        """A producer id and epoch from the transaction coordinator (InitProducerId): every
        partition starts again at sequence 0 (nothing may be in flight), bumps are done."""
        self.producer_id = producer_id
        self.epoch = epoch
        self._bump_required = False
        self._bump_partitions.clear()
        for entry in self._partitions.values():
            self._restart_sequences(entry)

    @property
    def bump_requested(self) -> bool:
        """An epoch bump is pending; nothing is drained until :meth:`maybe_bump_epoch`."""
        return self._bump_required

    def maybe_bump_epoch(self) -> bool:
        """Resolve pending sequence questions and apply a requested epoch bump.

        Returns True when the producer needs a new producer id (the epoch was exhausted).
        """
        self._resolve_sequences()
        if not self._bump_required or self._transactional:
            return False
        self._bump_required = False
        self.epoch_bumps += 1
        needs_id = False
        if self.epoch >= MAX_EPOCH or self.producer_id < 0:
            self.log.info("producer epoch exhausted: a new producer id is needed")
            self.producer_id = self.epoch = -1
            needs_id = True
        else:
            self.epoch += 1
            self.log.info(
                "bumped producer epoch to %d (producer id %d)", self.epoch, self.producer_id
            )
        for tp in self._bump_partitions:
            entry = self._partitions.get(tp)
            if entry is not None:
                self._restart_sequences(entry)
        self._bump_partitions.clear()
        return needs_id

    def _request_bump(self, tp: TopicPartition) -> None:
        self._bump_required = True
        self._bump_partitions.add(tp)

    def _restart_sequences(self, entry: _Partition) -> None:
        """Java's startSequencesAtBeginning: re-stamp in-flight batches from sequence 0."""
        sequence = 0
        for batch in entry.in_flight:
            batch.set_producer_state(self.producer_id, self.epoch, sequence)
            batch.sequence_reset = True
            sequence = next_sequence(sequence, batch.record_count)
        entry.producer_id = self.producer_id
        entry.epoch = self.epoch
        entry.next_sequence = sequence
        entry.last_acked = NO_SEQUENCE
        entry.unresolved = None

    # -- draining --------------------------------------------------------------------------
    def next_sequence(self, tp: TopicPartition) -> int:
        """The base sequence the next new batch for ``tp`` would get."""
        entry = self._partitions.get(tp)
        if entry is None or (entry.producer_id, entry.epoch) != (self.producer_id, self.epoch):
            return 0 if entry is None or not entry.in_flight else entry.next_sequence
        return entry.next_sequence

    def in_flight(self, tp: TopicPartition) -> list[ProducerBatch]:
        """The partition's unsettled batches with a sequence, in sequence order (a copy)."""
        entry = self._partitions.get(tp)
        return [] if entry is None else list(entry.in_flight)

    def can_drain(self, batch: ProducerBatch) -> bool:
        """May ``batch``, the head of its partition's queue, be drained now?"""
        if self.producer_id < 0 or self._bump_required or self.fatal_code is not None:
            return False
        entry = self._partitions.get(batch.tp)
        if entry is None:
            return True
        in_flight = entry.in_flight
        if batch.base_sequence != NO_SEQUENCE and batch in in_flight:
            return in_flight[0] is batch  # a retry goes only as the oldest unsettled batch
        if entry.unresolved is not None:
            return False  # wait until the expired batch's sequence is resolved
        if in_flight and (entry.producer_id, entry.epoch) != (self.producer_id, self.epoch):
            return False  # batches of an older epoch are still in flight
        if (
            in_flight
            and entry.last_acked == NO_SEQUENCE
            and self._first_batch_alone
            and entry.known_producer_id != self.producer_id
        ):
            # Until the partition has acknowledged a batch of this producer id, the broker
            # takes any first sequence; a later batch could land before an earlier one being
            # retried. (Once it knows the id, a new epoch must start at 0: transaction
            # version 2 bumps the epoch every transaction, and need not wait each time.)
            return False
        return len(in_flight) < MAX_IN_FLIGHT_PER_PARTITION

    def stamp_for(self, batch: ProducerBatch) -> Stamp:
        """The producer state :meth:`assign` would give ``batch`` now, changing nothing: a batch
        is built with it before it is assigned (a build that fails consumes no sequence)."""
        entry = self._partitions.get(batch.tp)
        if entry is not None and batch.base_sequence != NO_SEQUENCE and batch in entry.in_flight:
            return batch.producer_id, batch.producer_epoch, batch.base_sequence
        return self.producer_id, self.epoch, self.next_sequence(batch.tp)

    def assign(self, batch: ProducerBatch) -> None:
        """Give a batch being drained its producer state and, if new, the next sequence."""
        tp = batch.tp
        entry = self._partitions.get(tp)
        if entry is None:
            entry = self._partitions[tp] = _Partition(self.producer_id, self.epoch)
        elif batch.base_sequence != NO_SEQUENCE and batch in entry.in_flight:
            return  # a retry keeps its sequence (re-stamped only by an epoch bump)
        if (entry.producer_id, entry.epoch) != (self.producer_id, self.epoch):
            if entry.in_flight:
                raise AssertionError(f"assign() on {tp} while older batches are in flight")
            self._restart_sequences(entry)
        batch.set_producer_state(self.producer_id, self.epoch, entry.next_sequence)
        batch.sequence_reset = False
        entry.next_sequence = next_sequence(entry.next_sequence, batch.record_count)
        entry.in_flight.append(batch)

    def replace_in_flight(self, batch: ProducerBatch, pieces: list[ProducerBatch]) -> None:
        """``batch`` was split: its pieces take its place (they share its sequence range)."""
        entry = self._partitions.get(batch.tp)
        if entry is None or batch not in entry.in_flight:
            return
        index = entry.in_flight.index(batch)
        entry.in_flight[index : index + 1] = pieces

    # -- outcomes --------------------------------------------------------------------------
    def on_success(self, batch: ProducerBatch, base_offset: int = -1) -> None:
        """The broker acknowledged ``batch`` (or reported it a duplicate)."""
        entry = self._forget(batch)
        if entry is None or batch.base_sequence == NO_SEQUENCE:
            return
        if (batch.producer_id, batch.producer_epoch) != (entry.producer_id, entry.epoch):
            return  # written under an older epoch: says nothing of the current sequences
        entry.known_producer_id = batch.producer_id
        last = batch.last_sequence
        if entry.last_acked == NO_SEQUENCE or is_after(last, entry.last_acked):
            entry.last_acked = last
        if base_offset >= 0:
            entry.last_acked_offset = max(
                entry.last_acked_offset, base_offset + batch.record_count - 1
            )

    def on_error(self, batch: ProducerBatch, code: int, log_start_offset: int = -1) -> Verdict:
        """Classify a partition error for ``batch``; may request an epoch bump.

        ``"retry"`` still means: only if the batch's deadline and retries allow it.
        """
        if code == DUPLICATE_SEQUENCE_NUMBER:
            return "success"
        tp = batch.tp
        sent_state = batch.stamped[:2]
        if code in (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED):
            if sent_state != (self.producer_id, self.epoch) and self.producer_id >= 0:
                return "retry"  # sent under an epoch we already left: resend with the new one
            self.fatal_code = code
            return "fatal"
        if code == UNKNOWN_PRODUCER_ID:
            if log_start_offset == -1 or batch.sequence_reset:
                return "retry"  # the broker may not know yet, or we already re-stamped
            self.log.info("UNKNOWN_PRODUCER_ID for %s: the broker lost our state", tp)
            self._request_bump(tp)
            return "retry"
        if code == OUT_OF_ORDER_SEQUENCE_NUMBER:
            entry = self._partitions.get(tp)
            if (
                entry is not None
                and NO_SEQUENCE not in (entry.last_acked, batch.base_sequence)
                and not is_after(batch.base_sequence, entry.last_acked)
            ):
                # The broker already holds later sequences: this batch can never fit the
                # current epoch. Bump it and resend rather than retry forever.
                self.log.info(
                    "OUT_OF_ORDER_SEQUENCE_NUMBER for %s behind acked sequences: bump", tp
                )
                self._request_bump(tp)
                return "retry"
            unresolved = None if entry is None else entry.unresolved
            if unresolved is None and (
                batch.sequence_reset or not self._is_next(entry, batch.base_sequence)
            ):
                return "retry"  # an earlier batch is being retried; this one follows it
            if unresolved is None or batch.base_sequence == unresolved:
                self.log.info("OUT_OF_ORDER_SEQUENCE_NUMBER for %s: a gap, bumping the epoch", tp)
                self._request_bump(tp)
            return "retry"
        return "default"

    def on_failure(
        self, batch: ProducerBatch, code: int | None = None, *, adjust_sequences: bool = True
    ) -> None:
        """``batch`` failed for good after being drained.

        ``adjust_sequences`` is False when the broker may have written it anyway (retries
        exhausted, as Java's ``attempts < retries``); otherwise its sequence left a gap.
        """
        entry = self._forget(batch)
        if entry is None or batch.base_sequence == NO_SEQUENCE or self.fatal_code is not None:
            return
        if code in (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID) or adjust_sequences:
            self._request_bump(batch.tp)

    def on_expired(self, batch: ProducerBatch) -> None:
        """``batch`` expired in the queue; if it had been sent, its fate is unknown."""
        entry = self._forget(batch)
        if entry is None or batch.base_sequence == NO_SEQUENCE:
            return
        after = next_sequence(batch.last_sequence, 1)
        if entry.unresolved is None or is_after(after, entry.unresolved):
            entry.unresolved = after

    def _resolve_sequences(self) -> None:
        """Java's maybeResolveSequences, for partitions whose in-flight batches settled."""
        for tp, entry in self._partitions.items():
            if entry.unresolved is None or entry.in_flight:
                continue
            if not self._is_next(entry, entry.next_sequence):
                self.log.info("unresolved sequences for %s: bumping the epoch", tp)
                self._request_bump(tp)
            entry.unresolved = None

    @staticmethod
    def _is_next(entry: _Partition | None, sequence: int) -> bool:
        last = NO_SEQUENCE if entry is None else entry.last_acked
        return next_sequence(last, 1) == sequence

    def _forget(self, batch: ProducerBatch) -> _Partition | None:
        entry = self._partitions.get(batch.tp)
        if entry is not None:
            in_flight = entry.in_flight
            for index, queued in enumerate(in_flight):
                if queued is batch:
                    del in_flight[index]
                    break
        return entry
