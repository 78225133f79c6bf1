"""Where a batch is built: a build that fails, and builds handed to someone else (no loop)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import pytest
from test_accumulator import FakeCompletion, Leaders, add, make

from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch import ProducerBatch, Stamp
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._protocol import records as records_module
from aioproducer._protocol.compression import CompressionType, compress
from aioproducer._protocol.records import decode_batches
from aioproducer.errors import BatchBuildError, ProducerClosedError

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
T2 = TopicPartition("t", 2)
LEADERS = Leaders({T0: 1, T1: 1, T2: 1})
POISON = b"poison"


def _idempotent(codec: str) -> tuple[IdempotenceState, RecordAccumulator]:
    idem = IdempotenceState(first_batch_alone=False)
    idem.set_producer_id(7, 0)
    return idem, make(idem, linger_ms=0, compression_type=codec)


def _fill(acc: RecordAccumulator, tp: TopicPartition, value: bytes) -> list[FakeCompletion]:
    """One full batch of ``tp`` (eight 100-byte records; batch_size 1000), and no more."""
    queued = len(acc.queued(tp))
    completions = [add(acc, tp, value)[0] for _ in range(8)]
    assert len(acc.queued(tp)) == queued + 1
    return completions


def _break_builds(monkeypatch: pytest.MonkeyPatch, where: str, error: Exception) -> None:
    """Make the build of a batch holding ``POISON`` raise ``error``, in the builder itself or
    in the codec it calls."""
    if where == "codec":

        def broken_codec(
            codec: CompressionType, data: memoryview, level: int | None = None
        ) -> bytes:
            if POISON in bytes(data):
                raise error
            return compress(codec, data, level)

        monkeypatch.setattr(records_module, "compress", broken_codec)
        return
    finish = records_module.finish_batch

    def broken_finish(buffer: bytearray, *state: Any) -> bytes:
        if POISON in buffer:
            raise error
        return finish(buffer, *state)

    monkeypatch.setattr(records_module, "finish_batch", broken_finish)  # both builders' build


@pytest.mark.parametrize(("codec", "where"), [("none", "builder"), ("gzip", "codec")])
def test_a_batch_that_cannot_be_built_fails_alone_and_takes_no_sequence(
    codec: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = zlib.error("Error -2 while compressing data") if where == "codec" else MemoryError()
    _break_builds(monkeypatch, where, error)
    idem, acc = _idempotent(codec)
    _fill(acc, T0, b"a" * 100)
    poisoned = _fill(acc, T0, POISON * 17)
    _fill(acc, T0, b"c" * 100)
    (first,) = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]
    idem.on_success(first, 0)
    acc.deallocate(first)
    first.complete(0)
    others = [_fill(acc, tp, b"o" * 100) for tp in (T1, T2)]
    bad = acc.queued(T0)[0]
    used = acc.used_bytes

    drained = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]

    assert sorted(batch.tp.partition for batch in drained) == [0, 1, 2]
    (after,) = (batch for batch in drained if batch.tp == T0)
    assert after is not bad
    (decoded,) = decode_batches(after.built or b"")
    assert after.base_sequence == decoded.base_sequence == 8  # the failed batch's sequence
    assert [r.value for r in decoded.records] == [b"c" * 100] * 8
    for completion in poisoned:
        assert isinstance(completion.error, BatchBuildError)
        assert completion.error.__cause__ is error
        assert completion.retrieved
    assert bad.done
    assert not bad.in_flight
    assert not any(c.done() for group in others for c in group)
    assert acc.used_bytes == used - bad.estimated_size
    assert idem.in_flight(T0) == [after]
    assert not idem.bump_requested  # no gap: the broker never hears of the failed batch
    assert acc.queued(T0) == []


class Builds:
    """A BuildElsewhere that only keeps what it was given; the test builds and attaches."""

    def __init__(self, wants: Callable[[ProducerBatch], bool]) -> None:
        self.wants = wants
        self.submitted: list[tuple[ProducerBatch, Stamp]] = []

    def submit(self, batch: ProducerBatch, stamp: Stamp) -> bool:
        assert batch.builder.closed
        self.submitted.append((batch, stamp))
        return True


def test_a_batch_built_elsewhere_stays_first_and_goes_once_built() -> None:
    idem, acc = _idempotent("gzip")
    builds = Builds(lambda batch: batch.tp == T0)
    _fill(acc, T0, b"a" * 100)
    add(acc, T1)
    (small,) = acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1]
    assert small.tp == T1
    assert small.built is not None  # built here
    ((big, stamp),) = builds.submitted
    assert stamp == (7, 0, 0)
    assert (big.building, big.built, big.has_sequence) == (True, None, False)
    assert acc.queued(T0) == [big]

    add(acc, T0)  # a closed batch takes no more records: a new one opens behind it
    assert big.record_count == 8
    assert len(acc.queued(T0)) == 2
    assert acc.ready(0, LEADERS).ready_nodes == set()
    assert acc.drain(LEADERS, {1}, 1 << 20, 0, builds) == {}
    assert len(builds.submitted) == 1  # handed over once

    built = big.builder.build(*stamp)  # what the thread does
    acc.attach_built(big, stamp, built)
    assert not big.building
    assert acc.ready(0, LEADERS).ready_nodes == {1}
    assert acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1] == [big]
    assert big.built is built  # stamped as it was built: no copy
    assert big.base_sequence == decode_batches(built)[0].base_sequence == 0
    assert idem.in_flight(T0) == [big]


def _handed_over(acc: RecordAccumulator) -> tuple[ProducerBatch, Stamp, list[FakeCompletion]]:
    """A full batch of T0 that drain() handed over to be built elsewhere."""
    builds = Builds(lambda batch: True)
    completions = _fill(acc, T0, b"a" * 100)
    assert acc.drain(LEADERS, {1}, 1 << 20, 0, builds) == {}
    ((batch, stamp),) = builds.submitted
    return batch, stamp, completions


def test_a_batch_built_elsewhere_is_restamped_if_the_state_changed() -> None:
    idem, acc = _idempotent("gzip")
    big, stamp, _ = _handed_over(acc)
    idem.set_producer_id(8, 2)  # a new producer id meanwhile
    acc.attach_built(big, stamp, big.builder.build(*stamp))
    (drained,) = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]
    (decoded,) = decode_batches(drained.built or b"")
    assert (decoded.producer_id, decoded.producer_epoch, decoded.base_sequence) == (8, 2, 0)


def test_a_build_elsewhere_that_failed_fails_its_batch_alone() -> None:
    idem, acc = _idempotent("gzip")
    builds = Builds(lambda batch: batch.record_count == 8)
    _fill(acc, T0, b"a" * 100)
    (in_flight,) = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]  # sequences 0-7
    poisoned = _fill(acc, T0, b"b" * 100)
    last = add(acc, T0)[0]
    assert acc.drain(LEADERS, {1}, 1 << 20, 0, builds) == {}  # handed over
    ((bad, stamp),) = builds.submitted
    assert stamp == (7, 0, 8)
    acc.reenqueue(in_flight, 0)  # a retry goes in front of the batch being built
    assert acc.queued(T0)[:2] == [in_flight, bad]
    used = acc.used_bytes
    error = zlib.error("Error -2 while compressing data")

    acc.attach_built(bad, stamp, error)

    assert all(isinstance(c.error, BatchBuildError) for c in poisoned)
    assert all(c.error.__cause__ is error for c in poisoned if c.error is not None)
    assert acc.used_bytes == used - bad.estimated_size
    assert [b.record_count for b in acc.queued(T0)] == [8, 1]
    (retried,) = acc.drain(LEADERS, {1}, 1 << 20, 1_000, builds)[1]
    assert retried is in_flight
    idem.on_success(retried, 0)
    acc.deallocate(retried)
    retried.complete(0)
    (after,) = acc.drain(LEADERS, {1}, 1 << 20, 1_000, builds)[1]
    assert after.base_sequence == 8  # the failed batch's
    assert not last.done()
    assert not idem.bump_requested


@pytest.mark.parametrize("how", ["forced close", "expiry"])
def test_a_batch_settled_while_built_elsewhere_drops_the_result(how: str) -> None:
    idem, acc = _idempotent("gzip")
    big, stamp, completions = _handed_over(acc)
    closed = ProducerClosedError("closed")
    if how == "expiry":  # what Sender._fail_expired does
        assert acc.expired_batches(big.deadline_ms) == [big]
        idem.on_expired(big)
        acc.deallocate(big)
        big.fail(closed)
    else:
        acc.abort_all(closed)
    acc.attach_built(big, stamp, big.builder.build(*stamp))
    acc.attach_built(big, stamp, ValueError("late and wrong"))
    assert big.built is None
    assert all(c.error is closed for c in completions)
    assert not acc.has_incomplete()
    assert acc.queued(T0) == []


def test_a_build_elsewhere_dropped_leaves_an_ordinary_queued_batch() -> None:
    _, acc = _idempotent("gzip")
    big, stamp, _ = _handed_over(acc)
    acc.attach_built(big, stamp, None)  # cancelled: the sender stopped
    assert not big.building
    (drained,) = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]  # built here, then
    assert drained is big
    assert len(decode_batches(big.built or b"")[0].records) == 8
