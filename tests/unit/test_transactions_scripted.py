"""The transaction state machine and coordinator retries, against the scripted FakeBroker.

Fast and deterministic; tests/integration/test_transactions.py proves the same against Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Unpack

import pytest

from aioproducer import ConsumerGroupMetadata, Producer
from aioproducer._config import ProducerOptions
from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.messages.add_offsets_to_txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
)
from aioproducer._protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnPartitionResult,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult,
)
from aioproducer._protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
    TransactionDescription,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.find_coordinator import (
    Coordinator,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.txn_offset_commit import (
    TxnOffset,
    TxnOffsetCommitPartitionResult,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from aioproducer._protocol.primitives import Reader
from aioproducer._speedups_status import c as speedups
from aioproducer._transactions import TransactionState
from aioproducer.errors import (
    AbortableTransactionError,
    ConcurrentTransactionsError,
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    FencedProducerError,
    IllegalStateError,
    InvalidProducerIdMappingError,
    KafkaTimeoutError,
    NotCoordinatorError,
    ProducerClosedError,
    ProducerFencedError,
    TransactionAbortableError,
    TransactionAbortedError,
    TransactionalIdAuthorizationFailedError,
)
from aioproducer.testing import FakeBroker
from aioproducer.testing._fake_txn import TXN_DECODERS, encode_txn_response
from aioproducer.testing.fake_broker import DROP, Action

_FAST: ProducerOptions = {"retry_backoff_ms": 5, "retry_backoff_max_ms": 20, "linger_ms": 1}


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with FakeBroker(nodes=2) as fake:
        fake.create_topic("t", partitions=3)
        yield fake


def _producer(broker: FakeBroker, **options: Unpack[ProducerOptions]) -> Producer:
    merged: ProducerOptions = {**_FAST, **options, "transactional_id": "tx"}
    merged["bootstrap_servers"] = broker.bootstrap_servers
    return Producer(None, **merged)


def _state(producer: Producer) -> TransactionState:
    assert producer._txn is not None
    return producer._txn.state


# -- the fake's side of the wire ---------------------------------------------------------------
_CASES = [
    (FindCoordinatorRequest(["tx"], 1), range(1, 7)),
    (FindCoordinatorRequest(["g"], 0), range(7)),
    (AddPartitionsToTxnRequest("tx", 7, 1, {"a": [0, 2], "b": [1]}), range(4)),
    (AddOffsetsToTxnRequest("tx", 7, 1, "g"), range(5)),
    (TxnOffsetCommitRequest("tx", "g", 7, 1, [TxnOffset("a", 0, 5, 3, "m")]), range(2, 5)),
    (TxnOffsetCommitRequest("tx", "g", 7, 1, [TxnOffset("a", 0, 5)], 4, "m", "i"), range(3, 5)),
    (EndTxnRequest("tx", 7, 1, True), range(6)),
    (DescribeTransactionsRequest(["tx", "other"]), range(1)),
]


@pytest.mark.parametrize(("request_", "versions"), _CASES)
def test_fake_decodes_what_the_client_encodes(request_: object, versions: range) -> None:
    for version in versions:
        body = request_.encode(version)  # type: ignore[attr-defined]
        flexible = version >= type(request_).FLEXIBLE_FROM  # type: ignore[attr-defined]
        decoded = TXN_DECODERS[request_.API_KEY](Reader(body), version, flexible)  # type: ignore[attr-defined]
        assert decoded.encode(version) == body


_RESPONSES = [
    (FindCoordinatorRequest, FindCoordinatorResponse(3, (Coordinator(None, 2, "h", 9, 0),)), 3),
    (
        FindCoordinatorRequest,
        FindCoordinatorResponse(3, (Coordinator("tx", 2, "h", 9, 15, "moved"),)),
        6,
    ),
    (
        AddPartitionsToTxnRequest,
        AddPartitionsToTxnResponse(
            1,
            0,
            (
                AddPartitionsToTxnResult(
                    None,
                    (
                        AddPartitionsToTxnPartitionResult("a", 0, 0),
                        AddPartitionsToTxnPartitionResult("b", 1, 51),
                    ),
                ),
            ),
        ),
        3,
    ),
    (AddOffsetsToTxnRequest, AddOffsetsToTxnResponse(1, 30), 4),
    (
        TxnOffsetCommitRequest,
        TxnOffsetCommitResponse(1, (TxnOffsetCommitPartitionResult("a", 0, 22),)),
        4,
    ),
    (EndTxnRequest, EndTxnResponse(1, 0), 4),
    (EndTxnRequest, EndTxnResponse(1, 0, 7, 2), 5),
    (
        DescribeTransactionsRequest,
        DescribeTransactionsResponse(
            2,
            (
                TransactionDescription(0, "tx", "PrepareCommit", 60000, 17, 7, 3, ()),
                TransactionDescription(53, "other", "", 0, -1, -1, -1, ()),
            ),
        ),
        0,
    ),
]


@pytest.mark.parametrize(("cls", "response", "top"), _RESPONSES)
def test_client_decodes_what_the_fake_encodes(cls: Any, response: object, top: int) -> None:
    low = 0 if cls is not FindCoordinatorRequest or top < 4 else 4
    for version in range(low, top + 1):
        buf = bytearray()
        assert encode_txn_response(buf, response, version, version >= cls.FLEXIBLE_FROM)
        decoded = cls.decode_response(memoryview(bytes(buf)), version)
        if version == 0 and cls is FindCoordinatorRequest:
            continue  # v0 has no throttle time
        if cls is EndTxnRequest and version < 5:
            assert decoded == EndTxnResponse(1, 0)
        else:
            assert decoded == response


# -- the state machine -------------------------------------------------------------------------
async def test_commit_adds_partitions_once_per_drain(broker: FakeBroker) -> None:
    async with _producer(broker) as producer:
        assert _state(producer) is TransactionState.READY
        async with producer.transaction():
            futures = [await producer.send("t", b"v%d" % p, partition=p) for p in range(3)]
        assert all(f.done() for f in futures)
        assert _state(producer) is TransactionState.READY
    assert broker.unadded_batches == 0
    assert len(broker.received(ApiKey.ADD_PARTITIONS_TO_TXN)) == 1  # all three at once
    ((tid, txn),) = broker.transactions.ended
    assert (tid, txn.result, txn.partitions) == ("tx", True, {("t", 0), ("t", 1), ("t", 2)})


async def test_empty_transactions_send_nothing(broker: FakeBroker) -> None:
    async with _producer(broker) as producer:
        async with producer.transaction():
            pass
        producer.begin_transaction()
        await producer.abort_transaction()
    assert broker.received(ApiKey.END_TXN) == []


async def test_coordinator_errors_are_retried(broker: FakeBroker) -> None:
    broker.script(ApiKey.FIND_COORDINATOR, [CoordinatorNotAvailableError])
    broker.script(
        ApiKey.ADD_PARTITIONS_TO_TXN,
        [ConcurrentTransactionsError, NotCoordinatorError, CoordinatorLoadInProgressError],
    )
    broker.script(ApiKey.END_TXN, [CoordinatorLoadInProgressError, ConcurrentTransactionsError])
    async with _producer(broker) as producer, producer.transaction():
        await producer.send("t", b"v", partition=0)
    assert broker.unscripted() == {}
    assert [txn.result for _, txn in broker.transactions.ended] == [True]
    assert broker.unadded_batches == 0


async def test_a_moved_coordinator_is_looked_up_again(broker: FakeBroker) -> None:
    async with _producer(broker) as producer:
        broker.transactions.coordinator = 2  # node 1 now answers NOT_COORDINATOR
        async with producer.transaction():
            await producer.send("t", b"v", partition=1)
    assert {r.node_id for r in broker.received(ApiKey.END_TXN)} == {2}
    assert len(broker.received(ApiKey.FIND_COORDINATOR)) >= 2


async def test_misuse_raises_at_the_call(broker: FakeBroker) -> None:
    async with _producer(broker) as producer:
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            _ = producer.send("t", b"v")
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            await producer.commit_transaction()
        producer.begin_transaction()
        with pytest.raises(IllegalStateError, match="already"):
            producer.begin_transaction()
        await producer.send("t", b"v")
        await producer.commit_transaction()
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            _ = producer.send("t", b"v")


async def test_a_send_waiting_for_metadata_does_not_join_the_next_transaction(
    broker: FakeBroker,
) -> None:
    async with _producer(broker) as producer:
        producer.begin_transaction()
        waiting = asyncio.ensure_future(producer.send("later", b"v"))
        await asyncio.sleep(0.01)
        await producer.commit_transaction()
        broker.create_topic("later")
        with pytest.raises(IllegalStateError, match="while it waited"):
            await waiting
    assert broker.values("later", 0) == []


async def test_fenced_by_a_coordinator_error_is_fatal(broker: FakeBroker) -> None:
    broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [ProducerFencedError])
    async with _producer(broker) as producer:
        producer.begin_transaction()
        future = await producer.send("t", b"v", partition=0)
        with pytest.raises(FencedProducerError):
            await producer.commit_transaction()
        assert isinstance(future.exception(), FencedProducerError)
        for call in (producer.begin_transaction, lambda: producer.send("t", b"v")):
            with pytest.raises(FencedProducerError):
                call()
        with pytest.raises(FencedProducerError):
            await producer.abort_transaction()
        assert _state(producer) is TransactionState.FATAL_ERROR


async def test_a_newer_producer_fences_the_older(broker: FakeBroker) -> None:
    async with _producer(broker) as first:
        first.begin_transaction()
        await first.send("t", b"old", partition=0)
        await first.flush()
        async with _producer(broker) as second, second.transaction():
            await second.send("t", b"new", partition=0)
        with pytest.raises(FencedProducerError):
            await first.commit_transaction()
    assert [txn.result for _, txn in broker.transactions.ended] == [True]


async def test_unauthorized_transactional_id_fails_start(broker: FakeBroker) -> None:
    broker.script(ApiKey.INIT_PRODUCER_ID, [TransactionalIdAuthorizationFailedError])
    producer = _producer(broker)
    with pytest.raises(TransactionalIdAuthorizationFailedError):
        await producer.start()
    await producer.close()


async def test_an_abortable_error_leaves_only_abort(broker: FakeBroker) -> None:
    broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [TransactionAbortableError])
    async with _producer(broker) as producer:
        producer.begin_transaction()
        future = await producer.send("t", b"v", partition=0)
        with pytest.raises(AbortableTransactionError) as raised:
            await producer.commit_transaction()
        assert isinstance(raised.value.__cause__, TransactionAbortableError)
        assert isinstance(future.exception(), TransactionAbortedError)
        with pytest.raises(AbortableTransactionError):
            _ = producer.send("t", b"v")
        with pytest.raises(AbortableTransactionError):
            await producer.send_offsets_to_transaction({("t", 0): 1}, "g")
        await producer.abort_transaction()
        assert _state(producer) is TransactionState.READY
        async with producer.transaction():
            await producer.send("t", b"after", partition=0)
    assert broker.values("t", 0) == [b"after"]
    assert broker.unadded_batches == 0


async def test_offsets_are_committed_with_the_transaction(broker: FakeBroker) -> None:
    async with _producer(broker) as producer:
        async with producer.transaction():
            await producer.send_offsets_to_transaction(
                {("in", 0): 5, ("in", 1): 9}, ConsumerGroupMetadata("g", 3, "m-1")
            )
        producer.begin_transaction()
        await producer.send_offsets_to_transaction({("in", 0): 100}, "g")
        await producer.abort_transaction()
    assert broker.transactions.committed_offsets == {"g": {("in", 0): 5, ("in", 1): 9}}
    (request, *_) = [r.request for r in broker.received(ApiKey.TXN_OFFSET_COMMIT)]
    assert isinstance(request, TxnOffsetCommitRequest)
    assert (request.generation_id, request.member_id) == (3, "m-1")


async def test_a_commit_that_timed_out_can_be_called_again(broker: FakeBroker) -> None:
    async with _producer(broker, max_block_ms=300) as producer:
        producer.begin_transaction()
        await producer.send("t", b"v", partition=0)
        unavailable = Action(error=CoordinatorNotAvailableError)
        broker.on_request(lambda r: unavailable if r.api_key == ApiKey.END_TXN else None)
        with pytest.raises(KafkaTimeoutError, match="EndTxn"):
            await producer.commit_transaction()
        assert _state(producer) is TransactionState.COMMITTING
        with pytest.raises(IllegalStateError):
            await producer.abort_transaction()
        broker.on_request(None)
        await producer.commit_transaction()
        assert _state(producer) is TransactionState.READY
    assert [txn.result for _, txn in broker.transactions.ended] == [True]


async def test_close_aborts_what_is_open(broker: FakeBroker) -> None:
    producer = _producer(broker)
    await producer.start()
    producer.begin_transaction()
    sent = await producer.send("t", b"v", partition=0)
    await producer.flush()
    await producer.close()
    assert sent.done()
    assert [txn.result for _, txn in broker.transactions.ended] == [False]


async def test_fast_send_only_inside_a_transaction(broker: FakeBroker) -> None:
    """The C FastSend answers send() only while a transaction is open; outside one the
    Python send() refuses the record, through a ``send`` bound before too."""
    async with _producer(broker) as producer:
        send = producer.send  # bound outside a transaction: the FastSend, disabled
        assert (type(send).__name__ == "FastSend") is (speedups is not None)
        with pytest.raises(IllegalStateError):
            _ = send("t", b"v", key=b"k")
        producer.begin_transaction()
        if speedups is not None:
            assert send.enabled  # type: ignore[attr-defined]
            assert producer.send is send
        future = await send("t", b"v", key=b"k")
        await producer.commit_transaction()
        assert (await future).offset >= 0
        if speedups is not None:
            assert not send.enabled  # type: ignore[attr-defined]
        for refused in (send, producer.send):
            with pytest.raises(IllegalStateError):
                _ = refused("t", b"v", key=b"k")
    with pytest.raises(ProducerClosedError):
        _ = send("t", b"v", key=b"k")


async def test_async_with_aborts_when_the_commit_fails(broker: FakeBroker) -> None:
    broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [TransactionAbortableError])
    async with _producer(broker) as producer:
        with pytest.raises(AbortableTransactionError):
            async with producer.transaction():
                await producer.send("t", b"v", partition=0)
        assert _state(producer) is TransactionState.READY
    assert broker.received(ApiKey.END_TXN) == []  # nothing had joined: nothing to end


async def test_commit_waits_for_offsets_sent_by_another_task(broker: FakeBroker) -> None:
    broker.script(ApiKey.TXN_OFFSET_COMMIT, [Action(delay_ms=100)])
    async with _producer(broker) as producer:
        producer.begin_transaction()
        offsets = asyncio.ensure_future(producer.send_offsets_to_transaction({("in", 0): 3}, "g"))
        await asyncio.sleep(0.03)
        await producer.commit_transaction()
        assert offsets.done()
        await offsets
    assert broker.transactions.committed_offsets == {"g": {("in", 0): 3}}


async def test_lost_connections_to_the_coordinator_are_retried(broker: FakeBroker) -> None:
    broker.script(ApiKey.INIT_PRODUCER_ID, [ConcurrentTransactionsError, DROP])
    broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [DROP])
    broker.script(ApiKey.END_TXN, [DROP, Action(error=NotCoordinatorError)])
    async with _producer(broker) as producer, producer.transaction():
        await producer.send("t", b"v", partition=2)
    assert broker.unscripted() == {}
    assert [txn.result for _, txn in broker.transactions.ended] == [True]
    assert broker.values("t", 2) == [b"v"]


async def test_a_cancelled_commit_can_be_called_again(broker: FakeBroker) -> None:
    broker.script(ApiKey.END_TXN, [Action(delay_ms=200)])
    async with _producer(broker) as producer:
        producer.begin_transaction()
        await producer.send("t", b"v", partition=0)
        commit = asyncio.ensure_future(producer.commit_transaction())
        await asyncio.sleep(0.1)
        commit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await commit
        assert _state(producer) is TransactionState.COMMITTING
        with pytest.raises(IllegalStateError, match="committing"):
            _ = producer.send("t", b"v")
        await producer.commit_transaction()  # the coordinator answers a retry alike
        assert _state(producer) is TransactionState.READY
    assert [txn.result for _, txn in broker.transactions.ended] == [True]


async def test_transaction_calls_before_start_and_after_close(broker: FakeBroker) -> None:
    producer = _producer(broker)
    with pytest.raises(ProducerClosedError, match="before start"):
        producer.begin_transaction()
    await producer.start()
    await producer.close()
    with pytest.raises(ProducerClosedError, match="after close"):
        producer.begin_transaction()
    with pytest.raises(ProducerClosedError, match="after close"):
        await producer.commit_transaction()


# -- transaction version 2 (KIP-890 part 2) ----------------------------------------------------
@pytest.mark.parametrize("version", [None, 1, 2])
async def test_transaction_version_2_adds_by_produce_and_bumps_the_epoch(
    version: int | None,
) -> None:
    """At transaction.version 2 Produce v12+ adds the partitions (no AddPartitionsToTxn) and
    every EndTxn (v5) returns the next epoch, adopted with sequences from 0; otherwise
    (feature at 1, or no features at all) version 1 with one epoch throughout."""
    async with FakeBroker(transaction_version=version) as broker:
        broker.create_topic("t", partitions=3)
        async with _producer(broker) as producer:
            idempotence = producer._idempotence
            assert idempotence is not None
            epochs = [idempotence.epoch]
            for round_ in range(3):
                async with producer.transaction():
                    for p in range(3):
                        await producer.send("t", b"r%d-%d" % (round_, p), partition=p)
                    await producer.send_offsets_to_transaction({("in", 0): round_ + 1}, "g")
                epochs.append(idempotence.epoch)
            producer.begin_transaction()
            await producer.send("t", b"aborted", partition=0)
            await producer.flush()
            await producer.abort_transaction()
            epochs.append(idempotence.epoch)
            async with producer.transaction():
                await producer.send("t", b"last", partition=0)
        assert broker.unadded_batches == 0
        results = [txn.result for _, txn in broker.transactions.ended]
        assert results == [True, True, True, False, True]
        produce = {r.header.api_version for r in broker.received(ApiKey.PRODUCE)}
        end_txn = {r.header.api_version for r in broker.received(ApiKey.END_TXN)}
        if version == 2:
            assert epochs == [0, 1, 2, 3, 4]
            assert broker.received(ApiKey.ADD_PARTITIONS_TO_TXN) == []
            assert broker.received(ApiKey.ADD_OFFSETS_TO_TXN) == []
            assert min(produce) >= 12
            assert end_txn == {5}
            assert {r.header.api_version for r in broker.received(ApiKey.TXN_OFFSET_COMMIT)} == {5}
            # each epoch's sequences start at 0 on each partition
            (first, *_) = broker.records("t", 0)
            assert first.value == b"r0-0"
        else:
            assert epochs == [0] * 5
            assert len(broker.received(ApiKey.ADD_PARTITIONS_TO_TXN)) == 5
            assert len(broker.received(ApiKey.ADD_OFFSETS_TO_TXN)) == 3
            assert {r.header.api_version for r in broker.received(ApiKey.TXN_OFFSET_COMMIT)} == {4}
            assert max(produce) <= 11
            assert max(end_txn) <= 4
        values = [r.value for r in broker.records("t", 0)]
        assert values == [b"r0-0", b"r1-0", b"r2-0", b"aborted", b"last"]
        assert broker.transactions.committed_offsets == {"g": {("in", 0): 3}}


async def test_version_2_aborts_a_transaction_whose_records_never_left() -> None:
    """Version 2: the records were queued (the partition counts as added) but none reached
    the broker; the abort's EndTxn still goes, and Kafka accepts it (KIP-890)."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=1)
        async with _producer(broker, linger_ms=60_000) as producer:
            async with producer.transaction():
                await producer.send("t", b"kept", partition=0)
            producer.begin_transaction()
            future = await producer.send("t", b"aborted", partition=0)  # before its linger
            await producer.abort_transaction()
            assert isinstance(future.exception(), TransactionAbortedError)
            async with producer.transaction():
                await producer.send("t", b"after", partition=0)
        assert broker.values("t", 0) == [b"kept", b"after"]
        assert [r.header.api_version for r in broker.received(ApiKey.END_TXN)] == [5, 5, 5]


async def test_concurrent_transactions_on_the_first_add_is_retried_soon(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """Version 1: CONCURRENT_TRANSACTIONS on a transaction's first AddPartitionsToTxn is
    retried after 2, 4, 8, 16, 20 ms (Java: 20 ms each), not after retry_backoff_ms."""
    caplog.set_level(logging.DEBUG, logger="aioproducer.transactions")
    broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [ConcurrentTransactionsError] * 6)
    async with _producer(broker, retry_backoff_ms=100) as producer, producer.transaction():
        await producer.send("t", b"v", partition=0)
    waits = [
        int(m.group(1))
        for r in caplog.records
        if r.getMessage().startswith("AddPartitionsToTxn")
        and (m := re.search(r"retrying in (\d+) ms", r.getMessage()))
    ]
    assert waits == [2, 4, 8, 16, 20, 20]
    assert [txn.result for _, txn in broker.transactions.ended] == [True]


async def test_concurrent_transactions_on_produce_is_retried_soon() -> None:
    """Version 2: a Produce answered CONCURRENT_TRANSACTIONS (the leader gave up waiting for
    the previous transaction's markers) is retried after 20 ms, not retry_backoff_ms."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=1)
        broker.script_produce("t", 0, [ConcurrentTransactionsError])
        async with _producer(broker, retry_backoff_ms=1000, retry_backoff_max_ms=1000) as producer:
            accumulator = producer._accumulator
            assert accumulator is not None
            waits: list[int] = []
            reenqueue = accumulator.reenqueue

            def recorded(batch: Any, now_ms: int, backoff_ms: int | None = None) -> None:
                reenqueue(batch, now_ms, backoff_ms)
                waits.append(batch.retry_at_ms - now_ms)

            accumulator.reenqueue = recorded  # type: ignore[method-assign]
            async with producer.transaction():
                await producer.send("t", b"v", partition=0)
        assert waits == [20]
        assert broker.values("t", 0) == [b"v"]
        assert broker.unscripted() == {}


# -- version 2: a transaction's batches wait for the previous one's markers ------------------
def _between_ends(broker: FakeBroker) -> list[list[str]]:
    """The Produce and DescribeTransactions requests between EndTxns, in order."""
    names: dict[int, str] = {ApiKey.PRODUCE: "produce", ApiKey.DESCRIBE_TRANSACTIONS: "describe"}
    rounds: list[list[str]] = [[]]
    for r in broker.requests:
        if r.api_key == ApiKey.END_TXN:
            rounds.append([])
        elif r.api_key in names:
            rounds[-1].append(names[r.api_key])
    return rounds


def _describes_then_produce(names: list[str]) -> int:
    """How many describes came before the first Produce (none after it)."""
    first = names.index("produce")
    assert "describe" not in names[first:]
    assert set(names[:first]) <= {"describe"}
    return first


async def test_version_2_waits_for_the_markers() -> None:
    """Version 2: after EndTxn the next transaction's batches wait until DescribeTransactions
    no longer says PrepareCommit (asked every ms), so no Produce waits in the broker for the
    markers; the first transaction has no markers to wait for."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=2)
        broker.transactions.markers_describes = 3
        async with _producer(broker) as producer:
            for round_ in range(3):
                async with producer.transaction():
                    for p in range(2):
                        await producer.send("t", b"r%d" % round_, partition=p)
        first, *later, last = _between_ends(broker)
        assert _describes_then_produce(first) == 0
        assert [_describes_then_produce(names) for names in later] == [4, 4]
        assert last == []
        assert broker.values("t", 1) == [b"r0", b"r1", b"r2"]
        assert [txn.result for _, txn in broker.transactions.ended] == [True] * 3


@pytest.mark.parametrize(
    ("answer", "asked_again"),
    [(TransactionalIdAuthorizationFailedError, False), (DROP, True)],
    ids=["not-authorized", "connection-dropped"],
)
async def test_version_2_sends_at_once_if_describing_fails(answer: Any, asked_again: bool) -> None:
    """A DescribeTransactions that fails lets the batches go at once; not authorized to
    describe the id, the producer stops asking."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=1)
        broker.transactions.markers_describes = 2
        broker.script(ApiKey.DESCRIBE_TRANSACTIONS, [answer])
        async with _producer(broker) as producer:
            for round_ in range(3):
                async with producer.transaction():
                    await producer.send("t", b"r%d" % round_, partition=0)
        _, second, third, _ = _between_ends(broker)
        assert _describes_then_produce(second) == 1
        assert _describes_then_produce(third) == (3 if asked_again else 0)
        assert broker.values("t", 0) == [b"r0", b"r1", b"r2"]


async def test_version_2_stops_waiting_for_markers_after_100_ms() -> None:
    """Markers that never finish hold the batches 100 ms at most; then they go (the broker
    answers whatever it does, as without the wait)."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=1)
        broker.transactions.markers_describes = 1_000_000
        async with _producer(broker) as producer:
            async with producer.transaction():
                await producer.send("t", b"a", partition=0)
            loop = asyncio.get_running_loop()
            began = loop.time()
            async with producer.transaction():
                await producer.send("t", b"b", partition=0)
            assert 0.09 <= loop.time() - began < 2
        assert broker.values("t", 0) == [b"a", b"b"]


@pytest.fixture
async def endless_markers() -> AsyncIterator[FakeBroker]:
    """Transaction version 2, and markers that are never written."""
    async with FakeBroker(transaction_version=2) as fake:
        fake.create_topic("t", partitions=1)
        fake.transactions.markers_describes = 1_000_000
        yield fake


async def _held_by_markers(producer: Producer) -> tuple[asyncio.Future[Any], asyncio.Task[None]]:
    """A transaction committed, then a record of the next one held while the producer asks
    whether the first one's markers are written: (its future, the task asking)."""
    async with producer.transaction():
        await producer.send("t", b"a", partition=0)
    producer.begin_transaction()
    future = await producer.send("t", b"b", partition=0)
    await asyncio.sleep(0.02)
    assert producer._txn is not None
    probe = producer._txn._markers_probe
    assert probe is not None
    assert not probe.done()
    assert not future.done()
    return future, probe


async def test_close_while_waiting_for_markers(endless_markers: FakeBroker) -> None:
    """close() during the wait aborts the transaction at once: its record fails, close()
    returns, and nothing is left running."""
    producer = _producer(endless_markers)
    await producer.start()
    future, probe = await _held_by_markers(producer)
    await asyncio.wait_for(producer.close(), 1)
    assert isinstance(future.exception(), TransactionAbortedError)
    assert probe.done()
    assert endless_markers.values("t", 0) == [b"a"]
    ends = endless_markers.received(ApiKey.END_TXN)
    assert [r.request.committed for r in ends] == [True, False]  # type: ignore[attr-defined]


async def test_markers_wait_cancelled_lets_the_batches_go(endless_markers: FakeBroker) -> None:
    """The waiting task cancelled (every task cancelled at shutdown) lets the batches go."""
    async with _producer(endless_markers) as producer:
        future, probe = await _held_by_markers(producer)
        probe.cancel()
        await producer.commit_transaction()
        assert (await future).offset == 1
    assert endless_markers.values("t", 0) == [b"a", b"b"]


async def test_an_abort_during_the_wait_leaves_the_next_one_waiting() -> None:
    """Aborted while it asks (the DescribeTransactions answer slow), a transaction's EndTxn
    comes before the asking ends: the next transaction still waits for the abort's
    markers (one describe before its Produce), the old asking does not let it go."""
    async with FakeBroker(transaction_version=2) as broker:
        broker.create_topic("t", partitions=1)
        broker.transactions.markers_describes = 1
        broker.script(ApiKey.DESCRIBE_TRANSACTIONS, [Action(delay_ms=50)])
        async with _producer(broker) as producer:
            async with producer.transaction():
                await producer.send("t", b"a", partition=0)
            producer.begin_transaction()
            future = await producer.send("t", b"aborted", partition=0)
            await asyncio.sleep(0.02)  # the describe is on its way
            await producer.abort_transaction()
            assert isinstance(future.exception(), TransactionAbortedError)
            await asyncio.sleep(0.01)  # the old asking ends, between transactions
            async with producer.transaction():
                await producer.send("t", b"c", partition=0)
        _, second, third, last = _between_ends(broker)
        assert second == ["describe"]  # no Produce: aborted while held
        assert _describes_then_produce(third) == 1
        assert last == []
        assert broker.values("t", 0) == [b"a", b"c"]


@pytest.mark.parametrize("where", ["add", "produce", "end"])
async def test_invalid_producer_id_mapping_is_fatal(where: str) -> None:
    """INVALID_PRODUCER_ID_MAPPING (the coordinator no longer maps our producer id to the
    transactional id) leaves only close(), as in Java since KAFKA-18019: recovering with a
    new producer id could repeat what a newer producer of the id already did."""
    async with FakeBroker(transaction_version=2 if where == "produce" else 1) as broker:
        broker.create_topic("t", partitions=1)
        if where == "add":
            broker.script(ApiKey.ADD_PARTITIONS_TO_TXN, [InvalidProducerIdMappingError])
        elif where == "produce":
            broker.script_produce("t", 0, [InvalidProducerIdMappingError])
        else:
            broker.script(ApiKey.END_TXN, [InvalidProducerIdMappingError])
        async with _producer(broker) as producer:
            producer.begin_transaction()
            future = await producer.send("t", b"v", partition=0)
            with pytest.raises(InvalidProducerIdMappingError):
                await producer.commit_transaction()
            assert _state(producer) is TransactionState.FATAL_ERROR
            assert future.done()
            with pytest.raises(InvalidProducerIdMappingError):
                producer.begin_transaction()
            with pytest.raises(InvalidProducerIdMappingError):
                await producer.abort_transaction()
        assert [txn.result for _, txn in broker.transactions.ended] == []
