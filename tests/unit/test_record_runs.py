"""Runs of records (``Producer.send_many``): builder, accumulator, batch and group, no I/O."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch import RecordGroup, RecordMetadata, SentRecords
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.records import RecordBatchBuilder, decode_batches
from aioproducer.errors import ProducerError

T0 = TopicPartition("t", 0)
Pair = tuple[bytes | None, bytes | None]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop that only makes futures (never run)."""
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def group_of(loop: asyncio.AbstractEventLoop, count: int, timestamp_ms: int = 7) -> RecordGroup:
    return RecordGroup(loop.create_future(), "t", count, timestamp_ms)


def make(**options: object) -> RecordAccumulator:
    options.setdefault("linger_ms", 10)
    options.setdefault("batch_size", 1000)
    return RecordAccumulator(ProducerConfig(**options), random=lambda: 0.5)  # type: ignore[arg-type]


class OneLeader:
    """Node 1 leads every partition."""

    def leader(self, topic: str, partition: int) -> int:
        return 1


pairs = st.lists(
    st.tuples(
        st.none() | st.binary(max_size=300),
        st.none() | st.binary(max_size=9000),  # past the precomputed varints (8191)
    ),
    max_size=40,
)


# -- RecordBatchBuilder.append_run ----------------------------------------------------------------


@pytest.mark.usefixtures("each_builder")
@settings(max_examples=200, deadline=None)
@given(
    records=pairs,
    before=st.integers(0, 3),
    batch_size=st.sampled_from([100, 1000, 16384, 1 << 20]),
    delta=st.sampled_from([0, 5, 9000, -3]),
)
def test_append_run_writes_what_append_writes(
    records: list[Pair], before: int, batch_size: int, delta: int
) -> None:
    """Same bytes, same records taken, as appending one by one (``append`` is the reference)."""
    one, run = (RecordBatchBuilder(batch_size=batch_size) for _ in range(2))
    for builder in (one, run):
        for i in range(before):
            builder.append(1_000 + i, b"k", b"early")
    taken_one = 0
    for key, value in records:
        if one.append(1_000 + delta, key, value) is None:
            break
        taken_one += 1
    taken_run = run.append_run(1_000 + delta, records, range(len(records)))
    assert taken_run == taken_one
    assert run.record_count == one.record_count
    if one.record_count:
        assert run.estimated_size == one.estimated_size
        assert run.build() == one.build()


@pytest.mark.usefixtures("each_builder")
def test_append_run_follows_the_indices_and_stops_when_full() -> None:
    records: list[Pair] = [(f"k{i}".encode(), b"v" * 100) for i in range(50)]
    builder = RecordBatchBuilder(batch_size=600)
    taken = builder.append_run(5, records, memoryview(array("q", [4, 2, 40, 1, 0, 3, 9, 8])))
    assert 0 < taken < 8
    (batch,) = decode_batches(builder.build())
    assert [r.key for r in batch.records] == [records[i][0] for i in [4, 2, 40, 1, 0, 3][:taken]]
    assert [r.offset for r in batch.records] == list(range(taken))  # base offset 0
    assert builder.append_run(5, records, range(3)) == 0  # built: nothing more


@pytest.mark.usefixtures("each_builder")
def test_empty_builder_takes_one_oversized_record() -> None:
    builder = RecordBatchBuilder(batch_size=100)
    assert builder.append_run(1, [(None, b"x" * 500), (None, b"y")], range(2)) == 1


# -- RecordAccumulator.append_run ------------------------------------------------------------------


def test_runs_fill_batches_in_order(loop: asyncio.AbstractEventLoop) -> None:
    acc = make(batch_size=1000)
    records: list[Pair] = [(b"key", b"v" * 100) for _ in range(30)]
    group = group_of(loop, 30)
    done, full = acc.append_run(T0, 7, records, range(30), group)
    assert (done, full) == (30, True)
    batches = acc.queued(T0)
    assert len(batches) == 4  # 8 records of ~111 bytes per 1000-byte batch
    assert sum(b.record_count for b in batches) == 30
    assert acc.used_bytes == sum(b.estimated_size for b in batches)
    firsts = [indices[0] for b in batches for _, _, indices in b.runs]
    assert firsts == [0, 8, 16, 24]


def test_a_run_joins_the_open_batch_after_single_records(loop: asyncio.AbstractEventLoop) -> None:
    acc = make(batch_size=10_000)
    single: asyncio.Future[RecordMetadata] = loop.create_future()
    acc.append(T0, 7, b"a", b"single", (), single, 0)
    group = group_of(loop, 3)
    acc.append_run(T0, 7, [(b"b", b"1"), (b"c", b"2"), (b"d", b"3")], range(3), group)
    group.close()
    (batch,) = acc.queued(T0)
    assert batch.record_count == 4
    batch.complete(100)
    assert single.result() == RecordMetadata("t", 0, 100, 7)
    assert list(group.future.result()) == [RecordMetadata("t", 0, 101 + i, 7) for i in range(3)]


def test_runs_stop_when_buffer_memory_cannot_hold_another_batch(
    loop: asyncio.AbstractEventLoop,
) -> None:
    acc = make(batch_size=1000, buffer_memory=2500)
    records: list[Pair] = [(b"key", b"v" * 100) for _ in range(100)]
    done, _ = acc.append_run(T0, 7, records, range(100), group_of(loop, 100))
    assert done == 16  # two whole batches; a third would not fit
    assert acc.used_bytes <= 2500
    assert not acc.has_room(acc.batch_bytes)
    for batch in acc.queued(T0):
        acc.deallocate(batch)
    done, _ = acc.append_run(T0, 7, records, range(16, 100), group_of(loop, 100))
    assert done == 16


def test_split_gives_each_record_of_a_run_its_own_completion(
    loop: asyncio.AbstractEventLoop,
) -> None:
    acc = make(linger_ms=0, batch_size=4_000)
    records: list[Pair] = [(f"k{i}".encode(), b"v" * 50) for i in range(40)]
    indices = array("q", range(39, -1, -1))  # reversed: each record's index differs from its delta
    group = group_of(loop, 40)
    acc.append_run(T0, 7, records, memoryview(indices), group)
    group.close()
    (batch,) = acc.drain(OneLeader(), {1}, 1 << 20, 0)[1]
    pieces = acc.split_and_reenqueue(batch, 10)
    assert len(pieces) >= 2
    assert not any(piece.runs for piece in pieces)
    offset = 500
    for piece in pieces:
        piece.complete(offset)
        offset += piece.record_count
    sent = group.future.result()
    assert [md.offset for md in sent] == [500 + 39 - i for i in range(40)]


# -- RecordGroup and SentRecords -------------------------------------------------------------------


def settle(group: RecordGroup, runs: Sequence[tuple[Sequence[int], int, int, int]]) -> None:
    for indices, partition, base, log_append_time in runs:
        group.resolve(indices, partition, base, log_append_time)


def test_group_resolves_in_input_order(loop: asyncio.AbstractEventLoop) -> None:
    group = group_of(loop, 6, timestamp_ms=42)
    settle(group, [(memoryview(array("q", [5, 1, 3])), 2, 10, -1), (range(4, 5), 0, 7, 99)])
    assert not group.future.done()
    settle(group, [(range(1), 1, -1, -1), (range(2, 3), 1, 3, -1)])
    assert not group.future.done()  # not closed yet
    group.close()
    sent = group.future.result()
    assert isinstance(sent, SentRecords)
    assert len(sent) == 6
    assert list(sent) == [
        RecordMetadata("t", 1, -1, 42),
        RecordMetadata("t", 2, 11, 42),
        RecordMetadata("t", 1, 3, 42),
        RecordMetadata("t", 2, 12, 42),
        RecordMetadata("t", 0, 7, 99),
        RecordMetadata("t", 2, 10, 42),
    ]
    assert sent[-1] == sent[5]
    assert sent[1:3] == list(sent)[1:3]
    with pytest.raises(IndexError):
        sent[6]


def test_group_fails_with_the_first_error(loop: asyncio.AbstractEventLoop) -> None:
    group = group_of(loop, 2)
    group.fail(ProducerError("first"))
    group.fail(ProducerError("second"))
    settle(group, [(range(2), 0, 1, -1)])
    group.close()
    with pytest.raises(ProducerError, match="first"):
        group.future.result()


def test_failing_a_batch_fails_its_groups(loop: asyncio.AbstractEventLoop) -> None:
    acc = make()
    group = group_of(loop, 3)
    acc.append_run(T0, 7, [(None, b"x")] * 3, range(3), group)
    group.close()
    (batch,) = acc.queued(T0)
    batch.fail(ProducerError("gone"))
    with pytest.raises(ProducerError, match="gone"):
        group.future.result()


def test_runs_wait_behind_the_line_and_use_their_grant(loop: asyncio.AbstractEventLoop) -> None:
    acc = make(batch_size=1000, buffer_memory=2500)
    records: list[Pair] = [(b"key", b"v" * 100) for _ in range(100)]
    done, _ = acc.append_run(T0, 7, records, range(4), group_of(loop, 100))
    assert done == 4  # the open batch has room for four more
    woken: list[str] = []
    ahead = acc.wait_for_memory(2000, lambda: woken.append("ahead"))
    assert acc.append_run(T0, 7, records, range(4, 100), group_of(loop, 100)) == (0, False)
    mine = acc.wait_for_memory(acc.batch_bytes, lambda: woken.append("mine"))
    acc.leave(ahead)  # timed out: its turn passes on
    assert woken == ["mine"]
    done, _ = acc.append_run(T0, 7, records, range(4, 100), group_of(loop, 100), held=mine.held)
    assert done == 4  # the grant covers one step: filling the open batch
    acc.leave(mine)
    assert acc.used_bytes <= 2500
