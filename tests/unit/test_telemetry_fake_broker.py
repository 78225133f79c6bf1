"""KIP-714 pushes from a real Producer to a FakeBroker that offers the telemetry APIs:
the subscription, pushes at the interval, the terminating push from close(), the errors
that make the client ask again, and a broker without the APIs (nothing is sent)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from otlp_reader import read_metrics

from aioproducer import Producer
from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.compression import decompress
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.push_telemetry import PushTelemetryRequest
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer.errors import UnknownSubscriptionIdError
from aioproducer.testing._fake_wire import encode_response, read_request
from aioproducer.testing.fake_broker import HANG, FakeBroker

INSTANCE = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
PREFIX = "org.apache.kafka.producer."


def subscription(
    requested: Sequence[str] = (PREFIX,), interval_ms: int = 100
) -> GetTelemetrySubscriptionsResponse:
    return GetTelemetrySubscriptionsResponse(
        0, INSTANCE, 7, (4, 3, 1, 2), interval_ms, 1 << 20, False, tuple(requested)
    )


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    async with asyncio.timeout(10), FakeBroker(telemetry=subscription()) as fake:
        fake.create_topic("t", 2)
        yield fake


def producer(broker: FakeBroker, **options: Any) -> Producer:
    return Producer(bootstrap_servers=broker.bootstrap_servers, linger_ms=0, **options)


def pushes(broker: FakeBroker) -> list[PushTelemetryRequest]:
    found = [r.request for r in broker.received(ApiKey.PUSH_TELEMETRY)]
    return [r for r in found if isinstance(r, PushTelemetryRequest)]


def subscription_requests(broker: FakeBroker) -> list[GetTelemetrySubscriptionsRequest]:
    found = [r.request for r in broker.received(ApiKey.GET_TELEMETRY_SUBSCRIPTIONS)]
    return [r for r in found if isinstance(r, GetTelemetrySubscriptionsRequest)]


def metrics_of(push: PushTelemetryRequest) -> dict[str, dict[str, Any]]:
    return read_metrics(decompress(push.compression_type, push.metrics))[1]


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - what the broker received, polled
            await asyncio.sleep(0.01)


def test_the_fake_broker_codecs_round_trip() -> None:
    for request in (
        GetTelemetrySubscriptionsRequest(INSTANCE),
        PushTelemetryRequest(INSTANCE, 3, True, 4, b"payload"),
    ):
        header = b"\x00" + bytes([request.API_KEY]) + b"\x00\x00\x00\x00\x00\x09\x00\x01c\x00"
        assert read_request(header + request.encode(0))[1] == request
    answer = subscription()
    body = encode_response(ApiKey.GET_TELEMETRY_SUBSCRIPTIONS, 0, answer)
    assert GetTelemetrySubscriptionsRequest.decode_response(memoryview(body), 0) == answer


async def test_pushes_at_the_interval_and_a_terminating_push_on_close(
    broker: FakeBroker,
) -> None:
    async with producer(broker) as p:
        for i in range(50):
            await p.send("t", b"v", partition=i % 2)
        await p.flush()
        await until(lambda: len(pushes(broker)) >= 2)
    sent = pushes(broker)
    assert subscription_requests(broker)[0] == GetTelemetrySubscriptionsRequest(ZERO_UUID)
    assert [r.terminating for r in sent] == [False] * (len(sent) - 1) + [True]
    assert {(r.client_instance_id, r.subscription_id, r.compression_type) for r in sent} == {
        (INSTANCE, 7, 4)
    }
    final = metrics_of(sent[-1])
    assert all(name.startswith(PREFIX) for name in final)
    total = final[PREFIX + "record.send.total"]
    assert total["kind"] == "sum"
    assert total["points"][0]["value"] == 50


async def test_no_telemetry_apis_no_telemetry_requests() -> None:
    async with FakeBroker() as fake:
        fake.create_topic("t")
        async with producer(fake) as p:
            await (await p.send("t", b"v"))
            await asyncio.sleep(0.2)
        keys = {r.api_key for r in fake.requests}
    assert keys == {ApiKey.API_VERSIONS, ApiKey.METADATA, ApiKey.INIT_PRODUCER_ID, ApiKey.PRODUCE}


async def test_metrics_push_off(broker: FakeBroker) -> None:
    async with producer(broker, enable_metrics_push=False) as p:
        await (await p.send("t", b"v"))
        await asyncio.sleep(0.3)
    assert subscription_requests(broker) == []
    assert pushes(broker) == []


async def test_unknown_subscription_asks_again_with_the_instance_id(broker: FakeBroker) -> None:
    broker.script(ApiKey.PUSH_TELEMETRY, [UnknownSubscriptionIdError])
    async with producer(broker) as p:
        await (await p.send("t", b"v"))
        await until(lambda: len(pushes(broker)) >= 2)
    asked = subscription_requests(broker)
    assert asked[:2] == [
        GetTelemetrySubscriptionsRequest(ZERO_UUID),
        GetTelemetrySubscriptionsRequest(INSTANCE),
    ]
    assert broker.unscripted() == {}


async def test_a_subscription_without_metrics_pushes_nothing() -> None:
    async with FakeBroker(telemetry=subscription(requested=())) as fake:
        fake.create_topic("t")
        async with producer(fake) as p:
            await (await p.send("t", b"v"))
            await until(lambda: len(subscription_requests(fake)) >= 2)  # every interval
        assert pushes(fake) == []


async def test_close_is_bounded_when_the_terminating_push_hangs(broker: FakeBroker) -> None:
    async with producer(broker) as p:
        await (await p.send("t", b"v"))
        await until(lambda: len(pushes(broker)) >= 1)
        broker.script(ApiKey.PUSH_TELEMETRY, [HANG])
        loop = asyncio.get_running_loop()
        started = loop.time()
        await p.close(timeout=0.3)
        assert loop.time() - started < 2
    assert pushes(broker)[-1].terminating


async def test_close_with_no_time_left_sends_no_terminating_push(broker: FakeBroker) -> None:
    async with producer(broker) as p:
        await (await p.send("t", b"v"))
        await until(lambda: len(pushes(broker)) >= 1)
        await p.close(timeout=0)
    assert not any(r.terminating for r in pushes(broker))


async def test_a_failing_metrics_source_stops_telemetry_not_the_producer(
    broker: FakeBroker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Producer) -> list[Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(Producer, "metric_samples", broken)
    with caplog.at_level(logging.WARNING, "aioproducer.telemetry"):
        async with producer(broker) as p:
            await (await p.send("t", b"v"))
            await until(lambda: "client telemetry stopped" in caplog.text)
            await (await p.send("t", b"w"))
    assert pushes(broker) == []
    assert broker.values("t", 0) + broker.values("t", 1) == [b"v", b"w"]
