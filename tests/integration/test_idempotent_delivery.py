"""Idempotent delivery under failure, verified by reading back with confluent-kafka."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable

import pytest
from faulty_proxy import FaultyProxy, proxied_cluster

from aioproducer import Producer, RecordMetadata
from aioproducer.testing import AdminClient, LocalKafkaCluster
from aioproducer.testing.readback import ConsumedRecord, consume_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)


def _tally(records: list[ConsumedRecord]) -> tuple[dict[int, list[int]], int]:
    """Sequences per partition, and how many (partition, sequence) pairs occur twice."""
    per_partition: dict[int, list[int]] = defaultdict(list)
    for r in records:
        assert r.value is not None
        p, seq = r.value.split(b":")[:2]
        assert int(p) == r.partition
        per_partition[r.partition].append(int(seq))
    duplicates = sum(n - 1 for n in Counter((r.partition, r.value) for r in records).values())
    return per_partition, duplicates


@pytest.fixture
async def proxied_broker() -> AsyncIterator[tuple[LocalKafkaCluster, FaultyProxy]]:
    """A broker that advertises a fault-injecting proxy in front of itself."""
    async with proxied_cluster() as (cluster, proxy):
        yield cluster, proxy


async def _produce_numbered(
    producer: Producer, topic: str, partitions: int, per_partition: int
) -> list[RecordMetadata | BaseException]:
    futures = []
    for seq in range(per_partition):
        for p in range(partitions):
            futures.append(
                await producer.send(topic, f"{p}:{seq}:".encode() + b"x" * 40, partition=p)
            )
    return await asyncio.gather(*futures, return_exceptions=True)


@pytest.mark.parametrize("idempotent", [True, False])
async def test_lost_responses(
    proxied_broker: tuple[LocalKafkaCluster, FaultyProxy], idempotent: bool
) -> None:
    cluster, proxy = proxied_broker
    topic = await asyncio.to_thread(cluster.create_topic, None, 3)
    proxy.drop_every = 7
    bootstrap = f"127.0.0.1:{proxy.port}"
    acks = "all" if idempotent else 1
    async with Producer(
        bootstrap_servers=bootstrap,
        enable_idempotence=idempotent,
        acks=acks,
        linger_ms=2,
        batch_size=4096,
        retry_backoff_ms=20,
        request_timeout_ms=5000,
    ) as producer:
        results = await _produce_numbered(producer, topic, 3, 3000)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert proxy.dropped > 5, "the proxy injected too few faults to prove anything"

    records = await asyncio.to_thread(consume_all, cluster.bootstrap_servers, topic)
    per_partition, duplicates = _tally(records)
    print(
        f"\nlost responses (idempotent={idempotent}): proxy dropped {proxy.dropped} of "
        f"{proxy.produce_responses} Produce responses; read back {len(records)} records, "
        f"{duplicates} duplicated"
    )
    if idempotent:
        assert duplicates == 0
        for seqs in per_partition.values():
            assert seqs == list(range(3000))
    else:
        assert duplicates > 0, "without idempotence, lost responses must cause duplicates"
        for seqs in per_partition.values():
            assert set(seqs) == set(range(3000))


async def test_hung_broker_requests_time_out_and_retry(
    proxied_broker: tuple[LocalKafkaCluster, FaultyProxy],
) -> None:
    """A broker that stops answering mid-request: request timeout, reconnect, exactly once."""
    cluster, proxy = proxied_broker
    topic = await asyncio.to_thread(cluster.create_topic, None, 2)
    proxy.stall_every = 10
    async with Producer(
        bootstrap_servers=f"127.0.0.1:{proxy.port}",
        linger_ms=2,
        batch_size=4096,
        request_timeout_ms=1000,
        retry_backoff_ms=20,
    ) as producer:
        results = await _produce_numbered(producer, topic, 2, 1500)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert proxy.stalled >= 2, "the proxy stalled too rarely to prove anything"
    records = await asyncio.to_thread(consume_all, cluster.bootstrap_servers, topic)
    per_partition, duplicates = _tally(records)
    assert duplicates == 0
    for seqs in per_partition.values():
        assert seqs == list(range(1500))


async def test_forgotten_producer_state(
    kafka_cluster_factory: Callable[..., LocalKafkaCluster],
) -> None:
    cluster = await asyncio.to_thread(
        kafka_cluster_factory,
        1,
        **{
            "producer.id.expiration.ms": "2000",
            "producer.id.expiration.check.interval.ms": "500",
            "transactional.id.expiration.ms": "2000",
        },
    )
    topic = await asyncio.to_thread(cluster.create_topic, None, 2)
    async with Producer(bootstrap_servers=cluster.bootstrap_servers, linger_ms=1) as producer:
        first = await _produce_numbered(producer, topic, 2, 500)
        with AdminClient(cluster.bootstrap_servers) as admin:
            assert admin.active_producers(topic, 0), "the broker should know the producer"
            # Idle past producer.id.expiration.ms until the broker has forgotten us.
            deadline = time.monotonic() + 20
            while admin.active_producers(topic, 0) or admin.active_producers(topic, 1):
                assert time.monotonic() < deadline, "the broker never expired the producer"
                await asyncio.sleep(0.5)
        second = [
            await (await producer.send(topic, f"{p}:{500 + seq}:".encode(), partition=p))
            for seq in range(50)
            for p in range(2)
        ]
        rest = await _produce_numbered(producer, topic, 2, 0)
    assert not [r for r in first + rest if isinstance(r, BaseException)]
    assert len(second) == 100
    records = await asyncio.to_thread(consume_all, cluster.bootstrap_servers, topic)
    per_partition, duplicates = _tally(records)
    assert duplicates == 0
    for seqs in per_partition.values():
        assert seqs == list(range(550))


@pytest.mark.cluster
async def test_leader_kills_under_load(kafka_cluster3: LocalKafkaCluster) -> None:
    """At least 200,000 records, acks=all, RF=3, min ISR 2, 3 leader kills: exact read-back."""
    partitions, at_least = 6, 200_000 // 6 + 1
    topic = await asyncio.to_thread(
        kafka_cluster3.create_topic, None, partitions, 3, {"min.insync.replicas": "2"}
    )
    started = time.monotonic()
    kills: list[int] = []

    async def killer() -> None:
        for round_ in range(3):
            await asyncio.sleep(1.0)
            victim = await asyncio.to_thread(kafka_cluster3.leader_for, topic, round_ % partitions)
            log.warning("killing node %d (leader of partition %d)", victim, round_ % partitions)
            await asyncio.to_thread(kafka_cluster3.kill, victim)
            kills.append(victim)
            await asyncio.sleep(2.0)
            await asyncio.to_thread(kafka_cluster3.restart, victim)

    async with Producer(
        bootstrap_servers=kafka_cluster3.bootstrap_servers,
        acks="all",
        linger_ms=5,
        request_timeout_ms=5000,
        delivery_timeout_ms=120_000,
        retry_backoff_ms=50,
    ) as producer:
        kill_task = asyncio.create_task(killer())
        results: list[RecordMetadata | BaseException] = []
        seq = 0
        # Keep producing until the killer is done, so every kill lands mid-stream.
        while seq < at_least or not kill_task.done():
            futures = []
            for s in range(seq, seq + 1000):
                for p in range(partitions):
                    futures.append(await producer.send(topic, f"{p}:{s}:".encode(), partition=p))
            seq += 1000
            results.extend(await asyncio.gather(*futures, return_exceptions=True))
        await kill_task
    produce_seconds = time.monotonic() - started
    assert len(kills) == 3
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]

    for node in kafka_cluster3.nodes:
        for p in range(partitions):
            await asyncio.to_thread(kafka_cluster3.wait_in_sync, topic, p, node.node_id)
    records = await asyncio.to_thread(consume_all, kafka_cluster3.bootstrap_servers, topic, 180.0)
    per_partition_seqs, duplicates = _tally(records)
    lost = partitions * seq - len({(r.partition, r.value) for r in records})
    print(
        f"\nleader-kill test: produced {partitions * seq} records in {produce_seconds:.1f}s "
        f"with {len(kills)} leader kills (nodes {kills}); read back {len(records)}, "
        f"lost {lost}, duplicated {duplicates}"
    )
    assert duplicates == 0
    assert lost == 0
    for seqs in per_partition_seqs.values():
        assert seqs == list(range(seq))
