"""The fake broker itself: a partition log's checks, and each node as a client sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aioproducer
from aioproducer import Producer
from aioproducer._connection import BrokerConnection
from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest
from aioproducer._protocol.messages.metadata import MetadataRequest, MetadataResponse
from aioproducer._protocol.messages.produce import (
    LeaderIdAndEpoch,
    NodeEndpoint,
    ProduceRequest,
    ProduceResponse,
)
from aioproducer._protocol.records import RecordBatchBuilder
from aioproducer.errors import ConnectionLostError, CoordinatorNotAvailableError
from aioproducer.testing import FakeBroker
from aioproducer.testing._fake_log import PartitionLog
from aioproducer.testing.fake_broker import HANG, Action

NO_FENCE: dict[int, int] = {}


def batch(pid: int = 7, epoch: int = 0, seq: int = 0, count: int = 1, size: int = 1) -> bytes:
    builder = RecordBatchBuilder(batch_size=1 << 20)
    for i in range(count):
        builder.append(1000 + i, None, b"v" * size, ())
    return builder.build(pid, epoch, seq)


def test_a_partition_log_checks_sequences_as_a_broker_does() -> None:
    log = PartitionLog(leader=1)
    assert log.append(batch(seq=0, count=2), NO_FENCE) == (0, 0)
    assert log.append(batch(seq=0, count=2), NO_FENCE) == (0, 0)  # duplicate: first offset
    assert log.append(batch(seq=5), NO_FENCE) == (45, -1)  # a gap
    assert log.append(batch(seq=2), NO_FENCE) == (0, 2)
    assert log.append(batch(epoch=1, seq=3), NO_FENCE) == (45, -1)  # new epoch starts at 0
    assert log.append(batch(epoch=1, seq=0), NO_FENCE) == (0, 3)
    assert log.append(batch(epoch=0, seq=3), NO_FENCE) == (47, -1)  # an older epoch
    assert log.append(batch(pid=8, seq=1234), NO_FENCE) == (0, 4)  # unknown: any sequence
    assert log.append(batch(pid=-1, epoch=-1, seq=-1), NO_FENCE) == (0, 5)  # not idempotent
    assert log.append(batch(epoch=1, seq=1), {7: 90}) == (90, -1)
    assert [b.base_offset for b in log.batches] == [0, 2, 3, 4, 5]
    assert [r.offset for r in log.records] == [0, 1, 2, 3, 4, 5]
    assert log.end_offset == 6


def test_a_partition_log_remembers_five_batches_per_producer() -> None:
    log = PartitionLog(leader=1)
    for seq in range(6):
        assert log.append(batch(seq=seq), NO_FENCE) == (0, seq)
    assert log.append(batch(seq=1), NO_FENCE) == (0, 1)  # one of the last five
    assert log.append(batch(seq=0), NO_FENCE) == (45, -1)  # too old to be recognised
    assert len(log.batches) == 6


def test_a_partition_log_refuses_bad_records() -> None:
    log = PartitionLog(leader=1, max_message_bytes=200)
    good = batch()
    corrupt = bytearray(good)
    corrupt[-1] ^= 1
    assert log.append(batch(size=300), NO_FENCE) == (10, -1)  # MESSAGE_TOO_LARGE
    assert log.append(bytes(corrupt), NO_FENCE) == (2, -1)  # CORRUPT_MESSAGE (CRC)
    assert log.append(good + batch(seq=1), NO_FENCE) == (87, -1)  # INVALID_RECORD: two
    assert log.append(None, NO_FENCE) == (87, -1)
    assert log.batches == []


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with asyncio.timeout(5), FakeBroker(nodes=2) as fake:
        fake.create_topic("t", partitions=2)  # leaders 1, 2
        yield fake


async def connect(broker: FakeBroker, node_id: int) -> BrokerConnection:
    conn = BrokerConnection("127.0.0.1", broker.port(node_id), node_id=node_id)
    await conn.connect(1.0)
    return conn


async def request(conn: BrokerConnection, req: Any) -> Any:
    return await conn.request(req)


async def test_a_node_refuses_a_partition_it_does_not_lead(broker: FakeBroker) -> None:
    conn = await connect(broker, 2)
    try:
        produce = ProduceRequest(
            -1, 1000, [("t", [(0, batch())])], topic_ids=[broker.topic_id("t")]
        )
        response = await request(conn, produce)  # v13: the topic named by its id
    finally:
        conn.close()
    assert isinstance(response, ProduceResponse)
    [(_, part)] = list(response.iter_partitions())
    assert part.error_code == 6  # NOT_LEADER_OR_FOLLOWER, with the leader (KIP-951)
    assert part.current_leader == LeaderIdAndEpoch(1, 0)
    assert response.node_endpoints == (NodeEndpoint(1, "127.0.0.1", broker.port(1), None),)
    assert broker.values("t", 0) == []


async def test_metadata_lists_nodes_topics_and_leaders(broker: FakeBroker) -> None:
    broker.set_leader("t", 1, -1)
    conn = await connect(broker, 1)
    try:
        response = await request(conn, MetadataRequest(["t", "absent"]))
        everything = await request(conn, MetadataRequest(None))
    finally:
        conn.close()
    assert isinstance(response, MetadataResponse)
    assert [(b.node_id, b.port) for b in response.brokers] == [
        (1, broker.port(1)),
        (2, broker.port(2)),
    ]
    topic, absent = response.topics
    assert [(p.error_code, p.leader_id, p.leader_epoch) for p in topic.partitions] == [
        (0, 1, 0),
        (5, -1, 1),  # LEADER_NOT_AVAILABLE, the epoch bumped by the move
    ]
    assert (absent.error_code, absent.partitions) == (3, ())
    assert [t.name for t in everything.topics] == ["t"]


async def test_acks_zero_is_written_and_not_answered(broker: FakeBroker) -> None:
    conn = await connect(broker, 1)
    try:
        assert conn.send(ProduceRequest(0, 1000, [("t", [(0, batch())])]), 12) is None
        await request(conn, MetadataRequest(["t"]))  # answered after the Produce was handled
    finally:
        conn.close()
    assert broker.values("t", 0) == [b"v"]
    assert broker.received(ApiKey.PRODUCE)[0].answered_at is None


async def test_a_delayed_answer_keeps_the_connections_order(broker: FakeBroker) -> None:
    broker.script(ApiKey.METADATA, [Action(delay_ms=50)])
    conn = await connect(broker, 1)
    try:
        first = conn.send(MetadataRequest(["t"]))
        second = conn.send(MetadataRequest(["t"]))
        assert first is not None
        assert second is not None
        await asyncio.gather(first, second)
    finally:
        conn.close()
    slow, fast = broker.received(ApiKey.METADATA)
    assert slow.answered_at is not None
    assert fast.answered_at is not None
    # as the broker computes it: (t + d) - t can come out a hair under d in floats
    assert slow.answered_at >= slow.received_at + 0.05
    assert fast.answered_at >= slow.answered_at


async def test_a_throttled_connection_flags_requests_sent_meanwhile(broker: FakeBroker) -> None:
    broker.script(ApiKey.METADATA, [Action(throttle_ms=200)])
    conn = await connect(broker, 1)
    try:
        answer = await request(conn, MetadataRequest(["t"]))
        await request(conn, MetadataRequest(["t"]))  # a client ignoring the throttle
    finally:
        conn.close()
    assert answer.throttle_time_ms == 200
    assert [r.throttled for r in broker.received(ApiKey.METADATA)] == [False, True]


async def test_close_ends_a_hung_connection(broker: FakeBroker) -> None:
    broker.script(ApiKey.METADATA, [HANG])
    conn = await connect(broker, 1)
    pending = conn.send(MetadataRequest(["t"]))
    assert pending is not None
    await asyncio.sleep(0.01)
    await broker.close()
    with pytest.raises(ConnectionLostError):
        await pending
    conn.close()
    await broker.close()  # twice is fine


async def test_a_failing_hook_closes_the_connection_and_close_raises_it() -> None:
    def hook(received: Any) -> Action | None:
        if received.api_key == ApiKey.METADATA:
            raise RuntimeError("a bug in the test's hook")
        return None

    broker = FakeBroker()
    await broker.start()
    broker.on_request(hook)
    conn = await connect(broker, 1)
    with pytest.raises(ConnectionLostError):
        await request(conn, MetadataRequest(None))
    conn.close()
    with pytest.raises(RuntimeError, match="a bug in the test's hook"):
        await broker.close()


async def test_narrowed_api_versions_are_negotiated() -> None:
    versions: dict[int, tuple[int, int]] = {ApiKey.API_VERSIONS: (0, 2), ApiKey.METADATA: (0, 4)}
    async with asyncio.timeout(5), FakeBroker(api_versions=versions) as broker:
        conn = await connect(broker, 1)  # v4 refused with UNSUPPORTED_VERSION, then v2
        try:
            assert conn.version_for(MetadataRequest) == 4
            await request(conn, MetadataRequest(None))
        finally:
            conn.close()
        assert [r.header.api_version for r in broker.received(ApiKey.API_VERSIONS)] == [4, 2]


async def test_a_producer_retries_a_scripted_init_producer_id_error() -> None:
    async with asyncio.timeout(5), FakeBroker() as broker:
        broker.create_topic("t")
        broker.script(ApiKey.INIT_PRODUCER_ID, [CoordinatorNotAvailableError])
        options: dict[str, Any] = {"retry_backoff_ms": 5, "linger_ms": 0}
        async with Producer(bootstrap_servers=broker.bootstrap_servers, **options) as p:
            await p.send_and_wait("t", b"v")
        assert len(broker.received(ApiKey.INIT_PRODUCER_ID)) == 2
        assert broker.unscripted() == {}
        assert broker.batches("t", 0)[0].producer_id == 1000


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda b: b.create_topic("t"), ValueError),  # exists
        (lambda b: b.create_topic("u", 2, leaders=[1]), ValueError),
        (lambda b: b.create_topic("u", leaders=[3]), ValueError),
        (lambda b: b.create_topic("u", 0), ValueError),
        (lambda b: b.set_leader("t", 2, 1), ValueError),
        (lambda b: b.set_leader("t", 0, 9), ValueError),
        (lambda b: b.script_produce("nope", 0, []), ValueError),
        (lambda b: b.script(ApiKey.DESCRIBE_PRODUCERS, []), ValueError),
        (lambda b: b.script(ApiKey.METADATA, ["x"]), TypeError),
        (lambda b: b.fence_producer(), ValueError),  # no producer id given out yet
        (lambda b: Action(throttle_ms=-1), ValueError),
        (lambda b: Action(error=1 << 15), ValueError),
        (lambda b: Action(then="later"), ValueError),  # type: ignore[arg-type]
        (lambda b: FakeBroker(0), ValueError),
        (lambda b: FakeBroker(True), ValueError),
        (lambda b: FakeBroker(api_versions={ApiKey.PRODUCE: (0, 11)}), ValueError),
        (lambda b: FakeBroker(api_versions={ApiKey.DESCRIBE_PRODUCERS: (0, 0)}), ValueError),
    ],
)
async def test_misuse_is_refused_at_the_call(
    broker: FakeBroker, call: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        call(broker)
    with pytest.raises(RuntimeError):
        await broker.start()


async def test_the_client_names_its_version_in_api_versions(broker: FakeBroker) -> None:
    conn = await connect(broker, 1)
    conn.close()
    [received] = [r for r in broker.requests if r.header.api_key == ApiKey.API_VERSIONS]
    request = received.request
    assert isinstance(request, ApiVersionsRequest)
    assert (request.client_software_name, request.client_software_version) == (
        "aioproducer",
        aioproducer.__version__,
    )
