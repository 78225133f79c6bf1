"""The C extension against its Python twins: same bytes, same placements, clear errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer.partitioner import _JAVA_VECTORS, _murmur2_py
from aioproducer.producer import Producer
from aioproducer.protocol.records import RecordBatchBuilder
from aioproducer.speedups import Speedups, c

Pair = tuple[bytes | None, bytes | None]


@pytest.fixture
def speedups() -> Speedups:
    if c is None:
        if os.environ.get("AIOPRODUCER_REQUIRE_SPEEDUPS") == "1":
            pytest.fail("the C extension aioproducer._speedups was not built")
        pytest.skip("the C extension is not built here")
    return c


def test_murmur2_matches_java(speedups: Speedups) -> None:
    for key, expected in _JAVA_VECTORS.items():
        assert speedups.murmur2(key) == expected


@given(st.binary(max_size=100))
def test_murmur2_matches_python(data: bytes) -> None:
    if c is not None:
        assert c.murmur2(data) == _murmur2_py(data)


# -- encode_run ------------------------------------------------------------------------------------

pairs = st.lists(
    st.tuples(st.none() | st.binary(max_size=200), st.none() | st.binary(max_size=9000)),
    max_size=30,
)


def _both(batch_size: int, before: int) -> tuple[RecordBatchBuilder, RecordBatchBuilder]:
    builders = RecordBatchBuilder(batch_size=batch_size), RecordBatchBuilder(batch_size=batch_size)
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
def test_encode_run_writes_what_python_writes(
    records: list[Pair], before: int, batch_size: int, delta: int, reverse: bool
) -> None:
    if c is None:
        return
    order = list(range(len(records)))
    if reverse:
        order.reverse()
    view = memoryview(bytearray(b"".join(i.to_bytes(8, "little", signed=True) for i in order)))
    indices: Sequence[int] = view.cast("q") if reverse else range(len(records))
    python, native = _both(batch_size, before)
    taken_python = python.append_run_py(10_000 + delta, records, indices)
    taken_native = native.append_run(10_000 + delta, records, indices)  # the C loop
    assert taken_native == taken_python
    assert native.record_count == python.record_count
    assert native.estimated_size == python.estimated_size
    assert native.max_timestamp == python.max_timestamp
    if python.record_count:
        assert native.build() == python.build()


def test_encode_run_rejects_bad_input(speedups: Speedups) -> None:
    buffer = bytearray(61)
    with pytest.raises(TypeError, match="bytes or None"):
        speedups.encode_run(buffer, [("k", b"v")], None, 0, 1, 0, 0, 1000)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tuples"):
        speedups.encode_run(buffer, [[b"k", b"v"]], None, 0, 1, 0, 0, 1000)  # type: ignore[list-item]
    with pytest.raises(IndexError):
        speedups.encode_run(buffer, [(b"k", b"v")], None, 0, 2, 0, 0, 1000)
    wrong = memoryview(bytearray(16)).cast("i")
    with pytest.raises(ValueError, match="int64"):
        speedups.encode_run(buffer, [(b"k", b"v")], wrong, 0, 1, 0, 0, 1000)
    assert buffer == bytearray(61)  # nothing written on error


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
    if c is None:
        return
    limit = 50
    start = min(start, len(records))
    runs_python = [bytearray() for _ in range(partitions)]
    runs_native = [bytearray() for _ in range(partitions)]
    stop_python = Producer._plan_keyed_py(records, runs_python, limit, start)
    stop_native = c.plan_keyed(records, runs_native, limit, start)
    assert stop_native == stop_python
    assert runs_native == runs_python


def test_plan_keyed_rejects_bad_runs(speedups: Speedups) -> None:
    with pytest.raises(TypeError):
        speedups.plan_keyed([(b"k", b"v")], [[]], 10, 0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="runs"):
        speedups.plan_keyed([(b"k", b"v")], [], 10, 0)
