"""The built-in strategies besides the sticky default's basics: round-robin, ignore-keys and
adaptive sticky choice (no broker: given partitions, available lists and queue sizes)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, deque
from collections.abc import Callable, Sequence

import pytest

from aioproducer import Producer
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition
from aioproducer._partition_load import PartitionLoad
from aioproducer._partitioner import (
    DefaultPartitioner,
    Partitioner,
    RoundRobinPartitioner,
    _weighted_choice,
)
from aioproducer.errors import ConfigurationError
from aioproducer.testing import FakeBroker

ALL = range(6)


# -- round-robin -------------------------------------------------------------------------------
def test_round_robin_takes_every_partition_in_turn_keyed_or_not() -> None:
    partitioner: Partitioner = RoundRobinPartitioner()
    keys = [None, b"k", b"k", None, b"other", b"k", None]
    chosen = [partitioner.partition("t", key, b"v", ALL, list(ALL)) for key in keys * 2]
    assert chosen == [n % 6 for n in range(14)]


def test_round_robin_counts_per_topic() -> None:
    partitioner = RoundRobinPartitioner()
    assert [partitioner.partition("a", None, None, ALL, list(ALL)) for _ in range(3)] == [0, 1, 2]
    assert partitioner.partition("b", None, None, ALL, list(ALL)) == 0
    assert partitioner.partition("a", None, None, ALL, list(ALL)) == 3


def test_round_robin_skips_unavailable_partitions() -> None:
    partitioner = RoundRobinPartitioner()
    chosen = [partitioner.partition("t", None, b"v", ALL, [1, 4, 5]) for _ in range(7)]
    assert chosen == [1, 4, 5, 1, 4, 5, 1]


def test_round_robin_uses_all_partitions_when_none_is_available() -> None:
    partitioner = RoundRobinPartitioner()
    counts = Counter(partitioner.partition("t", None, b"v", ALL, []) for _ in range(600))
    assert counts == dict.fromkeys(ALL, 100)


def test_round_robin_on_append_is_a_no_op() -> None:
    partitioner = RoundRobinPartitioner()
    partitioner.on_append("t", 3, 10**9, switch_allowed=True)
    assert partitioner.partition("t", None, None, ALL, list(ALL)) == 0


# -- choosing a strategy -------------------------------------------------------------------------
JAVA = "org.apache.kafka.clients.producer."


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("sticky", None),
        (JAVA + "internals.DefaultPartitioner", None),
        ("round_robin", "round_robin"),
        (" round_robin ", "round_robin"),
        (JAVA + "RoundRobinPartitioner", "round_robin"),
    ],
)
def test_partitioner_by_name(given: str | None, expected: str | None) -> None:
    assert ProducerConfig(partitioner=given).partitioner == expected
    assert ProducerConfig.from_mapping({"partitioner.class": given}).partitioner == expected


@pytest.mark.parametrize(
    "given", ["", "roundrobin", "Sticky", JAVA + "Partitioner", "com.example.MyPartitioner"]
)
def test_unknown_partitioner_names_are_rejected(given: str) -> None:
    with pytest.raises(ConfigurationError, match="partitioner must be 'sticky', 'round_robin'"):
        ProducerConfig(partitioner=given)


# -- ignore-keys ---------------------------------------------------------------------------------
def test_ignore_keys_places_keyed_records_as_sticky_runs() -> None:
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(7), ignore_keys=True)
    chosen: list[int] = []
    for n in range(6_000):
        chosen.append(partitioner.partition("t", b"key %d" % (n % 3), b"v", ALL, list(ALL)))
        partitioner.on_append("t", chosen[-1], 10, switch_allowed=True)
    runs = [chosen[start : start + 10] for start in range(0, 6_000, 10)]  # 100 bytes each
    assert all(len(set(run)) == 1 for run in runs)
    assert {run[0] for run in runs} == set(ALL)


def test_without_ignore_keys_keyed_records_are_hashed() -> None:
    partitioner = DefaultPartitioner(rng=random.Random(8))
    assert {partitioner.partition("t", b"abc", None, range(1000), []) for _ in range(5)} == {107}


def test_ignore_keys_setting() -> None:
    assert ProducerConfig().partitioner_ignore_keys is False
    config = ProducerConfig.from_mapping({"partitioner.ignore.keys": "true"})
    assert config.partitioner_ignore_keys is True
    assert (
        ProducerConfig.from_mapping({"partitioner.ignore.keys": "False"}).partitioner_ignore_keys
        is False
    )
    assert ProducerConfig(partitioner="sticky", partitioner_ignore_keys=True).partitioner is None
    for bad in ("yes", 1, None):
        with pytest.raises(ConfigurationError, match="partitioner_ignore_keys"):
            ProducerConfig(partitioner_ignore_keys=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "other", ["round_robin", DefaultPartitioner()], ids=["round_robin", "custom"]
)
def test_ignore_keys_with_another_partitioner_is_refused(other: str | Partitioner) -> None:
    with pytest.raises(ConfigurationError, match="applies to the sticky partitioner only"):
        ProducerConfig(partitioner=other, partitioner_ignore_keys=True)


def test_uniform_sticky_partitioner_points_to_ignore_keys() -> None:
    with pytest.raises(ConfigurationError, match="use partitioner_ignore_keys=True"):
        ProducerConfig(partitioner=JAVA + "UniformStickyPartitioner")


# -- adaptive sticky choice ----------------------------------------------------------------------
class GivenLoad:
    """Queue sizes given by the test; ``left_out`` partitions are unavailable."""

    def __init__(self, sizes: dict[int, int], left_out: frozenset[int] = frozenset()) -> None:
        self.sizes, self.left_out = sizes, left_out
        self.asked: list[tuple[str, list[int]]] = []

    def queue_sizes(self, topic: str, partitions: Sequence[int]) -> tuple[list[int], list[int]]:
        self.asked.append((topic, list(partitions)))
        ids = [p for p in partitions if p not in self.left_out]
        return ids, [self.sizes.get(p, 0) for p in ids]


def _draws(partitioner: DefaultPartitioner, n: int, available: Sequence[int] = ALL) -> Counter[int]:
    counts: Counter[int] = Counter()
    for _ in range(n):
        chosen = partitioner.partition("t", None, b"v", ALL, list(available))
        counts[chosen] += 1
        partitioner.on_append("t", chosen, 100, switch_allowed=True)  # a switch every record
    return counts


def test_cumulative_frequency_table_is_javas() -> None:
    # Java's example: queue sizes 0 3 1 give weights 4 1 3, the table 4 5 8
    class Fixed(random.Random):
        def __init__(self, value: int) -> None:
            super().__init__(0)
            self.value = value

        def randrange(self, stop: int, *args: object, **kwargs: object) -> int:  # type: ignore[override]
            assert stop == 8
            return self.value

    chosen = [_weighted_choice([10, 11, 12], [0, 3, 1], Fixed(r)) for r in range(8)]
    assert chosen == [10, 10, 10, 10, 11, 12, 12, 12]


def test_adaptive_weights_by_inverse_queue_size() -> None:
    load = GivenLoad({0: 4, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0})  # weights 1 5 5 5 5 5
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(9), load=load)
    counts = _draws(partitioner, 26_000)
    assert 700 < counts[0] < 1300  # 1/26 of the draws
    assert all(4_400 < counts[p] < 5_600 for p in range(1, 6))  # 5/26 each
    assert load.asked[0] == ("t", list(ALL))


def test_adaptive_is_uniform_when_queues_are_equal() -> None:
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(10), load=GivenLoad({}))
    counts = _draws(partitioner, 12_000)
    assert max(counts.values()) < 1.15 * min(counts.values())


def test_adaptive_skips_left_out_partitions() -> None:
    load = GivenLoad({}, left_out=frozenset({2, 3}))
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(11), load=load)
    assert set(_draws(partitioner, 1_000)) == {0, 1, 4, 5}


def test_adaptive_with_every_partition_left_out_is_uniform_over_available() -> None:
    load = GivenLoad({}, left_out=frozenset(ALL))
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(12), load=load)
    assert set(_draws(partitioner, 1_000, available=[1, 2])) == {1, 2}


def test_adaptive_is_not_asked_for_one_partition_or_none_available() -> None:
    load = GivenLoad({0: 5})
    partitioner = DefaultPartitioner(batch_size=1, rng=random.Random(13), load=load)
    assert partitioner.partition("one", None, None, range(1), [0]) == 0
    assert partitioner.partition("none", None, None, ALL, []) in ALL
    assert load.asked == []


def test_keyed_records_never_ask_the_load() -> None:
    load = GivenLoad({})
    partitioner = DefaultPartitioner(load=load)
    assert partitioner.partition("t", b"abc", None, range(1000), [1]) == 107
    assert load.asked == []


# -- PartitionLoad: the accumulator's queues and the sender's view of brokers --------------------
class Leaders:
    def leader(self, topic: str, partition: int) -> int:
        return 100 + partition % 2  # brokers 100 (even partitions) and 101 (odd)


def _queues(sizes: dict[int, int]) -> dict[TopicPartition, deque[object]]:
    return {TopicPartition("t", p): deque(range(n)) for p, n in sizes.items()}


def _lengths(queues: dict[TopicPartition, deque[object]]) -> Callable[[TopicPartition], int | None]:
    """RecordAccumulator.queue_length over ``queues``."""

    def length(tp: TopicPartition) -> int | None:
        queue = queues.get(tp)
        return None if queue is None else len(queue)

    return length


def test_partition_load_counts_queued_batches() -> None:
    queues = _queues({0: 3, 2: 1, 5: 0})
    load = PartitionLoad(_lengths(queues), Leaders())
    assert load.queue_sizes("t", [0, 2, 5]) == ([0, 2, 5], [3, 1, 0])
    assert load.queue_sizes("other", [0]) == ([0], [0])


def test_partition_load_is_uniform_until_every_partition_had_a_batch() -> None:
    # Java's partitionReady: no load stats (so no weights and nothing left out) until the
    # accumulator has a queue for every partition of the topic
    queues = _queues({0: 3, 2: 1, 5: 0})
    load = PartitionLoad(_lengths(queues), Leaders(), availability_timeout_ms=1)
    load.node_polled(100, 0, can_drain=False)
    load.node_polled(100, 10, can_drain=False)  # broker 100 (partitions 0, 2) is late
    assert load.queue_sizes("t", [0, 1, 2, 5]) == ([0, 1, 2, 5], [0, 0, 0, 0])
    queues[TopicPartition("t", 1)] = deque([0, 1])
    assert load.queue_sizes("t", [0, 1, 2, 5]) == ([1, 5], [2, 0])  # 0 and 2 left out


def test_availability_timeout_leaves_out_a_broker_that_takes_nothing() -> None:
    queues = _queues({0: 2, 1: 2, 2: 0, 3: 1})
    load = PartitionLoad(_lengths(queues), Leaders(), availability_timeout_ms=100)
    load.node_polled(100, 1_000, can_drain=False)  # first seen: not yet late
    load.node_polled(101, 1_000, can_drain=True)
    load.node_polled(100, 1_100, can_drain=False)
    assert load.queue_sizes("t", range(4)) == ([0, 1, 2, 3], [2, 2, 0, 1])  # 100 ms: not over
    load.node_polled(100, 1_101, can_drain=False)
    load.node_polled(101, 1_500, can_drain=True)
    # broker 100's partitions with queued batches are left out; its empty partition 2 is not
    assert load.queue_sizes("t", range(4)) == ([1, 2, 3], [2, 0, 1])
    load.node_polled(100, 1_600, can_drain=True)  # it took a batch: back in
    assert load.queue_sizes("t", range(4)) == ([0, 1, 2, 3], [2, 2, 0, 1])


def test_without_timeout_no_partition_is_left_out() -> None:
    load = PartitionLoad(_lengths(_queues({0: 2})), Leaders())
    load.node_polled(100, 0, can_drain=False)
    load.node_polled(100, 10**9, can_drain=False)
    assert load.queue_sizes("t", [0]) == ([0], [2])


# -- the adaptive settings -----------------------------------------------------------------------
def test_adaptive_settings() -> None:
    config = ProducerConfig()
    assert config.partitioner_adaptive_partitioning_enable is True
    assert config.partitioner_availability_timeout_ms == 0
    config = ProducerConfig.from_mapping(
        {
            "partitioner.adaptive.partitioning.enable": "true",
            "partitioner.availability.timeout.ms": "500",
        }
    )
    assert config.partitioner_availability_timeout_ms == 500
    off = ProducerConfig.from_mapping({"partitioner.adaptive.partitioning.enable": "false"})
    assert off.partitioner_adaptive_partitioning_enable is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partitioner_adaptive_partitioning_enable": "yes"}, "must be True or False"),
        ({"partitioner_availability_timeout_ms": -1}, "between 0 and"),
        ({"partitioner_availability_timeout_ms": 1.5}, "must be an int"),
        (
            {
                "partitioner_adaptive_partitioning_enable": False,
                "partitioner_availability_timeout_ms": 5,
            },
            "needs partitioner_adaptive_partitioning_enable=True",
        ),
        (
            {"partitioner": "round_robin", "partitioner_adaptive_partitioning_enable": False},
            "apply to the sticky partitioner only",
        ),
        (
            {"partitioner": DefaultPartitioner(), "partitioner_availability_timeout_ms": 5},
            "apply to the sticky partitioner only",
        ),
    ],
)
def test_adaptive_settings_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ProducerConfig(**options)  # type: ignore[arg-type]


# -- when the sticky partition switches (Java's updatePartitionInfo and partitionChanged) -------
def test_a_put_off_switch_happens_once_the_batches_are_full() -> None:
    asked: list[tuple[str, int]] = []
    full = False

    def batches_full(topic: str, partition: int) -> bool:
        asked.append((topic, partition))
        return full

    partitioner = DefaultPartitioner(
        batch_size=1000, rng=random.Random(14), batches_full=batches_full
    )
    sticky = partitioner.partition("t", None, b"v", ALL, ALL)
    partitioner.on_append("t", sticky, 999, switch_allowed=False)
    assert partitioner.partition("t", None, b"v", ALL, ALL) == sticky
    assert asked == []  # not asked before batch_size bytes went to the partition
    partitioner.on_append("t", sticky, 200, switch_allowed=False)  # the batch still has room
    assert partitioner.partition("t", None, b"v", ALL, ALL) == sticky
    assert asked == [("t", sticky)]
    full = True  # it filled up, or the sender took it: the next record draws anew
    partitioner.partition("t", None, b"v", ALL, ALL)
    assert partitioner.sticky_partition("t") is not None
    partitioner.on_append("t", partitioner.sticky_partition("t") or 0, 10, switch_allowed=False)
    partitioner.partition("t", None, b"v", ALL, ALL)
    assert len(asked) == 2  # the new partition has 10 bytes: nothing to ask


@pytest.mark.parametrize("value_size", [10, 300])
async def test_sticky_runs_fill_whole_batches(value_size: int) -> None:
    """A run of null-key records on one partition fills its batch before the switch: the
    partitioner counts the bytes each record added (not the producer's bound on a record,
    82 bytes more), and switches only once the last batch is full, as Java does. A batch
    counts as full once a record did not fit (when records do not fill batch_size exactly),
    so, as in Java, a run mostly fills two batches and opens a third, which takes it to
    2 * batch_size."""
    batch_size, count = 1024, 3_000
    async with asyncio.timeout(20), FakeBroker(nodes=2) as broker:
        broker.create_topic("t", partitions=4)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers, batch_size=batch_size, linger_ms=5_000
        ) as producer:
            futures = [await producer.send("t", b"v" * value_size) for _ in range(count)]
            await producer.flush()
            placed = [md.partition for md in await asyncio.gather(*futures)]
        runs = [len(list(run)) for _, run in itertools.groupby(placed)]
        per_batch = max(len(batch.records) for p in range(4) for batch in broker.batches("t", p))
        assert (per_batch + 1) * (value_size + 8) > batch_size - 61  # batches are full
        assert sum(runs) == count
        # (a run may end sooner when the sender took its batches: then it switches at once)
        assert min(runs[:-1]) > per_batch, runs  # before the fix: 12 to 46, not even one
