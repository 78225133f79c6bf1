"""The fake broker's codecs (the broker's directions) against ours and kafka-python's.

Every version of the four APIs a producer uses: a request our client encodes, or kafka-python
encodes, decodes to the same request; a response the fake broker encodes is byte for byte
what kafka-python encodes, and our client decodes it back to the same response.
"""

from __future__ import annotations

from typing import Any

import protocol_strategies as strat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka_python_counterpart import framed_request, response_bytes

from aioproducer._protocol.client import ClientConnection
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from aioproducer._protocol.messages.metadata import MetadataRequest
from aioproducer._protocol.messages.produce import ProduceRequest
from aioproducer.errors import ProtocolError
from aioproducer.testing._fake_wire import SERVED, encode_response, frame_response, read_request

Strategy = strat.Strategy
CASES = strat.version_cases([api for api in strat.APIS if api[0].API_KEY in SERVED])
quick = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _normalized(request: Any, version: int) -> bytes:
    """What a request says at ``version``: its own encoding (field containers may differ)."""
    return bytes(request.encode(version))


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@quick
@given(data=st.data())
def test_requests_decode_to_what_was_sent(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    request = data.draw(req(version))
    client = ClientConnection("fake-wire")
    correlation_id, framed = client.send(request, version)
    header, decoded = read_request(bytes(framed[4:]))
    assert (header.api_key, header.api_version) == (cls.API_KEY, version)
    assert (header.correlation_id, header.client_id) == (correlation_id, "fake-wire")
    assert type(decoded) is cls
    assert _normalized(decoded, version) == _normalized(request, version)
    # kafka-python's encoding of the same request decodes the same way
    header, theirs = read_request(framed_request(request, version, 7, "kp")[4:])
    assert (header.correlation_id, header.client_id) == (7, "kp")
    assert _normalized(theirs, version) == _normalized(request, version)


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@quick
@given(data=st.data())
def test_responses_match_kafka_python_and_decode_back(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    response = data.draw(resp(version))
    body = encode_response(cls.API_KEY, version, response)
    assert body == response_bytes(response, version)
    assert cls.decode_response(memoryview(body), version) == response


@pytest.mark.parametrize(("cls", "req", "resp", "version"), CASES)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_framed_responses_complete_the_clients_requests(
    cls: Any, req: Strategy, resp: Strategy, version: int, data: st.DataObject
) -> None:
    request = data.draw(req(version).filter(lambda r: r.expects_response()))
    response = data.draw(resp(version))
    client = ClientConnection(None)
    frames = []
    for _ in range(2):
        _, framed = client.send(request, version)
        header, _ = read_request(bytes(framed[4:]))
        frames.append(frame_response(header, response))
    assert client.receive_data(b"".join(frames)) == [(0, response), (1, response)]


def test_api_versions_unsupported_version_is_answered_in_v0() -> None:
    client = ClientConnection(None)
    _, framed = client.send(ApiVersionsRequest(), 4)
    header, _ = read_request(bytes(framed[4:]))
    refusal = ApiVersionsResponse(35, (), decoded_version=0)
    [(_, decoded)] = client.receive_data(frame_response(header, refusal))
    assert decoded == refusal


@pytest.mark.parametrize(
    "frame",
    [b"", b"\x00", b"\x00\x63\x00\x00", b"\x00\x00\x00\x02", b"\x00\x12\x00\x07\x00"],
    ids=["empty", "short", "unknown-api", "produce-v2", "api-versions-v7"],
)
def test_bad_request_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_request(frame)


def test_a_truncated_request_raises_protocol_error() -> None:
    _, framed = ClientConnection("c").send(ProduceRequest(-1, 1000, [("t", [(0, b"x")])]), 11)
    body = bytes(framed[4:])
    for cut in range(len(body)):
        with pytest.raises(ProtocolError):
            read_request(body[:cut])


def test_encode_response_refuses_a_response_of_another_api() -> None:
    with pytest.raises(TypeError):
        encode_response(MetadataRequest.API_KEY, 12, ApiVersionsResponse(0, ()))
