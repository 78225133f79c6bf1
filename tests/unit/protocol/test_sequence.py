"""Producer sequence arithmetic: int32 sequences that wrap from 2**31-1 to 0, as Kafka's."""

from __future__ import annotations

from aioproducer._protocol.sequence import is_after, last_sequence, next_sequence

TOP = 2**31 - 1


def test_next_sequence_wraps_past_int32_max_to_zero() -> None:
    assert next_sequence(0, 5) == 5
    assert next_sequence(TOP, 1) == 0
    assert next_sequence(TOP - 1, 5) == 3


def test_last_sequence_is_the_base_plus_count_minus_one_wrapped() -> None:
    assert last_sequence(0, 1) == 0
    assert last_sequence(10, 5) == 14
    assert last_sequence(TOP, 2) == 0
    assert last_sequence(TOP - 2, 10) == 6


def test_is_after_compares_modulo_the_wrap_within_half_the_span() -> None:
    assert is_after(1, 0)
    assert not is_after(0, 0)
    assert not is_after(0, 1)
    assert is_after(0, TOP)  # 0 follows 2**31-1
    assert is_after(3, TOP - 3)
    assert not is_after(TOP - 3, 3)
    assert is_after(2**30 - 1, 0)
    assert not is_after(2**30, 0)  # half the span away: not "after"
