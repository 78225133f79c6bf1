"""Whole frames for the transaction, SASL and DescribeProducers APIs, through ClientConnection.

kafka-python encodes each request with its header and size prefix (it must equal what
``ClientConnection.send`` writes) and each response likewise; the response frame is fed to
``ClientConnection.receive_data`` whole, one byte at a time, and followed by the start of the
next frame, and must decode to the same normalized response every time.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._protocol.api import Request, Response
from aioproducer._protocol.client import ClientConnection
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
from aioproducer._protocol.messages.describe_producers import (
    DescribeProducersPartitionResult,
    DescribeProducersRequest,
    DescribeProducersResponse,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.find_coordinator import (
    Coordinator,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from aioproducer._protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from aioproducer._protocol.messages.txn_offset_commit import (
    TxnOffset,
    TxnOffsetCommitPartitionResult,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from aioproducer.errors import ProtocolError

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.protocol import sasl as kp_sasl
    from kafka.protocol.admin import transactions as kp_admin
    from kafka.protocol.metadata import find_coordinator as kp_fc
    from kafka.protocol.producer import transaction as kp

CLIENT_ID = "wire-test"


@dataclass(frozen=True)
class Case:
    """One API: our request, kafka-python's, its response, and what we must decode."""

    name: str
    versions: range
    ours: Callable[[int], Request]
    theirs: Callable[[int], Any]
    response: Callable[[int], Any]
    expected: Callable[[int], Response]


def _fc_response(v: int) -> Any:
    if v <= 3:
        return kp_fc.FindCoordinatorResponse(
            throttle_time_ms=1, error_code=0, error_message=None, node_id=2, host="b2", port=9092
        )
    kc = kp_fc.FindCoordinatorResponse.Coordinator
    coordinator = kc(key="t", node_id=2, host="b2", port=9092, error_code=0, error_message=None)
    return kp_fc.FindCoordinatorResponse(throttle_time_ms=1, coordinators=[coordinator])


def _apt_response(v: int) -> Any:
    topic_result = kp.AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
    part = topic_result.AddPartitionsToTxnPartitionResult
    results = [
        topic_result(
            name="o", results_by_partition=[part(partition_index=1, partition_error_code=0)]
        )
    ]
    if v <= 3:
        return kp.AddPartitionsToTxnResponse(
            throttle_time_ms=0, results_by_topic_v3_and_below=results
        )
    txn_result = kp.AddPartitionsToTxnResponse.AddPartitionsToTxnResult
    return kp.AddPartitionsToTxnResponse(
        throttle_time_ms=0,
        error_code=0,
        results_by_transaction=[txn_result(transactional_id="t", topic_results=results)],
    )


def _apt_request(v: int) -> Any:
    topic = kp.AddPartitionsToTxnRequest.AddPartitionsToTxnTopic(name="o", partitions=[1])
    if v <= 3:
        return kp.AddPartitionsToTxnRequest(
            v3_and_below_transactional_id="t",
            v3_and_below_producer_id=5,
            v3_and_below_producer_epoch=1,
            v3_and_below_topics=[topic],
        )
    txn = kp.AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction(
        transactional_id="t", producer_id=5, producer_epoch=1, verify_only=True, topics=[topic]
    )
    return kp.AddPartitionsToTxnRequest(transactions=[txn])


def _toc_request(v: int) -> Any:
    topic = kp.TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
    part = topic.TxnOffsetCommitRequestPartition
    p = part(
        partition_index=0, committed_offset=10, committed_leader_epoch=3, committed_metadata=None
    )
    return kp.TxnOffsetCommitRequest(
        transactional_id="t",
        group_id="g",
        producer_id=5,
        producer_epoch=1,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        topics=[topic(name="o", partitions=[p])],
    )


def _toc_response(v: int) -> Any:
    topic = kp.TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
    part = topic.TxnOffsetCommitResponsePartition
    return kp.TxnOffsetCommitResponse(
        throttle_time_ms=0,
        topics=[topic(name="o", partitions=[part(partition_index=0, error_code=0)])],
    )


def _dp_response(v: int) -> Any:
    topic = kp_admin.DescribeProducersResponse.TopicResponse
    part = topic.PartitionResponse
    p = part(partition_index=0, error_code=0, error_message=None, active_producers=[])
    return kp_admin.DescribeProducersResponse(
        throttle_time_ms=0, topics=[topic(name="o", partitions=[p])]
    )


_apt_parts = (AddPartitionsToTxnPartitionResult("o", 1, 0),)

CASES = [
    Case(
        "FindCoordinator",
        range(7),
        lambda v: FindCoordinatorRequest(["t"], 0 if v == 0 else 1),
        lambda v: (
            kp_fc.FindCoordinatorRequest(key="t", key_type=0 if v == 0 else 1)
            if v <= 3
            else kp_fc.FindCoordinatorRequest(key_type=1, coordinator_keys=["t"])
        ),
        _fc_response,
        lambda v: FindCoordinatorResponse(
            1 if v >= 1 else 0, (Coordinator("t" if v >= 4 else None, 2, "b2", 9092, 0, None),)
        ),
    ),
    Case(
        "AddPartitionsToTxn",
        range(4),
        lambda v: AddPartitionsToTxnRequest("t", 5, 1, {"o": [1]}),
        _apt_request,
        _apt_response,
        lambda v: AddPartitionsToTxnResponse(0, 0, (AddPartitionsToTxnResult(None, _apt_parts),)),
    ),
    Case(
        "AddPartitionsToTxnBatch",
        range(4, 6),
        lambda v: AddPartitionsToTxnBatchRequest(
            [AddPartitionsToTxnTransaction("t", 5, 1, {"o": [1]}, verify_only=True)]
        ),
        _apt_request,
        _apt_response,
        lambda v: AddPartitionsToTxnResponse(0, 0, (AddPartitionsToTxnResult("t", _apt_parts),)),
    ),
    Case(
        "AddOffsetsToTxn",
        range(5),
        lambda v: AddOffsetsToTxnRequest("t", 5, 1, "g"),
        lambda v: kp.AddOffsetsToTxnRequest(
            transactional_id="t", producer_id=5, producer_epoch=1, group_id="g"
        ),
        lambda v: kp.AddOffsetsToTxnResponse(throttle_time_ms=0, error_code=0),
        lambda v: AddOffsetsToTxnResponse(0, 0),
    ),
    Case(
        "TxnOffsetCommit",
        range(5),
        lambda v: TxnOffsetCommitRequest("t", "g", 5, 1, [TxnOffset("o", 0, 10, 3)]),
        _toc_request,
        _toc_response,
        lambda v: TxnOffsetCommitResponse(0, (TxnOffsetCommitPartitionResult("o", 0, 0),)),
    ),
    Case(
        "EndTxn",
        range(6),
        lambda v: EndTxnRequest("t", 5, 1, True),
        lambda v: kp.EndTxnRequest(
            transactional_id="t", producer_id=5, producer_epoch=1, committed=True
        ),
        lambda v: kp.EndTxnResponse(
            throttle_time_ms=0, error_code=0, producer_id=5, producer_epoch=2
        ),
        lambda v: EndTxnResponse(0, 0, *((5, 2) if v >= 5 else ())),
    ),
    Case(
        "SaslHandshake",
        range(2),
        lambda v: SaslHandshakeRequest("PLAIN"),
        lambda v: kp_sasl.SaslHandshakeRequest(mechanism="PLAIN"),
        lambda v: kp_sasl.SaslHandshakeResponse(error_code=0, mechanisms=["PLAIN"]),
        lambda v: SaslHandshakeResponse(0, ("PLAIN",)),
    ),
    Case(
        "SaslAuthenticate",
        range(3),
        lambda v: SaslAuthenticateRequest(b"\x00u\x00p"),
        lambda v: kp_sasl.SaslAuthenticateRequest(auth_bytes=b"\x00u\x00p"),
        lambda v: kp_sasl.SaslAuthenticateResponse(
            error_code=0, error_message=None, auth_bytes=b"", session_lifetime_ms=60_000
        ),
        lambda v: SaslAuthenticateResponse(0, None, b"", 60_000 if v >= 1 else 0),
    ),
    Case(
        "DescribeProducers",
        range(1),
        lambda v: DescribeProducersRequest({"o": [0]}),
        lambda v: kp_admin.DescribeProducersRequest(
            topics=[kp_admin.DescribeProducersRequest.TopicRequest(name="o", partition_indexes=[0])]
        ),
        _dp_response,
        lambda v: DescribeProducersResponse(
            0, (DescribeProducersPartitionResult("o", 0, 0, None, ()),)
        ),
    ),
]

PARAMS = [pytest.param(c, v, id=f"{c.name}-v{v}") for c in CASES for v in c.versions]


def _their_frame(message: Any, version: int, correlation_id: int, **header: Any) -> bytes:
    message.API_VERSION = version  # before with_header(), which reads it (requests)
    message.with_header(correlation_id=correlation_id, **header)
    data: bytes = message.encode(header=True, framed=True)
    return data


@pytest.mark.parametrize(("case", "version"), PARAMS)
def test_request_frame_matches_kafka_python(case: Case, version: int) -> None:
    conn = ClientConnection(CLIENT_ID)
    for correlation_id in range(2):  # the second request checks the id increments
        got_id, data = conn.send(case.ours(version), version)
        assert got_id == correlation_id
        assert data == _their_frame(
            case.theirs(version), version, correlation_id, client_id=CLIENT_ID
        )


@pytest.mark.parametrize("split", ["whole", "bytewise", "with-next-frame"])
@pytest.mark.parametrize(("case", "version"), PARAMS)
def test_response_frame_decodes_however_it_arrives(case: Case, version: int, split: str) -> None:
    conn = ClientConnection(CLIENT_ID)
    first, _ = conn.send(case.ours(version), version)
    second, _ = conn.send(case.ours(version), version)
    frame = _their_frame(case.response(version), version, first)
    expected = case.expected(version)
    if split == "whole":
        assert conn.receive_data(frame) == [(first, expected)]
    elif split == "bytewise":
        got = [r for i in range(len(frame)) for r in conn.receive_data(frame[i : i + 1])]
        assert got == [(first, expected)]
    else:
        next_frame = _their_frame(case.response(version), version, second)
        assert conn.receive_data(frame + next_frame[:3]) == [(first, expected)]
        assert conn.receive_data(next_frame[3:]) == [(second, expected)]
    assert conn.in_flight == (0 if split == "with-next-frame" else 1)


DECODERS = [
    pytest.param(type(c.ours(v)), v, id=f"{c.name}-v{v}") for c in CASES for v in c.versions
]


@pytest.mark.parametrize(("request_type", "version"), DECODERS)
@given(data=st.binary(max_size=200))
def test_fuzzed_response_bodies_fail_only_with_protocol_error(
    request_type: type[Request], version: int, data: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        request_type.decode_response(memoryview(data), version)
