"""How a :class:`~aioproducer.Producer` winds down: ``flush()``, ``close()``, and the ways it
stops taking records without close() (a fatal error, its sender task ended, dropped unclosed).

The producer's methods delegate here; each function takes the producer as its first argument.
A transaction left open at close() is aborted by
:func:`aioproducer._producer_transactions.abort_open`.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aioproducer._cluster import Cluster
from aioproducer._producer_callbacks import wake
from aioproducer._producer_state import ProducerState
from aioproducer._producer_transactions import abort_open
from aioproducer._record_check import check_timeout
from aioproducer._sender import Sender
from aioproducer.errors import (
    IllegalStateError,
    KafkaTimeoutError,
    ProducerClosedError,
    ProducerError,
    WrongEventLoopError,
)

if TYPE_CHECKING:
    from aioproducer._producer import Producer

__all__ = ["close", "dropped", "fail", "flush", "sender_stopped"]

#: The states in which a producer dropped unclosed may still hold records to deliver.
_HOLDING: Final = (ProducerState.RUNNING, ProducerState.STALLED, ProducerState.FAILED)


def dropped(producer: Producer, _warn: Callable[..., None] = warnings.warn) -> None:
    """A producer dropped while running: say so, with the records it still holds, and
    let its sender deliver them while the loop runs (then it closes its connections)."""
    state = producer.__dict__.get("_state")  # absent if __init__ raised
    if state not in _HOLDING:
        return
    producer._state = ProducerState.DROPPED
    accumulator, sender, loop = producer._accumulator, producer._sender, producer._loop
    pending = accumulator.incomplete_records() if accumulator is not None else 0
    with contextlib.suppress(Exception):  # at interpreter exit, modules may be gone
        _warn(
            f"unclosed {producer!r} with {pending} record(s) not yet delivered: "
            "await producer.close(), or use 'async with Producer(...)'",
            ResourceWarning,
            source=producer,
        )
        producer._log.error(  # the client id, not the producer: a record keeps its arguments
            "producer %r was dropped without close(): %d record(s) not yet delivered "
            "(delivered only if its event loop runs on until they are)",
            producer.config.client_id,
            pending,
        )
        if loop is not None and not loop.is_closed():
            if state is ProducerState.STALLED and producer._cluster is not None:  # no sender
                loop.call_soon_threadsafe(producer._cluster.shutdown)
            elif sender is not None:
                loop.call_soon_threadsafe(sender.initiate_close)


def sender_stopped(
    producer_ref: weakref.ref[Producer], cluster: Cluster, task: asyncio.Task[None]
) -> None:
    """The sender task ended. Unless close() ended it, it was cancelled from outside (every
    task cancelled at shutdown) or died: the producer stops taking records, and close()
    delivers what is queued. Holds no reference to the producer, which may be gone (then
    its connections are closed here)."""
    producer = producer_ref()
    if producer is None or producer._state is ProducerState.DROPPED:
        cluster.shutdown()
        return
    if producer._state is not ProducerState.RUNNING:
        return
    reason = "was cancelled" if task.cancelled() else f"died: {task.exception()!r}"
    _stall(producer, f"its sender task {reason}")


def fail(producer: Producer, error: ProducerError) -> None:
    """A fatal error (fenced): every later call raises ``error``; close() still works."""
    if producer._state is not ProducerState.RUNNING:
        return
    _stop_taking_records(producer, ProducerState.FAILED)


def _stall(producer: Producer, reason: str) -> None:
    """Stop taking records (see :func:`sender_stopped`)."""
    producer._stall_reason = reason
    _stop_taking_records(producer, ProducerState.STALLED)
    producer._log.error(
        "producer stopped taking records: %s (close() delivers what is queued)", reason
    )


def _stop_taking_records(producer: Producer, state: ProducerState) -> None:
    """Enter ``state`` (FAILED, STALLED or CLOSED): send() raises from now on, and every
    send(), send_many() and partitions_for() waiting for buffer space or metadata raises
    the reason at once."""
    producer._state = state
    producer.__dict__.pop("send", None)  # the FastSend, if any
    if producer._fast_send is not None:  # and a send bound to it before
        producer._fast_send.enabled = False
    if producer._space_freed is not None:
        producer._space_freed.set()
    if producer._accumulator is not None:
        producer._accumulator.wake_waiters()  # each raises the reason
    if producer._cluster is not None:
        producer._cluster.stop_waits()


async def flush(producer: Producer, timeout: float | None) -> None:
    """:meth:`Producer.flush <aioproducer.Producer.flush>`."""
    accumulator, sender, event = producer._accumulator, producer._sender, producer._space_freed
    timeout = check_timeout("flush()", timeout)
    if accumulator is None or sender is None or event is None:
        return
    if not producer._in_loop():
        raise producer._unusable("flush()")
    token = accumulator.begin_flush()
    sender.wakeup()
    try:
        async with asyncio.timeout(timeout):
            while not accumulator.flush_done(token):
                event.clear()
                await event.wait()
            await _callbacks_run(producer)
    except TimeoutError as exc:
        raise KafkaTimeoutError(f"flush() did not finish within {timeout} s") from exc
    finally:
        accumulator.end_flush()


async def _callbacks_run(producer: Producer) -> None:
    """Return once the done-callbacks of every record future settled so far have run:
    the futures' relay runs callbacks in the order they were scheduled, so one
    scheduled now runs after all of them."""
    assert producer._loop is not None
    marker, done = producer._create_future(), producer._loop.create_future()
    marker.add_done_callback(lambda _: wake(done))
    marker.set_result(None)
    await done


async def close(producer: Producer, timeout: float | None) -> None:
    """:meth:`Producer.close <aioproducer.Producer.close>`."""
    timeout = check_timeout("close()", timeout)
    if producer._loop is None:  # never started, or start() failed (and cleaned up)
        if producer._state is ProducerState.STARTING:
            raise IllegalStateError("close() while start() is still running")
        producer._state = ProducerState.CLOSED
        return
    if not producer._in_loop():
        raise WrongEventLoopError("close() called outside the event loop start() ran in")
    if producer._closed is not None:
        await asyncio.shield(producer._closed)
        return
    producer._closed = closed = producer._loop.create_future()
    try:
        await _shut_down(producer, timeout)
    finally:
        closed.set_result(None)
        metrics = producer._metrics
        producer._log.info(
            "closed: %d record(s) acknowledged, %d failed",
            metrics.send_total,
            metrics.error_total,
        )


async def _shut_down(producer: Producer, timeout: float | None) -> None:
    # a send() waiting for a topic's metadata or buffer space raises at once
    _stop_taking_records(producer, ProducerState.CLOSED)
    sender, cluster, telemetry = producer._sender, producer._cluster, producer._telemetry
    assert sender is not None
    assert cluster is not None
    started = asyncio.get_running_loop().time()
    try:
        try:
            async with asyncio.timeout(timeout):
                await abort_open(producer)
                await _deliver_queued(producer, sender)
        except TimeoutError:
            _stop_now(producer, sender, f"the producer was closed (timeout {timeout} s)")
        await _callbacks_run(producer)
        if telemetry is not None:  # the terminating push, with the final counts
            left = producer.config.request_timeout_ms / 1000
            if timeout is not None:
                left = min(left, timeout - (asyncio.get_running_loop().time() - started))
            await telemetry.close(left)
    except BaseException:  # cancelled: fail what is left, and finish closing all the same
        _stop_now(producer, sender, "close() was cancelled")
        raise
    finally:
        if telemetry is not None:
            telemetry.stop()
        if producer._txn is not None:
            producer._txn.stop()
        cluster.shutdown()  # every connection, at once
        await cluster.close()


async def _deliver_queued(producer: Producer, sender: Sender) -> None:
    """Let the sender deliver everything queued; it stops when nothing is left. If its
    task was cancelled (every task cancelled at shutdown), run its loop here instead."""
    sender.initiate_close()
    task = producer._sender_task
    if task is not None and not task.done():
        await asyncio.wait((task,))  # returns, without raising, if the task is cancelled
    accumulator = producer._accumulator
    if accumulator is not None and accumulator.has_incomplete():
        await sender.run()


def _stop_now(producer: Producer, sender: Sender, why: str) -> None:
    """Fail every record not yet delivered with ProducerClosedError and stop the sender."""
    sender.force_close(
        ProducerClosedError(
            f"{why} before these records were acknowledged (those already sent may "
            "have been written)"
        )
    )
    task = producer._sender_task
    if task is not None and not task.done():
        task.cancel()
