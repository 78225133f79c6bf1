"""GetTelemetrySubscriptions and PushTelemetry (KIP-714) codecs against kafka-python's
schema-driven codec, fed the two APIs' schemas (kafka-python 3.x ships none for them).

The schemas below restate Kafka's ``GetTelemetrySubscriptions*.json`` and
``PushTelemetry*.json`` (version 0, flexible): field names, types and versions only.
"""

from __future__ import annotations

import contextlib
import random
import uuid
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.push_telemetry import (
    PushTelemetryRequest,
    PushTelemetryResponse,
)
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer.errors import ProtocolError

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.protocol.api_data as kp_api_data
    from kafka.protocol.api_message import ApiMessage

T = TypeVar("T")


def _schema(key: int, kind: str, name: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "apiKey": key,
        "type": kind,
        "name": name,
        "validVersions": "0",
        "flexibleVersions": "0+",
        "fields": [{"name": n, "type": t, "versions": "0+"} for n, t in fields],
    }


_SCHEMAS = {
    s["name"]: s
    for s in (
        _schema(71, "request", "GetTelemetrySubscriptionsRequest", [("ClientInstanceId", "uuid")]),
        _schema(
            71,
            "response",
            "GetTelemetrySubscriptionsResponse",
            [
                ("ThrottleTimeMs", "int32"),
                ("ErrorCode", "int16"),
                ("ClientInstanceId", "uuid"),
                ("SubscriptionId", "int32"),
                ("AcceptedCompressionTypes", "[]int8"),
                ("PushIntervalMs", "int32"),
                ("TelemetryMaxBytes", "int32"),
                ("DeltaTemporality", "bool"),
                ("RequestedMetrics", "[]string"),
            ],
        ),
        _schema(
            72,
            "request",
            "PushTelemetryRequest",
            [
                ("ClientInstanceId", "uuid"),
                ("SubscriptionId", "int32"),
                ("Terminating", "bool"),
                ("CompressionType", "int8"),
                ("Metrics", "bytes"),
            ],
        ),
        _schema(
            72,
            "response",
            "PushTelemetryResponse",
            [("ThrottleTimeMs", "int32"), ("ErrorCode", "int16")],
        ),
    )
}


def _kafka_python_classes() -> dict[str, Any]:
    original = kp_api_data.load_json
    kp_api_data.load_json = lambda name, package=None: _SCHEMAS[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return {name: type(name, (ApiMessage,), {}) for name in _SCHEMAS}
    finally:
        kp_api_data.load_json = original


KP = _kafka_python_classes()

int16s = st.integers(-(2**15), 2**15 - 1)
int32s = st.integers(-(2**31), 2**31 - 1)
uuids = st.uuids() | st.just(ZERO_UUID)


def check_decode(decode: Callable[[memoryview, int], T], body: bytes) -> T:
    """Decode ``body`` whole and with trailing bytes; every strict prefix must be refused."""
    result = decode(memoryview(body), 0)
    assert decode(memoryview(body + b"\x00\x01trailing"), 0) == result
    for cut in range(len(body)):
        with pytest.raises(ProtocolError):
            decode(memoryview(body[:cut]), 0)
    return result


def test_api_keys() -> None:
    assert GetTelemetrySubscriptionsRequest.API_KEY == int(ApiKey.GET_TELEMETRY_SUBSCRIPTIONS) == 71
    assert PushTelemetryRequest.API_KEY == int(ApiKey.PUSH_TELEMETRY) == 72


def test_get_subscriptions_golden_bytes() -> None:
    instance = uuid.UUID("0123456789abcdef0123456789abcdef")
    assert GetTelemetrySubscriptionsRequest().encode(0) == bytes(16) + b"\x00"
    assert GetTelemetrySubscriptionsRequest(instance).encode(0) == instance.bytes + b"\x00"
    body = (
        b"\x00\x00\x00\x07"  # throttle
        b"\x00\x00" + instance.bytes + b"\x00\x00\x00\x09"  # error  # subscription id
        b"\x03\x04\x03"  # compact [zstd, lz4]
        b"\x00\x00\x01\xf4"  # 500 ms
        b"\x00\x10\x00\x00"  # max bytes
        b"\x01"  # delta
        b"\x02\x1borg.apache.kafka.producer."  # one prefix
        b"\x00"  # tagged fields
    )
    expected = GetTelemetrySubscriptionsResponse(
        0, instance, 9, (4, 3), 500, 1 << 20, True, ("org.apache.kafka.producer.",), 7
    )
    assert check_decode(GetTelemetrySubscriptionsRequest.decode_response, body) == expected


def test_push_golden_bytes() -> None:
    instance = uuid.UUID("0123456789abcdef0123456789abcdef")
    request = PushTelemetryRequest(instance, 9, True, 4, b"abc")
    assert request.encode(0) == instance.bytes + b"\x00\x00\x00\x09\x01\x04\x04abc\x00"
    body = b"\x00\x00\x00\x00\x00\x75\x00"  # no throttle, UNKNOWN_SUBSCRIPTION_ID, no tags
    assert check_decode(PushTelemetryRequest.decode_response, body) == PushTelemetryResponse(117)


def test_only_version_0() -> None:
    with pytest.raises(ValueError, match=r"versions 0\.\.0"):
        GetTelemetrySubscriptionsRequest().encode(1)
    with pytest.raises(ValueError, match=r"versions 0\.\.0"):
        PushTelemetryRequest.decode_response(memoryview(bytes(7)), 1)


@given(uuids)
def test_get_subscriptions_request_matches_kafka_python(instance: uuid.UUID) -> None:
    ours = GetTelemetrySubscriptionsRequest(instance).encode(0)
    theirs = KP["GetTelemetrySubscriptionsRequest"](client_instance_id=instance).encode(version=0)
    assert ours == bytes(theirs)


@given(
    int32s,
    int16s,
    uuids,
    int32s,
    st.lists(st.integers(-128, 127), max_size=6),
    int32s,
    int32s,
    st.booleans(),
    st.lists(st.text(max_size=20), max_size=4),
)
def test_get_subscriptions_response_matches_kafka_python(
    throttle: int,
    error: int,
    instance: uuid.UUID,
    subscription: int,
    codecs: list[int],
    interval: int,
    max_bytes: int,
    delta: bool,
    requested: list[str],
) -> None:
    body = KP["GetTelemetrySubscriptionsResponse"](
        throttle_time_ms=throttle,
        error_code=error,
        client_instance_id=instance,
        subscription_id=subscription,
        accepted_compression_types=codecs,
        push_interval_ms=interval,
        telemetry_max_bytes=max_bytes,
        delta_temporality=delta,
        requested_metrics=requested,
    ).encode(version=0)
    decoded = GetTelemetrySubscriptionsRequest.decode_response(memoryview(bytes(body) + b"x"), 0)
    assert decoded == GetTelemetrySubscriptionsResponse(
        error,
        instance,
        subscription,
        tuple(codecs),
        interval,
        max_bytes,
        delta,
        tuple(requested),
        throttle,
    )


@given(uuids, int32s, st.booleans(), st.integers(0, 4), st.binary(max_size=300), int32s, int16s)
def test_push_matches_kafka_python(
    instance: uuid.UUID,
    subscription: int,
    terminating: bool,
    codec: int,
    metrics: bytes,
    throttle: int,
    error: int,
) -> None:
    ours = PushTelemetryRequest(instance, subscription, terminating, codec, metrics).encode(0)
    theirs = KP["PushTelemetryRequest"](
        client_instance_id=instance,
        subscription_id=subscription,
        terminating=terminating,
        compression_type=codec,
        metrics=metrics,
    ).encode(version=0)
    assert ours == bytes(theirs)
    body = KP["PushTelemetryResponse"](throttle_time_ms=throttle, error_code=error).encode(
        version=0
    )
    assert PushTelemetryRequest.decode_response(
        memoryview(bytes(body)), 0
    ) == PushTelemetryResponse(error, throttle)


def test_fuzzed_responses_only_raise_protocol_error() -> None:
    rng = random.Random(714)
    seeds: list[tuple[Callable[[memoryview, int], object], bytes]] = [
        (
            GetTelemetrySubscriptionsRequest.decode_response,
            bytes(
                KP["GetTelemetrySubscriptionsResponse"](
                    throttle_time_ms=0,
                    error_code=0,
                    client_instance_id=uuid.uuid4(),
                    subscription_id=1,
                    accepted_compression_types=[4, 3, 1, 2],
                    push_interval_ms=500,
                    telemetry_max_bytes=1 << 20,
                    delta_temporality=False,
                    requested_metrics=["org.apache.kafka.producer.", ""],
                ).encode(version=0)
            ),
        ),
        (PushTelemetryRequest.decode_response, b"\x00\x00\x00\x00\x00\x00\x00"),
    ]
    for _ in range(5000):
        decode, body = rng.choice(seeds)
        data = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data) + 1)
            if rng.random() < 0.5 and data:
                data[pos % len(data)] = rng.choice((0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)))
            else:
                data[pos:pos] = rng.randbytes(rng.randint(1, 6))
        with contextlib.suppress(ProtocolError):
            decode(memoryview(bytes(data)), 0)
