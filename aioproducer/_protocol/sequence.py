"""Producer sequence arithmetic: a sequence is an int32 that wraps from 2**31-1 to 0.

Kafka numbers each producer's records per partition from 0 and wraps past ``2**31 - 1``
(the broker's ``DefaultRecordBatch.incrementSequence``); "after" is decided modulo the wrap,
within half the span.
"""

from __future__ import annotations

from typing import Final

__all__ = ["is_after", "last_sequence", "next_sequence"]

_SPAN: Final = 1 << 31


def next_sequence(sequence: int, increment: int) -> int:
    """``sequence + increment``, wrapping past 2**31-1 to 0 as Kafka does."""
    return (sequence + increment) % _SPAN


def last_sequence(base_sequence: int, record_count: int) -> int:
    """Sequence of a batch's last record."""
    return (base_sequence + record_count - 1) % _SPAN


def is_after(sequence: int, other: int) -> bool:
    """True if ``sequence`` comes after ``other`` (modulo the wrap, within half the span)."""
    return 0 < (sequence - other) % _SPAN < _SPAN // 2
