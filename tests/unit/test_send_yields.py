"""A loop of ``await producer.send(...)`` lets the event loop run at least every batch_size
bytes, in C (FastSend) and in Python, also while batches grow far beyond batch_size.

On the scripted broker (aioproducer.testing.FakeBroker): a counter task that wants the loop
once per iteration runs about once per 16 KiB sent.
"""

from __future__ import annotations

import asyncio

import pytest

from aioproducer import Producer
from aioproducer._protocol.api import ApiKey
from aioproducer._speedups_status import c
from aioproducer.testing import FakeBroker
from aioproducer.testing.fake_broker import Action

RECORDS = 1_500
VALUE = b"v" * 1_024
START = 16_384  # the default batch_size: where batches start


async def _counted_sends(producer: Producer, topic: str) -> int:
    """How often a task that only counts ran while RECORDS sends were made."""
    runs = 0

    async def count() -> None:
        nonlocal runs
        while True:
            runs += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    runs = 0
    for i in range(RECORDS):
        await producer.send(topic, VALUE, str(i % 7).encode())
    counter.cancel()
    await producer.flush()
    return runs


@pytest.mark.parametrize("path", ["compiled", "python"])
@pytest.mark.parametrize("growing", [False, True], ids=["16KiB", "growing"])
async def test_a_loop_of_sends_yields_every_batch_size_bytes(path: str, growing: bool) -> None:
    if path == "compiled" and c is None:
        pytest.skip("the compiled send does not run")
    async with asyncio.timeout(30), FakeBroker() as broker:
        broker.create_topic("t", partitions=1)
        if growing:  # slow answers keep the leader's window full: batches grow
            broker.script(ApiKey.PRODUCE, [Action(delay_ms=20)] * 200)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers, linger_ms=5, enable_idempotence=False
        ) as producer:
            if path == "python":
                producer.__dict__.pop("send", None)  # Producer.send decides every call
            else:
                assert type(producer.__dict__.get("send")).__name__ == "FastSend"
            await producer.send_and_wait("t", b"route", b"k")
            runs = await _counted_sends(producer, "t")
        largest = max(len(batch.records) for batch in broker.batches("t", 0))
    assert runs >= RECORDS * len(VALUE) // START
    if growing:
        assert largest * len(VALUE) > 2 * START  # the case that held the loop


@pytest.mark.parametrize("path", ["compiled", "python"])
async def test_cancelled_at_the_yield_the_record_is_still_delivered(path: str) -> None:
    if path == "compiled" and c is None:
        pytest.skip("the compiled send does not run")
    async with asyncio.timeout(30), FakeBroker() as broker:
        broker.create_topic("t", partitions=1)
        async with Producer(
            bootstrap_servers=broker.bootstrap_servers, linger_ms=5, enable_idempotence=False
        ) as producer:
            if path == "python":
                producer.__dict__.pop("send", None)
            await producer.send_and_wait("t", b"route", b"k")
            queued = 0

            async def sends() -> None:
                nonlocal queued
                for i in range(RECORDS):
                    sent = producer.send("t", VALUE, str(i).encode())
                    queued += 1  # send() queued it; awaiting gives its future
                    await sent

            task = asyncio.create_task(sends())
            await asyncio.sleep(0)  # the task runs to its first yield
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await producer.flush()
        assert 0 < queued < RECORDS
        assert broker.values("t", 0)[1:] == [VALUE] * queued
