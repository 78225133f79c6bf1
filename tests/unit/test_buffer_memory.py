"""BufferMemory: the line of senders waiting for buffer_memory, as a plain object (no loop)."""

from __future__ import annotations

import asyncio
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer._buffer_memory import NO_WAIT, BufferMemory, MemoryWaiter


class Line:
    """A BufferMemory and the order in which its waiters were woken."""

    def __init__(self, buffer_memory: int, used: int = 0) -> None:
        self.memory = BufferMemory(buffer_memory)
        self.memory._used = used  # what the accumulator charges for appended records
        self.woken: list[str] = []
        self.waiters: dict[str, MemoryWaiter] = {}

    def wait(self, name: str, nbytes: int, *, first: bool = False) -> MemoryWaiter:
        waiter = self.memory.wait_for_memory(nbytes, lambda: self.woken.append(name), first=first)
        self.waiters[name] = waiter
        return waiter

    def append(self, name: str, nbytes: int) -> None:
        """The granted waiter ``name`` appends ``nbytes`` and leaves, as the producer does."""
        waiter = self.waiters[name]
        assert self.memory.has_room(nbytes, waiter.held)
        self.memory._used += nbytes
        self.memory.leave(waiter)

    def granted(self) -> list[str]:
        return [name for name, waiter in self.waiters.items() if waiter.held]


def test_waiters_are_served_in_order_as_bytes_are_freed() -> None:
    line = Line(1000, used=1000)
    for name in "abc":
        line.wait(name, 300)
    assert line.woken == []
    assert line.memory.memory_waiters == 3
    line.memory.free(300)
    assert line.woken == ["a"]
    line.memory.free(600)
    assert line.woken == ["a", "b", "c"]
    assert line.memory.memory_waiters == 0
    assert line.memory.available() == 0  # 100 in use, 900 granted
    for name in "abc":
        line.append(name, 250)
    assert line.memory.used_bytes == 850
    assert line.memory.available() == 150


def test_a_large_head_holds_the_line_until_it_fits() -> None:
    line = Line(1000, used=1000)
    line.wait("big", 800)
    line.wait("small", 10)
    line.memory.free(500)  # room for "small", not for "big": "small" waits its turn (Java)
    assert line.woken == []
    line.memory.free(300)
    assert line.woken == ["big"]  # 800 free: "big" takes it all; "small" still does not fit
    line.memory.free(10)
    assert line.woken == ["big", "small"]


def test_no_newcomer_overtakes_the_line() -> None:
    line = Line(1000, used=900)
    line.wait("a", 200)
    assert not line.memory.has_room(1)  # 100 are free, but someone waits
    line.memory.free(150)
    assert line.woken == ["a"]
    assert line.memory.has_room(50)  # nobody in line: what is neither used nor granted
    assert not line.memory.has_room(51)
    line.append("a", 120)
    assert line.memory.has_room(130)  # the 80 granted and not used went back
    assert not line.memory.has_room(131)


def test_a_grant_is_used_whoever_waits_behind() -> None:
    line = Line(1000, used=1000)
    line.wait("a", 300)
    line.wait("b", 900)
    line.memory.free(300)
    assert line.woken == ["a"]
    assert not line.memory.has_room(300)  # "b" waits: a newcomer may not
    assert line.memory.has_room(300, line.waiters["a"].held)  # "a" may: the bytes are its
    assert not line.memory.has_room(301, line.waiters["a"].held)


def test_a_head_that_leaves_passes_its_turn() -> None:
    line = Line(1000, used=1000)
    head = line.wait("timed out", 600)
    line.wait("next", 200)
    line.memory.free(400)
    assert line.woken == []
    line.memory.leave(head)  # its deadline passed, or its task was cancelled
    assert line.woken == ["next"]
    line.memory.leave(head)  # twice is harmless
    assert line.memory.memory_waiters == 0


def test_a_waiter_that_leaves_behind_the_head_changes_nothing_else() -> None:
    line = Line(1000, used=1000)
    line.wait("a", 400)
    middle = line.wait("b", 100)
    line.wait("c", 100)
    line.memory.leave(middle)
    assert line.memory.memory_waiters == 2
    line.memory.free(500)
    assert line.woken == ["a", "c"]
    assert line.granted() == ["a", "c"]


def test_a_grant_left_unused_goes_to_the_next() -> None:
    line = Line(1000, used=1000)
    first = line.wait("cancelled", 300)
    line.wait("next", 300)
    line.memory.free(300)
    assert line.woken == ["cancelled"]
    line.memory.leave(first)  # cancelled after its grant, before it appended
    assert line.woken == ["cancelled", "next"]
    assert line.memory.available() == 0


def test_first_puts_a_waiter_back_at_the_head() -> None:
    line = Line(1000, used=1000)
    line.wait("a", 100)
    line.wait("b", 100, first=True)
    line.memory.free(100)
    assert line.woken == ["b"]


def test_a_waiter_that_fits_at_once_is_granted_at_once() -> None:
    line = Line(1000, used=500)
    waiter = line.wait("a", 500)
    assert line.woken == ["a"]
    assert waiter.held == 500


def test_no_wait_holds_nothing_and_leaving_it_changes_nothing() -> None:
    line = Line(1000, used=1000)
    line.wait("a", 100)
    assert NO_WAIT.held == 0
    line.memory.leave(NO_WAIT)
    assert line.memory.memory_waiters == 1
    assert line.woken == []


def test_a_request_larger_than_the_buffer_is_refused() -> None:
    with pytest.raises(ValueError, match="more than buffer_memory"):
        BufferMemory(1000).wait_for_memory(1001, lambda: None)


def test_wake_waiters_wakes_everyone_in_line_once_and_keeps_grants() -> None:
    line = Line(1000, used=900)
    granted = line.wait("granted", 100)
    for name in "abc":
        line.wait(name, 500)
    line.memory.wake_waiters()
    assert line.woken == ["granted", "a", "b", "c"]
    assert [w.held for w in line.waiters.values()] == [100, 0, 0, 0]
    assert line.memory.memory_waiters == 0
    assert line.memory.has_room(0)
    assert not line.memory.has_room(1)  # 100 are still granted
    for waiter in line.waiters.values():
        line.memory.leave(waiter)
    line.memory.free(900)
    assert line.woken == ["granted", "a", "b", "c"]  # nobody is woken twice
    assert granted.held == 0
    assert line.memory.available() == 1000


def test_a_freed_batch_wakes_only_the_waiters_it_serves() -> None:
    line = Line(100_000, used=100_000)
    for number in range(10_000):
        line.wait(str(number), 100)
    for _ in range(10):
        line.memory.free(1_000)
    assert line.woken == [str(number) for number in range(100)]


def test_wake_can_resolve_an_asyncio_future() -> None:
    """The producer's use: each waiter awaits a future, with a timeout."""

    async def main() -> list[str]:
        memory = BufferMemory(1000)
        memory._used = 1000
        loop = asyncio.get_running_loop()
        outcomes: list[str] = []

        async def sender(name: str, nbytes: int, timeout: float) -> None:
            woken: asyncio.Future[None] = loop.create_future()
            waiter = memory.wait_for_memory(nbytes, functools.partial(woken.set_result, None))
            try:
                async with asyncio.timeout(timeout):
                    await woken
                memory._used += nbytes
                outcomes.append(name)
            except TimeoutError:
                outcomes.append(f"{name} timed out")
            finally:
                memory.leave(waiter)

        tasks = [
            asyncio.create_task(sender("big", 900, 0.01)),
            asyncio.create_task(sender("a", 100, 5)),
            asyncio.create_task(sender("b", 100, 5)),
        ]
        await asyncio.sleep(0)
        memory.free(200)  # not enough for "big", which holds the others until it times out
        await asyncio.gather(*tasks)
        return outcomes

    assert asyncio.run(main()) == ["big timed out", "a", "b"]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 1000), st.booleans()),
        st.tuples(st.just("free"), st.integers(0, 1000), st.booleans()),
        st.tuples(st.just("take"), st.integers(0, 400), st.booleans()),
        st.tuples(st.just("append"), st.integers(0, 1000), st.booleans()),
        st.tuples(st.just("leave"), st.integers(0, 1000), st.booleans()),
    ),
    max_size=80,
)


def test_a_waiter_waits_for_at_least_one_byte() -> None:
    """A grant of 0 bytes could not be told from no grant (``held`` 0): refused."""
    memory = BufferMemory(10)
    for nbytes in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            memory.wait_for_memory(nbytes, lambda: None)
    assert memory.memory_waiters == 0


@settings(max_examples=300, deadline=None)
@given(ops=ops, buffer_memory=st.integers(1, 1000))
def test_grants_keep_order_and_never_overcommit(
    ops: list[tuple[str, int, bool]], buffer_memory: int
) -> None:
    """Any mix of waits, frees, newcomers, appends and departures: what is used and granted
    never exceeds buffer_memory, grants go in line order, and the head is served as soon as
    it fits."""
    memory = BufferMemory(buffer_memory)
    line: list[int] = []  # the model: who waits, in order
    waiters: dict[int, MemoryWaiter] = {}
    granted: list[int] = []
    woken: list[int] = []
    for step, (op, number, flag) in enumerate(ops):
        if op == "wait":
            line.insert(0 if flag else len(line), step)
            waiters[step] = memory.wait_for_memory(
                1 + number % buffer_memory, functools.partial(woken.append, step), first=flag
            )
        elif op == "free":
            memory.free(min(number, memory.used_bytes))
        elif op == "take" and memory.has_room(number):
            memory._used += number
        elif op == "append" and granted:
            waiter = waiters[granted.pop(number % len(granted))]
            spent = number % (waiter.held + 1)
            assert memory.has_room(spent, waiter.held)
            memory._used += spent
            memory.leave(waiter)
        elif op == "leave" and line:
            memory.leave(waiters[line.pop(number % len(line))])
        assert woken == line[: len(woken)], "granted out of turn"
        del line[: len(woken)]
        granted += woken
        woken.clear()
        assert all(waiters[name].held == waiters[name].nbytes for name in granted)
        assert memory.used_bytes + memory._reserved <= buffer_memory
        assert memory._reserved == sum(waiters[name].held for name in granted)
        assert memory.memory_waiters == len(line)
        if line:
            assert not memory.has_room(0)
            head = waiters[line[0]].nbytes
            assert memory.used_bytes + memory._reserved + head > buffer_memory, "head not served"
