"""Exponential backoff with jitter, as Java's ``org.apache.kafka.common.utils.ExponentialBackoff``.

``backoff(attempts)`` is ``initial * multiplier ** attempts`` scaled by a random factor in
``[1 - jitter, 1 + jitter)`` and capped at ``max``; the exponent stops growing once the
un-jittered value would pass ``max``. When ``max <= initial`` the backoff is a constant
``min(initial, max)`` without jitter, as in Java (``retry_backoff_max_ms`` below
``retry_backoff_ms`` means a static backoff).

The random source is injectable: any ``() -> float`` in ``[0, 1)``, e.g. ``lambda: 0.5``
for the un-jittered value in tests.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable

from aioproducer.errors import ConfigurationError

__all__ = ["ExponentialBackoff"]


class ExponentialBackoff:
    """Backoff in milliseconds after ``attempts`` failures (0 for the first retry)."""

    __slots__ = ("_exp_max", "_random", "initial_ms", "jitter", "max_ms", "multiplier")

    def __init__(
        self,
        initial_ms: int,
        max_ms: int,
        *,
        multiplier: int = 2,
        jitter: float = 0.2,
        random: Callable[[], float] | None = None,
    ) -> None:
        if initial_ms < 0 or max_ms < 0:
            raise ConfigurationError(
                f"backoff intervals must be >= 0, not initial={initial_ms} max={max_ms}"
            )
        if multiplier < 1:
            raise ConfigurationError(f"backoff multiplier must be >= 1, not {multiplier}")
        if not 0.0 <= jitter < 1.0:
            raise ConfigurationError(f"backoff jitter must be in [0, 1), not {jitter}")
        self.initial_ms = min(initial_ms, max_ms)
        self.max_ms = max_ms
        self.multiplier = multiplier
        self.jitter = jitter
        self._random = random or _random.random
        if max_ms > initial_ms and multiplier > 1:
            self._exp_max = math.log(max_ms / max(initial_ms, 1)) / math.log(multiplier)
        else:
            self._exp_max = 0.0

    def backoff(self, attempts: int) -> int:
        """Milliseconds to wait before attempt ``attempts + 1``; never above ``max_ms``."""
        if self._exp_max == 0.0:
            return self.initial_ms
        term = self.initial_ms * self.multiplier ** min(float(attempts), self._exp_max)
        jitter = self.jitter
        if jitter > 0.0:
            term *= 1.0 - jitter + 2.0 * jitter * self._random()
        return min(int(term), self.max_ms)

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(initial_ms={self.initial_ms}, max_ms={self.max_ms}, "
            f"multiplier={self.multiplier}, jitter={self.jitter})"
        )
