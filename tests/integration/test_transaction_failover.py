"""The transaction coordinator's broker killed and restarted during 200 transactions on the
three-broker cluster: each transaction is wholly visible or wholly invisible to a
read_committed reader, and the producer recovers or fails with a clear error, never hangs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import pytest

from aioproducer import Producer
from aioproducer.errors import FencedProducerError, ProducerError
from aioproducer.testing import LocalKafkaCluster
from aioproducer.testing.readback import consume_all

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.cluster,
    pytest.mark.kafka_since("3.3", reason="KRaft failover harness"),
    pytest.mark.timeout(300),
]
log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSACTIONS = 200
PARTITIONS = 4
#: Records per transaction: at least one in every partition.
PER_TRANSACTION = 6
#: No single step of a transaction may take longer than this (a hang fails the test).
STEP_TIMEOUT = 60.0


@dataclass
class Outcomes:
    """What the producer was told about each transaction."""

    committed: set[int] = field(default_factory=set)
    aborted: set[int] = field(default_factory=set)
    unknown: set[int] = field(default_factory=set)  # the commit failed: either outcome
    errors: list[str] = field(default_factory=list)
    producers: int = 0  # producers used (a fatal error closes one, the next takes over)
    running: int = 0  # the transaction under way
    slowest: tuple[float, int] = (0.0, -1)  # (seconds, transaction)


def _new_producer(cluster: LocalKafkaCluster, transactional_id: str) -> Producer:
    return Producer(
        bootstrap_servers=cluster.bootstrap_servers,
        transactional_id=transactional_id,
        transaction_timeout_ms=20_000,
        linger_ms=2,
        request_timeout_ms=5000,
        retry_backoff_ms=50,
    )


def _coordinator(cluster: LocalKafkaCluster, transactional_id: str) -> int:
    with cluster.admin() as admin:
        return admin.transaction_coordinator(transactional_id)


async def _bounded(awaitable: Awaitable[T], what: str) -> T:
    """``await awaitable``, failing the test if it takes over STEP_TIMEOUT (a hang)."""
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            return await awaitable
    except TimeoutError:
        raise AssertionError(f"{what} hung for over {STEP_TIMEOUT:.0f} s") from None


async def _transaction(producer: Producer, topic: str, txn: int) -> None:
    producer.begin_transaction()
    for r in range(PER_TRANSACTION):
        await producer.send(topic, f"{txn}:{r}".encode(), partition=r % PARTITIONS)
    await producer.commit_transaction()


async def _one(producer: Producer, topic: str, txn: int, outcomes: Outcomes) -> bool:
    """Run transaction ``txn``; False when the producer must be replaced (a fatal error)."""
    outcomes.running = txn
    began = time.monotonic()
    try:
        await _bounded(_transaction(producer, topic, txn), f"transaction {txn}")
    except FencedProducerError as exc:
        outcomes.unknown.add(txn)
        outcomes.errors.append(f"{txn}: fatal {type(exc).__name__}: {exc}")
        return False
    except ProducerError as exc:
        outcomes.errors.append(f"{txn}: {type(exc).__name__}: {exc}")
        # A commit that failed may have reached the coordinator; the abort after it
        # settles the transaction one way or the other, which the read-back tells.
        outcomes.unknown.add(txn)
        try:
            await _bounded(producer.abort_transaction(), f"aborting transaction {txn}")
        except ProducerError as abort_exc:
            outcomes.errors.append(f"{txn}: abort: {type(abort_exc).__name__}: {abort_exc}")
            return False
        return True
    outcomes.committed.add(txn)
    outcomes.slowest = max(outcomes.slowest, (time.monotonic() - began, txn))
    return True


@pytest.fixture
def own_cluster3(kafka_version: str) -> Iterator[LocalKafkaCluster]:
    """Three nodes of this test's own: the session's three-node cluster has had brokers
    killed and restarted by the tests before, and this test counts on all three."""
    with LocalKafkaCluster(3, version=kafka_version) as cluster:
        yield cluster


async def test_coordinator_killed_mid_transactions(own_cluster3: LocalKafkaCluster) -> None:
    cluster = own_cluster3
    topic = await asyncio.to_thread(
        cluster.create_topic, None, PARTITIONS, 3, {"min.insync.replicas": "2"}
    )
    transactional_id = f"failover-{uuid.uuid4().hex[:8]}"
    outcomes = Outcomes()
    killed: list[int] = []
    killed_during: list[int] = []  # the transaction under way at the kill
    kill_at = asyncio.Event()

    async def killer() -> None:
        await kill_at.wait()
        victim = await asyncio.to_thread(_coordinator, cluster, transactional_id)
        log.warning("killing node %d, the coordinator of %s", victim, transactional_id)
        await asyncio.to_thread(cluster.kill, victim)
        killed.append(victim)
        killed_during.append(outcomes.running)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(cluster.restart, victim)

    kill_task = asyncio.create_task(killer())
    producer = _new_producer(cluster, transactional_id)
    try:
        await _bounded(producer.start(), "starting the producer")
        outcomes.producers = 1
        for txn in range(TRANSACTIONS):
            if txn == 50:
                kill_at.set()
            if not await _one(producer, topic, txn, outcomes):
                await _bounded(producer.close(), "closing a failed producer")
                producer = _new_producer(cluster, transactional_id)
                await _bounded(producer.start(), "starting the next producer")
                outcomes.producers += 1
        await _bounded(kill_task, "the broker restart")
    finally:
        kill_task.cancel()
        await _bounded(producer.close(), "closing the producer")
    assert killed, "the coordinator was never killed"
    assert killed_during[0] < TRANSACTIONS - 1, "the kill came after the transactions"

    for node in cluster.nodes:
        for p in range(PARTITIONS):
            await asyncio.to_thread(cluster.wait_in_sync, topic, p, node.node_id)
    committed = await asyncio.to_thread(
        partial(
            consume_all, cluster.bootstrap_servers, topic, 120.0, isolation_level="read_committed"
        )
    )
    everything = await asyncio.to_thread(
        partial(
            consume_all, cluster.bootstrap_servers, topic, 120.0, isolation_level="read_uncommitted"
        )
    )
    visible = Counter(int(r.value.split(b":")[0]) for r in committed if r.value)
    duplicates = len(committed) - len({r.value for r in committed})
    settled = sum(1 for t in outcomes.unknown if t in visible)
    print(
        f"\ncoordinator failover: killed node {killed} during transaction {killed_during}; "
        f"slowest commit {outcomes.slowest[0]:.1f} s (transaction {outcomes.slowest[1]}); "
        f"{len(outcomes.committed)} committed, "
        f"{len(outcomes.unknown)} failed or aborted ({settled} of them visible), "
        f"producers used {outcomes.producers}; read_committed {len(committed)} records, "
        f"read_uncommitted {len(everything)}; errors: {outcomes.errors[:5]}"
    )
    assert not [e for e in outcomes.errors if e.endswith(": ")], "an error without a message"
    assert duplicates == 0
    torn = {t: n for t, n in visible.items() if n != PER_TRANSACTION}
    assert not torn, f"transactions partly visible: {torn}"
    assert outcomes.committed <= set(visible), "a committed transaction is not visible"
    assert set(visible) <= outcomes.committed | outcomes.unknown
    assert len(outcomes.committed) >= TRANSACTIONS // 2, "the producer did not recover"
