"""The producer's millisecond clock: monotonic, whole milliseconds.

Every deadline, linger and rate in the producer is measured on it (batches' creation times,
the sender's passes, metadata refreshes, the metrics' samples, client telemetry), so they
compare with each other. Record timestamps are wall-clock time instead (``time.time_ns``).
"""

from __future__ import annotations

import time

__all__ = ["now_ms"]


def now_ms() -> int:
    """Monotonic time in whole milliseconds."""
    return time.monotonic_ns() // 1_000_000
