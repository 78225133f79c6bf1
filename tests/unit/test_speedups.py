"""The compiled extensions against their Python twins: same bytes, same placements, clear
errors."""

from __future__ import annotations

import asyncio
import gc
import sys
from array import array
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer import _partitioner as partitioner
from aioproducer._batch import (
    ProducerBatch,
    RecordGroup,
    RecordMetadata,
    resolve_run_py,
    settle_py,
)
from aioproducer._futures import RecordFuture
from aioproducer._metadata import TopicPartition
from aioproducer._partitioner import _JAVA_VECTORS, _murmur2_py
from aioproducer._protocol.records import RecordBatchBuilderProtocol, RecordBatchBuilderPy
from aioproducer._send_many import plan_keyed_py
from aioproducer._speedups_status import Speedups, c, compiled

Pair = tuple[bytes | None, bytes | None]


pytestmark = pytest.mark.requires_extension


@pytest.fixture
def speedups() -> Speedups:
    assert c is not None
    return c


def test_murmur2_matches_java(speedups: Speedups) -> None:
    for key, expected in _JAVA_VECTORS.items():
        assert speedups.murmur2(key) == expected


@given(st.binary(max_size=100))
def test_murmur2_matches_python(data: bytes) -> None:
    assert c is not None
    assert c.murmur2(data) == _murmur2_py(data)


# -- the compiled RecordBatchBuilder: append_run --------------------------------------------------

pairs = st.lists(
    st.tuples(st.none() | st.binary(max_size=200), st.none() | st.binary(max_size=9000)),
    max_size=30,
)


@pytest.fixture
def compiled_builder(speedups: Speedups) -> type[RecordBatchBuilderProtocol]:
    module = compiled("aioproducer._protocol._crecords")
    assert module is not None  # both extensions load, or neither
    builder: type[RecordBatchBuilderProtocol] = module.RecordBatchBuilder
    return builder


def _both(
    batch_size: int, before: int
) -> tuple[RecordBatchBuilderProtocol, RecordBatchBuilderProtocol]:
    module = compiled("aioproducer._protocol._crecords")
    assert module is not None
    builders = (
        RecordBatchBuilderPy(batch_size=batch_size),
        module.RecordBatchBuilder(batch_size=batch_size),
    )
    for builder in builders:
        for i in range(before):
            builder.append(10_000 + i, b"k", b"early")
    return builders


@settings(max_examples=300, deadline=None)
@given(
    records=pairs,
    before=st.integers(0, 3),
    batch_size=st.sampled_from([90, 1000, 16384, 1 << 20]),
    delta=st.sampled_from([0, 7, 9000, -5, 1 << 40]),
    reverse=st.booleans(),
)
def test_compiled_append_run_writes_what_python_writes(
    records: list[Pair], before: int, batch_size: int, delta: int, reverse: bool
) -> None:
    assert c is not None
    order = list(range(len(records)))
    if reverse:
        order.reverse()
    view = memoryview(bytearray(b"".join(i.to_bytes(8, "little", signed=True) for i in order)))
    indices: Sequence[int] = view.cast("q") if reverse else range(len(records))
    python, native = _both(batch_size, before)
    taken_python = python.append_run(10_000 + delta, records, indices)
    taken_native = native.append_run(10_000 + delta, records, indices)
    assert taken_native == taken_python
    assert native.record_count == python.record_count
    assert native.estimated_size == python.estimated_size
    assert native.max_timestamp == python.max_timestamp
    if python.record_count:
        assert native.build() == python.build()


def test_compiled_append_run_rejects_bad_input(
    compiled_builder: type[RecordBatchBuilderProtocol],
) -> None:
    builder = compiled_builder(batch_size=1000)
    with pytest.raises(TypeError, match="bytes or None"):
        builder.append_run(0, [("k", b"v")], range(1))  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tuples"):
        builder.append_run(0, [[b"k", b"v"]], range(1))  # type: ignore[list-item]
    with pytest.raises(IndexError):
        builder.append_run(0, [(b"k", b"v")], range(2))
    indices = memoryview(array("q", [1]))
    with pytest.raises(IndexError):
        builder.append_run(0, [(b"k", b"v")], indices)
    assert builder.record_count == 0  # nothing written on error
    assert builder.estimated_size == 61


# -- plan_keyed ------------------------------------------------------------------------------------

records_to_plan: st.SearchStrategy[list[Any]] = st.lists(
    st.one_of(
        st.tuples(st.binary(max_size=20), st.binary(max_size=60)),
        st.tuples(st.none(), st.binary(max_size=5)),
        st.tuples(st.binary(max_size=5), st.text(max_size=3)),
        st.lists(st.binary(max_size=5), min_size=2, max_size=2).map(tuple).map(list),
        st.tuples(st.binary(max_size=5), st.binary(max_size=5), st.just([])),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(records=records_to_plan, partitions=st.integers(1, 7), start=st.integers(0, 5))
def test_plan_keyed_places_what_python_places(
    records: list[tuple[object, object]], partitions: int, start: int
) -> None:
    assert c is not None
    limit = 50
    start = min(start, len(records))
    runs_python = [bytearray() for _ in range(partitions)]
    runs_native = [bytearray() for _ in range(partitions)]
    stop_python = plan_keyed_py(records, runs_python, limit, start)
    stop_native = c.plan_keyed(records, runs_native, limit, start)
    assert stop_native == stop_python
    assert runs_native == runs_python


def test_plan_keyed_rejects_bad_runs(speedups: Speedups) -> None:
    with pytest.raises(TypeError):
        speedups.plan_keyed([(b"k", b"v")], [[]], 10, 0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="runs"):
        speedups.plan_keyed([(b"k", b"v")], [], 10, 0)


# -- the compiled RecordBatchBuilder: append ------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.integers(-(1 << 40), 1 << 40),
            st.none() | st.binary(max_size=200),
            st.none() | st.binary(max_size=9000),
        ),
        max_size=30,
    ),
    batch_size=st.sampled_from([90, 1000, 16384]),
)
def test_compiled_append_writes_what_python_writes(
    records: list[tuple[int, bytes | None, bytes | None]], batch_size: int
) -> None:
    assert c is not None
    python, native = _both(batch_size, 0)
    for delta, key, value in records:
        timestamp = 1_700_000_000_000 + delta
        assert native.append(timestamp, key, value) == python.append(timestamp, key, value)
    assert native.record_count == python.record_count
    assert native.estimated_size == python.estimated_size
    if python.record_count:
        assert native.build() == python.build()
        assert native.append(1, b"k", b"v") is None  # built


def test_compiled_append_rejects_bad_input(
    compiled_builder: type[RecordBatchBuilderProtocol],
) -> None:
    builder = compiled_builder(batch_size=1000)
    with pytest.raises(TypeError, match="bytes or None"):
        builder.append(0, "k", b"v")  # type: ignore[arg-type]
    assert builder.append(0, b"k", b"v") == 0
    assert builder.append(0, b"k", b"v" * 2000) is None  # too big
    assert builder.record_count == 1


# -- settle ----------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    states=st.lists(st.sampled_from(["pending", "cancelled", "none"]), max_size=20),
    base_offset=st.sampled_from([-1, 0, 1 << 40]),
    log_append_time=st.sampled_from([-1, 5, 1_700_000_000_000]),
)
def test_settle_resolves_what_python_resolves(
    states: list[str], base_offset: int, log_append_time: int
) -> None:
    assert c is not None
    loop = asyncio.new_event_loop()
    try:
        outcomes = []
        for settle in ("c", "python"):
            futures: list[asyncio.Future[RecordMetadata] | None] = []
            batch = ProducerBatch(
                TopicPartition("t", 3), RecordBatchBuilderPy(batch_size=100), 0, 0
            )
            for index, state in enumerate(states):
                future: asyncio.Future[RecordMetadata] | None = None
                if state != "none":
                    future = loop.create_future()
                    if state == "cancelled":
                        future.cancel()
                futures.append(future)
                batch.completions.append(future)
                batch.timestamps.append(1000 + index)
            if settle == "c":
                batch.complete(base_offset, log_append_time)
            else:
                settle_py(
                    batch.completions, RecordMetadata, "t", 3, base_offset, log_append_time,
                    batch.timestamps,
                )  # fmt: skip
            outcomes.append(
                [
                    None if f is None else "cancelled" if f.cancelled() else f.result()
                    for f in futures
                ]
            )
        assert outcomes[0] == outcomes[1]
        assert all(type(r) is RecordMetadata for r in outcomes[0] if isinstance(r, tuple))
    finally:
        loop.close()


# -- resolve_run -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 40),
    picks=st.lists(st.integers(0, 39), max_size=40, unique=True),
    base_offset=st.sampled_from([-1, 0, 1 << 40]),
    log_append_time=st.sampled_from([-1, 5, 1_700_000_000_000]),
)
def test_resolve_run_writes_what_python_writes(
    size: int, picks: list[int], base_offset: int, log_append_time: int
) -> None:
    assert c is not None
    indices = memoryview(array("q", [i for i in picks if i < size]))
    groups = []
    for resolve in ("c", "python"):
        loop = asyncio.new_event_loop()
        try:
            group = RecordGroup(loop.create_future(), "t", size, 77)
            if resolve == "c":
                c.resolve_run(
                    indices, group.partitions, group.offsets, group.timestamps, 4, base_offset,
                    log_append_time,
                )  # fmt: skip
            else:
                resolve_run_py(
                    indices, group.partitions, group.offsets, group.timestamps, 4, base_offset,
                    log_append_time,
                )  # fmt: skip
            groups.append((group.partitions, group.offsets, group.timestamps))
        finally:
            loop.close()
    assert groups[0] == groups[1]


def test_resolve_run_checks_every_index_before_writing(speedups: Speedups) -> None:
    partitions, offsets, stamps = array("i", [-1] * 3), array("q", [-1] * 3), array("q", [9] * 3)
    for bad in ([0, 3], [-1], [2, 0, 5]):
        with pytest.raises(IndexError):
            speedups.resolve_run(memoryview(array("q", bad)), partitions, offsets, stamps, 1, 0, 8)
        assert (list(partitions), list(offsets), list(stamps)) == ([-1] * 3, [-1] * 3, [9] * 3)
    with pytest.raises(ValueError, match="int32"):  # partitions must be int32
        speedups.resolve_run(memoryview(array("q", [0])), offsets, offsets, stamps, 1, 0, 8)
    with pytest.raises(BufferError):  # read-only
        speedups.resolve_run(memoryview(array("q", [0])), bytes(12), offsets, stamps, 1, 0, 8)  # type: ignore[arg-type]


def test_settle_needs_a_timestamp_per_record(speedups: Speedups) -> None:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        with pytest.raises(IndexError):
            speedups.settle([future], RecordMetadata, "t", 0, 0, -1, array("q"))
        assert not future.done()
    finally:
        loop.close()


def test_settled_metadata_costs_the_collector_nothing(speedups: Speedups) -> None:
    """A str and three ints cannot form a cycle: the compiled settle untracks the tuple, as
    CPython untracks such plain tuples; a subclass with a __dict__ stays tracked."""

    class Loose(tuple[Any, ...]):  # has a __dict__: could reach a cycle
        pass

    loop = asyncio.new_event_loop()
    try:
        for kind, tracked in ((RecordMetadata, False), (Loose, True)):
            future = loop.create_future()
            speedups.settle([future], kind, "t", 0, 7, -1, array("q", [5]))
            result = future.result()
            assert tuple(result) == ("t", 0, 7, 5)
            assert gc.is_tracked(result) is tracked
    finally:
        loop.close()


def test_settle_holds_no_reference_it_does_not_give(speedups: Speedups) -> None:
    """Each metadata tuple the compiled settle allocates holds one reference to the topic,
    partition and timestamp: once the futures go, the counts are back where they were."""
    topic, partition = "".join(["topic-", "refs"]), 1 << 40  # objects of this test alone
    before = sys.getrefcount(topic), sys.getrefcount(partition)
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(100)]
        speedups.settle(futures, RecordMetadata, topic, partition, 7, -1, array("q", range(100)))
        assert futures[99].result() == (topic, partition, 106, 99)
        assert sys.getrefcount(topic) == before[0] + 100
        del futures
        gc.collect()
        assert (sys.getrefcount(topic), sys.getrefcount(partition)) == before
    finally:
        loop.close()


def test_partitioner_hashes_with_the_extension(speedups: Speedups) -> None:
    assert partitioner.murmur2 is speedups.murmur2


def test_a_batch_tracks_the_c_relays_futures_it_fails_or_finds_cancelled(
    speedups: Speedups,
) -> None:
    """The C relay's futures are untracked (_cext/relay.c): a batch that succeeds leaves them so,
    tracks those it finds cancelled, and one that fails tracks them all (an exception's
    traceback may lead back to its future)."""
    loop = asyncio.new_event_loop()
    try:
        relay = speedups.CallbackRelay(loop, RecordFuture)
        for outcome in ("complete", "fail"):
            batch = ProducerBatch(
                TopicPartition("t", 0), RecordBatchBuilderPy(batch_size=100), 0, 0
            )
            futures = [relay.create_future() for _ in range(3)]
            futures[1].cancel()
            batch.completions.extend(futures)
            batch.timestamps.extend([1, 2, 3])
            assert not any(gc.is_tracked(f) for f in futures)
            if outcome == "complete":
                batch.complete(10)
                assert [gc.is_tracked(f) for f in futures] == [False, True, False]
                assert futures[2].result().offset == 12
            else:
                batch.fail(ValueError("x"))
                assert all(gc.is_tracked(f) for f in futures)
        group = RecordGroup(relay.create_future(), "t", 2, 0)
        group.fail(ValueError("y"))
        assert gc.is_tracked(group.future)
    finally:
        loop.close()
