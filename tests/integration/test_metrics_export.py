"""The exporters over a real producer and broker: prometheus_client's text output scraped,
OpenTelemetry's in-memory reader read, the counts checked against confluent-kafka's
read-back."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_reading import otel_points
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aioproducer import Producer
from aioproducer.errors import MessageTooLargeError
from aioproducer.metrics import otel, prometheus
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import count_records

pytestmark = pytest.mark.integration


def scrape(registry: CollectorRegistry) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the registry's text output: name -> sorted labels -> value."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    text = generate_latest(registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


async def send_mixed(producer: Producer, ok: str, other: str, refusing: str) -> None:
    """150 records to ``ok`` (send and send_many), 50 to ``other``, 1 refused by the broker."""
    futures = [await producer.send(ok, b"v%d" % i, key=b"k%d" % i) for i in range(100)]
    many = await producer.send_many(ok, [(None, b"m%d" % i) for i in range(50)])
    futures += [await producer.send(other, b"o%d" % i) for i in range(50)]
    with pytest.raises(MessageTooLargeError):
        await producer.send_and_wait(refusing, b"x" * 5_000)
    await producer.flush()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(many.result()) == 50


async def test_prometheus_scrape_counts_what_the_broker_holds(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    ok, other = new_topic(partitions=3), new_topic()
    refusing = new_topic(config={"max.message.bytes": "2000"})
    registry = CollectorRegistry()
    async with Producer(bootstrap_servers=kafka_bootstrap, client_id="prom-app") as producer:
        prometheus.register(producer, registry)
        await send_mixed(producer, ok, other, refusing)
        scraped = scrape(registry)
        me = (("client_id", "prom-app"),)
        assert scraped["kafka_producer_record_send_total"][me] == 200
        assert scraped["kafka_producer_record_error_total"][me] == 1
        topic_sent = scraped["kafka_producer_topic_record_send_total"]
        assert topic_sent[(("client_id", "prom-app"), ("topic", ok))] == 150
        assert topic_sent[(("client_id", "prom-app"), ("topic", other))] == 50
        topic_errors = scraped["kafka_producer_topic_record_error_total"]
        assert topic_errors[(("client_id", "prom-app"), ("topic", refusing))] == 1
        assert scraped["kafka_producer_request_total"][me] > 0
        assert scraped["kafka_producer_record_send_rate"][me] > 0
        latency = scraped["kafka_producer_node_request_latency_avg"]
        assert latency
        assert all(dict(labels)["node_id"].startswith("node-") for labels in latency)
        text = generate_latest(registry).decode()
        assert "# TYPE kafka_producer_record_send_total counter" in text
        assert "# TYPE kafka_producer_request_latency_avg gauge" in text
    assert count_records(kafka_bootstrap, ok) == 150
    assert count_records(kafka_bootstrap, other) == 50
    assert count_records(kafka_bootstrap, refusing) == 0
    assert scrape(registry) == {}  # closed: gone from the next scrape


def otel_values(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
    """Instrument name -> sorted attributes -> value."""
    return {
        name: {labels: value for labels, (_, value) in points.items()}
        for name, points in otel_points(reader).items()
    }


async def test_otel_reader_sees_the_counts(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    ok, other = new_topic(partitions=3), new_topic()
    refusing = new_topic(config={"max.message.bytes": "2000"})
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    async with Producer(bootstrap_servers=kafka_bootstrap, client_id="otel-app") as producer:
        otel.instrument(producer, meter_provider=provider, tracing=False)
        await send_mixed(producer, ok, other, refusing)
        values = otel_values(reader)
        me = (("client_id", "otel-app"),)
        assert values["kafka.producer.record_send"][me] == 200
        assert values["kafka.producer.record_error"][me] == 1
        topic_sent = values["kafka.producer.topic.record_send"]
        assert topic_sent[(("client_id", "otel-app"), ("topic", ok))] == 150
        assert topic_sent[(("client_id", "otel-app"), ("topic", other))] == 50
        # Present for this client; its value may be 0: latency is counted in whole
        # milliseconds (as Java's), and a loopback broker can answer every request in less.
        assert values["kafka.producer.request_latency_avg"][me] >= 0
        assert values["kafka.producer.node.request_latency_avg"]
    assert count_records(kafka_bootstrap, ok) == 150
    assert "kafka.producer.record_send" not in otel_values(reader)  # closed: not reported
    provider.shutdown()


async def test_scrapes_from_another_thread_while_sending(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """prometheus_client's HTTP server scrapes in its own threads: scraping while the loop
    adds topics and brokers to the metrics must neither raise nor stall."""
    topics = [new_topic() for _ in range(6)]
    registry = CollectorRegistry()
    stop = threading.Event()
    scrapes: list[int] = []
    errors: list[BaseException] = []

    def scrape_on() -> None:
        while not stop.is_set():
            try:
                scrapes.append(len(generate_latest(registry)))
            except BaseException as exc:  # reported by the test
                errors.append(exc)
                return

    async with Producer(bootstrap_servers=kafka_bootstrap, client_id="scraped") as producer:
        prometheus.register(producer, registry)
        thread = threading.Thread(target=scrape_on, name="scraper")
        thread.start()
        try:
            for topic in topics:
                for i in range(200):
                    await producer.send(topic, b"%d" % i)
                await asyncio.sleep(0)
            await producer.flush()
        finally:
            stop.set()
            await asyncio.to_thread(thread.join)
        final = scrape(registry)
    assert errors == []
    assert scrapes
    sent = final["kafka_producer_topic_record_send_total"]
    assert {dict(labels)["topic"]: value for labels, value in sent.items()} == dict.fromkeys(
        topics, 200.0
    )
