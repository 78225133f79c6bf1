"""KafkaHandler: a ``logging.Handler`` that sends log records to a Kafka topic.

Works from plain synchronous code and any thread, and inside a running event loop without
blocking it: ``emit()`` formats the record in the caller's thread (JSON lines by default,
:class:`JsonFormatter`) and puts it on a bounded queue; a producer on the handler's own
event loop, in a daemon thread (anyio's blocking portal), sends the queue in batches.

::

    handler = KafkaHandler("app-logs", bootstrap_servers="127.0.0.1:9092", key_attribute="name")
    logging.getLogger().addHandler(handler)

A record that finds the queue full (the producer falls behind, or is not connected) is
dropped and counted (``dropped``; a one-line notice on stderr at most every 10 s); with
``block_ms`` it waits that long for room first, while a producer is connected and except
on a thread running an event loop. ``sent`` and ``failed`` count what the producer
acknowledged and what it could not deliver. Records of the ``aioproducer`` loggers, and any
logged on the handler's own thread, are ignored (no recursion). ``flush()`` and ``close()``
deliver what is queued within ``timeout`` seconds; ``logging.shutdown()`` (at exit) calls
both. See docs/logging.md.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib
import logging
import os
import sys
import threading
import time
import weakref
from asyncio.events import _get_running_loop
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Final, Unpack

from anyio.from_thread import BlockingPortal, start_blocking_portal

from aioproducer._batch import SentRecords
from aioproducer._config import ProducerConfig, ProducerOptions, build_config
from aioproducer._logjson import JsonFormatter
from aioproducer._producer import Producer
from aioproducer._record_check import check_topic
from aioproducer.errors import (
    ConfigurationError,
    ProducerClosedError,
    ProducerError,
    RecordTooLargeError,
    SerializationError,
)

__all__ = ["JsonFormatter", "KafkaHandler"]

_BATCH: Final = 1000  # records per send_many()
_NOTICE_INTERVAL: Final = 10.0  # seconds between two stderr notices
_RETRY_MIN, _RETRY_MAX = 0.1, 30.0  # seconds between attempts to reach the cluster
_OWN_LOGGER: Final = "aioproducer"
_THREAD_NAME: Final = "aioproducer-logging"  # the handlers' threads: what they log is ignored
_Item = tuple[bytes | None, bytes]
#: Objects of a process that forked: the child never touches them, nor lets them be collected.
_FORKED_AWAY: list[object] = []


class _Notices:
    """Counts of trouble, written to stderr as one line at most every 10 s."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._next = 0.0
        self._counts: dict[str, int] = {}

    def add(self, what: str, count: int = 1) -> None:
        with self._lock:
            self._counts[what] = self._counts.get(what, 0) + count
            now = time.monotonic()
            if now < self._next:
                return
            self._next = now + _NOTICE_INTERVAL
            line = self._take()
        _write(line)

    def final(self) -> None:
        with self._lock:
            line = self._take() if self._counts else ""
        if line:
            _write(line)

    def _take(self) -> str:
        parts = "; ".join(f"{what}: {count}" for what, count in self._counts.items())
        self._counts.clear()
        return f"aioproducer.logging: {self.name}: {parts}\n"


def _write(line: str) -> None:
    stream = sys.stderr
    if stream is not None:
        with contextlib.suppress(Exception):
            stream.write(line)
            stream.flush()


def _key_bytes(value: object) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    return str(value).encode("utf-8", "backslashreplace")


class KafkaHandler(logging.Handler):
    """Send log records to ``topic`` (``config`` and ``options``: the producer's settings)."""

    def __init__(
        self,
        topic: str,
        config: ProducerConfig | Mapping[str, object] | None = None,
        *,
        level: int | str = logging.NOTSET,
        key_attribute: str | None = None,
        queue_size: int = 10_000,
        block_ms: float = 0,
        timeout: float = 5.0,
        use_uvloop: bool = False,
        **options: Unpack[ProducerOptions],
    ) -> None:
        """``key_attribute``: the record attribute giving each record's key (``"name"``:
        the logger's name), else no key. ``queue_size``: records held while the producer
        catches up. ``block_ms``: how long ``emit()`` may wait for room in a full queue
        (0: drop at once). ``timeout``: seconds ``flush()`` and ``close()`` may take."""
        self.topic = check_topic(topic)
        self.config = build_config(config, **options)
        if self.config.key_serializer or self.config.value_serializer:
            raise ConfigurationError(
                "KafkaHandler sends the formatter's output as bytes: give it a formatter, "
                "not a key_serializer or value_serializer"
            )
        if key_attribute is not None and not (
            isinstance(key_attribute, str) and key_attribute.isidentifier()
        ):
            raise ConfigurationError(
                f"key_attribute must be a LogRecord attribute name or None, not {key_attribute!r}"
            )
        if type(queue_size) is not int or queue_size < 1:
            raise ConfigurationError(f"queue_size must be an int of at least 1, not {queue_size!r}")
        self._block = _seconds("block_ms", block_ms, 1000)
        self._timeout = _seconds("timeout", timeout, 1)
        if type(use_uvloop) is not bool:
            raise ConfigurationError(f"use_uvloop must be True or False, not {use_uvloop!r}")
        self.key_attribute = key_attribute
        self.queue_size = queue_size
        self._use_uvloop = use_uvloop
        #: Records acknowledged by Kafka; records the producer failed to deliver (or whose
        #: delivery was not confirmed); records never handed to the producer.
        self.sent = self.failed = self.dropped = 0
        self._notices = _Notices(f"KafkaHandler({self.topic!r})")
        self._reset()
        super().__init__(level)  # registers the handler for logging.shutdown(): close() works
        self.setFormatter(JsonFormatter())
        _after_fork.add(self)
        self._start()  # now, not on the first record: that may come on an event loop's thread

    def _reset(self) -> None:
        """The state of a handler that has not started its thread."""
        self._start_lock = threading.Lock()  # taken first: starting and closing the thread
        self._queue_lock = threading.Lock()
        self._room = threading.Condition(self._queue_lock)  # for emit() in block mode
        self._queue: deque[_Item] = deque()
        self._accepted = 0  # records ever queued
        self._waiting = False  # the consumer sleeps until a record arrives
        self._wake: Callable[[], object] = _nothing
        self._connected = False  # a producer is running
        self._away = False  # the last attempt to reach the cluster failed
        self._closed = False
        self._close_deadline: float | None = None  # time.monotonic(), once close() was called
        self._owner: threading.Thread | None = None  # runs the portal: start to end
        self._ready = threading.Event()  # set once the portal runs (or failed to start)
        self._portal: BlockingPortal | None = None
        self._core: _Core | None = None

    def __repr__(self) -> str:
        return f"<KafkaHandler {self.topic!r} ({logging.getLevelName(self.level)})>"

    # -- the calling thread ------------------------------------------------------------------
    def filter(self, record: logging.LogRecord) -> bool:
        """Ignore the producer's own loggers and whatever the handler's thread logs."""
        name = record.name or ""
        if name == _OWN_LOGGER or name.startswith(f"{_OWN_LOGGER}."):
            return False
        if threading.current_thread().name == _THREAD_NAME:
            return False
        return bool(super().filter(record))

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit, without the handler's lock: :meth:`emit` is thread-safe, and a
        flush() or close() holding that lock must never stop a record on the way."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and queue it; never waits, except ``block_ms`` for room."""
        try:
            value = self.format(record).encode("utf-8", "backslashreplace")
            key = None
            if self.key_attribute is not None:
                key = _key_bytes(getattr(record, self.key_attribute, None))
        except Exception:
            self.handleError(record)
            return
        self._offer((key, value))

    def _offer(self, item: _Item) -> None:
        if self._owner is None:  # a forked child's first record
            self._start()
        with self._queue_lock:
            queue = self._queue
            if self._closed:
                why = "dropped (logged after close())"
            elif len(queue) < self.queue_size or self._wait_for_room():
                queue.append(item)
                self._accepted += 1
                if not self._waiting:
                    return
                self._waiting = False
                wake = self._wake
                why = ""
            else:
                why = "dropped (queue full)" if self._connected else "dropped (not connected)"
            if why:
                self.dropped += 1
        if why:
            self._notices.add(why)
        else:
            wake()

    def _wait_for_room(self) -> bool:
        """In block mode, wait up to ``block_ms`` for room (holding the queue lock)."""
        if self._block <= 0 or not self._connected or _get_running_loop() is not None:
            return False
        deadline = time.monotonic() + self._block
        while len(self._queue) >= self.queue_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed or not self._connected:
                return False
            self._room.wait(remaining)
        return True

    def _start(self) -> None:
        """Start the thread that runs the handler's event loop, once; return at once (the
        caller may hold logging's lock, as dictConfig does, which that loop may need)."""
        with self._start_lock:
            if self._owner is not None or self._closed:
                return
            # imported here, not by the new thread: a fork while it imports would leave the
            # child a module lock held forever
            importlib.import_module("anyio._backends._asyncio")
            if self._use_uvloop:
                importlib.import_module("uvloop")
            owner = threading.Thread(target=self._own, name=_THREAD_NAME, daemon=True)
            try:
                owner.start()
            except RuntimeError as exc:  # no new thread at interpreter exit
                self._notices.add(f"cannot start its thread ({exc!r})")
                self._closed = True
                return
            self._owner = owner

    def _own(self) -> None:
        """The owner thread: a blocking portal (its event loop in a thread of its own) runs
        the consumer until close() ends it; then whatever is left is counted as dropped."""
        try:
            options = {"use_uvloop": True} if self._use_uvloop else None
            with start_blocking_portal("asyncio", options, name=_THREAD_NAME) as portal:
                core = _Core(self, self.config, portal.call(asyncio.get_running_loop))
                with self._queue_lock:
                    self._portal, self._core = portal, core
                    deadline = self._close_deadline
                self._ready.set()
                if deadline is not None:  # close() came first
                    core.request_close(deadline)
                portal.call(core.run)
        except Exception as exc:  # a defect, or no uvloop
            self._notices.add(f"its thread stopped ({exc!r})")
        finally:
            self._ready.set()
            with self._queue_lock:
                self._closed = True
                left = len(self._queue)
                self.dropped += left
                self._queue.clear()
                self._room.notify_all()
            if left:
                self._notices.add("dropped (not delivered by close())", left)
            self._notices.final()

    # -- taken by the consumer ---------------------------------------------------------------
    def _take(self, limit: int) -> list[_Item]:
        with self._queue_lock:
            queue = self._queue
            count = min(limit, len(queue))
            batch = [queue.popleft() for _ in range(count)]
            if count and self._block > 0:
                self._room.notify_all()
            return batch

    def _sleep_unless_queued(self, wake: Callable[[], object]) -> bool:
        """Ask to be woken by the next record, unless one is queued (then True)."""
        with self._queue_lock:
            if self._queue:
                return True
            self._wake, self._waiting = wake, True
            return False

    def _set_connected(self, connected: bool, away: bool = False) -> None:
        with self._queue_lock:
            self._connected, self._away = connected, away
            self._room.notify_all()

    # -- flush and close ---------------------------------------------------------------------
    def flush(self) -> None:
        """Deliver what is queued now, within ``timeout`` seconds (returns at once while the
        cluster is out of reach)."""
        if self._closed or self._away or _waiting_is_unsafe():
            return
        if not self._ready.wait(self._timeout):
            return
        core, portal = self._core, self._portal
        if core is None or portal is None:
            return
        with self._queue_lock:
            target = self._accepted
        deadline = time.monotonic() + self._timeout
        try:
            future: Future[None] = portal.start_task_soon(core.flush, target, deadline)
            future.result(self._timeout + 1.0)
        except TimeoutError:
            future.cancel()
            self._notices.add("flush() overran its timeout")
        except Exception as exc:  # the portal stopped meanwhile
            self._notices.add(f"flush() failed ({exc!r})")

    def close(self) -> None:
        """Stop taking records, deliver what is queued within ``timeout`` seconds, then stop
        the thread; records left are counted in ``dropped`` or ``failed``. Idempotent."""
        with self._start_lock, self._queue_lock:
            already, self._closed = self._closed, True
            self._room.notify_all()
            owner, core = self._owner, self._core
            if not already:
                self._close_deadline = deadline = time.monotonic() + self._timeout
        try:
            if already or owner is None:
                return
            if core is not None:
                core.request_close_threadsafe(deadline)
            if _waiting_is_unsafe():  # the owner finishes alone, joined at exit
                _closing.append((owner, deadline))
                return
            owner.join(self._timeout + 1.0)
            if owner.is_alive():
                self._notices.add("close() overran its timeout")
        finally:
            super().close()


def _waiting_is_unsafe() -> bool:
    """Whether this thread holds logging's module lock (dictConfig does, while it closes the
    handlers it replaces): the handler's thread may need it, so waiting for it would hang."""
    is_owned = getattr(getattr(logging, "_lock", None), "_is_owned", None)
    return bool(is_owned()) if callable(is_owned) else False


#: Handlers' threads still closing when their close() could not wait: joined at exit.
_closing: list[tuple[threading.Thread, float]] = []


@atexit.register
def _join_closing() -> None:
    for owner, deadline in _closing:
        owner.join(max(0.0, deadline - time.monotonic()) + 1.0)


def _seconds(name: str, value: object, per_second: int) -> float:
    if type(value) not in (int, float) or not 0 <= value < 1e15:  # type: ignore[operator]
        raise ConfigurationError(f"{name} must be a number from 0, not {value!r}")
    return float(value) / per_second  # type: ignore[arg-type]


def _nothing() -> None:
    return None


class _Core:
    """The handler's side on its event loop: connects, sends the queue, flushes, closes."""

    def __init__(
        self, handler: KafkaHandler, config: ProducerConfig, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._handler = handler
        self._config = config
        self._loop = loop
        self._producer: Producer | None = None
        self._handed = 0  # records taken off the queue
        self._closing = False
        self._deadline: float | None = None  # close()'s, in loop time
        self._scope: asyncio.Timeout | None = None  # ends the sending at that deadline
        self._arrived: asyncio.Event | None = None  # a record was queued, or closing began
        self._progress: asyncio.Event | None = None  # records were handed to the producer

    def request_close_threadsafe(self, deadline: float) -> None:
        """From any thread: see :meth:`request_close`."""
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self._loop.call_soon_threadsafe(self.request_close, deadline)

    def request_close(self, deadline: float) -> None:
        """Send what is queued, then close the producer, all before ``deadline``
        (``time.monotonic()``); on the loop's thread."""
        if self._closing:
            return
        self._closing = True
        self._deadline = self._loop.time() + (deadline - time.monotonic())
        if self._scope is not None:
            self._scope.reschedule(self._deadline)
        if self._arrived is not None:
            self._arrived.set()

    async def run(self) -> None:
        """Send the queue until close() asks to stop and it is sent, or its deadline has
        passed; then close the producer (failing what it still holds)."""
        self._arrived, self._progress = asyncio.Event(), asyncio.Event()
        try:
            async with asyncio.timeout_at(self._deadline) as scope:  # absolute loop time
                self._scope = scope
                await self._send_queued()
        except TimeoutError:
            self._handler._notices.add("close() timed out")
        finally:
            producer, self._producer = self._producer, None
            self._handler._set_connected(False)
            if producer is not None:
                remaining = 0.0 if self._deadline is None else self._deadline - self._loop.time()
                await producer.close(max(0.0, remaining))

    async def _send_queued(self) -> None:
        """Take records off the queue and send them, connecting first, until closing."""
        assert self._arrived is not None
        assert self._progress is not None
        arrived, progress = self._arrived, self._progress
        wake = functools.partial(self._loop.call_soon_threadsafe, arrived.set)
        handler, linger = self._handler, self._config.linger_ms / 1000
        while True:
            arrived.clear()
            if not handler._sleep_unless_queued(wake):
                if self._closing:
                    return
                await arrived.wait()
                if linger and not self._closing:  # let a batch gather: linger_ms, as batches do
                    await asyncio.sleep(linger)
                continue
            producer = self._producer or await self._connect()
            if producer is None:
                return  # closing, and the cluster is out of reach
            batch = handler._take(_BATCH)
            self._handed += len(batch)
            await self._deliver(producer, batch)
            progress.set()

    async def _connect(self) -> Producer | None:
        """A started producer, trying again with backoff; None once closing."""
        pause = _RETRY_MIN
        while True:
            producer = Producer(self._config)
            try:
                await producer.start()
            except Exception as exc:
                self._handler._set_connected(False, away=True)
                self._handler._notices.add(f"cannot reach the cluster ({exc!r})")
            else:
                self._producer = producer
                self._handler._set_connected(True)
                return producer
            if self._closing:
                return None
            await self._pause(pause)
            pause = min(pause * 2, _RETRY_MAX)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or until closing begins."""
        assert self._arrived is not None
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._closing and asyncio.get_running_loop().time() < deadline:
            self._arrived.clear()  # records wake it too: sleep on unless closing
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()

    async def _deliver(self, producer: Producer, batch: list[_Item]) -> None:
        handler = self._handler
        try:
            group = await producer.send_many(handler.topic, batch)
        except (RecordTooLargeError, SerializationError):
            if len(batch) == 1:
                self._failed(1, "failed (too large)")
            else:  # one record spoils the batch: send them one by one
                for item in batch:
                    await self._deliver(producer, [item])
            return
        except ProducerClosedError as exc:  # the producer stopped (its sender died)
            self._failed(len(batch), f"failed ({exc!r})")
            self._producer = None
            handler._set_connected(False)
            await producer.close(0)
            return
        except ProducerError as exc:  # buffer full or no metadata within max_block_ms
            self._failed(len(batch), f"failed ({type(exc).__name__})")
            return
        except Exception as exc:  # a defect: count it, and go on with the next records
            self._failed(len(batch), f"failed ({exc!r})")
            return
        except BaseException:
            self._failed(len(batch), "failed (cancelled)")
            raise
        group.add_done_callback(functools.partial(self._settled, len(batch)))

    def _settled(self, count: int, group: asyncio.Future[SentRecords]) -> None:
        if group.cancelled():
            self._failed(count, "failed (cancelled)")
        elif (exc := group.exception()) is not None:
            self._failed(count, f"failed ({type(exc).__name__})")
        else:
            self._handler.sent += count

    def _failed(self, count: int, why: str) -> None:
        self._handler.failed += count
        self._handler._notices.add(why, count)

    async def flush(self, target: int, deadline: float) -> None:
        """Wait (until ``deadline``, monotonic) for ``target`` records to be handed to the
        producer, then for the producer to deliver them."""
        progress = self._progress
        with contextlib.suppress(TimeoutError, ProducerError):
            async with asyncio.timeout(deadline - time.monotonic()):
                while self._handed < target and progress is not None:
                    progress.clear()
                    await progress.wait()
                if self._producer is not None:
                    await self._producer.flush()


class _AfterFork:
    """In a forked child, handlers start afresh: the parent's thread did not come along, and
    the parent's queue and producer are the parent's to deliver."""

    def __init__(self) -> None:
        self._handlers: weakref.WeakSet[KafkaHandler] = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self._before, after_in_child=self._in_child)

    def add(self, handler: KafkaHandler) -> None:
        self._handlers.add(handler)

    def _before(self) -> None:
        """Let threads that are starting finish (within 2 s): a fork in the middle of their
        imports would leave the child a module lock that nobody releases."""
        deadline = time.monotonic() + 2.0
        for handler in list(self._handlers):
            handler._ready.wait(max(0.0, deadline - time.monotonic()))

    def _in_child(self) -> None:
        for handler in list(self._handlers):
            _FORKED_AWAY.append((handler._owner, handler._portal, handler._core))
            closed = handler._closed
            handler._reset()
            handler._closed = closed
            handler._notices = _Notices(handler._notices.name)


_after_fork = _AfterFork()
