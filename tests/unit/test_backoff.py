"""ExponentialBackoff: Java's formula, jitter bounds, static backoff, validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._backoff import ExponentialBackoff
from aioproducer.errors import ConfigurationError


def test_doubles_from_initial_up_to_max_without_jitter() -> None:
    backoff = ExponentialBackoff(100, 1000, jitter=0.0)
    assert [backoff.backoff(n) for n in range(6)] == [100, 200, 400, 800, 1000, 1000]


def test_midpoint_random_gives_the_unjittered_value() -> None:
    backoff = ExponentialBackoff(100, 1000, random=lambda: 0.5)
    assert [backoff.backoff(n) for n in range(5)] == [100, 200, 400, 800, 1000]


def test_jitter_bounds_are_plus_minus_twenty_percent() -> None:
    low = ExponentialBackoff(100, 10_000, random=lambda: 0.0)
    high = ExponentialBackoff(100, 10_000, random=lambda: 0.999999)
    assert low.backoff(0) == 80
    assert high.backoff(0) == 119
    assert low.backoff(3) == 640
    assert high.backoff(3) == 959


def test_jitter_never_exceeds_max() -> None:
    backoff = ExponentialBackoff(100, 1000, random=lambda: 0.999999)
    assert backoff.backoff(10) == 1000
    assert backoff.backoff(10**6) == 1000


def test_max_below_initial_is_a_static_backoff_without_jitter() -> None:
    # Java: retry.backoff.max.ms < retry.backoff.ms means a constant retry.backoff.max.ms
    backoff = ExponentialBackoff(500, 200, random=lambda: 0.0)
    assert [backoff.backoff(n) for n in range(3)] == [200, 200, 200]
    equal = ExponentialBackoff(100, 100, random=lambda: 0.0)
    assert equal.backoff(5) == 100


def test_zero_initial() -> None:
    backoff = ExponentialBackoff(0, 1000, random=lambda: 0.5)
    assert backoff.backoff(0) == 0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((-1, 100), {}),
        ((100, -1), {}),
        ((100, 1000), {"multiplier": 0}),
        ((100, 1000), {"jitter": 1.0}),
        ((100, 1000), {"jitter": -0.1}),
    ],
)
def test_invalid_parameters(args: tuple[int, int], kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        ExponentialBackoff(*args, **kwargs)  # type: ignore[arg-type]


@given(
    initial=st.integers(0, 10_000),
    maximum=st.integers(0, 100_000),
    attempts=st.integers(0, 100),
    rand=st.floats(0.0, 0.999999),
)
def test_always_within_bounds(initial: int, maximum: int, attempts: int, rand: float) -> None:
    backoff = ExponentialBackoff(initial, maximum, random=lambda: rand)
    value = backoff.backoff(attempts)
    assert 0 <= value <= maximum
    assert value >= int(min(initial, maximum) * 0.8) - 1


def test_repr_names_parameters() -> None:
    assert "initial_ms=100" in repr(ExponentialBackoff(100, 1000))
