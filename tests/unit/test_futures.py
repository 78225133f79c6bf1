"""RecordFuture and its CallbackRelay: asyncio's future semantics, callbacks run in batches.

Every test runs against the Python relay (the reference) and, when the extension is built,
its C twin.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aioproducer._futures import CallbackRelay, RecordFuture
from aioproducer._speedups_status import c as _c

RelayFactory = Callable[[asyncio.AbstractEventLoop], CallbackRelay]


def _python(loop: asyncio.AbstractEventLoop) -> CallbackRelay:
    return CallbackRelay(loop)


def _native(loop: asyncio.AbstractEventLoop) -> CallbackRelay:
    assert _c is not None
    relay: CallbackRelay = _c.CallbackRelay(loop, RecordFuture)
    return relay


@pytest.fixture(
    params=[
        pytest.param(_python, id="python"),
        pytest.param(_native, id="c", marks=pytest.mark.requires_extension),
    ]
)
def make_relay(request: pytest.FixtureRequest) -> RelayFactory:
    factory: RelayFactory = request.param
    return factory


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh loop, not running: tests drive it with run_until_complete."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _count_call_soon(loop: asyncio.AbstractEventLoop) -> list[object]:
    """Record each callback handed to the real loop's call_soon (the loop still runs it)."""
    seen: list[object] = []
    original = loop.call_soon

    def call_soon(callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        seen.append(callback)
        return original(callback, *args, context=context)

    loop.call_soon = call_soon  # type: ignore[method-assign,assignment]
    return seen


def _collect_reports(loop: asyncio.AbstractEventLoop) -> list[dict[str, Any]]:
    """What the loop's exception handler is given, collected instead of logged."""
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    return reported


def test_a_record_future_is_an_asyncio_future_of_the_real_loop(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    future = relay.create_future()
    assert isinstance(future, asyncio.Future)
    assert asyncio.isfuture(future)
    assert future.get_loop() is loop
    assert relay.loop is loop
    assert not future.done()


def test_a_batch_of_results_costs_one_loop_callback(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    futures = [relay.create_future() for _ in range(100)]
    ran: list[int] = []
    for index, future in enumerate(futures):
        future.add_done_callback(lambda f, index=index: ran.append(index))  # type: ignore[misc]
    scheduled = _count_call_soon(loop)
    for index, future in enumerate(futures):
        future.set_result(index)
    assert len(scheduled) == 1
    assert ran == []  # soon, not now: asyncio's rule
    loop.run_until_complete(asyncio.sleep(0))
    assert ran == list(range(100))
    futures[0].add_done_callback(lambda f: ran.append(-1))  # on a done future: soon too
    assert ran[-1] == 99
    loop.run_until_complete(asyncio.sleep(0))
    assert ran[-1] == -1
    runs = [callback for callback in scheduled if getattr(callback, "__name__", "") == "_run"]
    assert len(runs) == 2  # one relay run per batch (the rest are the sleeps' own steps)


def test_gather_wait_shield_and_as_completed(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)

    async def main() -> None:
        futures = [relay.create_future() for _ in range(10)]

        def settle_all() -> None:
            for index, future in enumerate(futures):
                future.set_result(index)

        loop.call_later(0.01, settle_all)
        assert await asyncio.gather(*futures) == list(range(10))
        more = [relay.create_future() for _ in range(3)]
        loop.call_soon(more[1].set_result, "b")
        done, pending = await asyncio.wait(more, return_when=asyncio.FIRST_COMPLETED)
        assert done == {more[1]}
        assert pending == {more[0], more[2]}
        more[0].set_result("a")
        assert await asyncio.shield(more[0]) == "a"
        loop.call_soon(more[2].set_exception, ValueError("c"))
        for next_done in asyncio.as_completed([more[2]]):
            with pytest.raises(ValueError, match="c"):
                await next_done
        assert await asyncio.wait_for(more[0], 1) == "a"

    loop.run_until_complete(main())


def test_a_task_awaits_a_result_an_error_and_a_cancellation(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)

    async def main() -> None:
        ok, bad, cancelled = (relay.create_future() for _ in range(3))
        loop.call_soon(ok.set_result, 1)
        assert await ok == 1
        loop.call_soon(bad.set_exception, KeyError("k"))
        with pytest.raises(KeyError):
            await bad
        loop.call_soon(cancelled.cancel, "gone")
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        slow = relay.create_future()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow, 0.01)
        assert slow.cancelled()  # wait_for cancels what it gave up on

    loop.run_until_complete(main())
    late = relay.create_future()
    loop.call_soon(late.set_result, "run_until_complete")
    assert loop.run_until_complete(late) == "run_until_complete"


def test_cancelling_the_awaiting_task_cancels_nothing_else(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    future = relay.create_future()

    async def waiter() -> object:
        return await asyncio.shield(future)

    async def main() -> None:
        task = loop.create_task(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not future.done()
        future.set_result(5)
        assert await future == 5

    loop.run_until_complete(main())


def test_callbacks_run_in_their_own_context(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="none")
    seen: list[str] = []
    futures = [relay.create_future() for _ in range(3)]
    for name, future in zip(("a", "b"), futures, strict=False):
        variable.set(name)
        future.add_done_callback(lambda f: seen.append(variable.get()))
    given = contextvars.copy_context()
    given.run(variable.set, "given")
    futures[2].add_done_callback(lambda f: seen.append(variable.get()), context=given)
    variable.set("outside")
    for future in futures:
        future.set_result(None)
    loop.run_until_complete(asyncio.sleep(0))
    assert seen == ["a", "b", "given"]
    assert variable.get() == "outside"


def test_a_failing_callback_reaches_the_exception_handler_and_the_rest_run(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    reported = _collect_reports(loop)
    ran: list[str] = []
    first, second = relay.create_future(), relay.create_future()

    def fails(future: asyncio.Future[Any]) -> None:
        raise RuntimeError("callback broke")

    first.add_done_callback(fails)
    second.add_done_callback(lambda f: ran.append("second"))
    first.set_result(1)
    second.set_result(2)
    loop.run_until_complete(asyncio.sleep(0))
    assert ran == ["second"]
    assert len(reported) == 1
    assert isinstance(reported[0]["exception"], RuntimeError)
    assert reported[0]["future"] is first
    assert reported[0]["message"].startswith("Exception in callback")


def test_keyboard_interrupt_propagates_and_the_rest_run_next_time(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    ran: list[str] = []
    futures = [relay.create_future() for _ in range(3)]

    def interrupt(future: asyncio.Future[Any]) -> None:
        ran.append("interrupt")
        raise KeyboardInterrupt

    futures[0].add_done_callback(lambda f: ran.append("first"))
    futures[1].add_done_callback(interrupt)
    futures[2].add_done_callback(lambda f: ran.append("third"))
    for future in futures:
        future.set_result(None)
    with pytest.raises(KeyboardInterrupt):
        relay._run()
    assert ran == ["first", "interrupt"]
    relay._run()
    assert ran == ["first", "interrupt", "third"]


def test_a_lost_exception_is_reported_when_the_future_is_collected(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    reported = _collect_reports(loop)
    future = relay.create_future()
    future.set_exception(ValueError("never looked at"))
    del future
    gc.collect()
    assert [context["message"] for context in reported] == [
        "RecordFuture exception was never retrieved"
    ]


def test_remove_done_callback_and_the_loops_other_services(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    ran: list[str] = []
    future = relay.create_future()

    def callback(f: asyncio.Future[Any]) -> None:
        ran.append("callback")

    future.add_done_callback(callback)
    assert future.remove_done_callback(callback) == 1
    future.set_result(None)
    scheduled = _count_call_soon(loop)

    def two(a: str, b: str) -> None:
        ran.append(a + b)

    handle = relay.call_soon(two, "plain", "call")  # not a future's callback: the loop's own
    assert isinstance(handle, asyncio.Handle)  # ... and its Handle, which can be cancelled
    relay.call_soon(two, "not", "run").cancel()  # type: ignore[union-attr]
    assert relay.call_soon(ran.append, "relayed") is None
    assert scheduled[0] is two
    loop.run_until_complete(asyncio.sleep(0))
    assert ran == ["plaincall", "relayed"]
    assert relay.time() == pytest.approx(loop.time(), abs=1.0)
    assert relay.get_debug() is loop.get_debug()
    loop.set_debug(True)
    assert relay.get_debug() is True
    assert getattr(relay.create_future(), "_source_traceback", None) is not None


def test_the_relay_refuses_unknown_keywords(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    with pytest.raises(TypeError):
        relay.call_soon(print, 1, when=2)  # type: ignore[call-arg]


def test_a_closed_loop_refuses_and_nothing_stays_queued(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    relay = make_relay(loop)
    future = relay.create_future()
    future.add_done_callback(lambda f: None)
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        future.set_result(1)
    relay._run()  # nothing was left behind to run


class _AlwaysDebugLoop(asyncio.SelectorEventLoop):
    def get_debug(self) -> bool:
        return True


def test_a_loop_of_its_own_get_debug_is_asked(make_relay: RelayFactory) -> None:
    """asyncio's get_debug() is read as loop._debug; any other loop's get_debug() is called."""
    loop = _AlwaysDebugLoop()
    try:
        relay = make_relay(loop)
        assert relay.get_debug() is True
        assert getattr(relay.create_future(), "_source_traceback", None) is not None
    finally:
        loop.close()


def test_a_record_future_made_with_a_plain_loop_is_an_ordinary_future(
    loop: asyncio.AbstractEventLoop,
) -> None:
    future: RecordFuture[int] = RecordFuture(loop=loop)
    assert future.get_loop() is loop
    loop.call_soon(future.set_result, 3)
    assert loop.run_until_complete(future) == 3


_holder: contextvars.ContextVar[Any] = contextvars.ContextVar("holder")


class _Node:
    """An object in a reference cycle of its own (only the collector frees it)."""

    def __init__(self, payload: object) -> None:
        self.payload = payload
        self.itself = self


def _gather_done(relay: CallbackRelay, count: int, seen: list[object]) -> list[Any]:
    """``count`` done futures, each then given a callback (as gather gives one): the relay
    queues them with a fresh copy of the current context each."""
    futures = [relay.create_future() for _ in range(count)]
    for future in futures:
        future.set_result(None)
        future.add_done_callback(lambda f: seen.append(_holder.get(None)))
    return futures


def _queue_holding(value: object, relay: CallbackRelay, count: int, seen: list[object]) -> None:
    """:func:`_gather_done` in a context where ``_holder`` is ``value`` (run it in a copy)."""
    _holder.set(value)
    _gather_done(relay, count, seen)


def test_queued_contexts_keep_their_values_through_a_collection(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    """A value only a queued callback's context holds survives collections, intact."""
    relay = make_relay(loop)
    seen: list[object] = []

    # the value lives in the queued contexts only
    contextvars.copy_context().run(_queue_holding, _Node("kept"), relay, 50, seen)
    gc.collect()
    gc.collect()
    loop.run_until_complete(asyncio.sleep(0))
    assert len(seen) == 50
    assert all(isinstance(node, _Node) and node.itself is node for node in seen)
    assert {node.payload for node in seen if isinstance(node, _Node)} == {"kept"}


def test_a_cycle_through_a_queued_context_is_collected(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    """A relay dropped with callbacks still queued, whose contexts hold a value that holds the
    relay: the collector finds the cycle and frees it all."""
    relay = make_relay(loop)
    node = _Node(relay)  # relay -> queued context -> node -> relay
    alive = weakref.ref(node)

    contextvars.copy_context().run(_queue_holding, node, relay, 20, [])
    del node, relay
    loop.close()  # drops the loop's handle of the relay's run; the callbacks never run
    gc.collect()
    assert alive() is None


@pytest.mark.requires_extension
def test_queued_contexts_cost_the_collector_nothing_in_c() -> None:
    """The C relay untracks the contexts only its queue holds (gathering a million done futures
    queues a million of them); contexts someone else holds stay tracked."""
    loop = asyncio.new_event_loop()
    try:
        relay = _native(loop)

        def tracked_contexts() -> int:
            return sum(type(o) is contextvars.Context for o in gc.get_objects())

        before = tracked_contexts()
        futures = _gather_done(relay, 1_000, [])
        assert tracked_contexts() - before < 10
        shared = contextvars.copy_context()
        futures[0].add_done_callback(lambda f: None, context=shared)
        assert gc.is_tracked(shared)
        loop.run_until_complete(asyncio.sleep(0))
        assert gc.is_tracked(shared)
    finally:
        loop.close()


def test_queued_contexts_are_freed_however_the_queue_ends(
    make_relay: RelayFactory, loop: asyncio.AbstractEventLoop
) -> None:
    """Run, interrupted and requeued, or dropped with the relay: no context is left behind
    (and none is freed untracked, which would crash the interpreter)."""
    relay = make_relay(loop)
    values = [_Node(i) for i in range(3)]
    refs = [weakref.ref(value) for value in values]
    futures = [relay.create_future() for _ in range(3)]
    for future in futures:
        future.set_result(None)

    def interrupt(f: asyncio.Future[Any]) -> None:
        raise KeyboardInterrupt

    def add(future: asyncio.Future[Any], value: _Node, callback: Any) -> None:
        _holder.set(value)
        future.add_done_callback(callback)

    first = relay.create_future()  # queued first, so the loop's handle of the relay's run
    first.set_result(None)  # copies this context, not one holding a value
    first.add_done_callback(lambda f: None)
    for future, value, callback in zip(futures, values, [repr, interrupt, repr], strict=True):
        contextvars.Context().run(add, future, value, callback)
    del values, value
    with pytest.raises(KeyboardInterrupt):
        relay._run()  # runs all but the third, queued again
    gc.collect()
    assert [ref() is None for ref in refs] == [True, True, False]
    del relay, futures, future, first
    loop.close()
    gc.collect()
    assert all(ref() is None for ref in refs)


class _Holder:
    """Holds whatever it is given (a cycle through a future is made with one)."""

    def __init__(self) -> None:
        self.held: object = None


@pytest.mark.requires_extension
def test_c_futures_cost_the_collector_nothing_until_they_fail_or_are_cancelled() -> None:
    """A million pending record futures were walked by every full collection: the C relay's
    futures are untracked, a succeeded one stays so, a cancelled one with a callback is
    tracked again as the callback is scheduled, and the producer tracks a failed one."""
    assert _c is not None
    loop = asyncio.new_event_loop()
    try:
        relay = _native(loop)
        succeeded, cancelled, quiet, failed = (relay.create_future() for _ in range(4))
        assert not any(gc.is_tracked(f) for f in (succeeded, cancelled, quiet, failed))
        for future in (succeeded, cancelled):
            future.add_done_callback(lambda f: None)
        succeeded.set_result(1)
        cancelled.cancel()
        quiet.cancel()  # no callback: tracked when its batch settles (test_speedups.py)
        failed.set_exception(ValueError("x"))
        _c.track([failed, None, 3])
        assert [gc.is_tracked(f) for f in (succeeded, cancelled, quiet, failed)] == [
            False,
            True,
            False,
            True,
        ]
        loop.run_until_complete(asyncio.sleep(0))
        assert succeeded.result() == 1
        assert isinstance(failed.exception(), ValueError)
        with pytest.raises(TypeError):
            _c.track((failed,))  # type: ignore[arg-type]
    finally:
        loop.close()


@pytest.mark.requires_extension
def test_a_cycle_through_a_failed_or_cancelled_c_future_is_collected() -> None:
    """future -> exception -> traceback -> frame -> future, and a cancelled future awaited by
    a task: tracked again, the collector frees both cycles."""
    loop = asyncio.new_event_loop()
    try:
        relay = _native(loop)

        def fail_and_catch() -> weakref.ref[asyncio.Future[Any]]:
            future = relay.create_future()
            holder = _Holder()
            holder.held = future  # the frame's locals keep it: the traceback leads back here
            future.set_exception(ValueError("boom"))
            assert _c is not None
            _c.track([future])
            with contextlib.suppress(ValueError):
                future.result()
            return weakref.ref(future)

        async def cancelled_wait() -> weakref.ref[asyncio.Future[Any]]:
            future = relay.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, 0.001)
            assert future.cancelled()
            return weakref.ref(future)

        refs = [fail_and_catch(), loop.run_until_complete(cancelled_wait())]
        gc.collect()
        assert [ref() for ref in refs] == [None, None]
    finally:
        loop.close()


@pytest.mark.requires_extension
def test_the_c_get_loop_answers_as_the_python_one(loop: asyncio.AbstractEventLoop) -> None:
    """RecordFuture.get_loop is the C one with the extension (a task asks it of each future it
    awaits): the real loop behind either relay, the loop itself for a plain loop."""
    assert _c is not None
    assert RecordFuture.get_loop is _c.record_future_get_loop
    for made in (_python(loop).create_future(), _native(loop).create_future()):
        assert made.get_loop() is loop
    assert RecordFuture(loop=loop).get_loop() is loop
    with pytest.raises(TypeError):
        RecordFuture.get_loop(object())
