"""BatchSizing: batches grow under a full in-flight window, shrink when not full, and an
explicit batch_size is a hard cap (no loop, no broker)."""

from __future__ import annotations

from aioproducer import ProducerConfig
from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch_sizing import BatchSizing
from aioproducer._config import build_config
from aioproducer._metadata import TopicPartition

TP = TopicPartition("t", 0)
OTHER = TopicPartition("t", 1)
BASE, CEILING = 16384, 1 << 20


def _grow(sizing: BatchSizing, tp: TopicPartition = TP, node: int = 1) -> int:
    """``tp`` led by ``node`` (a batch was drained there), whose window is full; a batch
    opens behind a queued one: its capacity."""
    sizing.drained(tp, node, sizing.capacity(tp), sizing.capacity(tp), backlog=True)
    sizing.windows_full({node})
    return sizing.capacity(tp, behind=True)


def test_starts_at_base_and_doubles_per_batch_opened_behind_a_full_window() -> None:
    sizing = BatchSizing(BASE, CEILING)
    assert sizing.adaptive
    assert sizing.capacity(TP) == BASE
    seen = [_grow(sizing) for _ in range(9)]
    assert seen == [2**n * BASE for n in range(1, 7)] + [CEILING] * 3
    assert sizing.capacity(OTHER) == BASE  # per partition
    assert sizing.capacity(TP) == CEILING  # asking without opening changes nothing


def test_no_growth_without_a_backlog_or_without_a_full_window() -> None:
    sizing = BatchSizing(BASE, CEILING)
    sizing.drained(TP, 1, BASE, BASE, backlog=True)
    assert sizing.capacity(TP, behind=True) == BASE  # the window is not full
    sizing.windows_full({1})
    assert sizing.capacity(TP, behind=False) == BASE  # nothing queued: no backlog
    sizing.windows_full(set())  # the next pass found it free again
    assert sizing.capacity(TP, behind=True) == BASE


def test_another_brokers_window_does_not_count() -> None:
    sizing = BatchSizing(BASE, CEILING)
    sizing.drained(TP, 1, BASE, BASE, backlog=True)
    sizing.windows_full({2})
    assert sizing.capacity(TP, behind=True) == BASE
    assert sizing.capacity(OTHER, behind=True) == BASE  # leader not known yet


def test_shrinks_by_halving_when_drained_less_than_half_full() -> None:
    sizing = BatchSizing(BASE, CEILING)
    for _ in range(3):
        _grow(sizing)
    assert sizing.capacity(TP) == 8 * BASE
    sizing.drained(TP, 1, 100, 8 * BASE, backlog=False)  # its window was full meanwhile
    assert sizing.capacity(TP) == 8 * BASE
    sizing.drained(TP, 1, 3 * BASE, 8 * BASE, backlog=False)  # 3/8 full
    assert sizing.capacity(TP) == 4 * BASE
    sizing.drained(TP, 1, 3 * BASE, 4 * BASE, backlog=False)  # 3/4 full: stays
    assert sizing.capacity(TP) == 4 * BASE
    sizing.drained(TP, 1, 100, 4 * BASE, backlog=True)  # more behind it: stays
    assert sizing.capacity(TP) == 4 * BASE
    sizing.windows_full({1})
    sizing.drained(TP, 1, 100, 4 * BASE, backlog=False)  # the window was full: pressed
    assert sizing.capacity(TP) == 4 * BASE
    for _ in range(5):
        sizing.drained(TP, 1, 100, 4 * BASE, backlog=False)  # idle: a trickle
    assert sizing.capacity(TP) == BASE


def test_explicit_batch_size_never_grows() -> None:
    config = ProducerConfig(batch_size=16384)
    assert not config.adaptive_batch_size
    sizing = BatchSizing.for_config(config)
    assert not sizing.adaptive
    for _ in range(10):
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

    fill(40)  # 16 KiB batches: two full and one open
    assert [b.builder.batch_size for b in acc.queued(TP)] == [BASE] * 3
    drained = acc.drain(_Leaders(), [1], 1 << 20, 0)  # the leader is learnt
    assert [b.builder.batch_size for b in drained[1]] == [BASE]
    acc.sizing.windows_full({1})
    fill(100)
    capacities = [b.builder.batch_size for b in acc.queued(TP)]
    assert capacities[:2] == [BASE, BASE]  # opened before: they keep their capacity
    assert capacities[2:] == [2 * BASE, 4 * BASE]
    for batch in acc.queued(TP):
        assert batch.builder.estimated_size <= batch.builder.batch_size
    assert acc.ready(0, _Leaders()).ready_nodes == {1}
