"""The batch capacity: left at its default, max_request_size (at most a quarter of
buffer_memory), and linger_ms still decides when a batch leaves; an explicit batch_size is a
hard cap (no loop, no broker). On the scripted broker, in C and in Python: a backlog makes
large batches, a batch_size given keeps them at its size."""

from __future__ import annotations

import asyncio

import pytest

from aioproducer import Producer, ProducerConfig
from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch_sizing import batch_capacity
from aioproducer._config import build_config
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.api import ApiKey
from aioproducer._speedups_status import c
from aioproducer.testing import FakeBroker
from aioproducer.testing.fake_broker import Action

TP = TopicPartition("t", 0)
BASE, CEILING = 16384, 1 << 20


def test_explicit_batch_size_is_the_capacity() -> None:
    for size in (1, 16384, 1 << 20, 4 << 20):
        config = ProducerConfig(batch_size=size)
        assert not config.batch_size_defaulted
        assert batch_capacity(config) == size


def test_default_is_max_request_size_and_at_most_a_quarter_of_buffer_memory() -> None:
    config = ProducerConfig()
    assert config.batch_size_defaulted
    assert config.batch_size == BASE  # the partitioner's and send()'s yield unit
    assert batch_capacity(config) == config.max_request_size == CEILING
    assert batch_capacity(ProducerConfig(max_request_size=200_000)) == 200_000
    assert batch_capacity(ProducerConfig(max_request_size=64 << 20)) == CEILING  # the broker's
    assert batch_capacity(ProducerConfig(buffer_memory=256 * 1024)) == 64 * 1024
    assert batch_capacity(ProducerConfig(buffer_memory=4096)) == BASE  # never below 16 KiB


def test_options_keep_the_default_unresolved() -> None:
    assert ProducerConfig().options()["batch_size"] is None
    assert ProducerConfig(batch_size=16384).options()["batch_size"] == 16384
    assert ProducerConfig.from_mapping({"batch.size": "16384"}).batch_size_defaulted is False
    assert build_config(ProducerConfig(), linger_ms=1).batch_size_defaulted
    assert not build_config(ProducerConfig(batch_size=16384), linger_ms=1).batch_size_defaulted


class _Leaders:
    def leader(self, topic: str, partition: int) -> int:
        return 1


def test_accumulator_opens_batches_with_the_capacity() -> None:
    """Records that fill 16 KiB many times over go in one batch by default; every batch
    keeps its capacity (the builder's batch_size), which every append honours."""
    acc = RecordAccumulator(ProducerConfig(linger_ms=0))
    for _ in range(200):
        acc.append(TP, 0, b"k", b"v" * 1000, (), None, 0)  # type: ignore[arg-type]
    assert [b.builder.batch_size for b in acc.queued(TP)] == [CEILING]
    for batch in acc.queued(TP):
        assert batch.builder.estimated_size <= batch.builder.batch_size
    drained = acc.drain(_Leaders(), [1], 1 << 20, 0)
    assert [b.record_count for b in drained[1]] == [200]


def test_a_large_capacity_still_leaves_after_linger_ms() -> None:
    """A batch far from full is ready once linger_ms has passed since it opened: a modest
    rate keeps Java's latency (the capacity only matters to a partition that fills 16 KiB
    within linger_ms)."""
    acc = RecordAccumulator(ProducerConfig(linger_ms=5))
    acc.append(TP, 1000, b"k", b"v" * 100, (), None, 1000)  # type: ignore[arg-type]
    assert [b.builder.batch_size for b in acc.queued(TP)] == [CEILING]
    waiting = acc.ready(1004, _Leaders())
    assert waiting.ready_nodes == set()
    assert waiting.next_check_ms == 1
    assert acc.ready(1005, _Leaders()).ready_nodes == {1}


def test_explicit_batch_size_caps_the_accumulators_batches() -> None:
    acc = RecordAccumulator(ProducerConfig(linger_ms=0, batch_size=BASE))
    for _ in range(200):
        acc.append(TP, 0, b"k", b"v" * 1000, (), None, 0)  # type: ignore[arg-type]
    assert {b.builder.batch_size for b in acc.queued(TP)} == {BASE}


@pytest.mark.parametrize("path", ["compiled", "python"])
@pytest.mark.parametrize("batch_size", [None, BASE], ids=["default", "explicit"])
async def test_a_backlog_before_the_first_answer_makes_large_batches(
    path: str, batch_size: int | None
) -> None:
    """The broker holds its first answers back (the window of one request stays full):
    records sent meanwhile go in batches of up to the capacity (a quarter of a 1 MiB
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
