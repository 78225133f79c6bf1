"""The two twins of the per-partition append (aioproducer._appender): the compiled Appender
and AppenderPy leave the same batches, bytes and results for the same records."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer._accumulator import RecordAccumulator
from aioproducer._appender import Appender, AppenderPy
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition
from aioproducer.errors import ProducerClosedError

pytestmark = pytest.mark.requires_extension

TPS = [TopicPartition("t", p) for p in range(3)]


class PythonAccumulator(RecordAccumulator):
    """A RecordAccumulator whose append and has_room are :class:`AppenderPy`'s."""

    append = AppenderPy.append
    has_room = AppenderPy.has_room


def test_the_compiled_twin_runs() -> None:
    assert Appender is not AppenderPy
    assert issubclass(RecordAccumulator, Appender)


def state(acc: RecordAccumulator) -> list[tuple[Any, ...]]:
    return [
        (
            tp,
            batch.builder.build(),  # at the end: it closes the batch
            batch.builder.estimated_size,
            batch.builder.batch_size,
            batch.completions,
            list(batch.timestamps),
            batch.created_ms,
        )
        for tp in TPS
        for batch in acc.queued(tp)
    ]


data = st.none() | st.binary(max_size=200)
headers = st.lists(st.tuples(st.text(max_size=5), data), max_size=2)
records = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), data, data, headers), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(records=records, batch_size=st.integers(1, 1_500), now=st.integers(-1, 5))
def test_both_twins_leave_the_same_batches(
    records: list[tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]],
    batch_size: int,
    now: int,
) -> None:
    config = ProducerConfig(batch_size=batch_size)
    compiled = RecordAccumulator(config, clock=lambda: 7)
    python = PythonAccumulator(config, clock=lambda: 7)
    for index, (partition, stamp, key, value, header_list) in enumerate(records):
        tp = TPS[partition]
        args = (tp, stamp, key, value, header_list, cast(Any, index), now)
        assert compiled.append(*args) is python.append(*args)
        assert compiled.used_bytes == python.used_bytes
    assert state(compiled) == state(python)
    compiled.close()
    python.close()
    for acc in (compiled, python):
        with pytest.raises(ProducerClosedError):
            acc.append(TPS[0], 1, b"k", b"v", (), cast(Any, None))


@settings(max_examples=200, deadline=None)
@given(
    used=st.integers(0, 3_000),
    reserved=st.integers(0, 3_000),
    queued=st.integers(0, 2),
    nbytes=st.integers(0, 3_000),
    held=st.integers(0, 3_000),
)
def test_both_twins_find_the_same_room(
    used: int, reserved: int, queued: int, nbytes: int, held: int
) -> None:
    answers = []
    for twin in (Appender(2_000), AppenderPy(2_000)):
        twin._used, twin._reserved, twin._queued = used, reserved, queued
        answers.append(twin.has_room(nbytes, held))
    assert answers[0] == answers[1]


def test_timestamps_go_into_the_array_or_whatever_holds_them() -> None:
    """The compiled append writes a timestamp into an ``array("q")``'s buffer (the largest
    too) and appends it to any other holder a batch was given."""
    acc = RecordAccumulator(ProducerConfig(), clock=lambda: 7)
    largest = 2**63 - 1
    for index, stamp in enumerate((5, largest, 0)):
        acc.append(TPS[0], stamp, b"k", b"v", (), cast(Any, index))
    (batch,) = acc.queued(TPS[0])
    assert batch.timestamps.typecode == "q"
    assert list(batch.timestamps) == [5, largest, 0]
    batch.timestamps = cast(Any, [5, largest, 0])
    acc.append(TPS[0], 9, b"k", b"v", (), cast(Any, 3))
    assert batch.timestamps == [5, largest, 0, 9]
    assert cast(Any, batch.completions) == [0, 1, 2, 3]
    acc.close()


def test_an_array_that_lends_its_buffer_is_not_grown() -> None:
    """A memoryview of an open batch's timestamps: the compiled append refuses to grow the
    array under it (BufferError, as array.append and the Python twin do) rather than moving
    the memory the view points at."""
    for acc in (
        RecordAccumulator(ProducerConfig(), clock=lambda: 7),
        PythonAccumulator(ProducerConfig(), clock=lambda: 7),
    ):
        acc.append(TPS[0], 5, b"k", b"v", (), cast(Any, 0))
        (batch,) = acc.queued(TPS[0])
        with memoryview(batch.timestamps) as view:
            with pytest.raises(BufferError):
                acc.append(TPS[0], 6, b"k", b"v", (), cast(Any, 1))
            assert view.tolist() == [5]
        acc.close()
