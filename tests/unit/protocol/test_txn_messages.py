"""Transaction codecs against independent implementations.

Golden bytes come from kafka-python 3.x (``kafka.protocol``: schema-driven, every version;
``kafka.protocol.old``: hand-written structs, v0-2) and aiokafka (hand-written, v0-1). Requests
must encode to their bytes; responses they encode must decode to the expected object, whole,
with trailing bytes, and refusing every truncation. Hypothesis round-trips every version
through kafka-python in the opposite direction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._protocol.api import negotiate
from aioproducer._protocol.messages.add_offsets_to_txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
)
from aioproducer._protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnBatchRequest,
    AddPartitionsToTxnPartitionResult,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    AddPartitionsToTxnResult,
    AddPartitionsToTxnTransaction,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.find_coordinator import (
    Coordinator,
    CoordinatorType,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.txn_offset_commit import (
    TxnOffset,
    TxnOffsetCommitPartitionResult,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from aioproducer.errors import ProtocolError, UnsupportedVersionError

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from aiokafka.protocol import coordination as aio_coord
    from aiokafka.protocol import transaction as aio_txn
    from kafka.protocol.metadata.find_coordinator import (
        FindCoordinatorRequest as KFindCoordinatorRequest,
    )
    from kafka.protocol.metadata.find_coordinator import (
        FindCoordinatorResponse as KFindCoordinatorResponse,
    )
    from kafka.protocol.old import add_offsets_to_txn as old_add_offsets
    from kafka.protocol.old import add_partitions_to_txn as old_add_partitions
    from kafka.protocol.old import end_txn as old_end_txn
    from kafka.protocol.old import find_coordinator as old_find_coordinator
    from kafka.protocol.old import txn_offset_commit as old_txn_offset_commit
    from kafka.protocol.producer import transaction as kp

T = TypeVar("T")

int16s = st.integers(-(2**15), 2**15 - 1)
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
names = st.text(max_size=12)
opt_names = st.none() | names


def check_decode(decode: Callable[[memoryview, int], T], body: bytes, version: int) -> T:
    """Decode ``body`` whole and with trailing bytes; every strict prefix must be refused."""
    result = decode(memoryview(body), version)
    assert decode(memoryview(body + b"\x00\x01trailing"), version) == result
    for cut in range(len(body)):
        with pytest.raises(ProtocolError):
            decode(memoryview(body[:cut]), version)
    return result


def check_decode_quick(decode: Callable[[memoryview, int], T], body: bytes, version: int) -> T:
    result = decode(memoryview(body), version)
    assert decode(memoryview(body + b"\xff"), version) == result
    return result


def partitions_by_topic() -> st.SearchStrategy[dict[str, list[int]]]:
    return st.dictionaries(names, st.lists(int32s, max_size=4), max_size=3)


# -- FindCoordinator -----------------------------------------------------------------------


def kp_find_coordinator_request(keys: list[str], key_type: int, version: int) -> bytes:
    if version <= 3:
        req = KFindCoordinatorRequest(key=keys[0], key_type=key_type)
    else:
        req = KFindCoordinatorRequest(key_type=key_type, coordinator_keys=keys)
    result: bytes = req.encode(version=version)
    return result


def kp_find_coordinator_response(resp: FindCoordinatorResponse, version: int) -> bytes:
    if version <= 3:
        (c,) = resp.coordinators
        out = KFindCoordinatorResponse(
            throttle_time_ms=resp.throttle_time_ms,
            error_code=c.error_code,
            error_message=c.error_message,
            node_id=c.node_id,
            host=c.host,
            port=c.port,
        )
    else:
        kc = KFindCoordinatorResponse.Coordinator
        out = KFindCoordinatorResponse(
            throttle_time_ms=resp.throttle_time_ms,
            coordinators=[
                kc(
                    key=c.key,
                    node_id=c.node_id,
                    host=c.host,
                    port=c.port,
                    error_code=c.error_code,
                    error_message=c.error_message,
                )
                for c in resp.coordinators
            ],
        )
    result: bytes = out.encode(version=version)
    return result


@pytest.mark.parametrize("version", range(7))
def test_find_coordinator_request_matches_kafka_python(version: int) -> None:
    key_type = CoordinatorType.GROUP if version == 0 else CoordinatorType.TRANSACTION
    keys = ["my-txn"] if version <= 3 else ["my-txn", "other", "ünïcode"]
    ours = FindCoordinatorRequest(keys, key_type).encode(version)
    assert ours == kp_find_coordinator_request(keys, key_type, version)


@pytest.mark.parametrize("version", range(3))
def test_find_coordinator_request_matches_hand_written_structs(version: int) -> None:
    key_type = 0 if version == 0 else 1
    ours = FindCoordinatorRequest(["my-txn"], key_type).encode(version)
    args = ("my-txn",) if version == 0 else ("my-txn", key_type)
    assert ours == old_find_coordinator.FindCoordinatorRequest[version](*args).encode()
    if version <= 1:
        aio_cls = (aio_coord.FindCoordinatorRequest_v0, aio_coord.FindCoordinatorRequest_v1)
        assert ours == aio_cls[version](*args).encode()


@pytest.mark.parametrize("version", range(7))
def test_find_coordinator_response_from_kafka_python(version: int) -> None:
    if version <= 3:
        msg = "loading" if version >= 1 else None
        coordinators: tuple[Coordinator, ...] = (Coordinator(None, 3, "b3.local", 9093, 14, msg),)
    else:
        coordinators = (
            Coordinator("my-txn", 3, "b3.local", 9093, 0, None),
            Coordinator("other", -1, "", -1, 15, "not available"),
        )
    expected = FindCoordinatorResponse(7 if version >= 1 else 0, coordinators)
    body = kp_find_coordinator_response(expected, version)
    assert check_decode(FindCoordinatorRequest.decode_response, body, version) == expected


def test_find_coordinator_response_from_hand_written_structs() -> None:
    body = old_find_coordinator.FindCoordinatorResponse[1](5, 0, None, 2, "h", 9092).encode()
    assert check_decode(FindCoordinatorRequest.decode_response, body, 1) == (
        FindCoordinatorResponse(5, (Coordinator(None, 2, "h", 9092, 0, None),))
    )
    body = aio_coord.FindCoordinatorResponse_v0(15, -1, "", -1).encode()
    assert check_decode(FindCoordinatorRequest.decode_response, body, 0) == (
        FindCoordinatorResponse(0, (Coordinator(None, -1, "", -1, 15, None),))
    )


@pytest.mark.parametrize(
    ("request_", "version"),
    [
        (FindCoordinatorRequest(["a", "b"]), 3),
        (FindCoordinatorRequest([]), 0),
        (FindCoordinatorRequest(["t"], CoordinatorType.TRANSACTION), 0),
        (FindCoordinatorRequest(["g:t:0"], CoordinatorType.SHARE), 5),
        (FindCoordinatorRequest(["t"], 9), 5),  # unknown types only from v6
    ],
)
def test_find_coordinator_refuses_what_the_version_cannot_say(
    request_: FindCoordinatorRequest, version: int
) -> None:
    with pytest.raises(UnsupportedVersionError):
        request_.encode(version)


def test_find_coordinator_share_key_from_v6() -> None:
    ours = FindCoordinatorRequest(["g:t:0"], CoordinatorType.SHARE).encode(6)
    assert ours == kp_find_coordinator_request(["g:t:0"], 2, 6)


@st.composite
def find_coordinator_cases(draw: st.DrawFn) -> tuple[int, list[str], int]:
    version = draw(st.integers(0, 6))
    keys = draw(st.lists(names, min_size=1, max_size=1 if version <= 3 else 4))
    key_type = 0 if version == 0 else draw(st.sampled_from([0, 1] + ([2] if version >= 6 else [])))
    return version, keys, key_type


@given(find_coordinator_cases())
def test_find_coordinator_request_round_trips(case: tuple[int, list[str], int]) -> None:
    version, keys, key_type = case
    decoded = KFindCoordinatorRequest.decode(
        FindCoordinatorRequest(keys, key_type).encode(version), version=version
    )
    assert (decoded.coordinator_keys if version >= 4 else [decoded.key]) == keys
    assert decoded.key_type == (key_type if version >= 1 else 0)


@st.composite
def find_coordinator_responses(draw: st.DrawFn) -> tuple[int, FindCoordinatorResponse]:
    version = draw(st.integers(0, 6))

    def coordinator(key: str | None) -> Coordinator:
        message = draw(opt_names) if version >= 1 else None
        return Coordinator(key, draw(int32s), draw(names), draw(int32s), draw(int16s), message)

    if version <= 3:
        coordinators: tuple[Coordinator, ...] = (coordinator(None),)
    else:
        coordinators = tuple(coordinator(k) for k in draw(st.lists(names, max_size=3)))
    throttle = draw(int32s) if version >= 1 else 0
    return version, FindCoordinatorResponse(throttle, coordinators)


@given(find_coordinator_responses())
def test_find_coordinator_response_round_trips(case: tuple[int, FindCoordinatorResponse]) -> None:
    version, expected = case
    body = kp_find_coordinator_response(expected, version)
    assert check_decode_quick(FindCoordinatorRequest.decode_response, body, version) == expected


# -- AddPartitionsToTxn ----------------------------------------------------------------------

KTopic = kp.AddPartitionsToTxnRequest.AddPartitionsToTxnTopic
KTxn = kp.AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction
KTopicResult = kp.AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
KPartitionResult = KTopicResult.AddPartitionsToTxnPartitionResult
KTxnResult = kp.AddPartitionsToTxnResponse.AddPartitionsToTxnResult


def kp_topics(topics: dict[str, list[int]]) -> list[Any]:
    return [KTopic(name=n, partitions=list(p)) for n, p in topics.items()]


def kp_topic_results(partitions: tuple[AddPartitionsToTxnPartitionResult, ...]) -> list[Any]:
    grouped: list[tuple[str, list[Any]]] = []
    for p in partitions:
        if not grouped or grouped[-1][0] != p.topic:
            grouped.append((p.topic, []))
        grouped[-1][1].append(
            KPartitionResult(partition_index=p.partition, partition_error_code=p.error_code)
        )
    return [KTopicResult(name=n, results_by_partition=r) for n, r in grouped]


def kp_add_partitions_response(resp: AddPartitionsToTxnResponse, version: int) -> bytes:
    if version <= 3:
        (only,) = resp.results
        out = kp.AddPartitionsToTxnResponse(
            throttle_time_ms=resp.throttle_time_ms,
            results_by_topic_v3_and_below=kp_topic_results(only.partitions),
        )
    else:
        out = kp.AddPartitionsToTxnResponse(
            throttle_time_ms=resp.throttle_time_ms,
            error_code=resp.error_code,
            results_by_transaction=[
                KTxnResult(
                    transactional_id=t.transactional_id,
                    topic_results=kp_topic_results(t.partitions),
                )
                for t in resp.results
            ],
        )
    result: bytes = out.encode(version=version)
    return result


TOPICS = {"orders": [0, 5, 2], "payments": [], "ünïcode": [7]}


@pytest.mark.parametrize("version", range(4))
def test_add_partitions_client_request_matches_kafka_python(version: int) -> None:
    ours = AddPartitionsToTxnRequest("txn-1", 4242, 7, TOPICS).encode(version)
    theirs = kp.AddPartitionsToTxnRequest(
        v3_and_below_transactional_id="txn-1",
        v3_and_below_producer_id=4242,
        v3_and_below_producer_epoch=7,
        v3_and_below_topics=kp_topics(TOPICS),
    ).encode(version=version)
    assert ours == theirs
    if version <= 2:
        args = ("txn-1", 4242, 7, list(TOPICS.items()))
        assert ours == old_add_partitions.AddPartitionsToTxnRequest[version](*args).encode()
    if version == 0:
        assert ours == aio_txn.AddPartitionsToTxnRequest_v0(*args).encode()


@pytest.mark.parametrize("version", [4, 5])
def test_add_partitions_batch_request_matches_kafka_python(version: int) -> None:
    txns = [
        AddPartitionsToTxnTransaction("a", 1, 0, TOPICS),
        AddPartitionsToTxnTransaction("b", 2, 3, {"x": [1]}, verify_only=True),
    ]
    ours = AddPartitionsToTxnBatchRequest(txns).encode(version)
    theirs = kp.AddPartitionsToTxnRequest(
        transactions=[
            KTxn(
                transactional_id=t.transactional_id,
                producer_id=t.producer_id,
                producer_epoch=t.producer_epoch,
                verify_only=t.verify_only,
                topics=kp_topics({k: list(v) for k, v in t.topics.items()}),
            )
            for t in txns
        ]
    ).encode(version=version)
    assert ours == theirs


def test_add_partitions_client_form_never_negotiates_the_broker_form() -> None:
    assert negotiate(AddPartitionsToTxnRequest, 0, 5) == 3
    assert negotiate(AddPartitionsToTxnBatchRequest, 0, 5) == 5
    with pytest.raises(ValueError, match=r"versions 0\.\.3"):
        AddPartitionsToTxnRequest("t", 1, 0, {}).encode(4)


P = AddPartitionsToTxnPartitionResult


@pytest.mark.parametrize("version", range(6))
def test_add_partitions_response_from_kafka_python(version: int) -> None:
    parts = (P("orders", 0, 0), P("orders", 5, 48), P("payments", 1, 90))
    if version <= 3:
        expected = AddPartitionsToTxnResponse(12, 0, (AddPartitionsToTxnResult(None, parts),))
    else:
        expected = AddPartitionsToTxnResponse(
            12,
            51,
            (AddPartitionsToTxnResult("a", parts), AddPartitionsToTxnResult("b", ())),
        )
    body = kp_add_partitions_response(expected, version)
    decode = AddPartitionsToTxnRequest if version <= 3 else AddPartitionsToTxnBatchRequest
    assert check_decode(decode.decode_response, body, version) == expected


@pytest.mark.parametrize("version", range(3))
def test_add_partitions_response_from_hand_written_structs(version: int) -> None:
    fields = (3, [("orders", [(0, 0), (5, 48)])])
    body = old_add_partitions.AddPartitionsToTxnResponse[version](*fields).encode()
    expected = AddPartitionsToTxnResponse(
        3, 0, (AddPartitionsToTxnResult(None, (P("orders", 0, 0), P("orders", 5, 48))),)
    )
    assert check_decode(AddPartitionsToTxnRequest.decode_response, body, version) == expected
    if version == 0:
        body = aio_txn.AddPartitionsToTxnResponse_v0(*fields).encode()
        assert check_decode(AddPartitionsToTxnRequest.decode_response, body, 0) == expected


@given(st.integers(0, 3), names, int64s, int16s, partitions_by_topic())
def test_add_partitions_client_request_round_trips(
    version: int, txn: str, pid: int, epoch: int, topics: dict[str, list[int]]
) -> None:
    body = AddPartitionsToTxnRequest(txn, pid, epoch, topics).encode(version)
    d = kp.AddPartitionsToTxnRequest.decode(body, version=version)
    assert (d.v3_and_below_transactional_id, d.v3_and_below_producer_id) == (txn, pid)
    assert d.v3_and_below_producer_epoch == epoch
    assert {t.name: list(t.partitions) for t in d.v3_and_below_topics} == topics


transactions = st.builds(
    AddPartitionsToTxnTransaction, names, int64s, int16s, partitions_by_topic(), st.booleans()
)


@given(st.integers(4, 5), st.lists(transactions, max_size=3))
def test_add_partitions_batch_request_round_trips(
    version: int, txns: list[AddPartitionsToTxnTransaction]
) -> None:
    d = kp.AddPartitionsToTxnRequest.decode(
        AddPartitionsToTxnBatchRequest(txns).encode(version), version=version
    )
    decoded = [
        AddPartitionsToTxnTransaction(
            t.transactional_id,
            t.producer_id,
            t.producer_epoch,
            {x.name: list(x.partitions) for x in t.topics},
            t.verify_only,
        )
        for t in d.transactions
    ]
    assert decoded == txns


partition_results = st.lists(st.builds(P, names, int32s, int16s), max_size=5).map(tuple)


@st.composite
def add_partitions_responses(draw: st.DrawFn) -> tuple[int, AddPartitionsToTxnResponse]:
    version = draw(st.integers(0, 5))
    if version <= 3:
        results: tuple[AddPartitionsToTxnResult, ...] = (
            AddPartitionsToTxnResult(None, draw(partition_results)),
        )
        return version, AddPartitionsToTxnResponse(draw(int32s), 0, results)
    results = tuple(
        draw(st.lists(st.builds(AddPartitionsToTxnResult, names, partition_results), max_size=3))
    )
    return version, AddPartitionsToTxnResponse(draw(int32s), draw(int16s), results)


@given(add_partitions_responses())
def test_add_partitions_response_round_trips(case: tuple[int, AddPartitionsToTxnResponse]) -> None:
    version, expected = case
    body = kp_add_partitions_response(expected, version)
    decode = AddPartitionsToTxnRequest if version <= 3 else AddPartitionsToTxnBatchRequest
    got = check_decode_quick(decode.decode_response, body, version)
    # kafka-python's encoder and ours group consecutive partitions of a topic identically,
    # so the flat tuple comes back in the same order.
    assert got == expected


# -- AddOffsetsToTxn and EndTxn ----------------------------------------------------------------


@pytest.mark.parametrize("version", range(5))
def test_add_offsets_request_and_response_match_kafka_python(version: int) -> None:
    ours = AddOffsetsToTxnRequest("txn-1", 99, 2, "group-ü").encode(version)
    assert ours == kp.AddOffsetsToTxnRequest(
        transactional_id="txn-1", producer_id=99, producer_epoch=2, group_id="group-ü"
    ).encode(version=version)
    if version <= 2:
        args = ("txn-1", 99, 2, "group-ü")
        assert ours == old_add_offsets.AddOffsetsToTxnRequest[version](*args).encode()
        assert ours == aio_txn.AddOffsetsToTxnRequest_v0(*args).encode()
    body = kp.AddOffsetsToTxnResponse(throttle_time_ms=4, error_code=47).encode(version=version)
    got = check_decode(AddOffsetsToTxnRequest.decode_response, body, version)
    assert got == AddOffsetsToTxnResponse(4, 47)
    if version <= 2:
        body = old_add_offsets.AddOffsetsToTxnResponse[version](4, 47).encode()
        assert check_decode(AddOffsetsToTxnRequest.decode_response, body, version) == got


@given(st.integers(0, 4), names, int64s, int16s, names, int32s, int16s)
def test_add_offsets_round_trips(
    version: int, txn: str, pid: int, epoch: int, group: str, throttle: int, code: int
) -> None:
    d = kp.AddOffsetsToTxnRequest.decode(
        AddOffsetsToTxnRequest(txn, pid, epoch, group).encode(version), version=version
    )
    assert (d.transactional_id, d.producer_id, d.producer_epoch, d.group_id) == (
        txn,
        pid,
        epoch,
        group,
    )
    body = kp.AddOffsetsToTxnResponse(throttle_time_ms=throttle, error_code=code).encode(
        version=version
    )
    got = check_decode_quick(AddOffsetsToTxnRequest.decode_response, body, version)
    assert got == AddOffsetsToTxnResponse(throttle, code)


@pytest.mark.parametrize("version", range(6))
@pytest.mark.parametrize("committed", [True, False])
def test_end_txn_request_matches_kafka_python(version: int, committed: bool) -> None:
    ours = EndTxnRequest("txn-1", 4242, 7, committed).encode(version)
    assert ours == kp.EndTxnRequest(
        transactional_id="txn-1", producer_id=4242, producer_epoch=7, committed=committed
    ).encode(version=version)
    if version <= 2:
        args = ("txn-1", 4242, 7, committed)
        assert ours == old_end_txn.EndTxnRequest[version](*args).encode()
        assert ours == aio_txn.EndTxnRequest_v0(*args).encode()


@pytest.mark.parametrize("version", range(6))
def test_end_txn_response_from_kafka_python(version: int) -> None:
    fields: dict[str, int] = {"throttle_time_ms": 1, "error_code": 48}
    if version >= 5:
        fields |= {"producer_id": 4242, "producer_epoch": 8}
    body = kp.EndTxnResponse(**fields).encode(version=version)
    got = check_decode(EndTxnRequest.decode_response, body, version)
    assert got == EndTxnResponse(*fields.values())
    if version <= 2:
        body = old_end_txn.EndTxnResponse[version](1, 48).encode()
        assert check_decode(EndTxnRequest.decode_response, body, version) == got
        assert (
            check_decode(
                EndTxnRequest.decode_response, aio_txn.EndTxnResponse_v0(1, 48).encode(), 0
            )
            == got
        )


@given(st.integers(0, 5), names, int64s, int16s, st.booleans(), int32s, int16s, int64s, int16s)
def test_end_txn_round_trips(
    version: int,
    txn: str,
    pid: int,
    epoch: int,
    committed: bool,
    throttle: int,
    code: int,
    new_pid: int,
    new_epoch: int,
) -> None:
    d = kp.EndTxnRequest.decode(
        EndTxnRequest(txn, pid, epoch, committed).encode(version), version=version
    )
    assert (d.transactional_id, d.producer_id, d.producer_epoch, d.committed) == (
        txn,
        pid,
        epoch,
        committed,
    )
    expected = EndTxnResponse(throttle, code, *((new_pid, new_epoch) if version >= 5 else ()))
    body = kp.EndTxnResponse(
        throttle_time_ms=throttle,
        error_code=code,
        producer_id=expected.producer_id,
        producer_epoch=expected.producer_epoch,
    ).encode(version=version)
    assert check_decode_quick(EndTxnRequest.decode_response, body, version) == expected


# -- TxnOffsetCommit -------------------------------------------------------------------------

KCommitTopic = kp.TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
KCommitPartition = KCommitTopic.TxnOffsetCommitRequestPartition
KCommitTopicResult = kp.TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
KCommitPartitionResult = KCommitTopicResult.TxnOffsetCommitResponsePartition


def kp_txn_offset_commit(req: TxnOffsetCommitRequest, version: int) -> bytes:
    topics: dict[str, list[Any]] = {}
    for o in req.offsets:
        topics.setdefault(o.topic, []).append(
            KCommitPartition(
                partition_index=o.partition,
                committed_offset=o.offset,
                committed_leader_epoch=o.leader_epoch,
                committed_metadata=o.metadata,
            )
        )
    result: bytes = kp.TxnOffsetCommitRequest(
        transactional_id=req.transactional_id,
        group_id=req.group_id,
        producer_id=req.producer_id,
        producer_epoch=req.producer_epoch,
        generation_id=req.generation_id,
        member_id=req.member_id,
        group_instance_id=req.group_instance_id,
        topics=[KCommitTopic(name=n, partitions=p) for n, p in topics.items()],
    ).encode(version=version)
    return result


def kp_txn_offset_commit_response(resp: TxnOffsetCommitResponse, version: int) -> bytes:
    grouped: list[tuple[str, list[Any]]] = []
    for p in resp.partitions:
        if not grouped or grouped[-1][0] != p.topic:
            grouped.append((p.topic, []))
        grouped[-1][1].append(
            KCommitPartitionResult(partition_index=p.partition, error_code=p.error_code)
        )
    result: bytes = kp.TxnOffsetCommitResponse(
        throttle_time_ms=resp.throttle_time_ms,
        topics=[KCommitTopicResult(name=n, partitions=p) for n, p in grouped],
    ).encode(version=version)
    return result


OFFSETS = [
    TxnOffset("orders", 0, 100, 5, "meta"),
    TxnOffset("payments", 3, 7),
    TxnOffset("orders", 2, 1 << 40, -1, ""),
]


@pytest.mark.parametrize("version", range(5))
def test_txn_offset_commit_request_matches_kafka_python(version: int) -> None:
    group = (
        {"generation_id": 9, "member_id": "m-1", "group_instance_id": "i-1"} if version >= 3 else {}
    )
    req = TxnOffsetCommitRequest("txn-1", "group", 4242, 7, OFFSETS, **group)  # type: ignore[arg-type]
    ours = req.encode(version)
    assert ours == kp_txn_offset_commit(req, version)
    if version <= 2:
        topics = [
            (
                "orders",
                [
                    (0, 100, *((5,) if version == 2 else ()), "meta"),
                    (2, 1 << 40, *((-1,) if version == 2 else ()), ""),
                ],
            ),
            ("payments", [(3, 7, *((-1,) if version == 2 else ()), None)]),
        ]
        args = ("txn-1", "group", 4242, 7, topics)
        assert ours == old_txn_offset_commit.TxnOffsetCommitRequest[version](*args).encode()
        if version <= 1:
            assert ours == aio_txn.TxnOffsetCommitRequest_v0(*args).encode()


def test_txn_offset_commit_refuses_group_metadata_before_v3() -> None:
    req = TxnOffsetCommitRequest("t", "g", 1, 0, OFFSETS, generation_id=3, member_id="m")
    with pytest.raises(UnsupportedVersionError, match="v3"):
        req.encode(2)


@pytest.mark.parametrize("version", range(5))
def test_txn_offset_commit_response_from_kafka_python(version: int) -> None:
    R = TxnOffsetCommitPartitionResult
    expected = TxnOffsetCommitResponse(0, (R("orders", 0, 0), R("orders", 2, 22), R("p", 3, 0)))
    body = kp_txn_offset_commit_response(expected, version)
    assert check_decode(TxnOffsetCommitRequest.decode_response, body, version) == expected
    if version <= 2:
        fields = (0, [("orders", [(0, 0), (2, 22)]), ("p", [(3, 0)])])
        body = old_txn_offset_commit.TxnOffsetCommitResponse[version](*fields).encode()
        assert check_decode(TxnOffsetCommitRequest.decode_response, body, version) == expected
        body = aio_txn.TxnOffsetCommitResponse_v0(*fields).encode()
        assert check_decode(TxnOffsetCommitRequest.decode_response, body, version) == expected


@st.composite
def txn_offset_commits(draw: st.DrawFn) -> tuple[int, TxnOffsetCommitRequest]:
    version = draw(st.integers(0, 4))
    offsets = draw(
        st.lists(
            st.builds(
                TxnOffset,
                st.sampled_from(["a", "b", "ü"]),
                int32s,
                int64s,
                int32s if version >= 2 else st.just(-1),
                opt_names,
            ),
            max_size=5,
        )
    )
    group: dict[str, Any] = {}
    if version >= 3:
        group = {
            "generation_id": draw(int32s),
            "member_id": draw(names),
            "group_instance_id": draw(opt_names),
        }
    req = TxnOffsetCommitRequest(
        draw(names), draw(names), draw(int64s), draw(int16s), offsets, **group
    )
    return version, req


@given(txn_offset_commits())
def test_txn_offset_commit_request_round_trips(case: tuple[int, TxnOffsetCommitRequest]) -> None:
    version, req = case
    # Same bytes as kafka-python's encoder, and kafka-python decodes them back.
    body = req.encode(version)
    assert body == kp_txn_offset_commit(req, version)
    d = kp.TxnOffsetCommitRequest.decode(body, version=version)
    got = [
        TxnOffset(
            t.name,
            p.partition_index,
            p.committed_offset,
            p.committed_leader_epoch,
            p.committed_metadata,
        )
        for t in d.topics
        for p in t.partitions
    ]
    assert sorted(got, key=repr) == sorted(req.offsets, key=repr)
    assert (d.transactional_id, d.group_id, d.producer_id, d.producer_epoch) == (
        req.transactional_id,
        req.group_id,
        req.producer_id,
        req.producer_epoch,
    )


@given(
    st.integers(0, 4),
    int32s,
    st.lists(st.builds(TxnOffsetCommitPartitionResult, names, int32s, int16s), max_size=5),
)
def test_txn_offset_commit_response_round_trips(
    version: int, throttle: int, parts: list[TxnOffsetCommitPartitionResult]
) -> None:
    expected = TxnOffsetCommitResponse(throttle, tuple(parts))
    body = kp_txn_offset_commit_response(expected, version)
    assert check_decode_quick(TxnOffsetCommitRequest.decode_response, body, version) == expected
