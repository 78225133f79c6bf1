"""Headers, framing and ClientConnection bookkeeping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka_python_counterpart import AnyRequest, framed_request, framed_response

from aioproducer._protocol.api import ApiKey, Response, negotiate
from aioproducer._protocol.client import ClientConnection, InFlightRequest
from aioproducer._protocol.framing import FrameDecoder, frame
from aioproducer._protocol.headers import (
    read_request_header,
    read_response_header,
    request_header_version,
    response_header_version,
    write_request_header,
    write_response_header,
)
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.metadata import MetadataRequest
from aioproducer._protocol.messages.produce import (
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
    ProduceTopicResponse,
)
from aioproducer._protocol.primitives import Reader
from aioproducer.errors import ProtocolError

# ------------------------------------------------------------------------------ headers


@given(
    st.integers(-(2**15), 2**15 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.none() | st.text(max_size=20),
    st.sampled_from([1, 2]),
)
def test_request_header_round_trip(
    version: int, correlation_id: int, client_id: str | None, header_version: int
) -> None:
    buf = bytearray()
    write_request_header(buf, 3, version, correlation_id, client_id, header_version=header_version)
    header = read_request_header(Reader(buf), header_version)
    assert (header.api_key, header.api_version) == (3, version)
    assert (header.correlation_id, header.client_id) == (correlation_id, client_id)


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1]))
def test_response_header_round_trip(correlation_id: int, header_version: int) -> None:
    buf = bytearray()
    write_response_header(buf, correlation_id, header_version)
    r = Reader(buf)
    assert read_response_header(r, header_version) == correlation_id
    assert r.at_end()


def test_header_versions() -> None:
    assert request_header_version(False) == 1
    assert request_header_version(True) == 2
    assert response_header_version(ApiKey.METADATA, True) == 1
    assert response_header_version(ApiKey.METADATA, False) == 0
    assert response_header_version(ApiKey.API_VERSIONS, True) == 0


@pytest.mark.parametrize(
    ("request_", "version"),
    [
        (ApiVersionsRequest("aioproducer", "1.0"), 0),
        (ApiVersionsRequest("aioproducer", "1.0"), 3),
        (MetadataRequest(("a", "b")), 1),
        (MetadataRequest(("a", "b")), 12),
        (ProduceRequest(-1, 500, [("t", [(0, b"records")])]), 8),
        (ProduceRequest(-1, 500, [("t", [(0, b"records")])]), 11),
        (InitProducerIdRequest("tx", 1000), 4),
    ],
)
def test_framed_requests_match_kafka_python(request_: AnyRequest, version: int) -> None:
    conn = ClientConnection("my-client")
    for expected_id in range(3):
        correlation_id, data = conn.send(request_, version)
        assert correlation_id == expected_id
        assert data == framed_request(request_, version, correlation_id, "my-client")


# ------------------------------------------------------------------------------ framing


@given(st.lists(st.binary(max_size=50), max_size=6), st.data())
def test_frames_survive_any_split(payloads: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(frame(x) for x in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder = FrameDecoder(1000)
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        out += decoder.feed(wire[start:cut])
        start = cut
    assert out == payloads
    assert decoder.buffered == 0


def test_frame_decoder_keeps_a_partial_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame(b"one") + frame(b"two")[:5]) == [b"one"]
    assert decoder.buffered == 5
    assert decoder.feed(frame(b"two")[5:]) == [b"two"]


@pytest.mark.parametrize("size", [-1, -(2**31), 101])
def test_frame_decoder_refuses_bad_sizes_and_stays_broken(size: int) -> None:
    decoder = FrameDecoder(max_frame_size=100)
    with pytest.raises(ProtocolError, match="frame size"):
        decoder.feed(size.to_bytes(4, "big", signed=True))
    with pytest.raises(ProtocolError):
        decoder.feed(frame(b"ok"))


def test_frame_decoder_accepts_the_maximum() -> None:
    assert FrameDecoder(max_frame_size=3).feed(frame(b"abc")) == [b"abc"]
    with pytest.raises(ValueError, match="max_frame_size"):
        FrameDecoder(-1)


# ------------------------------------------------------------------------------- client


def _ipid(correlation_id: int, version: int = 4) -> bytes:
    return framed_response(InitProducerIdResponse(0, 42, 1), version, correlation_id)


def test_acks_zero_is_not_tracked_but_uses_a_correlation_id() -> None:
    conn = ClientConnection(None)
    assert conn.send(ProduceRequest(0, 100, [("t", [(0, b"x")])]), 9)[0] == 0
    assert conn.in_flight == 0
    assert conn.send(InitProducerIdRequest(), 4)[0] == 1
    assert conn.pending == (InFlightRequest(1, InitProducerIdRequest, 4),)
    assert conn.receive_data(_ipid(1)) == [(1, InitProducerIdResponse(0, 42, 1))]
    assert conn.in_flight == 0


# Tansu answers Produce requests sent with acks=0 (Apache Kafka never does): such answers are
# read and dropped, whatever their version's header, and never taken for another response.
_ACKS0 = ProduceRequest(0, 100, [("t", [(0, b"x")])])


def _produced(correlation_id: int, version: int) -> bytes:
    ok = ProduceResponse((ProduceTopicResponse("t", (ProducePartitionResponse(0, 0, 7),)),))
    return framed_response(ok, version, correlation_id)


def _feed(conn: ClientConnection, wire: bytes, how: str) -> list[tuple[int, Response]]:
    if how == "whole":
        return conn.receive_data(wire)
    return [r for i in range(len(wire)) for r in conn.receive_data(wire[i : i + 1])]


@pytest.mark.parametrize("how", ["whole", "byte by byte"])
@pytest.mark.parametrize(("produce_version", "ipid_version"), [(9, 4), (8, 4), (9, 0), (3, 0)])
def test_answers_to_acks_zero_produce_are_dropped(
    how: str, produce_version: int, ipid_version: int
) -> None:
    conn = ClientConnection(None)
    assert conn.send(_ACKS0, produce_version)[0] == 0
    assert conn.send(_ACKS0, produce_version)[0] == 1
    assert conn.send(InitProducerIdRequest(), ipid_version)[0] == 2
    assert conn.send(_ACKS0, produce_version)[0] == 3
    wire = _produced(0, produce_version) + _produced(1, produce_version)
    wire += _ipid(2, ipid_version) + _produced(3, produce_version)
    assert _feed(conn, wire, how) == [(2, InitProducerIdResponse(0, 42, 1))]
    assert conn.in_flight == 0
    # later requests work as before
    assert conn.send(InitProducerIdRequest(), ipid_version)[0] == 4
    assert _feed(conn, _ipid(4, ipid_version), how) == [(4, InitProducerIdResponse(0, 42, 1))]


def test_an_acks_zero_request_left_unanswered_may_be_skipped() -> None:
    """Apache Kafka answers none of them; a broker might answer some: order still holds."""
    conn = ClientConnection(None)
    for _ in range(3):
        conn.send(_ACKS0, 9)
    conn.send(InitProducerIdRequest(), 4)
    conn.send(_ACKS0, 9)
    wire = _produced(1, 9) + _ipid(3) + _produced(4, 9)
    assert conn.receive_data(wire) == [(3, InitProducerIdResponse(0, 42, 1))]


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (_produced(1, 9) + _produced(0, 9), "does not match"),  # acks=0 answers out of order
        (_produced(0, 9) + _produced(3, 9), "does not match"),  # an id never sent
        (_produced(0, 9) + _produced(0, 9), "does not match"),  # answered twice
        (_produced(-1, 9), "does not match"),
        (_ipid(2) + _produced(1, 9), "no request in flight"),  # after the request behind it
    ],
)
def test_answers_to_acks_zero_out_of_order_are_protocol_errors(wire: bytes, match: str) -> None:
    conn = ClientConnection(None)
    conn.send(_ACKS0, 9)
    conn.send(_ACKS0, 9)
    conn.send(InitProducerIdRequest(), 4)
    with pytest.raises(ProtocolError, match=match):
        conn.receive_data(wire)


def test_an_acks_zero_answer_with_nothing_in_flight() -> None:
    conn = ClientConnection(None)
    conn.send(_ACKS0, 9)
    assert conn.receive_data(_produced(0, 9)) == []
    with pytest.raises(ProtocolError, match="no request in flight"):
        conn.receive_data(_produced(0, 9))


def test_answers_to_acks_zero_across_the_correlation_id_wrap() -> None:
    conn = ClientConnection(None)
    conn._next_id = conn._answered = 2**31 - 2  # white box: as after 2**31 - 2 requests
    conn._answered -= 1
    assert conn.send(_ACKS0, 9)[0] == 2**31 - 2
    assert conn.send(_ACKS0, 9)[0] == 2**31 - 1
    assert conn.send(_ACKS0, 9)[0] == 0
    assert conn.send(InitProducerIdRequest(), 4)[0] == 1
    wire = _produced(2**31 - 1, 9) + _produced(0, 9) + _ipid(1)
    assert conn.receive_data(wire) == [(1, InitProducerIdResponse(0, 42, 1))]


def test_out_of_order_response_is_a_protocol_error_and_breaks_the_connection() -> None:
    conn = ClientConnection("c")
    conn.send(InitProducerIdRequest(), 4)
    conn.send(InitProducerIdRequest(), 4)
    with pytest.raises(ProtocolError, match="does not match"):
        conn.receive_data(_ipid(1))
    with pytest.raises(ProtocolError, match="failed earlier"):
        conn.receive_data(_ipid(0))
    with pytest.raises(ProtocolError, match="failed earlier"):
        conn.send(InitProducerIdRequest(), 4)


def test_unsolicited_response_is_a_protocol_error() -> None:
    conn = ClientConnection("c")
    with pytest.raises(ProtocolError, match="no request in flight"):
        conn.receive_data(_ipid(0))


def test_response_shorter_than_its_header() -> None:
    conn = ClientConnection("c")
    conn.send(InitProducerIdRequest(), 4)
    with pytest.raises(ProtocolError, match="header"):
        conn.receive_data(frame(b"\x00\x00"))


def test_oversized_response_is_refused() -> None:
    conn = ClientConnection("c", max_response_size=10)
    conn.send(InitProducerIdRequest(), 4)
    with pytest.raises(ProtocolError, match="frame size"):
        conn.receive_data(_ipid(0))


def test_correlation_ids_wrap_at_int32_max() -> None:
    conn = ClientConnection("c")
    conn._next_id = 2**31 - 1
    assert conn.send(InitProducerIdRequest(), 0)[0] == 2**31 - 1
    assert conn.send(InitProducerIdRequest(), 0)[0] == 0
    assert conn.receive_data(_ipid(2**31 - 1, 0) + _ipid(0, 0))[1][0] == 0


def test_send_refuses_unimplemented_versions() -> None:
    conn = ClientConnection("c")
    with pytest.raises(ValueError, match="implements versions"):
        conn.send(ProduceRequest(1, 1, []), 14)
    assert conn.in_flight == 0


def test_negotiate() -> None:
    from aioproducer.errors import UnsupportedVersionError  # noqa: PLC0415

    assert negotiate(ProduceRequest, 0, 14) == 13  # a newer broker: our newest
    assert negotiate(ProduceRequest, 0, 12) == 12
    assert negotiate(ProduceRequest, 3, 7) == 7
    assert negotiate(MetadataRequest, 0, 12) == 12
    with pytest.raises(UnsupportedVersionError):
        negotiate(ProduceRequest, 0, 2)
    with pytest.raises(UnsupportedVersionError):
        negotiate(InitProducerIdRequest, 6, 9)
