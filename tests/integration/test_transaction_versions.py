"""Transactions against a broker formatted with ``transaction.version`` 1 and with 2
(KIP-890 part 2: partitions added by Produce itself, the epoch bumped by every EndTxn)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer._protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    TransactionDescription,
)
from aioproducer.testing import AdminClient, LocalKafkaCluster
from aioproducer.testing.pytest_plugin import KafkaClusterHandle
from aioproducer.testing.readback import committed_offsets, consume_all

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.kafka_since("4.0", reason="the transaction.version feature"),
]


async def _describe(txn: Any) -> TransactionDescription:
    """The coordinator's DescribeTransactions answer for the producer's transactional id."""
    conn = await txn._coordinator(None)
    response = await conn.request(DescribeTransactionsRequest([txn.transactional_id]))
    assert isinstance(response, DescribeTransactionsResponse)
    (found,) = response.transactions
    assert found.transactional_id == txn.transactional_id
    return found


def _features(address: str) -> dict[str, int]:
    with AdminClient(address) as admin:
        return admin.finalized_features()


async def _cluster_at(
    version: int,
    session: KafkaClusterHandle,
    factory: Callable[..., LocalKafkaCluster],
) -> KafkaClusterHandle:
    """The session's cluster when its transaction.version is ``version`` (a 4.x broker
    formatted by default has 2), else a broker formatted with it."""
    first = session.bootstrap_servers.split(",")[0]
    if (await asyncio.to_thread(_features, first)).get("transaction.version") == version:
        return session
    flag = ("--feature", f"transaction.version={version}")
    cluster = await asyncio.to_thread(factory, 1, format_args=flag)
    features = await asyncio.to_thread(_features, cluster.nodes[0].address)
    assert features.get("transaction.version") == version
    return cluster


@pytest.mark.parametrize("version", [1, 2])
async def test_commit_abort_and_offsets(
    kafka_cluster: KafkaClusterHandle,
    kafka_cluster_factory: Callable[..., LocalKafkaCluster],
    version: int,
) -> None:
    cluster = await _cluster_at(version, kafka_cluster, kafka_cluster_factory)
    topic = await asyncio.to_thread(cluster.create_topic, None, 3)
    group = f"tv{version}-{uuid.uuid4().hex[:8]}"
    async with Producer(
        bootstrap_servers=cluster.bootstrap_servers,
        transactional_id=f"tv{version}-{uuid.uuid4().hex[:8]}",
    ) as producer:
        txn, idempotence = producer._txn, producer._idempotence
        assert txn is not None
        assert idempotence is not None
        sent: Counter[str] = Counter()
        call = txn._call

        async def counted(request: Any, handle: Any, what: str, **options: Any) -> None:
            sent[what] += 1
            await call(request, handle, what, **options)

        txn._call = counted  # type: ignore[method-assign]  # counts, still sends
        probes = 0
        await_markers = txn._await_markers

        async def counted_probe() -> None:  # version 2: asks if the markers are written
            nonlocal probes
            probes += 1
            await await_markers()

        txn._await_markers = counted_probe  # type: ignore[method-assign]
        producer_id = idempotence.producer_id
        epochs = [idempotence.epoch]
        for round_ in range(3):  # the second transaction of a producer epoch, and a third
            async with producer.transaction():
                assert txn.version == version
                for p in range(3):
                    await producer.send(topic, b"c%d-%d" % (round_, p), partition=p)
                await producer.send_offsets_to_transaction({(topic, 0): 10 * (round_ + 1)}, group)
            epochs.append(idempotence.epoch)
        producer.begin_transaction()
        for p in range(3):
            await producer.send(topic, b"aborted-%d" % p, partition=p)
        await producer.send_offsets_to_transaction({(topic, 0): 999}, group)
        await producer.flush()  # on the broker, so that the abort has records to hide
        ongoing = await _describe(txn)  # DescribeTransactions decoded, partitions and all
        assert (ongoing.error_code, ongoing.state) == (0, "Ongoing")
        assert (ongoing.producer_id, ongoing.producer_epoch) == (
            idempotence.producer_id,
            idempotence.epoch,
        )
        assert sorted(dict(ongoing.partitions)[topic]) == [0, 1, 2]
        await producer.abort_transaction()
        epochs.append(idempotence.epoch)
        async with producer.transaction():
            await producer.send(topic, b"last", partition=1)
        epochs.append(idempotence.epoch)
        assert idempotence.producer_id == producer_id
        assert (sent["EndTxn"], sent["TxnOffsetCommit"]) == (5, 4)
        if version == 2:  # every EndTxn bumps the epoch; Produce and TxnOffsetCommit add
            assert epochs == list(range(epochs[0], epochs[0] + 6))
            assert (sent["AddPartitionsToTxn"], sent["AddOffsetsToTxn"]) == (0, 0)
            assert (probes, txn._probe_markers) == (4, True)  # each after the first
        else:  # one epoch throughout; AddPartitionsToTxn once per transaction
            assert epochs == [epochs[0]] * 6
            assert (sent["AddPartitionsToTxn"], sent["AddOffsetsToTxn"]) == (5, 4)
            assert probes == 0

    committed = await asyncio.to_thread(
        partial(consume_all, cluster.bootstrap_servers, topic, isolation_level="read_committed")
    )
    everything = await asyncio.to_thread(
        partial(
            consume_all, cluster.bootstrap_servers, topic, 60.0, isolation_level="read_uncommitted"
        )
    )
    expected = sorted([b"c%d-%d" % (r, p) for r in range(3) for p in range(3)] + [b"last"])
    assert sorted(r.value or b"" for r in committed) == expected
    assert sorted(r.value or b"" for r in everything) == sorted(
        expected + [b"aborted-%d" % p for p in range(3)]
    )
    offsets = await asyncio.to_thread(committed_offsets, cluster.bootstrap_servers, group, topic)
    assert offsets[0] == 30
