"""Where a :class:`~aioproducer.Producer` stands in its life (its transaction, if any, has
its own states: :class:`~aioproducer.transactions.TransactionState`).

``NEW -> STARTING -> RUNNING -> CLOSED``; a failed start() goes to CLOSED. From RUNNING, a
producer may also stop taking records without close(): STALLED (its sender task was
cancelled or died), FAILED (a fatal error, such as being fenced) or DROPPED (garbage-collected
while running); close() then delivers what is queued and ends in CLOSED.
"""

from __future__ import annotations

import enum

__all__ = ["ProducerState"]


class ProducerState(enum.Enum):
    """A producer's state; ``str()`` gives its value (as in ``<Producer running ...>``)."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STALLED = "stalled"  # the sender task was cancelled or died: close() delivers what is queued
    DROPPED = "dropped"  # garbage-collected while running (a warning may keep it referenced)
    FAILED = "failed"  # a fatal error (fenced): every send raises it; close() is what is left
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value
