"""Where a :class:`~aioproducer.Producer` stands in its life (its transaction, if any, has
its own states: :class:`~aioproducer._transactions.TransactionState`).

``NEW -> STARTING -> RUNNING -> CLOSED``; a failed start() goes to CLOSED. From RUNNING, a
producer may also stop taking records without close(): STALLED (its sender task was
cancelled or died), FAILED (a fatal error, such as being fenced) or DROPPED (garbage-collected
while running); close() then delivers what is queued and ends in CLOSED.
"""

from __future__ import annotations

import enum

from aioproducer.errors import ProducerClosedError, ProducerError, WrongEventLoopError

__all__ = ["ProducerState", "unusable_error"]


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


def unusable_error(
    state: ProducerState, what: str, fatal_error: ProducerError | None, stall_reason: str
) -> ProducerError:
    """The error for ``what`` (a call) when a producer in ``state`` cannot take it: not
    running, failed with ``fatal_error``, stalled for ``stall_reason``, or (else) called
    outside the event loop start() ran in."""
    if state is ProducerState.NEW or state is ProducerState.STARTING:
        return ProducerClosedError(f"{what} before start() finished")
    if state is ProducerState.CLOSED or state is ProducerState.DROPPED:
        return ProducerClosedError(f"{what} after close()")
    if state is ProducerState.FAILED and fatal_error:
        return fatal_error
    if state is ProducerState.STALLED:
        return ProducerClosedError(
            f"{what}: the producer stopped because {stall_reason}; call close(), "
            "which delivers the records already queued"
        )
    return WrongEventLoopError(
        f"{what} called outside the event loop that start() ran in: a producer belongs "
        "to one event loop (start one producer per loop)"
    )
