"""BatchSizing: batches grow behind a backlog (whatever holds the sender back), shrink when
drained less than half full, and an explicit batch_size is a hard cap (no loop, no broker);
on the scripted broker, in C and in Python: a backlog built before the first request could
leave makes the following batches large."""

from __future__ import annotations

import asyncio

import pytest

from aioproducer import Producer, ProducerConfig
from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch_sizing import GROWTH, BatchSizing
from aioproducer._config import build_config
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.api import ApiKey
from aioproducer._speedups_status import c
from aioproducer.testing import FakeBroker
from aioproducer.testing.fake_broker import Action

TP = TopicPartition("t", 0)
OTHER = TopicPartition("t", 1)
BASE, CEILING = 16384, 1 << 20


def _grow(sizing: BatchSizing, tp: TopicPartition = TP) -> int:
    """A batch of ``tp`` opens behind a queued one: its capacity."""
    return sizing.capacity(tp, behind=True)


def test_starts_at_base_and_grows_fourfold_per_batch_opened_behind_a_queued_one() -> None:
    sizing = BatchSizing(BASE, CEILING)
    assert sizing.adaptive
    assert GROWTH == 4
    assert sizing.capacity(TP) == BASE
    seen = [_grow(sizing) for _ in range(5)]
    assert seen == [4 * BASE, 16 * BASE, CEILING, CEILING, CEILING]
    assert sizing.capacity(OTHER) == BASE  # per partition
    assert sizing.capacity(TP) == CEILING  # asking without opening changes nothing


def test_a_backlog_grows_batches_before_any_drain_or_full_window() -> None:
    """Scenario 6's start: connections and the producer id still pending, nothing has left
    and no window was seen full, yet the send loop has queued batch after batch."""
    sizing = BatchSizing(BASE, CEILING)
    assert sizing.capacity(TP, behind=True) == 4 * BASE
    sizing.windows_full(set())  # a pass that found every window free changes nothing
    assert sizing.capacity(TP, behind=True) == 16 * BASE


def test_no_growth_without_a_backlog() -> None:
    sizing = BatchSizing(BASE, CEILING)
    sizing.windows_full({1})
    sizing.drained(TP, 1, BASE, BASE, backlog=False)
    sizing.windows_full({1})
    for _ in range(5):
        assert sizing.capacity(TP, behind=False) == BASE  # a full window alone: no growth


def test_shrinks_by_halving_when_drained_less_than_half_full() -> None:
    sizing = BatchSizing(BASE, CEILING)
    _grow(sizing)
    _grow(sizing)
    assert sizing.capacity(TP) == 16 * BASE
    sizing.drained(TP, 1, 100, 16 * BASE, backlog=True)  # more behind it: stays
    assert sizing.capacity(TP) == 16 * BASE
    sizing.windows_full({1})
    sizing.drained(TP, 1, 100, 16 * BASE, backlog=False)  # the window was full: pressed
    assert sizing.capacity(TP) == 16 * BASE
    sizing.drained(TP, 1, 7 * BASE, 16 * BASE, backlog=False)  # 7/16 full
    assert sizing.capacity(TP) == 8 * BASE
    sizing.drained(TP, 1, 6 * BASE, 8 * BASE, backlog=False)  # 3/4 full: stays
    assert sizing.capacity(TP) == 8 * BASE
    sizing.windows_full({2})  # another broker's window says nothing of this partition
    for _ in range(5):
        sizing.drained(TP, 1, 100, 8 * BASE, backlog=False)  # idle: a trickle
    assert sizing.capacity(TP) == BASE
    assert _grow(sizing) == 4 * BASE  # and grows again from the base


def test_explicit_batch_size_never_grows() -> None:
    config = ProducerConfig(batch_size=16384)
    assert not config.adaptive_batch_size
    sizing = BatchSizing.for_config(config)
    assert not sizing.adaptive
    for _ in range(10):
        sizing.windows_full({1})
        assert _grow(sizing) == 16384


def test_default_grows_up_to_max_request_size_and_a_quarter_of_buffer_memory() -> None:
    config = ProducerConfig()
    assert config.adaptive_batch_size
    assert config.batch_size == 16384
    assert BatchSizing.for_config(config).ceiling == config.max_request_size
    small = BatchSizing.for_config(ProducerConfig(buffer_memory=256 * 1024))
    assert small.ceiling == 64 * 1024
    tiny = BatchSizing.for_config(ProducerConfig(buffer_memory=4096))
    assert tiny.ceiling == tiny.base == 16384  # never below batch_size
    assert not tiny.adaptive


def test_options_keep_the_default_unresolved() -> None:
    assert ProducerConfig().options()["batch_size"] is None
    assert ProducerConfig(batch_size=16384).options()["batch_size"] == 16384
    assert ProducerConfig.from_mapping({"batch.size": "16384"}).adaptive_batch_size is False
    assert build_config(ProducerConfig(), linger_ms=1).adaptive_batch_size
    assert not build_config(ProducerConfig(batch_size=16384), linger_ms=1).adaptive_batch_size


class _Leaders:
    def leader(self, topic: str, partition: int) -> int:
        return 1


def test_accumulator_opens_batches_with_the_partitions_capacity() -> None:
    """The accumulator asks at batch open and tells at drain; each batch keeps its capacity
    (the builder's batch_size), so a batch opened small stays small."""
    acc = RecordAccumulator(ProducerConfig(linger_ms=0))
    value = b"v" * 1000

    def fill(count: int) -> None:
        for _ in range(count):
            acc.append(TP, 0, b"k", value, (), None, 0)  # type: ignore[arg-type]

    fill(40)  # 16 records fill 16 KiB: the second batch opens behind the first
    assert [b.builder.batch_size for b in acc.queued(TP)] == [BASE, 4 * BASE]
    drained = acc.drain(_Leaders(), [1], 1 << 20, 0)
    assert [b.builder.batch_size for b in drained[1]] == [BASE]
    fill(100)
    capacities = [b.builder.batch_size for b in acc.queued(TP)]
    assert capacities[0] == 4 * BASE  # opened before: it keeps its capacity
    assert capacities[1:] == [16 * BASE]
    for batch in acc.queued(TP):
        assert batch.builder.estimated_size <= batch.builder.batch_size
    assert acc.ready(0, _Leaders()).ready_nodes == {1}


def test_explicit_batch_size_caps_the_accumulators_batches() -> None:
    acc = RecordAccumulator(ProducerConfig(linger_ms=0, batch_size=BASE))
    for _ in range(200):
        acc.append(TP, 0, b"k", b"v" * 1000, (), None, 0)  # type: ignore[arg-type]
    assert {b.builder.batch_size for b in acc.queued(TP)} == {BASE}


@pytest.mark.parametrize("path", ["compiled", "python"])
@pytest.mark.parametrize("batch_size", [None, BASE], ids=["default", "explicit"])
async def test_a_backlog_before_the_first_answer_grows_the_batches(
    path: str, batch_size: int | None
) -> None:
    """The broker holds its first answers back (the window of one request stays full):
    records sent meanwhile go in batches that grow to the ceiling (a quarter of a 1 MiB
    buffer here), in every append path; a batch_size given stays a hard cap."""
    if path == "compiled" and c is None:
        pytest.skip("the compiled send does not run")
    value = b"v" * 1000
    async with asyncio.timeout(30), FakeBroker() as broker:
        broker.create_topic("t", partitions=1)
        broker.script(ApiKey.PRODUCE, [Action(delay_ms=200)])
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers,
            linger_ms=0,
            enable_idempotence=False,
            max_in_flight_requests_per_connection=1,
            buffer_memory=1 << 20,
            batch_size=batch_size,
        ) as producer:
            if path == "python":
                producer.__dict__.pop("send", None)  # Producer.send decides every call
            futures = [await producer.send("t", value, b"k") for _ in range(600)]
            await asyncio.gather(*futures)
        sizes = [len(batch.records) for batch in broker.batches("t", 0)]
    assert sum(sizes) == 600
    largest = max(sizes) * len(value)
    if batch_size is None:
        assert 64 * 1024 < largest <= 256 * 1024
        assert len(sizes) < 600 * len(value) // BASE // 2  # far fewer than 16 KiB ones
    else:
        assert largest <= BASE
