"""OffLoopBuilds: large batches compress on a worker thread, outcomes come back on the loop."""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import pytest
from test_accumulator import FakeCompletion, Leaders, add, make

from aioproducer._accumulator import RecordAccumulator
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition
from aioproducer._offloop import OFF_LOOP_MIN_BYTES, OffLoopBuilds
from aioproducer._protocol import records as records_module
from aioproducer._protocol.compression import CompressionType, compress
from aioproducer._protocol.records import decode_batches
from aioproducer._sender import Sender
from aioproducer.errors import BatchBuildError

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
LEADERS = Leaders({T0: 1, T1: 1})
LARGE = OFF_LOOP_MIN_BYTES[CompressionType.GZIP]


class Compressions:
    """Wraps the codec the builder calls: which thread ran each call, and an optional gate
    that holds calls on worker threads until opened."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, int]] = []  # thread id, thread name, bytes in
        self.started = threading.Event()
        self.gate: threading.Event | None = None
        self.error: Exception | None = None

    def __call__(self, codec: CompressionType, data: memoryview, level: int | None = None) -> bytes:
        thread = threading.current_thread()
        self.calls.append((threading.get_ident(), thread.name, len(data)))
        if thread is not threading.main_thread():
            self.started.set()
            if self.gate is not None:
                assert self.gate.wait(60)
            if self.error is not None:
                raise self.error
        return compress(codec, data, level)


@pytest.fixture
def compressions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Compressions]:
    recorder = Compressions()
    monkeypatch.setattr(records_module, "compress", recorder)
    yield recorder
    if recorder.gate is not None:
        recorder.gate.set()  # never leave a worker thread waiting


def _accumulator() -> RecordAccumulator:
    return make(linger_ms=0, compression_type="gzip", batch_size=1 << 20)


def _builds() -> tuple[RecordAccumulator, OffLoopBuilds, asyncio.Event]:
    """A gzip accumulator, its OffLoopBuilds, and the event that each outcome sets."""
    acc = _accumulator()
    built = asyncio.Event()
    return acc, OffLoopBuilds(CompressionType.GZIP, acc, built.set), built


def _large(acc: RecordAccumulator, tp: TopicPartition) -> list[FakeCompletion]:
    return [add(acc, tp, b"%06d" % i * 150)[0] for i in range(LARGE // 900 + 1)]


async def test_a_large_batch_compresses_on_a_worker_thread_a_small_one_on_the_loop(
    compressions: Compressions,
) -> None:
    acc, builds, built = _builds()
    _large(acc, T0)
    add(acc, T1, b"y" * 2000)
    (small,) = acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1]
    assert small.tp == T1
    await built.wait()
    (big,) = acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1]
    assert big.tp == T0
    assert len(decode_batches(big.built or b"")[0].records) == big.record_count
    loop_thread = threading.get_ident()
    (on_loop,) = (call for call in compressions.calls if call[2] < LARGE)
    (off_loop,) = (call for call in compressions.calls if call[2] >= LARGE)
    assert on_loop[0] == loop_thread
    assert off_loop[0] != loop_thread
    assert off_loop[1].startswith("aioproducer-compress")
    builds.close()


async def test_a_build_that_raises_on_the_thread_fails_its_batch_alone(
    compressions: Compressions,
) -> None:
    acc, builds, built = _builds()
    compressions.error = zlib.error("Error -2 while compressing data")
    failed = _large(acc, T0)
    assert acc.drain(LEADERS, {1}, 1 << 20, 0, builds) == {}
    fine = add(acc, T0)[0]  # in the next batch: the first is closed
    await built.wait()
    for completion in failed:
        assert isinstance(completion.error, BatchBuildError)
        assert completion.error.__cause__ is compressions.error
    (after,) = acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1]
    assert after.record_count == 1
    assert not fine.done()
    builds.close()


async def test_close_waits_for_no_build(compressions: Compressions) -> None:
    acc = _accumulator()
    outcomes = 0
    both = asyncio.Event()

    def on_built() -> None:
        nonlocal outcomes
        outcomes += 1
        if outcomes == 2:
            both.set()

    builds = OffLoopBuilds(CompressionType.GZIP, acc, on_built)
    compressions.gate = threading.Event()
    _large(acc, T0)
    _large(acc, T1)
    acc.drain(Leaders({T0: 1}), {1}, 1 << 20, 0, builds)
    await asyncio.to_thread(compressions.started.wait, 60)  # T0's build is under way
    acc.drain(Leaders({T1: 1}), {1}, 1 << 20, 0, builds)  # T1's waits for a thread (or runs)
    first, second = acc.queued(T0)[0], acc.queued(T1)[0]

    builds.close()  # with T0's build held: returns at once

    compressions.gate.set()
    await both.wait()  # the one under way is attached; one not started is dropped, unbuilt
    assert first.built is not None
    assert not first.building
    assert not second.building
    drained = acc.drain(LEADERS, {1}, 1 << 20, 0)[1]  # the dropped one is built here
    assert {batch.tp for batch in drained} == {T0, T1}


async def test_no_builds_off_the_loop_without_a_codec() -> None:
    config = ProducerConfig(bootstrap_servers="127.0.0.1:9", compression_type="none")
    sender = Sender(config, Cluster(config), RecordAccumulator(config), None)
    assert sender._builds is None
    config = ProducerConfig(bootstrap_servers="127.0.0.1:9", compression_type="zstd")
    builds = Sender(config, Cluster(config), RecordAccumulator(config), None)._builds
    assert builds is not None
    assert builds._executor is None  # no thread until a batch is large enough


async def test_a_batch_no_thread_can_take_is_built_on_the_loop(
    compressions: Compressions, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_: object, **__: object) -> NoReturn:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse)
    acc = _accumulator()
    builds = OffLoopBuilds(CompressionType.GZIP, acc, lambda: None)
    _large(acc, T0)
    (batch,) = acc.drain(LEADERS, {1}, 1 << 20, 0, builds)[1]
    assert not batch.building
    assert len(decode_batches(batch.built or b"")[0].records) == batch.record_count
    assert [ident for ident, _, _ in compressions.calls] == [threading.get_ident()]
    assert "can't start new thread" in caplog.text
    builds.close()
