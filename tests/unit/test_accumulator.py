"""RecordAccumulator and ProducerBatch as plain objects: an injected ms clock, no event loop."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer import _batch as batch_module
from aioproducer._accumulator import AppendResult, RecordAccumulator
from aioproducer._batch import ProducerBatch, RecordMetadata
from aioproducer._config import ProducerConfig
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.records import (
    RecordBatchBuilder,
    batch_size_upper_bound,
    decode_batches,
    set_producer_state,
)
from aioproducer.errors import ProducerClosedError, ProducerError

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
T2 = TopicPartition("t", 2)


class FakeCompletion:
    """Stands in for asyncio.Future[RecordMetadata]."""

    def __init__(self) -> None:
        self.result: RecordMetadata | None = None
        self.error: BaseException | None = None
        self.retrieved = False

    def done(self) -> bool:
        return self.result is not None or self.error is not None

    def cancelled(self) -> bool:
        return False

    def exception(self) -> BaseException | None:
        self.retrieved = True
        return self.error

    def set_result(self, result: RecordMetadata, /) -> None:
        assert not self.done()
        self.result = result

    def set_exception(self, exception: BaseException, /) -> None:
        assert not self.done()
        self.error = exception


@dataclass
class Leaders:
    """tp -> node id; absent = unknown leader."""

    nodes: dict[TopicPartition, int] = field(default_factory=dict)

    def leader(self, topic: str, partition: int) -> int:
        return self.nodes.get(TopicPartition(topic, partition), -1)


def make(idempotence: IdempotenceState | None = None, **options: object) -> RecordAccumulator:
    options.setdefault("linger_ms", 10)
    options.setdefault("batch_size", 1000)
    config = ProducerConfig(**options)  # type: ignore[arg-type]
    return RecordAccumulator(config, idempotence=idempotence, random=lambda: 0.5)


def add(
    acc: RecordAccumulator, tp: TopicPartition, value: bytes = b"v" * 100, now: int = 0
) -> tuple[FakeCompletion, AppendResult]:
    completion = FakeCompletion()
    result = acc.append(tp, 1_000 + now, b"key", value, (), completion, now)
    return completion, result


# -- append and buffer accounting ---------------------------------------------------------------


def test_append_results() -> None:
    acc = make()
    _, first = add(acc, T0)
    assert first.new_batch
    assert not first.batch_is_full
    results = [add(acc, T0)[1] for _ in range(10)]  # 8 records of 111 bytes fill a batch
    assert sum(r.new_batch for r in results) == 1  # one more batch once the first was full
    opened = results.index(AppendResult.NEW_BATCH | AppendResult.BATCH_FULL)
    assert not any(r.batch_is_full for r in results[: opened - 1])
    assert all(r.batch_is_full for r in results[opened:])  # a batch queues behind another


def test_append_result_is_a_shared_constant() -> None:
    acc = make()
    add(acc, T0)
    assert add(acc, T0)[1] is add(acc, T0)[1]


def test_a_record_the_open_batch_has_no_room_for_opens_one_behind_it() -> None:
    acc = make()
    assert add(acc, T1, b"v")[1] is AppendResult.NEW_BATCH
    add(acc, T0)
    used = acc.used_bytes
    completion, result = add(acc, T0, b"v" * 900)  # 111 + 911 bytes: over batch_size
    assert result is AppendResult.NEW_BATCH | AppendResult.BATCH_FULL  # one queues behind
    assert [b.record_count for b in acc.queued(T0)] == [1, 1]
    assert acc.queued(T0)[1].completions == [completion]
    assert acc.queued(T0)[1].timestamps.tolist() == [1_000]
    assert acc.used_bytes - used == acc.queued(T0)[1].builder.estimated_size
    assert acc.queue_length(T0) == 2
    assert acc.queue_length(TopicPartition("t", 9)) is None
    acc.close()
    with pytest.raises(ProducerClosedError):
        add(acc, T0, b"v")


def test_record_larger_than_batch_size_gets_its_own_batch() -> None:
    acc = make(batch_size=100)
    _, result = add(acc, T0, b"x" * 500)
    assert result.new_batch
    assert result.batch_is_full
    _, result = add(acc, T0, b"y")
    assert result.new_batch
    assert [b.record_count for b in acc.queued(T0)] == [1, 1]


def test_buffer_accounting_is_exact_and_released() -> None:
    acc = make(buffer_memory=10_000)
    for _ in range(25):
        add(acc, T0)
        add(acc, T1)
    batches = acc.queued(T0) + acc.queued(T1)
    assert acc.used_bytes == sum(b.estimated_size for b in batches)
    assert acc.available() == 10_000 - acc.used_bytes
    for batch in batches:
        acc.deallocate(batch)
        acc.deallocate(batch)  # twice is harmless
    assert acc.used_bytes == 0
    assert not acc.has_incomplete()


def test_has_room_uses_upper_bound() -> None:
    acc = make(buffer_memory=1_000)
    size = batch_size_upper_bound(b"key", b"v" * 100)
    appended = 0
    while acc.has_room(size):
        add(acc, T0)
        appended += 1
    assert acc.used_bytes <= 1_000
    assert appended >= 1
    assert not acc.has_room(size)


def test_space_freed_callback() -> None:
    calls: list[int] = []
    acc = RecordAccumulator(ProducerConfig(), on_space_freed=lambda: calls.append(1))
    add(acc, T0)
    (batch,) = acc.queued(T0)
    acc.deallocate(batch)
    assert calls == [1]


def test_deallocate_serves_the_line_of_waiters() -> None:
    acc = make(buffer_memory=2_000, batch_size=1_000)
    while acc.has_room(200):
        add(acc, T0)
    woken: list[int] = []
    waiter = acc.wait_for_memory(200, lambda: woken.append(1))
    assert woken == []
    assert not acc.has_room(0)  # nobody may overtake it
    acc.deallocate(acc.queued(T0)[0])
    assert woken == [1]
    assert waiter.held == 200
    assert acc.available() == 2_000 - acc.used_bytes - 200


def test_a_split_serves_the_line_only_from_what_its_pieces_leave() -> None:
    acc = make(linger_ms=0, batch_size=4_000, buffer_memory=4_000)
    for i in range(40):
        acc.append(T0, 5_000, f"k{i}".encode(), b"v" * 60, (), FakeCompletion(), 0)
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    woken: list[int] = []
    waiter = acc.wait_for_memory(batch.estimated_size, lambda: woken.append(1))
    pieces = acc.split_and_reenqueue(batch, 10)
    assert acc.used_bytes == sum(p.estimated_size for p in pieces) > batch.estimated_size
    assert woken == []  # the original's bytes went to its pieces, not to the waiter
    assert acc.used_bytes + waiter.held <= 4_000


def test_topic_used_is_told_when_a_batch_opens_only() -> None:
    used: list[tuple[str, int]] = []
    acc = RecordAccumulator(
        ProducerConfig(batch_size=1000), on_topic_used=lambda t, now: used.append((t, now))
    )
    add(acc, T0, now=5)
    add(acc, T0, now=6)  # into the open batch: nothing per record
    add(acc, TopicPartition("u", 0), now=7)
    assert used == [("t", 5), ("u", 7)]
    acc.append(T0, 1, b"k", b"v" * 990, (), FakeCompletion())  # a new batch, at the clock's time
    assert [t for t, _ in used] == ["t", "u", "t"]


def test_append_after_close_raises() -> None:
    acc = make()
    add(acc, T0)
    acc.close()
    with pytest.raises(ProducerClosedError):
        add(acc, T0)


# -- readiness ----------------------------------------------------------------------------------


def test_linger_readiness() -> None:
    acc = make(linger_ms=10)
    leaders = Leaders({T0: 1})
    add(acc, T0, now=0)
    result = acc.ready(3, leaders)
    assert result.ready_nodes == set()
    assert result.next_check_ms == 7
    assert acc.ready(10, leaders).ready_nodes == {1}


def test_full_batch_is_ready_before_linger() -> None:
    acc = make(linger_ms=10_000)
    leaders = Leaders({T0: 1})
    while not add(acc, T0)[1].batch_is_full:
        pass
    assert acc.ready(0, leaders).ready_nodes == {1}


def test_flush_and_close_make_everything_ready() -> None:
    acc = make(linger_ms=10_000)
    leaders = Leaders({T0: 1, T1: 2})
    add(acc, T0)
    add(acc, T1)
    assert acc.ready(0, leaders).ready_nodes == set()
    token = acc.begin_flush()
    assert acc.flush_in_progress
    assert acc.ready(0, leaders).ready_nodes == {1, 2}
    acc.end_flush()
    assert acc.ready(0, leaders).ready_nodes == set()
    acc.close()
    assert acc.ready(0, leaders).ready_nodes == {1, 2}
    assert not acc.flush_done(token)


def test_memory_waiters_make_everything_ready() -> None:
    acc = make(linger_ms=10_000)
    add(acc, T0)
    waiter = acc.wait_for_memory(acc.config.buffer_memory, lambda: None)  # cannot fit yet
    assert acc.memory_waiters == 1
    assert acc.ready(0, Leaders({T0: 1})).ready_nodes == {1}
    acc.leave(waiter)
    assert acc.ready(0, Leaders({T0: 1})).ready_nodes == set()


def test_unknown_leader_reported() -> None:
    acc = make()
    add(acc, T0)
    add(acc, TopicPartition("other", 0))
    result = acc.ready(100, Leaders({T0: 1}))
    assert result.ready_nodes == {1}
    assert result.unknown_leader_topics == {"other"}


def test_next_check_includes_expiry() -> None:
    acc = make(linger_ms=0, delivery_timeout_ms=40_000, request_timeout_ms=30_000)
    add(acc, T0)
    result = acc.ready(1_000, Leaders())
    assert result.next_check_ms == 39_000


# -- drain ----------------------------------------------------------------------------------------


def test_drain_one_batch_per_partition_and_seals() -> None:
    acc = make(linger_ms=0)
    leaders = Leaders({T0: 1, T1: 1, T2: 2})
    for _ in range(15):
        for tp in (T0, T1, T2):
            add(acc, tp)
    drained = acc.drain(leaders, {1, 2}, 1 << 20, 0)
    assert sorted(b.tp.partition for b in drained[1]) == [0, 1]
    assert [b.tp for b in drained[2]] == [T2]
    for batches in drained.values():
        for batch in batches:
            assert batch.in_flight
            assert batch.built is not None
            (decoded,) = decode_batches(batch.built)
            assert len(decoded.records) == batch.record_count
    assert all(len(acc.queued(tp)) == 1 for tp in (T0, T1, T2))


def test_drain_only_requested_nodes() -> None:
    acc = make(linger_ms=0)
    add(acc, T0)
    add(acc, T1)
    drained = acc.drain(Leaders({T0: 1, T1: 2}), {2}, 1 << 20, 0)
    assert list(drained) == [2]


def test_drain_stops_at_max_request_size_and_rotates() -> None:
    acc = make(linger_ms=0)
    tps = [TopicPartition("t", p) for p in range(4)]
    leaders = Leaders(dict.fromkeys(tps, 1))
    for _ in range(6):  # three 311-byte records fill a batch: two batches per partition
        for tp in tps:
            add(acc, tp, b"x" * 300)
    one = len(acc.queued(tps[0])[0].seal())
    first = acc.drain(leaders, {1}, 2 * one, 0)[1]
    assert [b.tp.partition for b in first] == [0, 1]
    second = acc.drain(leaders, {1}, 2 * one, 0)[1]
    assert [b.tp.partition for b in second] == [2, 3]  # starts where the last one stopped
    third = acc.drain(leaders, {1}, 10 * one, 0)[1]
    assert len(third) == 4


def test_drain_fairness_over_many_requests() -> None:
    acc = make(linger_ms=0)
    tps = [TopicPartition("t", p) for p in range(5)]
    leaders = Leaders(dict.fromkeys(tps, 1))
    for _ in range(6):
        for tp in tps:
            add(acc, tp, b"x" * 900)  # one record per batch (batch_size 1000)
    one = len(acc.queued(tps[0])[0].seal())
    counts = dict.fromkeys(tps, 0)
    for _ in range(10):
        for batch in acc.drain(leaders, {1}, one, 0).get(1, []):
            counts[batch.tp] += 1
    assert set(counts.values()) == {2}  # every partition got its turn


def test_oversized_batch_goes_alone() -> None:
    acc = make(linger_ms=0, batch_size=100)
    add(acc, T0, b"x" * 5_000)
    add(acc, T1, b"y" * 10)
    leaders = Leaders({T0: 1, T1: 1})
    first = acc.drain(leaders, {1}, 1_000, 0)[1]
    assert len(first) == 1
    second = acc.drain(leaders, {1}, 1_000, 0)[1]
    assert len(second) == 1
    assert {first[0].tp, second[0].tp} == {T0, T1}


def test_max_in_flight_one_mutes_partition() -> None:
    acc = make(linger_ms=0, max_in_flight_requests_per_connection=1)
    leaders = Leaders({T0: 1})
    for _ in range(30):
        add(acc, T0)
    (batch,) = acc.drain(leaders, {1}, 1 << 20, 0)[1]
    assert acc.drain(leaders, {1}, 1 << 20, 0) == {}
    assert acc.ready(0, leaders).ready_nodes == set()
    acc.deallocate(batch)
    assert len(acc.drain(leaders, {1}, 1 << 20, 0)[1]) == 1


# -- retries -----------------------------------------------------------------------------------


def test_reenqueue_goes_to_front_after_backoff() -> None:
    acc = make(linger_ms=0, retry_backoff_ms=100, retry_backoff_max_ms=1000)
    leaders = Leaders({T0: 1})
    for _ in range(30):
        add(acc, T0)
    (batch,) = acc.drain(leaders, {1}, 1 << 20, 0)[1]
    acc.reenqueue(batch, 50)
    assert batch.attempts == 1
    assert not batch.in_flight
    assert acc.queued(T0)[0] is batch
    assert acc.ready(100, leaders).ready_nodes == set()  # backing off until 150
    assert acc.ready(100, leaders).next_check_ms <= 50
    assert acc.drain(leaders, {1}, 1 << 20, 100) == {}
    assert acc.drain(leaders, {1}, 1 << 20, 150)[1] == [batch]
    acc.reenqueue(batch, 200)
    assert batch.retry_at_ms == 400  # 100 * 2 ** 1, no jitter at random() == 0.5


def test_new_leader_skips_backoff() -> None:
    acc = make(linger_ms=0, retry_backoff_ms=1000)
    add(acc, T0)
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    acc.reenqueue(batch, 0)
    assert acc.ready(1, Leaders({T0: 1})).ready_nodes == set()
    assert acc.ready(1, Leaders({T0: 2})).ready_nodes == {2}
    assert acc.drain(Leaders({T0: 2}), {2}, 1 << 20, 1)[2] == [batch]


def test_reenqueue_keeps_order_of_several_retries() -> None:
    acc = make(linger_ms=0)
    leaders = Leaders({T0: 1})
    batches = []
    for _ in range(3):
        for _ in range(8):  # one full batch
            add(acc, T0)
        batches += acc.drain(leaders, {1}, 1 << 20, 0)[1]
    for batch in reversed(batches):  # re-enqueue newest first: each goes to the front
        acc.reenqueue(batch, 0)
    assert acc.queued(T0) == batches


def test_retried_batch_is_sent_as_is() -> None:
    acc = make(linger_ms=0)
    add(acc, T0)
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    built = batch.built
    acc.reenqueue(batch, 0)
    (again,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 10_000)[1]
    assert again.built is built  # not rebuilt nor recompressed


# -- expiry ---------------------------------------------------------------------------------------


def test_expired_batches_only_queued_ones() -> None:
    acc = make(linger_ms=0, delivery_timeout_ms=50_000, request_timeout_ms=30_000)
    leaders = Leaders({T0: 1})
    add(acc, T0, now=0)
    (in_flight,) = acc.drain(leaders, {1}, 1 << 20, 0)[1]
    add(acc, T0, now=0)
    add(acc, T1, now=10_000)
    assert acc.expired_batches(49_999) == []
    expired = acc.expired_batches(50_000)
    assert [b.tp for b in expired] == [T0]
    assert in_flight not in expired
    assert acc.queued(T0) == []
    assert [b.tp for b in acc.expired_batches(60_000)] == [T1]


def test_expired_after_reenqueue_in_front_of_newer() -> None:
    acc = make(linger_ms=0, delivery_timeout_ms=50_000, request_timeout_ms=30_000)
    add(acc, T0, now=0)
    (old,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    add(acc, T0, now=20_000)
    acc.reenqueue(old, 30_000)
    assert acc.expired_batches(55_000) == [old]
    assert len(acc.queued(T0)) == 1


# -- split ----------------------------------------------------------------------------------------


def test_split_keeps_records_order_and_completions() -> None:
    acc = make(linger_ms=0, batch_size=4_000, compression_type="gzip")
    completions = []
    for i in range(20):
        completion = FakeCompletion()
        acc.append(T0, 5_000 + i, f"k{i}".encode(), b"v" * i, [("h", b"x")], completion, 0)
        completions.append(completion)
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    pieces = acc.split_and_reenqueue(batch, 10)
    assert len(pieces) >= 2
    assert batch.done
    assert batch not in acc.queued(T0)
    assert acc.queued(T0) == pieces
    assert all(p.estimated_size <= batch.estimated_size // 2 + 1 for p in pieces)
    assert acc.used_bytes == sum(p.estimated_size for p in pieces)
    records = [r for p in pieces for r in decode_batches(p.seal())[0].records]
    assert [r.key for r in records] == [f"k{i}".encode() for i in range(20)]
    assert [r.timestamp for r in records] == [5_000 + i for i in range(20)]
    assert all(r.headers == (("h", b"x"),) for r in records)
    offset = 100
    for piece in acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 10).get(1, []):
        acc.deallocate(piece)
        piece.complete(offset)
        offset += piece.record_count
    while acc.has_undrained():
        for piece in acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 10)[1]:
            acc.deallocate(piece)
            piece.complete(offset)
            offset += piece.record_count
    results = [c.result for c in completions]
    assert [r.offset for r in results if r] == list(range(100, 120))
    assert not acc.has_incomplete()


def test_split_keeps_sequences_with_idempotence() -> None:
    idem = IdempotenceState(first_batch_alone=False)
    idem.set_producer_id(9, 3)
    acc = make(idem, linger_ms=0)
    for _ in range(8):
        add(acc, T0)
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    pieces = acc.split_and_reenqueue(batch, 0)
    sequences = [p.base_sequence for p in pieces]
    assert sequences[0] == 0
    assert sum(p.record_count for p in pieces) == 8
    for piece, nxt in zip(pieces, sequences[1:], strict=False):
        assert piece.base_sequence + piece.record_count == nxt
    assert idem.in_flight(T0) == pieces
    (first,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]  # one at a time: retries
    assert first is pieces[0]
    (decoded,) = decode_batches(first.built or b"")
    assert (decoded.producer_id, decoded.producer_epoch, decoded.base_sequence) == (9, 3, 0)


def _fill_three(acc: RecordAccumulator) -> list[TopicPartition]:
    tps = [TopicPartition("t", p) for p in range(3)]
    for _ in range(4):
        for tp in tps:
            add(acc, tp)
    return tps


@pytest.mark.parametrize("room", ["ample", "exact", "none"])
def test_idempotent_drain_stamps_every_batch_with_its_sequence(
    room: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch is built once, stamped with the sequence it then gets, also when only the
    build can tell whether it fits the request (it waits for the next one, still stamped)."""
    plain = make(linger_ms=0, compression_type="lz4")
    one = len(plain.queued(_fill_three(plain)[0])[0].seal())
    max_request_size = {"ample": 1 << 20, "exact": 2 * one, "none": 1}[room]
    restamps: list[int] = []

    def counting(built: bytes, producer_id: int, epoch: int, sequence: int) -> bytes:
        restamps.append(sequence)
        return set_producer_state(built, producer_id, epoch, sequence)

    monkeypatch.setattr(batch_module, "set_producer_state", counting)
    idem = IdempotenceState(first_batch_alone=False)
    idem.set_producer_id(9, 3)
    acc = make(idem, linger_ms=0, compression_type="lz4")
    tps = _fill_three(acc)
    drained = acc.drain(Leaders(dict.fromkeys(tps, 1)), {1}, max_request_size, 0)[1]
    assert len(drained) == {"ample": 3, "exact": 2, "none": 1}[room]
    for batch in drained:
        (decoded,) = decode_batches(batch.built or b"")
        assert (decoded.producer_id, decoded.producer_epoch) == (9, 3)
        assert decoded.base_sequence == batch.base_sequence == 0
    left = [b for tp in tps for b in acc.queued(tp) if b.built is not None]
    assert len(left) == {"ample": 0, "exact": 1, "none": 1}[room]  # measured: too large
    for batch in acc.drain(Leaders(dict.fromkeys(tps, 1)), {1}, 1 << 20, 0).get(1, []):
        (decoded,) = decode_batches(batch.built or b"")
        assert decoded.base_sequence == batch.base_sequence == 0
    assert restamps == []


# -- flush, abort -------------------------------------------------------------------------------


def test_flush_token_waits_for_earlier_batches_and_split_pieces() -> None:
    acc = make(linger_ms=0)
    for _ in range(8):
        add(acc, T0)
    token = acc.begin_flush()
    add(acc, T1)  # after the flush began: not waited for
    (batch,) = acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)[1]
    pieces = acc.split_and_reenqueue(batch, 0)
    assert not acc.flush_done(token)
    for piece in pieces:
        acc.deallocate(piece)
        piece.complete(0)
    assert acc.flush_done(token)
    acc.end_flush()
    assert not acc.flush_in_progress


def test_abort_all_fails_queued_and_in_flight() -> None:
    idem = IdempotenceState(first_batch_alone=False)
    idem.set_producer_id(1, 0)
    acc = make(idem, linger_ms=0)
    in_flight_completion, _ = add(acc, T0)
    acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0)
    queued_completion, _ = add(acc, T1)
    error = ProducerError("closing")
    assert acc.abort_all(error) == 2
    assert in_flight_completion.error is error
    assert in_flight_completion.retrieved
    assert queued_completion.error is error
    assert not acc.has_incomplete()
    assert not acc.has_undrained()
    assert acc.used_bytes == 0
    assert idem.in_flight(T0) == []


# -- batch ----------------------------------------------------------------------------------------


def test_batch_completion_offsets_and_log_append_time() -> None:
    acc = make()
    completions = [add(acc, T0, now=i)[0] for i in range(3)]
    (batch,) = acc.queued(T0)
    batch.complete(40, log_append_time_ms=-1)
    assert [c.result for c in completions] == [
        RecordMetadata("t", 0, 40 + i, 1_000 + i) for i in range(3)
    ]
    batch.complete(99)  # settled once only
    assert completions[0].result == RecordMetadata("t", 0, 40, 1_000)

    acc2 = make()
    completion, _ = add(acc2, T0)
    (batch2,) = acc2.queued(T0)
    batch2.complete(-1, log_append_time_ms=777)
    assert completion.result == RecordMetadata("t", 0, -1, 777)


def test_batch_restamps_without_rebuilding() -> None:
    acc = make()
    add(acc, T0)
    (batch,) = acc.queued(T0)
    plain = batch.seal()
    assert batch.seal() is plain
    batch.set_producer_state(5, 1, 2_147_483_000)
    stamped = batch.seal()
    (decoded,) = decode_batches(stamped)
    assert (decoded.producer_id, decoded.producer_epoch, decoded.base_sequence) == (
        5,
        1,
        2_147_483_000,
    )
    assert stamped[61:] == plain[61:]
    assert batch.seal() is stamped
    assert repr(batch).startswith("<ProducerBatch t-0")


def test_batch_fail_skips_cancelled() -> None:
    class Cancelled(FakeCompletion):
        def done(self) -> bool:
            return True

        def cancelled(self) -> bool:
            return True

    batch = ProducerBatch(T0, RecordBatchBuilder(batch_size=100), 0, 1)
    batch.completions = [Cancelled(), FakeCompletion()]
    batch.fail(ProducerError("x"))
    assert isinstance(batch.completions[1], FakeCompletion)
    assert batch.completions[1].error is not None


# -- property: random operations keep order and exact accounting ----------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["append", "drain", "ack", "retry", "split", "tick"]),
        st.integers(0, 2),
        st.integers(0, 400),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS, idempotent=st.booleans())
def test_random_operations_keep_order_and_accounting(
    ops: list[tuple[str, int, int]], idempotent: bool
) -> None:
    idem = None
    if idempotent:
        idem = IdempotenceState(first_batch_alone=False)
        idem.set_producer_id(1, 0)
    acc = make(idem, linger_ms=5, batch_size=600)
    tps = [TopicPartition("t", p) for p in range(3)]
    leaders = Leaders(dict(zip(tps, [1, 1, 2], strict=True)))
    now = 0
    sent: dict[TopicPartition, list[int]] = {tp: [] for tp in tps}
    acked: dict[TopicPartition, list[int]] = {tp: [] for tp in tps}
    in_flight: list[ProducerBatch] = []
    counter = 0
    for op, index, size in ops:
        tp = tps[index]
        if op == "append":
            completion = FakeCompletion()
            acc.append(tp, now, None, counter.to_bytes(4, "big") + b"x" * size, (), completion, now)
            sent[tp].append(counter)
            counter += 1
        elif op == "drain":
            for batches in acc.drain(leaders, {1, 2}, 2_000, now).values():
                in_flight.extend(batches)
        elif op == "ack" and in_flight:
            # ack the oldest in-flight batch of some partition
            batch = next((b for b in in_flight if b.tp == tp), in_flight[0])
            in_flight.remove(batch)
            if idem is not None:
                idem.on_success(batch)
            acc.deallocate(batch)
            records = decode_batches(batch.seal())[0].records
            acked[batch.tp].extend(int.from_bytes((r.value or b"")[:4], "big") for r in records)
            batch.complete(0)
        elif op == "retry" and in_flight:
            batch = in_flight.pop()  # newest goes back first, then older ones in front of it
            acc.reenqueue(batch, now)
            for other in [b for b in in_flight if b.tp == batch.tp][::-1]:
                in_flight.remove(other)
                acc.reenqueue(other, now)
        elif op == "split" and in_flight:
            batch = in_flight.pop(0)
            if batch.record_count > 1:
                for other in [b for b in in_flight if b.tp == batch.tp][::-1]:
                    in_flight.remove(other)
                    acc.reenqueue(other, now)
                acc.split_and_reenqueue(batch, now)
            else:
                in_flight.insert(0, batch)
        elif op == "tick":
            now += size * 10
        incomplete = [b for q in (acc.queued(t) for t in tps) for b in q] + in_flight
        assert acc.used_bytes == sum(b.estimated_size for b in incomplete)
        assert acc.has_incomplete() == bool(incomplete)
    # Per partition, acknowledged records are a prefix-ordered subsequence of what was sent:
    # acks here happen in drain order, which must be append order per partition.
    for tp in tps:
        position = {value: i for i, value in enumerate(sent[tp])}
        order = [position[v] for v in acked[tp]]
        assert order == sorted(order), (tp, acked[tp])


@pytest.mark.parametrize("open_batch", [False, True], ids=["first record", "open batch"])
def test_an_append_that_fails_leaves_everything_as_it_was(open_batch: bool) -> None:
    """A record whose encoding fails (here a header name UTF-8 cannot encode) changes no
    batch, no byte count and no flush: in particular no empty batch is left that flush()
    and close() would wait for forever."""
    acc = make()
    if open_batch:
        add(acc, T0)
    before = ([b.record_count for b in acc.queued(T0)], acc.used_bytes, acc.has_incomplete())
    with pytest.raises(UnicodeEncodeError):
        acc.append(T0, 1_000, b"k", b"v", [("\ud800", b"")], FakeCompletion())
    after = ([b.record_count for b in acc.queued(T0)], acc.used_bytes, acc.has_incomplete())
    assert after == before
    assert acc.flush_done(acc.begin_flush()) is not open_batch
    for batch in acc.queued(T0):
        assert len(batch.completions) == len(batch.timestamps) == batch.builder.record_count
