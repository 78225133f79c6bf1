"""The built-in strategies besides the sticky default's basics: round-robin, ignore-keys and
adaptive sticky choice (no broker: given partitions, available lists and queue sizes)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from aioproducer.config import ProducerConfig
from aioproducer.errors import ConfigurationError
from aioproducer.partitioner import DefaultPartitioner, Partitioner, RoundRobinPartitioner

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
