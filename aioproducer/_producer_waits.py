"""What :meth:`Producer.send <aioproducer.Producer.send>` and ``send_many()`` wait for, within
``max_block_ms``: a topic's metadata and room in ``buffer_memory``.

The producer's methods are these functions (each takes the producer first).
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING, Final

from aioproducer._buffer_memory import NO_WAIT, MemoryWaiter
from aioproducer._clock import now_ms
from aioproducer._metadata import TopicInfo, TopicPartition
from aioproducer._producer_callbacks import wake as _wake
from aioproducer._producer_state import ProducerState
from aioproducer._record_check import check_topic
from aioproducer._transactions import TransactionState
from aioproducer.errors import BufferFullError

if TYPE_CHECKING:
    from aioproducer._producer import Producer

__all__ = ["check_running", "route", "wait_for_space"]

_RUNNING: Final = ProducerState.RUNNING
_IN_TRANSACTION: Final = TransactionState.IN_TRANSACTION


def check_running(producer: Producer, what: str) -> None:
    if producer._state is not _RUNNING:
        raise producer._unusable(f"{what} (while it waited)")
    if producer._txn is not None and producer._txn.state is not _IN_TRANSACTION:
        raise producer._txn.send_error(f"{what} (while it waited)")


async def route(
    producer: Producer, topic: str, timeout: float | None = None
) -> tuple[TopicInfo, list[TopicPartition]]:
    """The topic's metadata and partitions, waiting for them up to ``timeout`` seconds."""
    if topic not in producer._valid_topics:
        producer._valid_topics.add(check_topic(topic))
    cluster = producer._cluster
    assert cluster is not None
    cluster.metadata.want(topic, now_ms())
    info = cluster.metadata.topics.get(topic)
    if info is None or info.error is not None:
        if timeout is None:
            timeout = producer.config.max_block_ms / 1000
        info = await cluster.wait_for_topic(topic, timeout)
    route = (info, [TopicPartition(topic, p) for p in range(info.num_partitions)])
    producer._routes[topic] = route
    return route


async def wait_for_space(
    producer: Producer, size: int, deadline: float, first: bool, what: str
) -> MemoryWaiter:
    """Wait in line for ``size`` bytes of buffer_memory, until ``deadline``
    (time.monotonic()), joining at its head if ``first``. Returns the waiter, granted
    the bytes (its ``held``; ``NO_WAIT``, holding none, when there was room at once):
    the caller appends, then leaves the line whatever happens. BufferFullError when
    the deadline passes first; ProducerClosedError when close() ends the wait."""
    accumulator, sender = producer._accumulator, producer._sender
    assert accumulator is not None
    assert sender is not None
    check_running(producer, what)
    if accumulator.has_room(size):
        return NO_WAIT
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()
    waiter = accumulator.wait_for_memory(size, functools.partial(_wake, woken), first=first)
    if woken.done():  # granted at once
        return waiter
    sender.wakeup()  # every batch is ready while someone waits (Java)
    timer = loop.call_later(deadline - time.monotonic(), _wake, woken)
    began = time.perf_counter_ns()
    try:
        await woken
    except BaseException:  # cancelled
        accumulator.leave(waiter)
        raise
    finally:
        timer.cancel()
        producer._metrics.buffer_waited(time.perf_counter_ns() - began)
    if not waiter.held or producer._state is not _RUNNING:  # the deadline passed, or close()
        accumulator.leave(waiter)
        check_running(producer, what)
        raise BufferFullError(
            f"buffer_memory ({producer.config.buffer_memory} bytes) stayed full for "
            f"max_block_ms ({producer.config.max_block_ms} ms)"
        )
    return waiter
