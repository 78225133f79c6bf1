"""SaslHandshake, SaslAuthenticate and DescribeProducers codecs against independent codecs.

Golden bytes from kafka-python 3.x (schema-driven, every version; hand-written ``old`` structs)
and aiokafka (hand-written, v0-1); responses decoded whole, with trailing bytes and refusing
every truncation; hypothesis round-trips through kafka-python for every version.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._protocol.messages.describe_producers import (
    DescribeProducersPartitionResult,
    DescribeProducersRequest,
    DescribeProducersResponse,
    ProducerState,
)
from aioproducer._protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from aioproducer._protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from aioproducer.errors import ProtocolError

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from aiokafka.protocol import admin as aio_admin
    from kafka.protocol import sasl as kp_sasl
    from kafka.protocol.admin import transactions as kp_admin
    from kafka.protocol.old import sasl_authenticate as old_auth
    from kafka.protocol.old import sasl_handshake as old_handshake

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


# -- SaslHandshake ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
def test_sasl_handshake_matches_independent_codecs(version: int) -> None:
    ours = SaslHandshakeRequest("SCRAM-SHA-512").encode(version)
    assert ours == kp_sasl.SaslHandshakeRequest(mechanism="SCRAM-SHA-512").encode(version=version)
    assert ours == old_handshake.SaslHandshakeRequest[version]("SCRAM-SHA-512").encode()
    aio_request = (aio_admin.SaslHandShakeRequest_v0, aio_admin.SaslHandShakeRequest_v1)[version]
    assert ours == aio_request("SCRAM-SHA-512").encode()

    expected = SaslHandshakeResponse(33, ("PLAIN", "SCRAM-SHA-256"))
    bodies = [
        kp_sasl.SaslHandshakeResponse(error_code=33, mechanisms=["PLAIN", "SCRAM-SHA-256"]).encode(
            version=version
        ),
        old_handshake.SaslHandshakeResponse[version](33, ["PLAIN", "SCRAM-SHA-256"]).encode(),
        aio_admin.SaslHandShakeResponse_v1(33, ["PLAIN", "SCRAM-SHA-256"]).encode(),
    ]
    for body in bodies:
        assert check_decode(SaslHandshakeRequest.decode_response, body, version) == expected


@given(st.integers(0, 1), names, int16s, st.lists(names, max_size=4))
def test_sasl_handshake_round_trips(
    version: int, mechanism: str, code: int, mechanisms: list[str]
) -> None:
    d = kp_sasl.SaslHandshakeRequest.decode(
        SaslHandshakeRequest(mechanism).encode(version), version=version
    )
    assert d.mechanism == mechanism
    body = kp_sasl.SaslHandshakeResponse(error_code=code, mechanisms=mechanisms).encode(
        version=version
    )
    got = SaslHandshakeRequest.decode_response(memoryview(body), version)
    assert got == SaslHandshakeResponse(code, tuple(mechanisms))


# -- SaslAuthenticate ------------------------------------------------------------------------

TOKEN = b"\x00user\x00s3cret-password"


@pytest.mark.parametrize("version", [0, 1, 2])
def test_sasl_authenticate_request_matches_independent_codecs(version: int) -> None:
    ours = SaslAuthenticateRequest(TOKEN).encode(version)
    assert ours == kp_sasl.SaslAuthenticateRequest(auth_bytes=TOKEN).encode(version=version)
    if version <= 1:
        assert ours == old_auth.SaslAuthenticateRequest[version](TOKEN).encode()
        aio_request = (aio_admin.SaslAuthenticateRequest_v0, aio_admin.SaslAuthenticateRequest_v1)
        assert ours == aio_request[version](TOKEN).encode()


@pytest.mark.parametrize("version", [0, 1, 2])
def test_sasl_authenticate_response_from_independent_codecs(version: int) -> None:
    lifetime = 3_600_000 if version >= 1 else 0
    expected = SaslAuthenticateResponse(58, "bad credentials", b"server-final", lifetime)
    body = kp_sasl.SaslAuthenticateResponse(
        error_code=58,
        error_message="bad credentials",
        auth_bytes=b"server-final",
        session_lifetime_ms=lifetime,
    ).encode(version=version)
    assert check_decode(SaslAuthenticateRequest.decode_response, body, version) == expected
    if version <= 1:
        fields: tuple[Any, ...] = (58, "bad credentials", b"server-final", lifetime)
        fields = fields[: 4 if version == 1 else 3]
        old_body = old_auth.SaslAuthenticateResponse[version](*fields).encode()
        aio_response = (
            aio_admin.SaslAuthenticateResponse_v0,
            aio_admin.SaslAuthenticateResponse_v1,
        )
        aio_body = aio_response[version](*fields).encode()
        for b in (old_body, aio_body):
            assert check_decode(SaslAuthenticateRequest.decode_response, b, version) == expected


def test_sasl_tokens_stay_out_of_reprs() -> None:
    assert b"s3cret" not in repr(SaslAuthenticateRequest(TOKEN)).encode()
    assert "s3cret" not in repr(SaslAuthenticateRequest(TOKEN))
    response = SaslAuthenticateResponse(0, None, b"v=signature-s3cret", 1)
    assert "s3cret" not in repr(response)


@given(st.integers(0, 2), st.binary(max_size=64), int16s, opt_names, st.binary(max_size=64), int64s)
def test_sasl_authenticate_round_trips(
    version: int, token: bytes, code: int, message: str | None, server: bytes, lifetime: int
) -> None:
    d = kp_sasl.SaslAuthenticateRequest.decode(
        SaslAuthenticateRequest(token).encode(version), version=version
    )
    assert d.auth_bytes == token
    lifetime = lifetime if version >= 1 else 0
    body = kp_sasl.SaslAuthenticateResponse(
        error_code=code, error_message=message, auth_bytes=server, session_lifetime_ms=lifetime
    ).encode(version=version)
    got = SaslAuthenticateRequest.decode_response(memoryview(body + b"\xff"), version)
    assert got == SaslAuthenticateResponse(code, message, server, lifetime)


# -- DescribeProducers -----------------------------------------------------------------------

KTopicRequest = kp_admin.DescribeProducersRequest.TopicRequest
KTopicResponse = kp_admin.DescribeProducersResponse.TopicResponse
KPartitionResponse = KTopicResponse.PartitionResponse
KProducerState = KPartitionResponse.ProducerState


def kp_describe_producers_response(resp: DescribeProducersResponse) -> bytes:
    grouped: list[tuple[str, list[Any]]] = []
    for p in resp.partitions:
        if not grouped or grouped[-1][0] != p.topic:
            grouped.append((p.topic, []))
        grouped[-1][1].append(
            KPartitionResponse(
                partition_index=p.partition,
                error_code=p.error_code,
                error_message=p.error_message,
                active_producers=[
                    KProducerState(
                        producer_id=s.producer_id,
                        producer_epoch=s.producer_epoch,
                        last_sequence=s.last_sequence,
                        last_timestamp=s.last_timestamp,
                        coordinator_epoch=s.coordinator_epoch,
                        current_txn_start_offset=s.current_txn_start_offset,
                    )
                    for s in p.active_producers
                ],
            )
        )
    result: bytes = kp_admin.DescribeProducersResponse(
        throttle_time_ms=resp.throttle_time_ms,
        topics=[KTopicResponse(name=n, partitions=p) for n, p in grouped],
    ).encode(version=0)
    return result


def test_describe_producers_matches_kafka_python() -> None:
    topics = {"orders": [0, 1, 2], "ü": []}
    ours = DescribeProducersRequest(topics).encode(0)
    assert ours == kp_admin.DescribeProducersRequest(
        topics=[KTopicRequest(name=n, partition_indexes=p) for n, p in topics.items()]
    ).encode(version=0)

    state = ProducerState(4242, 3, 17, 1_700_000_000_000, 2, 123)
    expected = DescribeProducersResponse(
        5,
        (
            DescribeProducersPartitionResult("orders", 0, 0, None, (state,)),
            DescribeProducersPartitionResult("orders", 1, 6, "not leader", ()),
        ),
    )
    body = kp_describe_producers_response(expected)
    assert check_decode(DescribeProducersRequest.decode_response, body, 0) == expected


producer_states = st.builds(ProducerState, int64s, int32s, int32s, int64s, int32s, int64s)
partition_results = st.builds(
    DescribeProducersPartitionResult,
    names,
    int32s,
    int16s,
    opt_names,
    st.lists(producer_states, max_size=3).map(tuple),
)


@given(
    st.dictionaries(names, st.lists(int32s, max_size=4), max_size=3),
    int32s,
    st.lists(partition_results, max_size=4),
)
def test_describe_producers_round_trips(
    topics: dict[str, list[int]], throttle: int, partitions: list[DescribeProducersPartitionResult]
) -> None:
    d = kp_admin.DescribeProducersRequest.decode(
        DescribeProducersRequest(topics).encode(0), version=0
    )
    assert {t.name: list(t.partition_indexes) for t in d.topics} == topics
    expected = DescribeProducersResponse(throttle, tuple(partitions))
    body = kp_describe_producers_response(expected) + b"\x00"
    assert DescribeProducersRequest.decode_response(memoryview(body), 0) == expected
