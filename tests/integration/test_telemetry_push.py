"""Client metrics pushed to a real broker (KIP-714), read back by a broker plugin.

The broker loads ``aioproducer.testing.TelemetryRecorder`` (a ``ClientTelemetry`` metrics
reporter compiled here with javac against the broker's jars), which decodes every push with
Kafka's own OTLP classes and writes it to a file; a client-metrics subscription asks every
client for the producer's metrics every 500 ms.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aioproducer import Producer
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
)
from aioproducer.errors import UnsupportedVersionError
from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.jars import HarnessError
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all
from aioproducer.testing.telemetry import TelemetryRecorder
from aioproducer.testing.versions import version_tuple

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREFIX = "org.apache.kafka.producer."


@pytest.fixture(scope="module")
def recorded(
    kafka_version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalKafkaCluster, TelemetryRecorder]]:
    if version_tuple(kafka_version) < (3, 7):
        pytest.skip(f"Kafka {kafka_version} has no client metrics (KIP-714 is in 3.7+)")
    try:
        recorder = TelemetryRecorder.build(
            tmp_path_factory.mktemp("telemetry") / "pushes.jsonl", kafka_version
        )
    except HarnessError as exc:
        if "javac is not on PATH" in str(exc):
            pytest.skip(str(exc))
        raise
    cluster = LocalKafkaCluster(
        1,
        broker_config=recorder.broker_config(),
        classpath=[recorder.classes],
        version=kafka_version,
    )
    with cluster:
        recorder.subscribe(cluster.bootstrap_servers, "all", [PREFIX], 500)
        yield cluster, recorder


def pushes_of(recorder: TelemetryRecorder, client_id: str) -> list[dict[str, Any]]:
    return [p for p in recorder.pushes() if p["client_id"] == client_id]


def points(push: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in push["points"] if p["name"] == name]


async def wait_for_pushes(recorder: TelemetryRecorder, client_id: str, count: int) -> None:
    for _ in range(200):
        if len(pushes_of(recorder, client_id)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client_id}: {len(pushes_of(recorder, client_id))} pushes, not {count}")


async def test_metrics_reach_the_broker_and_close_pushes_the_final_counts(
    recorded: tuple[LocalKafkaCluster, TelemetryRecorder],
) -> None:
    cluster, recorder = recorded
    topic = cluster.create_topic(None, 2)
    client_id = f"telemetry-{uuid.uuid4().hex[:8]}"
    silent_id = client_id + "-off"
    async with (
        Producer(bootstrap_servers=cluster.bootstrap_servers, client_id=client_id) as producer,
        Producer(
            bootstrap_servers=cluster.bootstrap_servers,
            client_id=silent_id,
            enable_metrics_push=False,
        ) as silent,
    ):
        for i in range(300):
            await producer.send(topic, b"v%d" % i, key=b"k%d" % i)
            await silent.send(topic, b"s")
        await producer.flush()
        await silent.flush()
        await wait_for_pushes(recorder, client_id, 2)  # at the interval, not only the first
        for i in range(100):
            await producer.send(topic, b"w%d" % i)
        await producer.flush()
    pushes = pushes_of(recorder, client_id)
    assert pushes_of(recorder, silent_id) == []
    assert len({p["client_instance_id"] for p in pushes}) == 1
    assert [p["terminating"] for p in pushes] == [False] * (len(pushes) - 1) + [True]
    assert all("error" not in p for p in pushes)
    final = pushes[-1]
    assert all(p["name"].startswith(PREFIX) for p in final["points"])
    totals = [points(p, PREFIX + "record.send.total") for p in pushes]
    assert all(len(t) == 1 for t in totals)
    (total,) = totals[-1]
    assert total["kind"] == "monotonic_sum"
    assert total["attributes"] == {}  # client_id is left to the broker
    assert 0 < total["start"] <= total["time"]
    (rate,) = points(final, PREFIX + "record.send.rate")
    assert rate["kind"] == "gauge"
    latency = points(final, PREFIX + "node.request.latency.avg")
    # the broker's node, and (as in Java) the bootstrap connection's "node--1"
    assert "node-1" in {p["attributes"]["node_id"] for p in latency}
    per_topic = points(final, PREFIX + "topic.record.send.total")
    assert [p["attributes"] for p in per_topic] == [{"topic": topic}]
    if total["temporality"] == "AGGREGATION_TEMPORALITY_DELTA":  # the broker's default
        # each push counts what was sent since the one before: together, every record
        assert sum(t[0]["value"] for t in totals) == 400
        assert sum(p["value"] for push in pushes for p in points(push, per_topic[0]["name"])) == 400
        assert [t[0]["start"] for t in totals[1:]] == [t[0]["time"] for t in totals[:-1]]
    else:
        assert total["temporality"] == "AGGREGATION_TEMPORALITY_CUMULATIVE"
        assert total["value"] == 400
        assert per_topic[0]["value"] == 400
    assert len(consume_all(cluster.bootstrap_servers, topic)) == 700  # and the records went in


async def test_a_broker_without_a_reporter_gets_no_telemetry_requests(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        await (await producer.send(topic, b"v"))
        await asyncio.sleep(0.2)  # the telemetry task has looked at the connection
        cluster = producer._cluster
        assert cluster is not None
        conn = cluster.any_connection()
        assert conn is not None
        with pytest.raises(UnsupportedVersionError):  # not offered without a reporter
            conn.version_for(GetTelemetrySubscriptionsRequest)
        telemetry = producer._telemetry
        assert telemetry is not None
        assert telemetry.state.subscription is None
