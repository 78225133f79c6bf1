"""The buffer_memory account: bytes held by batches, and the senders waiting in line for some.

A plain object with no event loop in it, the base of
:class:`~aioproducer._accumulator.RecordAccumulator`. Its counters, and the append that
charges records' bytes to ``_used``, are its base's
(:class:`~aioproducer._appender.Appender`, compiled or not); the bytes are given back
through :meth:`BufferMemory.free`. A sender that finds no
room (:meth:`~BufferMemory.has_room`) joins one line (:meth:`~BufferMemory.wait_for_memory`)
and is served in order, as Java's ``BufferPool`` serves its waiters::

    if not memory.has_room(size):
        waiter = memory.wait_for_memory(size, wake)   # wake() is called once: granted, or closing
        ... wait for wake(), up to max_block_ms ...
    memory.has_room(size, waiter.held)                # true: its bytes are reserved for it
    ... append ...
    memory.leave(waiter)      # always: appended, timed out, cancelled or closed

When bytes are freed, waiters are granted their bytes from the head of the line while the
head's request fits beside the bytes in use and those already granted; a head that does not
fit holds everyone behind it until it does. While anyone is in line a newcomer is refused
and joins the back, so nobody is overtaken (Java lets a newcomer take what is free; here
FastSend declines too). A waiter that leaves hands on its turn, and its grant if it had one.
A freed batch costs one look at the head plus one call per waiter it serves, however many wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final

from aioproducer._appender import Appender

__all__ = ["NO_WAIT", "BufferMemory", "MemoryWaiter"]

_QUEUED: Final = 0
_GRANTED: Final = 1
_GONE: Final = 2


class MemoryWaiter:
    """One request for ``nbytes`` of buffer memory, in line."""

    __slots__ = ("_state", "_wake", "nbytes")

    def __init__(self, nbytes: int, wake: Callable[[], object]) -> None:
        self.nbytes = nbytes
        self._wake = wake
        self._state = _QUEUED

    @property
    def held(self) -> int:
        """Bytes reserved for this waiter: its request once granted, until it leaves; else 0."""
        return self.nbytes if self._state == _GRANTED else 0

    def __repr__(self) -> str:
        state = ("queued", "granted", "gone")[self._state]
        return f"<MemoryWaiter {self.nbytes} bytes {state}>"


def _no_wait() -> MemoryWaiter:
    waiter = MemoryWaiter(0, lambda: None)
    waiter._state = _GONE
    return waiter


NO_WAIT: Final = _no_wait()
"""A waiter that holds nothing and is in no line, for a caller that did not have to wait
(leaving it does nothing)."""


class BufferMemory(Appender):
    """``buffer_memory`` bytes: those in use, those granted to waiters, and the line."""

    def __init__(self, buffer_memory: int) -> None:
        super().__init__(buffer_memory)  # the counters: _used, _reserved, _queued
        self._line: deque[MemoryWaiter] = deque()

    @property
    def used_bytes(self) -> int:
        """Bytes held by incomplete batches (uncompressed size, headers included)."""
        return self._used

    def available(self) -> int:
        """Bytes neither in use nor granted (negative after a split overshoots)."""
        return self._buffer_memory - self._used - self._reserved

    @property
    def memory_waiters(self) -> int:
        """Senders in line for buffer memory; while any wait every batch is ready (Java)."""
        return self._queued

    def free(self, nbytes: int) -> None:
        """``nbytes`` are no longer in use: serve the line."""
        self._used -= nbytes
        if self._queued:
            self._serve()

    def wait_for_memory(
        self, nbytes: int, wake: Callable[[], object], *, first: bool = False
    ) -> MemoryWaiter:
        """Join the line for ``nbytes`` (at its head when ``first``: a waiter whose grant was
        not enough keeps its turn). ``wake()`` is called once, when the bytes are granted
        (perhaps at once) or :meth:`wake_waiters` empties the line; it must not raise. The
        caller must :meth:`leave` the line whatever happens."""
        if nbytes > self._buffer_memory:  # it would hold the line forever
            raise ValueError(f"{nbytes} bytes wanted, more than buffer_memory holds")
        if nbytes < 1:  # a grant of 0 could not be told from none (``held`` 0)
            raise ValueError(f"{nbytes} bytes wanted: a waiter waits for at least 1")
        waiter = MemoryWaiter(nbytes, wake)
        if first:
            self._line.appendleft(waiter)
        else:
            self._line.append(waiter)
        self._queued += 1
        self._serve()
        return waiter

    def leave(self, waiter: MemoryWaiter) -> None:
        """``waiter`` is done (appended, timed out, cancelled or closed): release its grant
        or its place in line, and serve those behind it. Safe to call twice."""
        state = waiter._state
        if state == _GONE:
            return
        waiter._state = _GONE
        if state == _GRANTED:
            self._reserved -= waiter.nbytes
        else:
            self._queued -= 1
            if not self._queued:
                self._line.clear()  # only waiters that left remain
        if self._queued:
            self._serve()

    def wake_waiters(self) -> None:
        """Empty the line, waking every waiter without a grant (the producer is closing:
        each one then raises). Grants already made stay until their waiters leave."""
        line = list(self._line)
        self._line.clear()
        self._queued = 0
        for waiter in line:
            if waiter._state == _QUEUED:
                waiter._state = _GONE
                waiter._wake()

    def _serve(self) -> None:
        """Grant their bytes to the waiters at the head of the line while they fit."""
        line = self._line
        while line:
            head = line[0]
            if head._state != _QUEUED:
                line.popleft()  # it left while in line
                continue
            if self._used + self._reserved + head.nbytes > self._buffer_memory:
                return
            line.popleft()
            head._state = _GRANTED
            self._queued -= 1
            self._reserved += head.nbytes
            head._wake()
