"""IdempotenceState as a plain object: sequences, retries, KIP-360 epoch bumps, fatal errors."""

from __future__ import annotations

import pytest
from test_accumulator import FakeCompletion, Leaders

from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch import ProducerBatch
from aioproducer._config import ProducerConfig
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.error_codes import NOT_LEADER_OR_FOLLOWER
from aioproducer._protocol.records import RecordBatchBuilder, decode_batches
from aioproducer._protocol.sequence import next_sequence

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
OUT_OF_ORDER, DUPLICATE, INVALID_EPOCH, UNKNOWN_PID, FENCED = 45, 46, 47, 59, 90


def bumped(state: IdempotenceState) -> bool:
    """``bumped(state)``, unnarrowed by mypy between calls."""
    return state.bump_requested


def make_batch(tp: TopicPartition = T0, records: int = 3) -> ProducerBatch:
    batch = ProducerBatch(tp, RecordBatchBuilder(batch_size=1 << 20), 0, 120_000)
    for i in range(records):
        batch.builder.append(i, None, b"v", ())
        batch.completions.append(FakeCompletion())
        batch.timestamps.append(i)
    return batch


def send(state: IdempotenceState, batch: ProducerBatch) -> ProducerBatch:
    """What drain does: check, assign, stamp."""
    assert state.can_drain(batch)
    state.assign(batch)
    batch.seal()
    return batch


@pytest.fixture
def state() -> IdempotenceState:
    s = IdempotenceState(first_batch_alone=False)
    s.set_producer_id(1000, 0)
    return s


def test_no_producer_id_no_drain() -> None:
    s = IdempotenceState(first_batch_alone=False)
    assert not s.has_producer_id()
    assert not s.can_drain(make_batch())
    s.set_producer_id(1, 0)
    assert s.has_producer_id()
    assert s.can_drain(make_batch())


def test_sequences_assigned_at_drain_per_partition(state: IdempotenceState) -> None:
    a, b, c = send(state, make_batch(T0, 3)), send(state, make_batch(T0, 2)), make_batch(T1, 4)
    send(state, c)
    assert (a.base_sequence, b.base_sequence, c.base_sequence) == (0, 3, 0)
    assert state.next_sequence(T0) == 5
    assert state.next_sequence(T1) == 4
    (decoded,) = decode_batches(b.seal())
    assert (decoded.producer_id, decoded.producer_epoch, decoded.base_sequence) == (1000, 0, 3)
    assert state.in_flight(T0) == [a, b]


def test_retry_keeps_its_sequence_and_goes_first(state: IdempotenceState) -> None:
    a, b = send(state, make_batch()), send(state, make_batch())
    # b failed retriably: may not go before a, which is still unsettled
    assert not state.can_drain(b)
    assert state.can_drain(a)
    state.assign(a)
    assert a.base_sequence == 0
    state.on_success(a)
    assert state.can_drain(b)
    state.assign(b)
    assert b.base_sequence == 3
    assert state.next_sequence(T0) == 6


def test_at_most_five_in_flight_per_partition(state: IdempotenceState) -> None:
    batches = [send(state, make_batch()) for _ in range(5)]
    assert not state.can_drain(make_batch())
    assert state.can_drain(make_batch(T1))
    state.on_success(batches[0])
    assert state.can_drain(make_batch())


def test_sequence_wraps(state: IdempotenceState) -> None:
    assert next_sequence(2**31 - 1, 1) == 0
    assert next_sequence(2**31 - 2, 5) == 3
    first = make_batch(records=1)
    send(state, first)
    state.on_success(first)
    entry = state._partitions[T0]
    entry.next_sequence = 2**31 - 2
    entry.last_acked = 2**31 - 3
    a = send(state, make_batch(records=3))
    assert a.base_sequence == 2**31 - 2
    assert a.last_sequence == 0
    b = send(state, make_batch(records=1))
    assert b.base_sequence == 1
    state.on_success(a)
    assert entry.last_acked == 0
    # the batch after the wrap is the next expected one: OUT_OF_ORDER on it is a real gap
    assert state.on_error(b, OUT_OF_ORDER) == "retry"
    assert bumped(state)


def test_duplicate_is_success(state: IdempotenceState) -> None:
    a = send(state, make_batch())
    assert state.on_error(a, DUPLICATE) == "success"


@pytest.mark.parametrize("code", [INVALID_EPOCH, FENCED])
def test_fenced_is_fatal(state: IdempotenceState, code: int) -> None:
    a = send(state, make_batch())
    assert state.on_error(a, code) == "fatal"
    assert state.fatal_code == code
    assert not state.can_drain(make_batch(T1))


def test_other_errors_are_left_to_the_sender(state: IdempotenceState) -> None:
    assert state.on_error(send(state, make_batch()), NOT_LEADER_OR_FOLLOWER) == "default"


def test_out_of_order_on_next_expected_bumps_and_restamps(state: IdempotenceState) -> None:
    a, b = send(state, make_batch(records=2)), send(state, make_batch(records=3))
    other = send(state, make_batch(T1))
    assert state.on_error(a, OUT_OF_ORDER) == "retry"
    assert state.on_error(b, OUT_OF_ORDER) == "retry"  # not the next expected: just retry
    assert bumped(state)
    assert not state.can_drain(make_batch(T1))  # nothing drains while a bump is pending
    assert state.maybe_bump_epoch() is False
    assert (state.producer_id, state.epoch) == (1000, 1)
    assert (a.producer_epoch, a.base_sequence, a.sequence_reset) == (1, 0, True)
    assert (b.producer_epoch, b.base_sequence) == (1, 2)
    assert state.next_sequence(T0) == 5
    # the batch of the other partition keeps its epoch until it settles
    assert (other.producer_epoch, other.base_sequence) == (0, 0)
    (decoded,) = decode_batches(a.seal())
    assert (decoded.producer_epoch, decoded.base_sequence) == (1, 0)


def test_out_of_order_later_batch_only_retries(state: IdempotenceState) -> None:
    a, b = send(state, make_batch()), send(state, make_batch())
    state.on_success(a)
    c = send(state, make_batch())
    assert state.on_error(c, OUT_OF_ORDER) == "retry"
    assert not bumped(state)
    assert state.on_error(b, OUT_OF_ORDER) == "retry"
    assert bumped(state)


def test_unknown_producer_id(state: IdempotenceState) -> None:
    a = send(state, make_batch())
    assert state.on_error(a, UNKNOWN_PID, log_start_offset=-1) == "retry"
    assert not bumped(state)  # the broker did not know the log start yet
    assert state.on_error(a, UNKNOWN_PID, log_start_offset=50) == "retry"
    assert bumped(state)
    state.maybe_bump_epoch()
    assert a.sequence_reset
    assert a.producer_epoch == 1
    # the other in-flight responses of the old epoch come back the same way: no second bump
    assert state.on_error(a, UNKNOWN_PID, log_start_offset=50) == "retry"
    assert not bumped(state)


def test_stale_epoch_batch_rejected_is_retried(state: IdempotenceState) -> None:
    a = send(state, make_batch())
    state.on_error(a, OUT_OF_ORDER)
    state.maybe_bump_epoch()
    # a was sent with epoch 0; the broker now fences that epoch
    assert state.on_error(a, INVALID_EPOCH) == "retry"
    assert state.fatal_code is None
    send(state, a)  # re-stamped with epoch 1 when drained again
    assert a.stamped == (1000, 1, 0)
    assert state.on_error(a, INVALID_EPOCH) == "fatal"


def test_epoch_exhausted_needs_new_producer_id() -> None:
    s = IdempotenceState(first_batch_alone=False)
    s.set_producer_id(7, 32767)
    a = send(s, make_batch())
    s.on_error(a, OUT_OF_ORDER)
    assert s.maybe_bump_epoch() is True
    assert not s.has_producer_id()
    assert not s.can_drain(a)
    s.set_producer_id(8, 0)
    assert (a.producer_id, a.producer_epoch, a.base_sequence) == (8, 0, 0)
    assert s.can_drain(a)


def test_new_batches_wait_for_older_epoch_in_flight(state: IdempotenceState) -> None:
    a = send(state, make_batch(T0))
    b = send(state, make_batch(T1))
    state.on_error(b, OUT_OF_ORDER)
    state.maybe_bump_epoch()  # T1 re-stamped; T0 still has epoch 0 in flight
    assert not state.can_drain(make_batch(T0))
    state.on_success(a)
    fresh = send(state, make_batch(T0))
    assert (fresh.producer_epoch, fresh.base_sequence) == (1, 0)


def test_failure_after_send_leaves_a_gap(state: IdempotenceState) -> None:
    a = send(state, make_batch())
    state.on_failure(a, adjust_sequences=False)
    assert not bumped(state)
    b = send(state, make_batch())
    state.on_failure(b)
    assert bumped(state)


def test_expired_retry_makes_partition_unresolved(state: IdempotenceState) -> None:
    a, b = send(state, make_batch()), send(state, make_batch())
    state.on_expired(a)  # was sent and is being retried: fate unknown
    assert not state.can_drain(make_batch())
    state.on_success(b)  # b acked after a: a was written, the sequence resolves
    assert state.maybe_bump_epoch() is False
    assert not bumped(state)
    assert state.epoch == 0
    assert state.can_drain(make_batch())


def test_expired_retry_unresolved_leads_to_bump(state: IdempotenceState) -> None:
    a = send(state, make_batch())
    state.on_expired(a)
    state.maybe_bump_epoch()
    assert state.epoch == 1
    fresh = send(state, make_batch())
    assert (fresh.producer_epoch, fresh.base_sequence) == (1, 0)


def test_never_sent_batch_expiring_changes_nothing(state: IdempotenceState) -> None:
    state.on_expired(make_batch())
    state.maybe_bump_epoch()
    assert state.epoch == 0


def test_through_the_accumulator_retried_batch_first() -> None:
    s = IdempotenceState(first_batch_alone=False)
    s.set_producer_id(5, 0)
    config = ProducerConfig(linger_ms=0, batch_size=200)
    acc = RecordAccumulator(config, idempotence=s, random=lambda: 0.5)
    leaders = Leaders({T0: 1})
    for _ in range(6):
        acc.append(T0, 0, None, b"x" * 100, (), FakeCompletion(), 0)
    first = [acc.drain(leaders, {1}, 1 << 20, 0)[1][0] for _ in range(3)]
    assert [b.base_sequence for b in first] == [0, 1, 2]  # one record per batch
    # the second fails retriably and comes back; the first is still in flight
    acc.reenqueue(first[1], 0)
    assert acc.drain(leaders, {1}, 1 << 20, 10_000) == {}
    s.on_success(first[0])
    acc.deallocate(first[0])
    (again,) = acc.drain(leaders, {1}, 1 << 20, 10_000)[1]
    assert again is first[1]
    assert again.base_sequence == 1
    # a retry of the third goes behind the second in the queue, by sequence
    acc.reenqueue(first[2], 10_000)
    acc.reenqueue(first[1], 10_000)
    assert acc.queued(T0)[:2] == [first[1], first[2]]


def test_repr() -> None:
    assert "producer_id=-1" in repr(IdempotenceState())


def test_first_batch_of_an_epoch_goes_alone() -> None:
    """A broker takes any first sequence from a producer it does not know: until the first
    batch is acknowledged, nothing else of the partition may be in flight (found against a
    real Kafka 4.4 broker, where seq 296 landed before seq 0, which then never fitted)."""
    s = IdempotenceState()
    s.set_producer_id(7, 0)
    first = send(s, make_batch(T0))
    second = make_batch(T0)
    assert not s.can_drain(second)
    assert s.can_drain(make_batch(T1))  # other partitions are independent
    s.on_success(first)
    assert s.can_drain(send(s, second))
    third = make_batch(T0)
    assert s.can_drain(third)  # once acknowledged, up to five go in flight again


def test_out_of_order_behind_acknowledged_sequences_bumps(state: IdempotenceState) -> None:
    """Later batches were acknowledged before this one: it can never fit the epoch."""
    early, late = send(state, make_batch(T0, 3)), send(state, make_batch(T0, 3))
    state.on_success(late)
    assert state.on_error(early, OUT_OF_ORDER) == "retry"
    assert bumped(state)


def test_first_batch_alone_until_the_partition_knows_the_producer_id() -> None:
    """A partition that never acknowledged this producer id takes any first sequence: one
    batch in flight until it does. One that did demands sequence 0 of a new epoch, so a new
    epoch (transaction version 2 bumps one per transaction) need not wait again."""
    s = IdempotenceState(transactional=True)
    s.new_epoch(1000, 0)
    first = send(s, make_batch())
    assert not s.can_drain(make_batch())  # alone: the broker does not know us yet
    s.on_success(first)
    s.on_success(send(s, make_batch()))
    s.new_epoch(1000, 1)  # the epoch EndTxn v5 returns
    again = send(s, make_batch())
    assert s.can_drain(make_batch())  # the partition knows producer id 1000
    s.on_success(again)
    s.new_epoch(2000, 0)  # epoch exhausted: a new producer id is unknown again
    send(s, make_batch())
    assert not s.can_drain(make_batch())
