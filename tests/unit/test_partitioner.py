"""murmur2 against Java's vectors and kafka-python; the sticky default partitioner."""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer import _partitioner as module
from aioproducer._partitioner import DefaultPartitioner, Partitioner, murmur2, partition_for_key
from aioproducer._speedups_status import c as _speedups

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

IMPLEMENTATIONS: dict[str, Callable[[bytes], int]] = {"python": module._murmur2_py}
if _speedups is not None:
    IMPLEMENTATIONS["c"] = _speedups.murmur2

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
JAVA_HASHES = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]
# partition among 1000 computed by the Java producer (aiokafka's tests/test_partitioner.py)
JAVA_PARTITIONS = [
    (b"", 681),
    (b"a", 524),
    (b"ab", 434),
    (b"abc", 107),
    (b"123456789", 566),
    (b"\x00 ", 742),
]


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.requires_extension) if name == "c" else name
        for name in dict.fromkeys(["python", "c", *IMPLEMENTATIONS])
    ]
)
def impl(request: pytest.FixtureRequest) -> Callable[[bytes], int]:
    return IMPLEMENTATIONS[request.param]


@pytest.mark.parametrize(("key", "expected"), JAVA_HASHES)
def test_murmur2_java_hashes(impl: Callable[[bytes], int], key: bytes, expected: int) -> None:
    assert impl(key) == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_PARTITIONS)
def test_murmur2_java_partitions(impl: Callable[[bytes], int], key: bytes, expected: int) -> None:
    assert (impl(key) & 0x7FFFFFFF) % 1000 == expected


def test_public_murmur2_is_checked_implementation() -> None:
    assert murmur2 in IMPLEMENTATIONS.values()
    for key, expected in JAVA_PARTITIONS:
        assert partition_for_key(key, 1000) == expected


def to_signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_murmur2_matches_kafka_python(data: bytes) -> None:
    reference = to_signed(kafka_python_murmur2(data))
    assert module._murmur2_py(data) == reference
    assert murmur2(data) == reference


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(1, 10_000))
def test_partition_for_key_is_in_range(key: bytes, partitions: int) -> None:
    assert 0 <= partition_for_key(key, partitions) < partitions


# -- DefaultPartitioner ----------------------------------------------------------------------

ALL = list(range(12))


def test_is_a_partitioner() -> None:
    partitioner: Partitioner = DefaultPartitioner()
    assert partitioner.partition("t", b"foobar", None, ALL, ALL) == partition_for_key(b"foobar", 12)


def test_keyed_records_ignore_availability() -> None:
    partitioner = DefaultPartitioner()
    assert partitioner.partition("t", b"abc", b"v", range(1000), [1]) == 107


def test_unkeyed_records_stick_until_batch_size() -> None:
    partitioner = DefaultPartitioner(batch_size=1000, rng=random.Random(1))
    first = partitioner.partition("t", None, b"v", ALL, ALL)
    for _ in range(9):
        assert partitioner.partition("t", None, b"v", ALL, ALL) == first
        partitioner.on_append("t", first, 100, switch_allowed=True)
    assert partitioner.sticky_partition("t") == first  # 900 bytes: not yet
    partitioner.on_append("t", first, 100, switch_allowed=True)
    assert partitioner.sticky_partition("t") is None  # switched: the next record draws anew
    assert partitioner.partition("t", None, b"v", ALL, ALL) in ALL


def test_switch_waits_for_a_batch_boundary_up_to_twice_batch_size() -> None:
    partitioner = DefaultPartitioner(batch_size=1000, rng=random.Random(2))
    sticky = partitioner.partition("t", None, b"v", ALL, ALL)
    partitioner.on_append("t", sticky, 1500, switch_allowed=False)
    assert partitioner.sticky_partition("t") == sticky
    partitioner.on_append("t", sticky, 499, switch_allowed=False)
    assert partitioner.sticky_partition("t") == sticky
    partitioner.on_append("t", sticky, 1, switch_allowed=False)
    assert partitioner.sticky_partition("t") is None


def test_topics_are_independent_and_other_partitions_do_not_count() -> None:
    partitioner = DefaultPartitioner(batch_size=100, rng=random.Random(3))
    a = partitioner.partition("a", None, None, ALL, ALL)
    b = partitioner.partition("b", None, None, ALL, ALL)
    partitioner.on_append("a", (a + 1) % 12, 1000, switch_allowed=True)
    partitioner.on_append("unknown", 0, 1000, switch_allowed=True)
    assert (partitioner.sticky_partition("a"), partitioner.sticky_partition("b")) == (a, b)


def test_only_available_partitions_are_chosen() -> None:
    partitioner = DefaultPartitioner(batch_size=1, rng=random.Random(4))
    seen = set()
    for _ in range(200):
        chosen = partitioner.partition("t", None, b"v", ALL, [3, 7])
        partitioner.on_append("t", chosen, 1, switch_allowed=True)
        seen.add(chosen)
    assert seen == {3, 7}


def test_falls_back_to_all_partitions_when_none_is_available() -> None:
    partitioner = DefaultPartitioner(batch_size=1, rng=random.Random(5))
    seen = set()
    for _ in range(300):
        chosen = partitioner.partition("t", None, b"v", ALL, [])
        partitioner.on_append("t", chosen, 1, switch_allowed=True)
        seen.add(chosen)
    assert seen == set(ALL)


def test_switches_spread_uniformly() -> None:
    partitioner = DefaultPartitioner(batch_size=10, rng=random.Random(6))
    counts: Counter[int] = Counter()
    for _ in range(12_000):
        chosen = partitioner.partition("t", None, b"v", ALL, ALL)
        counts[chosen] += 1
        partitioner.on_append("t", chosen, 10, switch_allowed=True)
    assert set(counts) == set(ALL)
    assert max(counts.values()) < 1.2 * min(counts.values())


def test_default_rng_and_bad_batch_size() -> None:
    assert DefaultPartitioner().partition("t", None, None, ALL, ALL) in ALL
    with pytest.raises(ValueError, match="batch_size"):
        DefaultPartitioner(batch_size=0)


def test_the_compiled_murmur2_runs_when_the_extension_does() -> None:
    expected = module._murmur2_py if _speedups is None else _speedups.murmur2
    assert murmur2 is expected
