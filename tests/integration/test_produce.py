"""The producer against a real broker, read back with confluent-kafka's consumer."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict

import pytest

from aioproducer import Producer, RecordMetadata
from aioproducer._partitioner import partition_for_key
from aioproducer._speedups_status import c as speedups
from aioproducer.testing.pytest_plugin import KafkaClusterHandle, TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


async def test_send_returns_metadata(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(partitions=1)
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        fut = await producer.send(topic, b"hello", key=b"k")
        md = await fut
        assert isinstance(md, RecordMetadata)
        assert (md.topic, md.partition, md.offset) == (topic, 0, 0)
        assert md.timestamp_ms > 0
        md2 = await producer.send_and_wait(topic, b"again")
        assert md2.offset == 1
        assert await producer.partitions_for(topic) == [0]
    records = consume_all(kafka_bootstrap, topic)
    assert [(r.key, r.value) for r in records] == [(b"k", b"hello"), (None, b"again")]


async def test_keys_land_on_java_partitions_in_order(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=6)
    keys = [f"user-{i}".encode() for i in range(50)]
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=2) as producer:
        futures = [
            await producer.send(topic, f"{k.decode()}:{n}".encode(), key=k)
            for n in range(20)
            for k in keys
        ]
        results = await asyncio.gather(*futures)
    for md, fut_key in zip(results, [k for _ in range(20) for k in keys], strict=True):
        assert md.partition == partition_for_key(fut_key, 6)
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 1000
    per_key: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        assert r.key is not None
        assert r.value is not None
        assert r.partition == partition_for_key(r.key, 6)
        per_key[r.key].append(int(r.value.split(b":")[1]))
    assert all(seq == list(range(20)) for seq in per_key.values())


async def test_headers_null_values_and_timestamps_survive(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    ts = int(time.time() * 1000) - 60_000
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        await producer.send_and_wait(
            topic,
            None,
            key=b"tombstone",
            headers=[("a", b"1"), ("b", None), ("a", b"2")],
            timestamp_ms=ts,
        )
        await producer.send_and_wait(topic, b"", key=None, headers=[("ünï", b"\x00\xff")])
    first, second = consume_all(kafka_bootstrap, topic)
    assert (first.key, first.value, first.timestamp_ms) == (b"tombstone", None, ts)
    assert first.headers == (("a", b"1"), ("b", None), ("a", b"2"))
    assert (second.key, second.value) == (None, b"")
    assert second.headers == (("ünï", b"\x00\xff"),)


@pytest.mark.parametrize("codec", ["none", "lz4"])
async def test_sends_taken_in_c_and_in_python_keep_their_order(
    kafka_bootstrap: str, new_topic: TopicFactory, codec: str
) -> None:
    """FastSend appends plain keyed records in C; headers, a timestamp, an explicit
    partition, a bytearray value or a new batch go through Producer.send. With the route
    known and buffer memory free, both queue the record when send() is called, so one
    partition's records keep the order of the calls even when they are awaited later."""
    topic = new_topic(partitions=3)
    key = b"same-key"
    partition = partition_for_key(key, 3)
    ts = int(time.time() * 1000) - 30_000
    expected: list[tuple[bytes, tuple[tuple[str, bytes | None], ...], int | None]] = []
    async with Producer(
        bootstrap_servers=kafka_bootstrap, linger_ms=20, batch_size=4096, compression_type=codec
    ) as producer:
        if speedups is not None:  # the C path is in use (the pure-Python pass has none)
            assert type(producer.send) is speedups.FastSend
        await producer.partitions_for(topic)  # else every send() waits for the route
        pending = []
        for n in range(3000):
            value = f"{n:05d}".encode() * 20
            kind = n % 7
            if kind == 1:
                headers = (("n", str(n).encode()),)
                pending.append(producer.send(topic, value, key, headers=list(headers)))
                expected.append((value, headers, None))
            elif kind == 2:
                pending.append(producer.send(topic, value, key, timestamp_ms=ts + n))
                expected.append((value, (), ts + n))
            elif kind == 3:
                pending.append(producer.send(topic, bytearray(value), key, partition=partition))
                expected.append((value, (), None))
            elif kind == 4:
                pending.append(producer.send(topic, value=value, key=key, headers=None))
                expected.append((value, (), None))
            else:
                pending.append(producer.send(topic, value, key))
                expected.append((value, (), None))
        futures = [await awaitable for awaitable in pending]
        results = await asyncio.gather(*futures)
        await producer.flush()
    assert {md.partition for md in results} == {partition}
    offsets = [md.offset for md in results]
    assert offsets == sorted(offsets)
    records = consume_all(kafka_bootstrap, topic)
    assert [r.partition for r in records] == [partition] * len(expected)
    assert [r.offset for r in records] == list(range(len(expected)))
    assert [(r.value, r.headers) for r in records] == [(v, h) for v, h, _ in expected]
    for record, (_, _, timestamp) in zip(records, expected, strict=True):
        if timestamp is not None:
            assert record.timestamp_ms == timestamp
    assert all(r.key == key for r in records)


ZSTD = pytest.param("zstd", marks=pytest.mark.kafka_since("2.1", reason="zstd: Produce v7"))


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", ZSTD])
async def test_every_codec_is_accepted_and_read_back(
    kafka_bootstrap: str, new_topic: TopicFactory, codec: str
) -> None:
    topic = new_topic(partitions=2)
    values = [f"value-{i}-".encode() * (i % 7 + 1) for i in range(2000)]
    async with Producer(
        bootstrap_servers=kafka_bootstrap, compression_type=codec, linger_ms=10
    ) as producer:
        futures = [await producer.send(topic, v, key=str(i).encode()) for i, v in enumerate(values)]
        await asyncio.gather(*futures)
    records = consume_all(kafka_bootstrap, topic)
    assert sorted(r.value for r in records if r.value is not None) == sorted(values)


@pytest.mark.parametrize("acks", [0, 1, "all"])
async def test_acks_modes(kafka_bootstrap: str, new_topic: TopicFactory, acks: int | str) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, acks=acks) as producer:
        results = await asyncio.gather(
            *[await producer.send(topic, str(i).encode()) for i in range(500)]
        )
    if acks == 0:
        assert all(md.offset == -1 for md in results)
    else:
        assert [md.offset for md in results] == list(range(500))
    records = consume_all(kafka_bootstrap, topic)
    assert [r.value for r in records] == [str(i).encode() for i in range(500)]


async def test_null_keys_are_sticky_and_spread(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=4)
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=20) as producer:
        futures = [await producer.send(topic, b"x" * 100) for _ in range(20_000)]
        results = await asyncio.gather(*futures)
    counts = Counter(md.partition for md in results)
    assert set(counts) == {0, 1, 2, 3}
    # Sticky: consecutive records share a partition in long runs, not one record per batch.
    switches = sum(1 for a, b in itertools.pairwise(results) if a.partition != b.partition)
    assert switches < len(results) / 50
    assert len(consume_all(kafka_bootstrap, topic)) == 20_000


async def test_log_append_time_is_reported(
    kafka_cluster: KafkaClusterHandle, kafka_bootstrap: str
) -> None:
    topic = kafka_cluster.create_topic(config={"message.timestamp.type": "LogAppendTime"})
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        md = await producer.send_and_wait(topic, b"v", timestamp_ms=1000)
    assert md.timestamp_ms > 1_000_000
    (record,) = consume_all(kafka_bootstrap, topic)
    assert record.timestamp_ms == md.timestamp_ms


async def test_idle_connections_close_and_reopen(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, connections_max_idle_ms=300) as producer:
        await producer.send_and_wait(topic, b"before")
        cluster = producer._cluster  # white box: see the connection go
        assert cluster is not None
        await asyncio.sleep(1.0)
        assert cluster.any_connection() is None
        await producer.send_and_wait(topic, b"after")
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"before", b"after"]


async def test_sender_waits_while_the_socket_buffer_is_full(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Produce requests are not queued behind a paused transport (pause_writing)."""
    topic = new_topic(partitions=1)
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=0) as producer:
        await producer.send_and_wait(topic, b"warm-up")  # the leader's connection is open
        cluster = producer._cluster  # white box: the transport's flow control, by hand
        assert cluster is not None
        conn = cluster.any_connection()
        assert conn is not None
        conn.pause_writing()  # what asyncio calls when the write buffer passes its high mark
        future = await producer.send(topic, b"held")
        await asyncio.sleep(0.3)
        assert not future.done()
        assert conn.in_flight == 0
        conn.resume_writing()
        md = await asyncio.wait_for(future, 5)
    assert md.offset == 1
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"warm-up", b"held"]


async def test_record_futures_work_with_tasks_wait_and_cancellation(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """send()'s futures (RecordFutures, callbacks run a batch at a time) in the ways a service
    uses them; a cancelled future only stops the caller waiting: its record is still sent."""
    topic = new_topic(partitions=3)
    seen: list[int] = []
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=5) as producer:
        futures = [await producer.send(topic, str(i).encode(), key=b"k%d" % i) for i in range(300)]
        for future in futures[::3]:
            future.cancel()
        for future in futures[1::3]:
            future.add_done_callback(lambda f: seen.append(f.result().offset))
        waited = await asyncio.wait_for(asyncio.gather(*futures[1::3]), 30)
        done, pending = await asyncio.wait(futures[2::3], timeout=30)
        assert not pending
        in_tasks = await asyncio.gather(
            *(asyncio.create_task(_await(producer, topic, i)) for i in range(300, 320))
        )
    assert all(future.cancelled() for future in futures[::3])
    assert sorted(seen) == sorted(md.offset for md in waited)
    assert all(future.result().topic == topic for future in done)
    assert [md.topic for md in in_tasks] == [topic] * 20
    values = sorted(int(r.value or b"") for r in consume_all(kafka_bootstrap, topic))
    assert values == list(range(320))


async def _await(producer: Producer, topic: str, i: int) -> RecordMetadata:
    return await (await producer.send(topic, str(i).encode()))
