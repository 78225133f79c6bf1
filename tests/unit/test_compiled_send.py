"""The compiled send() against Producer.send's Python path: the same calls, made on two
producers (one answering in C, one with the C send taken off so Producer.send decides every
call), raise the same errors and put the same records at the same partitions and offsets.

Both producers talk to one scripted broker (aioproducer.testing.FakeBroker), each to a topic
of its own with the same partitions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer import Producer
from aioproducer._speedups_status import c, why_pure
from aioproducer.testing import FakeBroker

pytestmark = pytest.mark.skipif(c is None, reason=f"the compiled send does not run: {why_pure}")

PARTITIONS = 3
OPTIONS: dict[str, Any] = {
    "batch_size": 300,  # a few records a batch: the calls that open batches are exercised
    "linger_ms": 2,
    "max_request_size": 2_000,
}

# No null keys: both producers would place those at random (sticky), and C takes none of them.
keys = st.one_of(st.binary(max_size=12), st.text(max_size=3), st.integers(0, 3))
values = st.one_of(st.binary(max_size=150), st.none(), st.binary(min_size=2_000, max_size=2_100))
calls = st.lists(
    st.fixed_dictionaries(
        {"value": values, "key": keys},
        optional={
            "partition": st.sampled_from([None, 0, 2, 7]),
            "headers": st.sampled_from([None, [("h", b"x")]]),
            "timestamp_ms": st.sampled_from([None, 1_700_000_000_000]),
        },
    ),
    max_size=40,
)


async def _send_all(producer: Producer, topic: str, sends: list[dict[str, Any]]) -> list[Any]:
    """Each call's outcome: the error it raised, or its future once the record is written."""
    outcomes: list[Any] = []
    futures = []
    for options in sends:
        try:
            future = await producer.send(topic, **options)
        except Exception as exc:  # the outcome compared
            outcomes.append((type(exc), str(exc).replace(topic, "<topic>")))
        else:
            outcomes.append(None)
            futures.append((len(outcomes) - 1, future))
    await producer.flush()
    for index, future in futures:
        metadata = future.result()
        outcomes[index] = (metadata.partition, metadata.offset)
    return outcomes


async def _both(sends: list[dict[str, Any]]) -> tuple[list[Any], list[Any], FakeBroker]:
    async with asyncio.timeout(20), FakeBroker() as broker:
        for topic in ("compiled", "python"):
            broker.create_topic(topic, partitions=PARTITIONS)
        servers = broker.bootstrap_servers
        async with (
            Producer(bootstrap_servers=servers, **OPTIONS) as compiled,
            Producer(bootstrap_servers=servers, **OPTIONS) as python,
        ):
            assert type(compiled.__dict__.get("send")).__name__ == "FastSend"
            del python.__dict__["send"]  # Producer.send decides every call
            await compiled.send_and_wait("compiled", b"route", b"k")  # both routes known
            await python.send_and_wait("python", b"route", b"k")
            fast = await _send_all(compiled, "compiled", sends)
            slow = await _send_all(python, "python", sends)
        return fast, slow, broker


@settings(max_examples=25, deadline=None)
@given(sends=calls)
def test_compiled_send_does_what_producer_send_does(sends: list[dict[str, Any]]) -> None:
    fast, slow, broker = asyncio.run(_both(sends))
    assert fast == slow
    for partition in range(PARTITIONS):
        written = [
            [(r.offset, r.key, r.value, r.headers) for r in broker.records(topic, partition)]
            for topic in ("compiled", "python")
        ]
        assert written[0] == written[1]
