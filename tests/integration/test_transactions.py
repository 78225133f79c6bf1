"""Transactions against a real broker, read back with confluent-kafka in both isolation levels."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from aioproducer import ConsumerGroupMetadata, Producer, RecordMetadata
from aioproducer.errors import (
    AbortableTransactionError,
    FencedProducerError,
    IllegalStateError,
    ProducerError,
    TransactionAbortedError,
)
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import ConsumedRecord, consume_all

pytestmark = pytest.mark.integration


def _tid() -> str:
    return f"tx-{uuid.uuid4().hex[:12]}"


async def _read(bootstrap: str, topic: str, isolation_level: str) -> list[ConsumedRecord]:
    return await asyncio.to_thread(consume_all, bootstrap, topic, isolation_level=isolation_level)


def _values(records: list[ConsumedRecord]) -> list[bytes]:
    return sorted(r.value or b"" for r in records)


async def test_commit_visible_abort_invisible(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=3)
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
        async with producer.transaction():
            committed = [await producer.send(topic, b"c%d" % i, key=b"%d" % i) for i in range(30)]
        assert all(f.done() and not f.exception() for f in committed)  # the commit flushed
        producer.begin_transaction()
        for i in range(20):
            await producer.send(topic, b"a%d" % i, key=b"%d" % i)
        await producer.flush()  # written to the log, then aborted
        queued = await producer.send(topic, b"never sent", key=b"x")
        await producer.abort_transaction()
        assert queued.done()
        if not isinstance(queued.exception(), TransactionAbortedError):
            assert queued.exception() is None  # drained before the abort: aborted by a marker
        async with producer.transaction():
            await producer.send_many(topic, [(b"k", b"c-last")])
    read_committed = await _read(kafka_bootstrap, topic, "read_committed")
    assert _values(read_committed) == sorted([b"c%d" % i for i in range(30)] + [b"c-last"])
    everything = await _read(kafka_bootstrap, topic, "read_uncommitted")
    assert {b"a%d" % i for i in range(20)} <= set(_values(everything))


async def test_async_with_aborts_on_error_and_reraises(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=2)
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
        sent: list[asyncio.Future[RecordMetadata]] = []

        async def fail_inside() -> None:
            async with producer.transaction():
                sent.append(await producer.send(topic, b"doomed"))
                await producer.flush()
                raise LookupError("boom")

        with pytest.raises(LookupError, match="boom"):
            await fail_inside()
        assert (await sent[0]).offset >= 0  # written, then aborted
        async with producer.transaction():  # usable again
            await producer.send(topic, b"kept")
    assert _values(await _read(kafka_bootstrap, topic, "read_committed")) == [b"kept"]
    assert _values(await _read(kafka_bootstrap, topic, "read_uncommitted")) == [b"doomed", b"kept"]


async def test_state_misuse_raises_at_the_call(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            _ = producer.send(topic, b"outside")
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            await producer.send_many(topic, [(None, b"outside")])
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            await producer.commit_transaction()
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            await producer.abort_transaction()
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            await producer.send_offsets_to_transaction({(topic, 0): 1}, "g")
        producer.begin_transaction()
        with pytest.raises(IllegalStateError, match="already in progress"):
            producer.begin_transaction()
        await producer.commit_transaction()  # empty: nothing to end on the broker
        producer.begin_transaction()
        await producer.abort_transaction()
    async with Producer(bootstrap_servers=kafka_bootstrap) as plain:
        with pytest.raises(IllegalStateError, match="transactional"):
            plain.begin_transaction()
        with pytest.raises(IllegalStateError, match="transactional"):
            await plain.commit_transaction()


async def test_zombie_is_fenced(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(partitions=2)
    tid = _tid()
    first = Producer(bootstrap_servers=kafka_bootstrap, transactional_id=tid)
    await first.start()
    try:
        first.begin_transaction()
        await first.send(topic, b"zombie", partition=0)
        await first.flush()
        async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=tid) as second:
            with pytest.raises(FencedProducerError):
                await first.commit_transaction()
            with pytest.raises(FencedProducerError):
                first.begin_transaction()
            with pytest.raises(FencedProducerError):
                _ = first.send(topic, b"more")
            async with second.transaction():
                await second.send(topic, b"successor", partition=1)
    finally:
        await first.close()
    assert _values(await _read(kafka_bootstrap, topic, "read_committed")) == [b"successor"]


async def test_send_offsets_commits_the_groups_offsets(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    source, sink = new_topic(partitions=2), new_topic()
    group = f"group-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
            async with producer.transaction():
                await producer.send(sink, b"out")
                await producer.send_offsets_to_transaction({(source, 0): 42}, group)
            async with producer.transaction():  # TopicPartition keys, and the list form
                await producer.send_offsets_to_transaction({TopicPartition(source, 1): 7}, group)
                await producer.send_offsets_to_transaction([TopicPartition(source, 0, 43)], group)
            producer.begin_transaction()  # aborted offsets are not committed
            await producer.send_offsets_to_transaction(
                {(source, 0): 1000}, ConsumerGroupMetadata(group)
            )
            await producer.abort_transaction()
        committed = await asyncio.to_thread(
            consumer.committed, [TopicPartition(source, 0), TopicPartition(source, 1)], 30
        )
        assert [(tp.partition, tp.offset) for tp in committed] == [(0, 43), (1, 7)]
    finally:
        consumer.close()
    assert _values(await _read(kafka_bootstrap, sink, "read_committed")) == [b"out"]


async def test_fenced_consumer_generation_makes_the_transaction_abortable(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """KIP-447: offsets of a member the group does not know are refused."""
    source = new_topic()
    group = f"group-{uuid.uuid4().hex[:8]}"
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
        producer.begin_transaction()
        stale = ConsumerGroupMetadata(group, generation_id=5, member_id="gone")
        with pytest.raises(ProducerError):
            await producer.send_offsets_to_transaction({(source, 0): 1}, stale)
        with pytest.raises(AbortableTransactionError):
            await producer.commit_transaction()
        with pytest.raises(AbortableTransactionError):
            _ = producer.send(source, b"x")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(source, b"after")
    assert _values(await _read(kafka_bootstrap, source, "read_committed")) == [b"after"]


async def test_failed_batch_makes_the_transaction_abortable(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A batch the broker refuses for good: commit raises, abort works (bumping the epoch
    over the sequence it used), and the next transaction commits."""
    topic = new_topic(partitions=1, config={"max.message.bytes": "2000"})
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=_tid()) as producer:
        producer.begin_transaction()
        small = await producer.send(topic, b"small", partition=0)
        await producer.flush()
        big = await producer.send(topic, b"x" * 5000, partition=0)
        with pytest.raises(AbortableTransactionError) as raised:
            await producer.commit_transaction()
        assert raised.value.__cause__ is not None
        assert big.exception() is not None
        assert (await small).offset == 0
        with pytest.raises(AbortableTransactionError):
            producer.begin_transaction()
        await producer.abort_transaction()
        for _ in range(2):
            async with producer.transaction():
                await producer.send(topic, b"next", partition=0)
    assert _values(await _read(kafka_bootstrap, topic, "read_committed")) == [b"next", b"next"]


async def test_close_aborts_an_open_transaction(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    tid = _tid()
    producer = Producer(bootstrap_servers=kafka_bootstrap, transactional_id=tid)
    await producer.start()
    producer.begin_transaction()
    sent = await producer.send(topic, b"sent")
    await producer.flush()
    queued = await producer.send(topic, b"queued")
    await producer.close()
    assert (await sent).offset == 0
    assert isinstance(queued.exception(), TransactionAbortedError) or queued.exception() is None
    async with (
        Producer(bootstrap_servers=kafka_bootstrap, transactional_id=tid) as again,
        again.transaction(),  # no CONCURRENT_TRANSACTIONS wait: it was aborted
    ):
        await again.send(topic, b"again")
    assert _values(await _read(kafka_bootstrap, topic, "read_committed")) == [b"again"]
