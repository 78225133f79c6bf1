"""The small callables a :class:`~aioproducer.Producer` hands out: ``on_delivery``
done-callbacks, its methods behind weak references (its parts must not keep it alive), the
reader of the metrics that are levels, and the placeholders it holds until start().
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from aioproducer._accumulator import RecordAccumulator
from aioproducer._clock import now_ms
from aioproducer._cluster import Cluster
from aioproducer._metadata import TopicPartition
from aioproducer.errors import ConfigurationError, ProducerClosedError

__all__ = ["delivery", "levels", "no_loop", "nothing", "nothing_for", "wake", "weakly"]

_T = TypeVar("_T")


def no_loop() -> asyncio.Future[Any]:
    raise ProducerClosedError("the producer is not started")


def nothing() -> None:
    return None


def nothing_for(tp: TopicPartition) -> None:
    return None


def wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def weakly(method: Callable[[_T], None]) -> Callable[[_T], None]:
    """``method`` (bound) called through a weak reference to its object."""
    ref = weakref.WeakMethod(method)

    def call(arg: _T) -> None:
        bound = ref()
        if bound is not None:
            bound(arg)

    return call


def levels(accumulator: RecordAccumulator, cluster: Cluster) -> tuple[int, int, int, int, float]:
    """The metrics read from the producer's state: buffer bytes available, tasks waiting
    for buffer, requests in flight, open connections, metadata age (s)."""
    refreshed = cluster.metadata.last_refresh_ms
    age = (now_ms() - refreshed) / 1000 if refreshed >= 0 else math.nan
    return (
        accumulator.available(),
        accumulator.memory_waiters,
        cluster.in_flight(),
        cluster.connection_count(),
        age,
    )


def delivery(
    callback: Callable[[Any, BaseException | None], object],
    logger: logging.LoggerAdapter[logging.Logger],
) -> Callable[[asyncio.Future[Any]], None]:
    """A done-callback that calls ``callback(result, None)`` or ``callback(None, error)``,
    logging what it raises."""
    if not callable(callback):
        raise ConfigurationError(f"on_delivery must be callable or None, not {callback!r}")

    def delivered(future: asyncio.Future[Any]) -> None:
        try:
            if future.cancelled():
                callback(None, asyncio.CancelledError())
            elif (error := future.exception()) is not None:
                callback(None, error)
            else:
                callback(future.result(), None)
        except Exception:
            logger.exception("an on_delivery callback raised (other records go on)")

    return delivered
