"""Message codecs against kafka-python 3.x (every version) and aiokafka (fixed golden cases)."""

from __future__ import annotations

import uuid
from typing import Any

import protocol_strategies as strat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka_python_counterpart import (
    AnyRequest,
    AnyResponse,
    framed_response,
    request_bytes,
    response_bytes,
)

from aioproducer._protocol.client import ClientConnection
from aioproducer._protocol.messages.api_versions import (
    ApiVersionRange,
    ApiVersionsRequest,
    ApiVersionsResponse,
)
from aioproducer._protocol.messages.create_topics import CreatableTopic, CreateTopicsRequest
from aioproducer._protocol.messages.init_producer_id import InitProducerIdRequest
from aioproducer._protocol.messages.metadata import MetadataRequest
from aioproducer._protocol.messages.produce import ProduceRequest
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer.errors import ProtocolError

Strategy = strat.Strategy
CASES = strat.version_cases(strat.APIS)
quick = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@quick
@given(data=st.data())
def test_request_bytes_match_kafka_python(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    request: AnyRequest = data.draw(req(version))
    assert request.encode(version) == request_bytes(request, version)


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@quick
@given(data=st.data())
def test_response_round_trip_through_kafka_python(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    response: AnyResponse = data.draw(resp(version))
    body = response_bytes(response, version)
    assert cls.decode_response(memoryview(body), version) == response
    # Trailing bytes inside a body are ignored (forward compatible).
    assert cls.decode_response(memoryview(body + b"\x00\x01junk"), version) == response
    # Every strict prefix is refused with ProtocolError only.
    for cut in range(len(body)):
        with pytest.raises(ProtocolError):
            cls.decode_response(memoryview(body[:cut]), version)


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_response_through_client_whole_bytewise_and_trailing(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    request = data.draw(req(version).filter(lambda r: r.expects_response()))
    response = data.draw(resp(version))
    frames = [framed_response(response, version, cid) for cid in range(3)]
    wire = b"".join(frames)

    whole = ClientConnection("c")
    for _ in range(3):
        whole.send(request, version)
    assert whole.receive_data(wire) == [(0, response), (1, response), (2, response)]
    assert whole.in_flight == 0

    bytewise = ClientConnection("c")
    for _ in range(3):
        bytewise.send(request, version)
    got = [r for i in range(len(wire)) for r in bytewise.receive_data(wire[i : i + 1])]
    assert got == [(0, response), (1, response), (2, response)]

    trailing = ClientConnection("c")
    for _ in range(2):
        trailing.send(request, version)
    cut = len(frames[0]) + len(frames[1]) // 2
    assert trailing.receive_data(wire[:cut]) == [(0, response)]
    assert trailing.in_flight == 1
    assert trailing.receive_data(wire[cut : len(frames[0]) + len(frames[1])]) == [(1, response)]


# ------------------------------------------------------------------- ApiVersions fallback


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_api_versions_unsupported_version_falls_back_to_v0(version: int) -> None:
    keys = (ApiVersionRange(18, 0, 2), ApiVersionRange(0, 3, 9))
    v0_body = response_bytes(ApiVersionsResponse(35, keys), 0)
    decoded = ApiVersionsRequest.decode_response(memoryview(v0_body), version)
    assert decoded == ApiVersionsResponse(35, keys, decoded_version=0)
    assert decoded.api_versions == {18: (0, 2), 0: (3, 9)}
    assert decoded.version_range(18) == ApiVersionRange(18, 0, 2)
    assert decoded.version_range(99) is None


def test_api_versions_response_header_is_always_v0() -> None:
    conn = ClientConnection("c")
    conn.send(ApiVersionsRequest("x", "1"), 4)
    body = response_bytes(ApiVersionsResponse(0, (ApiVersionRange(0, 3, 11),)), 4)
    frame = (4 + len(body)).to_bytes(4, "big") + (0).to_bytes(4, "big") + body
    ((cid, resp),) = conn.receive_data(frame)
    assert cid == 0
    assert isinstance(resp, ApiVersionsResponse)
    assert resp.api_keys == (ApiVersionRange(0, 3, 11),)


# ------------------------------------------------------------- aiokafka golden encodings


def test_produce_requests_match_aiokafka() -> None:
    from aiokafka.protocol import produce  # noqa: PLC0415

    topics = [("t1", [(0, b"batch-0"), (3, b"")]), ("t2", [(1, b"x" * 300)])]
    request = ProduceRequest(-1, 30000, topics, "txn")
    for version in range(3, 8):
        struct = getattr(produce, f"ProduceRequest_v{version}")("txn", -1, 30000, topics)
        assert request.encode(version) == struct.encode()
    assert request.expects_response()
    assert not ProduceRequest(0, 1, topics).expects_response()


def test_metadata_requests_match_aiokafka() -> None:
    from aiokafka.protocol import metadata  # noqa: PLC0415

    assert MetadataRequest(("a", "b")).encode(0) == metadata.MetadataRequest_v0(["a", "b"]).encode()
    assert MetadataRequest().encode(0) == metadata.MetadataRequest_v0([]).encode()
    for version in (1, 2, 3):
        struct = getattr(metadata, f"MetadataRequest_v{version}")(["a"])
        assert MetadataRequest(("a",)).encode(version) == struct.encode()
    for version in (4, 5):
        struct = getattr(metadata, f"MetadataRequest_v{version}")(["a"], False)
        assert MetadataRequest(("a",), allow_auto_topic_creation=False).encode(version) == (
            struct.encode()
        )


def test_other_requests_match_aiokafka() -> None:
    from aiokafka.protocol import admin, transaction  # noqa: PLC0415

    assert ApiVersionsRequest().encode(0) == admin.ApiVersionRequest_v0().encode()
    assert InitProducerIdRequest("tx", 60000).encode(0) == (
        transaction.InitProducerIdRequest_v0("tx", 60000).encode()
    )
    topic = CreatableTopic("t", 3, 1, [(0, [1, 2])], [("cleanup.policy", "compact")])
    raw_topic = ("t", 3, 1, [(0, [1, 2])], [("cleanup.policy", "compact")])
    assert CreateTopicsRequest([topic], 5000).encode(0) == (
        admin.CreateTopicsRequest_v0([raw_topic], 5000).encode()
    )
    for version in (1, 2, 3):
        struct = getattr(admin, f"CreateTopicsRequest_v{version}")([raw_topic], 5000, True)
        assert CreateTopicsRequest([topic], 5000, True).encode(version) == struct.encode()


def test_responses_from_aiokafka() -> None:
    from aiokafka.protocol import admin, metadata, produce, transaction  # noqa: PLC0415

    body = produce.ProduceResponse_v8(
        [("t", [(2, 0, 100, -1, 7, [(3, "bad record")], "oops")])], 5
    ).encode()
    decoded = ProduceRequest.decode_response(memoryview(body), 8)
    ((topic, part),) = decoded.iter_partitions()
    assert (topic, part.index, part.base_offset, part.log_start_offset) == ("t", 2, 100, 7)
    assert part.record_errors[0].message == "bad record"
    assert part.error_message == "oops"
    assert decoded.throttle_time_ms == 5

    body = produce.ProduceResponse_v5([("t", [(0, 6, -1, 1234, 0)])], 0).encode()
    part = ProduceRequest.decode_response(memoryview(body), 5).topics[0].partitions[0]
    assert (part.error_code, part.log_append_time_ms) == (6, 1234)

    body = metadata.MetadataResponse_v5(
        9, [(1, "h1", 9092, "r1")], "cid", 1, [(0, "t", False, [(0, 0, 1, [1], [1], [])])]
    ).encode()
    meta = MetadataRequest.decode_response(memoryview(body), 5)
    assert meta.brokers[0].rack == "r1"
    assert meta.cluster_id == "cid"
    assert meta.topics[0].partitions[0].leader_id == 1

    body = admin.ApiVersionResponse_v2(0, [(0, 3, 9), (3, 0, 12)], 0).encode()
    assert ApiVersionsRequest.decode_response(memoryview(body), 2).api_versions == {
        0: (3, 9),
        3: (0, 12),
    }

    body = transaction.InitProducerIdResponse_v0(0, 0, 4000, 2).encode()
    ipid = InitProducerIdRequest.decode_response(memoryview(body), 0)
    assert (ipid.producer_id, ipid.producer_epoch) == (4000, 2)

    body = admin.CreateTopicsResponse_v3(0, [("t", 36, "exists")]).encode()
    created = CreateTopicsRequest.decode_response(memoryview(body), 3)
    assert (created.topics[0].error_code, created.topics[0].error_message) == (36, "exists")


def test_produce_response_mixes_clean_and_failed_partitions() -> None:
    """A clean partition takes the decoder's short path; one with errors, the long one."""
    from aiokafka.protocol import produce  # noqa: PLC0415

    body = produce.ProduceResponse_v8(
        [
            (
                "t",
                [
                    (0, 0, 10, -1, 0, [], None),
                    (1, 87, -1, -1, 0, [(4, "bad key")], "invalid record"),
                    (2, 0, 30, 999, 5, [], None),
                ],
            )
        ],
        0,
    ).encode()
    parts = [p for _, p in ProduceRequest.decode_response(memoryview(body), 8).iter_partitions()]
    assert [(p.index, p.error_code, p.base_offset) for p in parts] == [
        (0, 0, 10),
        (1, 87, -1),
        (2, 0, 30),
    ]
    assert (parts[0].record_errors, parts[0].error_message) == ((), None)
    assert parts[1].record_errors[0].batch_index == 4
    assert parts[1].error_message == "invalid record"
    assert (parts[2].log_append_time_ms, parts[2].log_start_offset) == (999, 5)
    for cut in (10, 40, len(body) - 3):
        with pytest.raises(ProtocolError):
            ProduceRequest.decode_response(memoryview(body[:cut]), 8)


# ---------------------------------------------------------------------- local misuse


def test_encoders_refuse_what_a_version_cannot_carry() -> None:
    with pytest.raises(ValueError, match="implements versions"):
        ProduceRequest(1, 1, []).encode(2)
    with pytest.raises(ValueError, match="no topics"):
        MetadataRequest(()).encode(0)
    with pytest.raises(ValueError, match="existing producer id"):
        InitProducerIdRequest(None, 1, 5, 1).encode(2)
    with pytest.raises(ValueError, match="validate"):
        CreateTopicsRequest([], validate_only=True).encode(0)
    with pytest.raises(ValueError, match="implements versions"):
        MetadataRequest.decode_response(memoryview(b""), 13)


def test_produce_encode_into_appends_to_a_buffer() -> None:
    request = ProduceRequest(1, 1000, [("t", [(0, b"abc"), (1, None)])])
    buf = bytearray(b"prefix")
    request.encode_into(buf, 11)
    assert bytes(buf) == b"prefix" + request.encode(11)


def test_produce_v13_needs_every_topic_id() -> None:
    """v13 names topics by id: a missing or zero id is a local bug, refused before writing."""
    topics = [("a", [(0, b"x")]), ("b", [(0, b"y")])]
    one = uuid.UUID(int=1)
    with pytest.raises(ValueError, match="id of every topic"):
        ProduceRequest(-1, 1000, topics).encode(13)
    with pytest.raises(ValueError, match="id of every topic"):
        ProduceRequest(-1, 1000, topics, topic_ids=[one]).encode(13)
    with pytest.raises(ValueError, match="id of every topic"):
        ProduceRequest(-1, 1000, topics, topic_ids=[one, ZERO_UUID]).encode(13)
    by_id = ProduceRequest(-1, 1000, topics, topic_ids=[one, uuid.UUID(int=2)])
    assert by_id.encode(12) == ProduceRequest(-1, 1000, topics).encode(12)  # ids unused < 13
    assert b"a" not in by_id.encode(13)[8:]
