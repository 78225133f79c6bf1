"""The built-in strategies besides the sticky default's basics: round-robin, ignore-keys and
adaptive sticky choice (no broker: given partitions, available lists and queue sizes)."""

from __future__ import annotations

from collections import Counter

import pytest

from aioproducer.config import ProducerConfig
from aioproducer.errors import ConfigurationError
from aioproducer.partitioner import Partitioner, RoundRobinPartitioner

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
