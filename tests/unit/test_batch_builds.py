"""Where a batch is built: a build that fails (no loop)."""

from __future__ import annotations

import zlib

import pytest
from test_accumulator import FakeCompletion, Leaders, add, make

from aioproducer.accumulator import RecordAccumulator
from aioproducer.compression import CompressionType, compress
from aioproducer.errors import BatchBuildError
from aioproducer.idempotence import IdempotenceState
from aioproducer.metadata import TopicPartition
from aioproducer.protocol import records as records_module
from aioproducer.protocol.records import RecordBatchBuilder, decode_batches

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
    build = RecordBatchBuilder.build

    def broken_build(self: RecordBatchBuilder, *state: int) -> bytes:
        if POISON in self._buffer:
            raise error
        return build(self, *state)

    monkeypatch.setattr(RecordBatchBuilder, "build", broken_build)


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
