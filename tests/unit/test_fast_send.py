"""FastSend (C) against the Python send path: same batches, same bytes, same wakeups; and
Ready, the awaitable it returns."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer import Producer
from aioproducer._accumulator import AppendResult, RecordAccumulator
from aioproducer._appender import AppenderPy
from aioproducer._batch import ProducerBatch
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._partitioner import positive_murmur2
from aioproducer._protocol.records import RecordBatchBuilderPy
from aioproducer._record_check import RECORD_BOUND as _RECORD_BOUND
from aioproducer._speedups_status import Speedups, c
from aioproducer.errors import ProducerClosedError
from aioproducer.testing import FakeBroker

BOUND = _RECORD_BOUND  # what the producer charges a record beyond key and value
TOPIC = "t"


pytestmark = pytest.mark.requires_extension


@pytest.fixture
def speedups() -> Speedups:
    assert c is not None
    return c


class Rig:
    """An accumulator, a route and a FastSend whose fallback is a Python twin of
    Producer.send's path for keyed bytes records (logged, so tests see which calls went
    where)."""

    def __init__(
        self,
        speedups: Speedups,
        batch_size: int,
        buffer_memory: int,
        partitions: int = 3,
        in_loop: bool = True,
    ) -> None:
        config = ProducerConfig(
            bootstrap_servers="127.0.0.1:9",
            batch_size=batch_size,
            buffer_memory=buffer_memory,
            max_request_size=buffer_memory,
            enable_idempotence=False,
        )
        self.accumulator = RecordAccumulator(config)
        self.info = TopicInfo(leaders=[1] * partitions, available=list(range(partitions)))
        self.tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
        self.routes: dict[str, Any] = {TOPIC: (self.info, self.tps)}
        self.topics = {TOPIC: self.info}
        self.woken: list[TopicPartition] = []
        self.fallbacks: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.futures: list[object] = []
        self.fast = speedups.FastSend(
            self.slow,
            self.create_future,
            self.routes,
            self.topics,
            self.accumulator,
            self.woken.append,
            buffer_memory,  # max_record_size
            batch_size,
            BOUND,
            lambda: in_loop,  # the loop's is_running
            threading.get_ident(),
        )

    def batches(self) -> list[ProducerBatch]:
        """Every queued batch, by partition."""
        return [batch for tp in self.tps for batch in self.accumulator.queued(tp)]

    def create_future(self) -> object:
        future = object()
        self.futures.append(future)
        return future

    def slow(self, *args: Any, **options: Any) -> str:
        """Producer.send's path for what the tests send: keyed bytes, Java's hash."""
        self.fallbacks.append((args, options))
        given = dict(zip(("topic", "value", "key"), args, strict=False))
        rest = {name: v for name, v in options.items() if name not in ("value", "key")}
        given.update((name, options[name]) for name in ("value", "key") if name in options)
        if len(args) > 3 or any(v is not None for v in rest.values()):
            return "declined"
        value, key = given.get("value"), given.get("key")
        if type(key) is not bytes or type(value) not in (bytes, type(None)):
            return "declined"
        size = BOUND + len(key) + len(value or b"")
        if not self.accumulator.has_room(size):
            return "no room"
        tp = self.tps[positive_murmur2(key) % len(self.tps)]
        future = self.create_future()
        now = time.time_ns() // 1_000_000
        result = self.accumulator.append(tp, now, key, value, (), cast(Any, future))
        if result is not AppendResult.APPENDED:
            self.woken.append(tp)
        return "python"


def state(rig: Rig) -> list[tuple[Any, ...]]:
    return [
        (
            tp,
            batch.builder.build(),  # at the end: it closes the batch
            batch.builder.estimated_size,
            batch.builder.record_count,
            batch.builder.base_timestamp,
            batch.builder.max_timestamp,
            len(batch.completions),
            list(batch.timestamps),
        )
        for tp in rig.tps
        for batch in rig.accumulator.queued(tp)
    ]


records = st.lists(
    st.tuples(st.binary(min_size=0, max_size=12), st.none() | st.binary(max_size=300)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(sent=records, batch_size=st.integers(100, 2_000), keywords=st.booleans())
def test_fast_send_leaves_what_the_python_path_leaves(
    sent: list[tuple[bytes, bytes | None]], batch_size: int, keywords: bool
) -> None:
    """Each record, sent through FastSend, then appended by the accumulator's Python twin
    (a RecordAccumulator on AppenderPy's append) with the timestamp FastSend gave it."""
    assert c is not None
    rig = Rig(c, batch_size, buffer_memory=1 << 20)
    twin = PythonAccumulator(rig.accumulator.config)
    twin_woken: list[TopicPartition] = []
    unyielded = 0  # bytes taken since an awaitable that yields was returned
    for key, value in sent:
        if keywords:
            result = rig.fast(TOPIC, value, key=key, headers=None, partition=None)
        else:
            result = rig.fast(TOPIC, value, key)
        tp = rig.tps[positive_murmur2(key) % len(rig.tps)]
        stamp = rig.accumulator.queued(tp)[-1].timestamps[-1]
        expected = twin.append(tp, stamp, key, value, (), cast(Any, None))
        if expected is not AppendResult.APPENDED:
            twin_woken.append(tp)
        assert type(result) is c.Ready  # appended in C: awaiting it gives its future
        unyielded += BOUND + len(key) + len(value or b"")
        # it pauses once first (the loop gets to run) every batch_size bytes, and behind a
        # batch that just filled, as send()'s _after_fill
        if expected is AppendResult.NEW_BATCH | AppendResult.BATCH_FULL or unyielded >= batch_size:
            unyielded = 0
            assert result.send(None) is None
        with pytest.raises(StopIteration) as stop:
            result.send(None)
        assert stop.value.value is rig.futures[-1]
    assert len(rig.futures) == len(sent)
    mirror = Rig.__new__(Rig)
    mirror.accumulator, mirror.tps = twin, rig.tps
    assert state(rig) == state(mirror)
    assert rig.accumulator.used_bytes == twin.used_bytes
    assert rig.woken == twin_woken
    assert not rig.fallbacks


class PythonAccumulator(RecordAccumulator):
    """A RecordAccumulator whose append and has_room are :class:`AppenderPy`'s."""

    append = AppenderPy.append
    has_room = AppenderPy.has_room


def test_every_other_call_goes_to_python(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000)
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready  # opens the batch
    assert len(rig.batches()) == 1
    assert not rig.fallbacks
    calls: list[tuple[tuple[object, ...], dict[str, Any]]] = [
        ((TOPIC, b"v", b"k"), {"partition": 0}),
        ((TOPIC, b"v", b"k"), {"timestamp_ms": 5}),
        ((TOPIC, b"v", b"k"), {"headers": [("h", b"1")]}),
        ((TOPIC, b"v", b"k"), {"other": None}),
        ((TOPIC, b"v"), {}),  # no key: the partitioner's call
        ((TOPIC, b"v", None), {}),
        ((TOPIC, "v", b"k"), {}),  # not bytes: serializer's or SerializationError's call
        ((TOPIC, bytearray(b"v"), b"k"), {}),
        ((TOPIC, b"v", bytearray(b"k")), {}),
        (("other", b"v", b"k"), {}),  # no route yet
        ((5, b"v", b"k"), {}),
        ((TOPIC, b"v" * 10_000, b"k"), {}),  # larger than max_record_size
        ((TOPIC, b"v", b"k", None), {}),  # a fourth positional argument
        ((), {}),
    ]
    for args, options in calls:
        before = len(rig.fallbacks)
        rig.fast(*args, **options)
        assert len(rig.fallbacks) == before + 1, (args, options)
        assert rig.fallbacks[-1] == (args, options)  # handed over as given


def test_a_stale_route_a_closed_accumulator_or_a_full_buffer_go_to_python(
    speedups: Speedups,
) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=400)
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
    rig.topics[TOPIC] = TopicInfo(leaders=[1, 1, 1], available=[0, 1, 2])  # new metadata
    assert rig.fast(TOPIC, b"v", b"k") == "python"
    rig.topics[TOPIC] = rig.info
    assert rig.fast(TOPIC, b"v" * 250, b"k") == "no room"  # 82 + 251 more than is left
    rig.accumulator._closed = True
    with pytest.raises(ProducerClosedError):  # Python's answer, not a record appended in C
        rig.fast(TOPIC, b"v", b"k")


def test_a_backlog_wakes_the_sender_for_each_record(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=200, buffer_memory=1 << 20, partitions=1)
    for _ in range(3):
        rig.fast(TOPIC, b"v" * 60, b"k")
    assert rig.accumulator.queue_length(rig.tps[0]) == 2
    rig.woken.clear()
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready  # to the second, open batch
    assert rig.woken == [rig.tps[0]]  # as Python: a queue of two reports the batch full


def test_ready_is_a_coroutine_that_returns_its_value(speedups: Speedups) -> None:
    value = object()

    async def main() -> None:
        assert await speedups.Ready(value) is value
        assert await asyncio.create_task(speedups.Ready(value)) is value
        assert await asyncio.ensure_future(speedups.Ready(value)) is value
        assert list(await asyncio.gather(speedups.Ready(1), speedups.Ready(2))) == [1, 2]

    asyncio.run(main())
    spent = speedups.Ready(value)
    with pytest.raises(StopIteration):
        next(spent)
    with pytest.raises(RuntimeError, match="already awaited"):
        spent.send(None)
    closed = speedups.Ready(value)
    closed.close()
    with pytest.raises(RuntimeError):
        closed.send(None)
    with pytest.raises(KeyError):
        speedups.Ready(value).throw(KeyError("k"))
    with pytest.raises(KeyError):
        speedups.Ready(value).throw(KeyError)
    with pytest.raises(TypeError):
        speedups.Ready(value).throw(5)


def test_fast_send_keeps_no_cycle_alive(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000)
    rig.fast(TOPIC, b"v", b"k")
    probe = weakref.ref(rig.accumulator)
    del rig  # rig -> FastSend -> rig.slow (bound) -> rig: a cycle the collector must see
    gc.collect()
    assert probe() is None


def test_fast_send_wants_a_compiled_appender(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000, partitions=1)
    accumulator: object
    for accumulator in ({}, AppenderPy(10_000)):
        with pytest.raises(TypeError, match="Appender"):
            speedups.FastSend(
                rig.slow,
                object,
                {},
                {},
                accumulator,
                print,
                1,
                1,
                BOUND,
                lambda: True,
                threading.get_ident(),
            )


def test_a_batch_with_a_python_builder_is_appended_to_through_its_methods(
    speedups: Speedups,
) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000, partitions=1)
    rig.fast(TOPIC, b"v", b"k")
    (batch,) = rig.batches()
    python = RecordBatchBuilderPy(batch_size=1_000)
    python.append(batch.timestamps[0], b"k", b"v")
    batch.builder = python  # not the compiled builder: appended through its Python methods
    assert type(rig.fast(TOPIC, b"w", b"k")) is speedups.Ready
    assert python.record_count == 2
    assert len(batch.completions) == len(batch.timestamps) == 2
    assert rig.accumulator.used_bytes == python.estimated_size
    assert not rig.fallbacks


def test_a_new_batch_opens_in_c_only_with_room_and_an_open_accumulator(
    speedups: Speedups,
) -> None:
    rig = Rig(speedups, batch_size=200, buffer_memory=500, partitions=1)
    value = b"v" * 80  # 147 bytes in a batch with its header; two do not fit in 200
    answers = [rig.fast(TOPIC, value, b"k") for _ in range(5)]
    assert [type(answer) for answer in answers[:3]] == [speedups.Ready] * 3
    assert answers[3:] == ["no room"] * 2  # buffer_memory is Python's: it waits for space
    assert rig.accumulator.queue_length(rig.tps[0]) == 3
    assert len(rig.fallbacks) == 2
    rig.accumulator._closed = True
    rig.accumulator._used = 0
    with pytest.raises(ProducerClosedError):  # Python's answer: no batch opened in C
        rig.fast(TOPIC, value, b"k")
    assert rig.accumulator.queue_length(rig.tps[0]) == 3


def test_a_call_outside_the_producers_loop_goes_to_python(speedups: Speedups) -> None:
    """FastSend takes only calls made in the producer's loop; Python raises for the others."""
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000, partitions=1, in_loop=False)
    rig.fast(TOPIC, b"v", b"k")
    rig.fast(TOPIC, b"v", b"k")  # the second would append to the open batch in C
    assert len(rig.fallbacks) == 2  # both appended by Python's path


def test_a_disabled_fast_send_hands_every_call_to_python(speedups: Speedups) -> None:
    """``enabled`` False (a transactional producer outside a transaction, a producer that
    stopped taking records): every call goes to Python; True again, C takes them."""
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000, partitions=1)
    assert rig.fast.enabled is True
    rig.fast.enabled = False
    assert rig.fast(TOPIC, b"v", b"k") == "python"
    assert rig.fast(TOPIC, b"v", b"k") == "python"  # the open batch too
    rig.fast.enabled = True
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
    assert len(rig.fallbacks) == 2


async def test_a_send_bound_before_the_producer_stalled_refuses_records() -> None:
    """A ``send`` bound while the producer ran (the FastSend) refuses records once the
    producer stops taking them (its sender task cancelled: STALLED), as producer.send does."""
    async with FakeBroker() as broker:
        broker.create_topic(TOPIC, partitions=1)
        producer = Producer(bootstrap_servers=broker.bootstrap_servers, linger_ms=0)
        await producer.start()
        send = producer.send
        assert type(send).__name__ == "FastSend"
        await (await send(TOPIC, b"before", b"k"))
        assert producer._sender_task is not None
        producer._sender_task.cancel()
        await asyncio.sleep(0.01)
        with pytest.raises(ProducerClosedError, match="sender task was cancelled"):
            _ = send(TOPIC, b"after", b"k")
        await producer.close()
    assert broker.values(TOPIC, 0) == [b"before"]


def test_fast_send_does_not_overtake_senders_waiting_for_memory(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=2_000, partitions=1)
    assert type(rig.fast(TOPIC, b"v" * 500, b"k")) is speedups.Ready
    accumulator = rig.accumulator
    woken: list[int] = []
    waiter = accumulator.wait_for_memory(1_900, lambda: woken.append(1))
    assert rig.fast(TOPIC, b"v", b"k") == "no room"  # the open batch and the buffer have room
    (sent,) = accumulator.expired_batches(accumulator.queued(rig.tps[0])[0].deadline_ms)
    accumulator.deallocate(sent)  # gone
    assert woken == [1]  # granted 1,900 of the 2,000
    ready = rig.fast(TOPIC, b"v" * 17, b"k")  # 82 + 1 + 17 fit beside the grant
    assert type(ready) is speedups.Ready
    assert rig.fast(TOPIC, b"v", b"k") == "no room"
    accumulator.leave(waiter)  # gone without appending: its bytes are free again
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
    assert len(rig.fallbacks) == 2


@settings(max_examples=200, deadline=None)
@given(
    used=st.integers(0, 2_000),
    granted=st.integers(0, 2_000),
    queued=st.integers(0, 2),
    value=st.integers(0, 2_000),
)
def test_fast_send_finds_room_exactly_when_python_does(
    used: int, granted: int, queued: int, value: int
) -> None:
    assert c is not None
    rig = Rig(c, batch_size=1_000, buffer_memory=2_000, partitions=1)
    accumulator = rig.accumulator
    accumulator._used, accumulator._reserved = used, granted  # the state the line leaves
    for _ in range(queued):
        accumulator.wait_for_memory(2_000, print)  # cannot be granted while anything is used
    has_room = accumulator.has_room(BOUND + 1 + value)
    answer = rig.fast(TOPIC, b"v" * value, b"k")
    assert (answer != "no room") == has_room
    assert (not rig.fallbacks) == has_room  # C took it only when Python would have


def test_a_call_from_another_thread_goes_to_python(speedups: Speedups) -> None:
    rig = Rig(speedups, batch_size=1_000, buffer_memory=10_000, partitions=1)
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
    thread = threading.Thread(target=rig.fast, args=(TOPIC, b"v", b"k"))
    thread.start()
    thread.join()
    assert len(rig.fallbacks) == 1  # the open batch had room: only the thread made it decline
    assert type(rig.fast(TOPIC, b"v", b"k")) is speedups.Ready
