"""KIP-714 client telemetry without a network: metric names, the OTLP payload (read back
with a small protobuf wire-format reader) and the state machine's transitions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from otlp_reader import read_metrics

from aioproducer._protocol.compression import CompressionType, decompress
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.push_telemetry import (
    PushTelemetryRequest,
    PushTelemetryResponse,
)
from aioproducer._protocol.otlp import DataPoint, encode_metrics_data
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer._telemetry import (
    DEFAULT_PUSH_INTERVAL_MS,
    TelemetryState,
    telemetry_attributes,
    telemetry_name,
)
from aioproducer.metrics import MetricSample

INSTANCE = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
PRODUCER = "org.apache.kafka.producer."

# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "expected"),
    [
        ("producer-metrics", "record-send-total", PRODUCER + "record.send.total"),
        ("producer-metrics", "connection-creation-rate", PRODUCER + "connection.creation.rate"),
        ("producer-topic-metrics", "byte-total", PRODUCER + "topic.byte.total"),
        ("producer-node-metrics", "request-latency-avg", PRODUCER + "node.request.latency.avg"),
        ("app-info", "Start-Time", "org.apache.kafka.app.info.start.time"),
    ],
)
def test_names_follow_kip_714(group: str, name: str, expected: str) -> None:
    assert telemetry_name(group, name) == expected


def test_attributes_are_snake_case_without_client_id() -> None:
    tags = {"client-id": "c", "node-id": "node-1", "topic": "orders"}
    assert telemetry_attributes(tags) == (("node_id", "node-1"), ("topic", "orders"))


# -- the OTLP writer -----------------------------------------------------------------------


def test_metrics_data_layout() -> None:
    points = [
        DataPoint("a.total", "sum", 12.0, (("topic", "t1"),), 2000, 1000, False, "sent"),
        DataPoint("a.total", "sum", 3.0, (("topic", "ü"),), 2000, 1000, False, "sent"),
        DataPoint("a.rate", "gauge", 0.0, (), 2000),
        DataPoint("a.delta", "sum", -1.5, (), 2 << 62, 5, True),
    ]
    resource, metrics = read_metrics(encode_metrics_data(points, (("transactional_id", "x"),)))
    assert resource == {"transactional_id": "x"}
    assert list(metrics) == ["a.total", "a.rate", "a.delta"]
    total = metrics["a.total"]
    assert (total["kind"], total["temporality"], total["monotonic"]) == ("sum", 2, 1)
    assert total["description"] == "sent"
    assert [p["attributes"] for p in total["points"]] == [{"topic": "t1"}, {"topic": "ü"}]
    assert [(p["value"], p["start"], p["time"]) for p in total["points"]] == [
        (12.0, 1000, 2000),
        (3.0, 1000, 2000),
    ]
    assert metrics["a.rate"] == {
        "kind": "gauge",
        "description": "",
        "points": [{"value": 0.0, "time": 2000, "start": 0, "attributes": {}}],
    }
    assert metrics["a.delta"]["temporality"] == 1
    assert metrics["a.delta"]["points"][0]["time"] == 2 << 62


def test_empty_metrics_data() -> None:
    resource, metrics = read_metrics(encode_metrics_data([]))
    assert resource == {}
    assert metrics == {}


# -- the state machine ---------------------------------------------------------------------


def sample(name: str, value: float, kind: str = "counter", **tags: str) -> MetricSample:
    group = "producer-topic-metrics" if "topic" in tags else "producer-metrics"
    return MetricSample(group, name, {"client-id": "c", **tags}, value, kind, "d")  # type: ignore[arg-type]


SAMPLES = [
    sample("record-send-total", 10),
    sample("record-send-rate", 2.5, "gauge"),
    sample("record-send-total", 7, topic="orders"),
    sample("request-latency-avg", 1.0, "gauge"),
]


def subscription(
    requested: Sequence[str] = (PRODUCER,),
    codecs: Sequence[int] = (4, 3, 1, 2),
    *,
    error: int = 0,
    delta: bool = False,
    interval: int = 500,
    max_bytes: int = 1 << 20,
    instance: uuid.UUID = INSTANCE,
) -> GetTelemetrySubscriptionsResponse:
    return GetTelemetrySubscriptionsResponse(
        error, instance, 3, tuple(codecs), interval, max_bytes, delta, tuple(requested)
    )


def subscribed(**kwargs: Any) -> TelemetryState:
    state = TelemetryState(jitter=lambda low, high: high)
    request = state.next_request(lambda: SAMPLES, 0)
    assert request == GetTelemetrySubscriptionsRequest(ZERO_UUID)
    state.on_subscription(subscription(**kwargs), 1000)
    return state


def push(
    state: TelemetryState, wall_ns: int = 10**18, samples: Sequence[MetricSample] = SAMPLES
) -> dict[str, dict[str, Any]]:
    request = state.next_request(lambda: samples, wall_ns)
    assert isinstance(request, PushTelemetryRequest)
    assert request.client_instance_id == INSTANCE
    assert request.subscription_id == 3
    return read_metrics(decompress(request.compression_type, request.metrics))[1]


def test_first_request_is_due_at_once() -> None:
    state = TelemetryState()
    assert state.due_in_ms(0) == 0
    assert not state.can_terminate


def test_subscription_then_jittered_first_push_of_the_requested_metrics() -> None:
    state = subscribed()
    assert state.due_in_ms(1000) == 750  # 1.5 x 500: the jitter's upper bound
    assert state.can_terminate
    request = state.next_request(lambda: SAMPLES, 10**18)
    assert isinstance(request, PushTelemetryRequest)
    assert request.compression_type == CompressionType.ZSTD  # the broker's first choice
    assert not request.terminating
    metrics = read_metrics(decompress(request.compression_type, request.metrics))[1]
    assert set(metrics) == {
        PRODUCER + "record.send.total",
        PRODUCER + "record.send.rate",
        PRODUCER + "request.latency.avg",
        PRODUCER + "topic.record.send.total",
    }
    total = metrics[PRODUCER + "record.send.total"]
    assert total["kind"] == "sum"
    assert total["temporality"] == 2  # cumulative
    assert total["points"] == [{"value": 10.0, "time": 10**18, "start": 10**18, "attributes": {}}]
    topic = metrics[PRODUCER + "topic.record.send.total"]["points"][0]
    assert topic["attributes"] == {"topic": "orders"}
    assert metrics[PRODUCER + "record.send.rate"]["kind"] == "gauge"
    state.on_push(PushTelemetryResponse(0), 2000)
    assert state.due_in_ms(2000) == 500
    assert state.pushes == 1


def test_prefix_filter_and_every_metric() -> None:
    state = subscribed(requested=[PRODUCER + "record.send"])
    assert set(push(state)) == {PRODUCER + "record.send.total", PRODUCER + "record.send.rate"}
    for everything in (["*"], [""]):
        assert len(push(subscribed(requested=everything))) == 4


def test_cumulative_counters_keep_their_start() -> None:
    state = subscribed()
    push(state, 100)
    again = push(state, 200, [sample("record-send-total", 25)])
    assert again[PRODUCER + "record.send.total"]["points"][0] | {"attributes": {}} == {
        "value": 25.0,
        "time": 200,
        "start": 100,
        "attributes": {},
    }


def test_delta_temporality() -> None:
    state = subscribed(delta=True)
    first = push(state, 100)[PRODUCER + "record.send.total"]
    assert first["temporality"] == 1
    assert (first["points"][0]["value"], first["points"][0]["start"]) == (10.0, 100)
    second = push(state, 200, [sample("record-send-total", 25)])[PRODUCER + "record.send.total"]
    assert (second["points"][0]["value"], second["points"][0]["start"]) == (15.0, 100)
    third = push(state, 300, [sample("record-send-total", 25)])[PRODUCER + "record.send.total"]
    assert (third["points"][0]["value"], third["points"][0]["start"]) == (0.0, 200)


@pytest.mark.parametrize(
    ("codecs", "expected"),
    [
        ((), CompressionType.NONE),
        ((9, -1, 1), CompressionType.GZIP),
        ((2,), CompressionType.SNAPPY),
        ((3, 4), CompressionType.LZ4),
    ],
)
def test_compression_is_the_first_known_accepted_codec(
    codecs: tuple[int, ...], expected: CompressionType
) -> None:
    state = subscribed(codecs=codecs)
    request = state.next_request(lambda: SAMPLES, 1)
    assert isinstance(request, PushTelemetryRequest)
    assert request.compression_type == expected
    assert read_metrics(decompress(expected, request.metrics))[1]


@pytest.mark.parametrize("code", [117, 76])  # UNKNOWN_SUBSCRIPTION_ID, UNSUPPORTED_COMPRESSION_TYPE
def test_push_errors_that_refetch_the_subscription_at_once(code: int) -> None:
    state = subscribed()
    push(state)
    state.on_push(PushTelemetryResponse(code), 5000)
    assert state.due_in_ms(5000) == 0
    assert state.next_request(lambda: SAMPLES, 1) == GetTelemetrySubscriptionsRequest(INSTANCE)
    state.on_subscription(subscription(instance=ZERO_UUID), 6000)  # keeps the id held
    assert push(state)


@pytest.mark.parametrize("code", [118, 89])  # TELEMETRY_TOO_LARGE, THROTTLING_QUOTA_EXCEEDED
def test_push_errors_that_retry_an_interval_later(code: int) -> None:
    state = subscribed()
    state.on_push(PushTelemetryResponse(code), 5000)
    assert state.due_in_ms(5000) == 500
    assert isinstance(state.next_request(lambda: SAMPLES, 1), GetTelemetrySubscriptionsRequest)


@pytest.mark.parametrize("code", [42, 87, 35, 999])  # INVALID_REQUEST, INVALID_RECORD, ...
def test_other_errors_disable_telemetry(code: int) -> None:
    state = subscribed()
    state.on_push(PushTelemetryResponse(code), 5000)
    assert not state.enabled
    assert state.due_in_ms(5000) == float("inf")
    assert not state.can_terminate


def test_a_subscription_without_metrics_asks_again_an_interval_later() -> None:
    state = subscribed(requested=[], interval=60_000)
    assert not state.can_terminate
    assert state.due_in_ms(1000) == 60_000
    assert state.next_request(lambda: SAMPLES, 1) == GetTelemetrySubscriptionsRequest(INSTANCE)


def test_subscription_error_and_lost_connection() -> None:
    state = TelemetryState()
    state.on_subscription(subscription(error=117), 10)
    assert state.due_in_ms(10) == 0
    state.on_failure(10)
    assert state.due_in_ms(10) == DEFAULT_PUSH_INTERVAL_MS
    state.on_subscription(subscription(interval=0), 10)  # no interval: Java's default
    assert state.subscription is not None
    assert state.subscription.push_interval_ms == DEFAULT_PUSH_INTERVAL_MS


def test_a_payload_over_the_limit_is_not_pushed() -> None:
    state = subscribed(max_bytes=10, codecs=())
    assert state.next_request(lambda: SAMPLES, 1) is None
    state.on_skipped(1000)
    assert state.due_in_ms(1000) == 500


def test_terminating_flag() -> None:
    state = subscribed()
    request = state.next_request(lambda: SAMPLES, 1, terminating=True)
    assert isinstance(request, PushTelemetryRequest)
    assert request.terminating


def test_state_of_metrics_no_longer_reported_is_dropped() -> None:
    state = subscribed(delta=True)
    many = [sample("record-send-total", 1, topic=f"t{i}") for i in range(200)]
    push(state, 100, many)
    assert len(state._first_seen) == len(state._last) == 200
    push(state, 200, many[:1])  # 199 topics gone
    assert len(state._first_seen) == len(state._last) == 1
    again = push(state, 300, [sample("record-send-total", 5, topic="t0")])
    assert again[PRODUCER + "topic.record.send.total"]["points"][0]["value"] == 4  # delta kept
