"""Record futures whose done-callbacks run in one event-loop callback per settled batch.

asyncio runs each done-callback of each future in a loop callback of its own (a ``Handle``
made by ``loop.call_soon``): about 2 µs a record, when a batch settles a hundred records at
once and ``gather`` or a task waits on each. A :class:`RecordFuture` is an ``asyncio.Future``
created with a :class:`CallbackRelay` as its loop: the relay collects the callbacks the
future schedules and runs all that were collected in one loop callback, in the order they
were scheduled, each in its own context; an error a callback raises goes to the loop's
exception handler, as ``Handle`` does. ``get_loop()`` answers the real loop, so tasks,
``gather``, ``wait``, ``wait_for`` and ``shield`` treat a record future as any other future
of that loop.

The C extension offers the same relay (``aioproducer._speedups.CallbackRelay``); this one is
its reference and is used when the extension is not.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aioproducer._speedups_status import c as _c

__all__ = ["CallbackRelay", "RecordFuture", "relay_for"]

_T = TypeVar("_T")
_Queued = tuple[Callable[[Any], object], Any, contextvars.Context]


class RecordFuture(asyncio.Future[_T]):
    """An ``asyncio.Future`` whose callbacks a :class:`CallbackRelay` runs in batches."""

    __slots__ = ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the relay serves (not the relay itself); made with a plain loop,
        that loop."""
        loop = self._loop
        real: asyncio.AbstractEventLoop = getattr(loop, "loop", loop)
        return real


class CallbackRelay:
    """The loop a :class:`RecordFuture` is given: it batches the callbacks futures schedule.

    ``call_soon(callback, future, context=...)``, the one call a future makes when it is
    done, queues the callback; the first one queued since the last run schedules
    :meth:`_run` on the real loop. Anything else a loop offers is the real loop's
    (``__getattr__`` forwards it).
    """

    __slots__ = ("_debug_attribute", "_pending", "_scheduled", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._debug_attribute = type(loop).get_debug is asyncio.BaseEventLoop.get_debug
        self._pending: list[_Queued] = []
        self._scheduled = False

    def create_future(self) -> RecordFuture[Any]:
        """A new pending future whose callbacks this relay runs."""
        return RecordFuture(loop=cast(asyncio.AbstractEventLoop, self))

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle | None:
        """Queue ``callback(future)`` to run in ``context`` (a copy of the current one if
        None) in the relay's next run (returns None); any other call is the real loop's
        ``call_soon`` (returns its Handle)."""
        if len(args) != 1:
            return self.loop.call_soon(callback, *args, context=context)
        if context is None:
            context = contextvars.copy_context()
        self._pending.append((callback, args[0], context))
        if not self._scheduled:
            try:
                self._schedule()
            except BaseException:
                del self._pending[-1]
                raise
        return None

    def get_debug(self) -> bool:
        """The real loop's debug flag (a future asks for it when it is made). asyncio's
        ``get_debug()`` returns ``loop._debug``; for such a loop the attribute is read."""
        if self._debug_attribute:
            return bool(self.loop._debug)  # type: ignore[attr-defined]
        return self.loop.get_debug()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loop, name)

    def _run(self) -> None:
        """Run the callbacks queued so far (those queued meanwhile wait for the next run)."""
        pending, self._pending = self._pending, []
        self._scheduled = False
        for index, (callback, argument, context) in enumerate(pending):
            try:
                context.run(callback, argument)
            except (SystemExit, KeyboardInterrupt):
                self._requeue(pending[index + 1 :])
                raise
            except BaseException as exc:  # reported, as asyncio's Handle does
                self.loop.call_exception_handler(
                    {
                        "message": f"Exception in callback {callback!r}({argument!r})",
                        "exception": exc,
                        "future": argument,
                    }
                )

    def _requeue(self, rest: list[_Queued]) -> None:
        """Put callbacks an interrupted run did not reach back in front of the queue."""
        if not rest:
            return
        self._pending[:0] = rest
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        """Ask the real loop to run :meth:`_run` soon."""
        self.loop.call_soon(self._run)
        self._scheduled = True


if _c is not None:  # the same answer without a Python frame (a task asks each future it awaits)
    RecordFuture.get_loop = _c.record_future_get_loop  # type: ignore[method-assign]

#: ``relay_for(loop)``: a relay for ``loop``, the C one when the extension runs, else
#: :class:`CallbackRelay` (chosen once, here).
relay_for: Callable[[asyncio.AbstractEventLoop], CallbackRelay] = (
    CallbackRelay if _c is None else functools.partial(_c.CallbackRelay, future_type=RecordFuture)
)
