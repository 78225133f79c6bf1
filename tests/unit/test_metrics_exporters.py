"""The Prometheus collector and the OpenTelemetry metrics bridge, fed by a scripted source:
names, labels, kinds, several producers, closed and dropped ones, metrics that appear late,
and the import error without the extra. The real-broker tests are in
tests/integration/test_metrics_export.py."""

from __future__ import annotations

import gc
import importlib
import math
import sys
import time
from typing import Any, cast
from unittest.mock import ANY

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_reading import otel_points
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aioproducer.metrics import MetricKind, MetricSample, otel, prometheus

PRODUCER, TOPIC, NODE = "producer-metrics", "producer-topic-metrics", "producer-node-metrics"


class Source:
    """A producer as the exporters see it: samples, and whether it is closed."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.closed = False
        self.sent = 0.0
        self.topics = ["orders"]
        self.reads = 0

    def sample(
        self, group: str, name: str, value: float, kind: MetricKind, **tags: str
    ) -> MetricSample:
        labels = {"client-id": self.client_id}
        labels.update({tag.replace("_", "-"): text for tag, text in tags.items()})
        return MetricSample(group, name, labels, value, kind, f"about {name}")

    def metric_samples(self) -> list[MetricSample]:
        self.reads += 1
        samples = [
            self.sample(PRODUCER, "record-send-total", self.sent, "counter"),
            self.sample(PRODUCER, "record-send-rate", self.sent / 30, "gauge"),
            self.sample(PRODUCER, "request-latency-avg", math.nan, "gauge"),
            self.sample(NODE, "request-latency-avg", 2.5, "gauge", node_id="node-1"),
        ]
        samples.extend(
            self.sample(TOPIC, "record-send-total", self.sent, "counter", topic=topic)
            for topic in self.topics
        )
        return samples


def scrape(registry: CollectorRegistry) -> dict[str, Any]:
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(family: Any) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


# -- Prometheus ------------------------------------------------------------------------------
def test_prometheus_names_labels_and_kinds() -> None:
    registry = CollectorRegistry()
    source = Source("app-1")
    source.sent = 7
    prometheus.register(source, registry)
    families = scrape(registry)
    assert set(families) == {
        "kafka_producer_record_send",
        "kafka_producer_record_send_rate",
        "kafka_producer_request_latency_avg",
        "kafka_producer_node_request_latency_avg",
        "kafka_producer_topic_record_send",
    }
    sent = families["kafka_producer_record_send"]
    assert sent.type == "counter"
    assert sent.documentation == "about record-send-total"
    assert [(s.name, s.labels, s.value) for s in sent.samples] == [
        ("kafka_producer_record_send_total", {"client_id": "app-1"}, 7.0)
    ]
    assert families["kafka_producer_record_send_rate"].type == "gauge"
    assert math.isnan(families["kafka_producer_request_latency_avg"].samples[0].value)
    assert values(families["kafka_producer_node_request_latency_avg"]) == {
        (("client_id", "app-1"), ("node_id", "node-1")): 2.5
    }
    assert values(families["kafka_producer_topic_record_send"]) == {
        (("client_id", "app-1"), ("topic", "orders")): 7.0
    }
    text = generate_latest(registry).decode()
    assert "# TYPE kafka_producer_record_send_total counter" in text
    assert 'kafka_producer_record_send_total{client_id="app-1"} 7.0' in text


def test_prometheus_reads_at_scrape_time_and_several_producers_share_a_family() -> None:
    registry = CollectorRegistry()
    first, second = Source("a"), Source("b")
    first.topics = ["orders", "payments"]
    collector = prometheus.register(first, registry)
    assert prometheus.register(second, registry) is collector
    assert first.reads == 0  # nothing read before a scrape
    first.sent, second.sent = 3, 4
    topic = values(scrape(registry)["kafka_producer_topic_record_send"])
    assert topic == {
        (("client_id", "a"), ("topic", "orders")): 3.0,
        (("client_id", "a"), ("topic", "payments")): 3.0,
        (("client_id", "b"), ("topic", "orders")): 4.0,
    }
    first.sent = 10
    assert values(scrape(registry)["kafka_producer_record_send"])[(("client_id", "a"),)] == 10
    text = generate_latest(registry).decode()
    assert text.count("# TYPE kafka_producer_record_send_total counter") == 1


def test_prometheus_drops_closed_and_collected_producers_and_unregisters() -> None:
    registry = CollectorRegistry()
    first, second = Source("a"), Source("b")
    prometheus.register(first, registry)
    prometheus.register(second, registry)
    first.closed = True
    assert set(values(scrape(registry)["kafka_producer_record_send"])) == {(("client_id", "b"),)}
    reads = first.reads
    scrape(registry)
    assert first.reads == reads  # dropped, not read again
    del second
    gc.collect()
    assert scrape(registry) == {}
    third = Source("c")
    prometheus.register(third, registry)
    prometheus.unregister(third, registry)
    assert list(registry._collector_to_names) == []  # the collector left with its producer
    prometheus.unregister(third, registry)  # twice: nothing
    prometheus.unregister(Source("never"), CollectorRegistry())


def test_prometheus_registers_with_the_default_registry() -> None:
    from prometheus_client import REGISTRY  # noqa: PLC0415

    source = Source("default-registry")
    prometheus.register(source)
    try:
        assert 'client_id="default-registry"' in generate_latest(REGISTRY).decode()
    finally:
        prometheus.unregister(source)
    assert 'client_id="default-registry"' not in generate_latest(REGISTRY).decode()


def test_prometheus_name_of_other_groups_and_odd_characters() -> None:
    assert prometheus.metric_name("producer-metrics", "record-send-total") == (
        "kafka_producer_record_send_total"
    )
    assert prometheus.metric_name("app-info", "start.time") == "kafka_app_info_start_time"


@pytest.mark.parametrize(
    ("module", "needs", "extra"),
    [
        ("aioproducer.metrics.prometheus", "prometheus_client", "prometheus"),
        ("aioproducer.metrics.otel", "opentelemetry", "otel"),
    ],
)
def test_without_the_extra_the_import_error_names_it(
    monkeypatch: pytest.MonkeyPatch, module: str, needs: str, extra: str
) -> None:
    for name in list(sys.modules):
        if name == needs or name.startswith(needs + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, needs, None)
    monkeypatch.delitem(sys.modules, module)
    with pytest.raises(ImportError, match=rf"pip install 'aioproducer\[{extra}\]'") as caught:
        importlib.import_module(module)
    assert caught.value.name == needs


# -- OpenTelemetry metrics -------------------------------------------------------------------
def test_otel_observable_instruments_per_metric() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    source = Source("app-1")
    source.sent = 5
    otel.instrument(cast(Any, source), meter_provider=provider, tracing=False)
    points = otel_points(reader)
    assert set(points) == {  # request-latency-avg is NaN (nothing measured): left out
        "kafka.producer.record_send",
        "kafka.producer.record_send_rate",
        "kafka.producer.node.request_latency_avg",
        "kafka.producer.topic.record_send",
    }
    data, value = points["kafka.producer.record_send"][(("client_id", "app-1"),)]
    assert value == 5
    assert data.is_monotonic  # an ObservableCounter's sum
    data, value = points["kafka.producer.node.request_latency_avg"][
        (("client_id", "app-1"), ("node_id", "node-1"))
    ]
    assert value == 2.5
    assert not hasattr(data, "is_monotonic")  # a gauge
    assert (("client_id", "app-1"), ("topic", "orders")) in points[
        "kafka.producer.topic.record_send"
    ]
    reads = source.reads
    source.sent = 9
    assert otel_points(reader)["kafka.producer.record_send"][(("client_id", "app-1"),)][1] == 9
    assert source.reads == reads + 1  # one read per collection, shared by the instruments
    otel.uninstrument(cast(Any, source))
    assert "kafka.producer.record_send" not in otel_points(reader)
    provider.shutdown()


def test_otel_several_producers_closed_ones_and_metrics_that_appear_late() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    first, second = Source("a"), Source("b")
    otel.instrument(cast(Any, first), meter_provider=provider, tracing=False)
    otel.instrument(cast(Any, second), meter_provider=provider, tracing=False)
    with pytest.raises(ValueError, match="already instrumented"):
        otel.instrument(cast(Any, second), meter_provider=provider, tracing=False)
    sent = otel_points(reader)["kafka.producer.record_send"]
    assert set(sent) == {(("client_id", "a"),), (("client_id", "b"),)}
    first.closed = True
    assert set(otel_points(reader)["kafka.producer.record_send"]) == {(("client_id", "b"),)}

    class Growing(Source):
        grown = False

        def metric_samples(self) -> list[MetricSample]:
            samples = super().metric_samples()
            if self.grown:
                samples.append(self.sample(PRODUCER, "brand-new-total", 1, "counter"))
            return samples

    third = Growing("c")
    otel.instrument(cast(Any, third), meter_provider=provider, tracing=False)
    third.grown = True
    # first seen in this collection: its instrument is made once the collection is over
    assert "kafka.producer.brand_new" not in otel_points(reader)
    bridge = otel._bridge_for(provider)
    deadline = time.monotonic() + 5
    while bridge._instruments.get((PRODUCER, "brand-new-total")) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert otel_points(reader)["kafka.producer.brand_new"] == {(("client_id", "c"),): (ANY, 1)}
    provider.shutdown()


def test_otel_instrument_names() -> None:
    assert otel.instrument_name(PRODUCER, "record-send-total", "counter") == (
        "kafka.producer.record_send"
    )
    assert otel.instrument_name(TOPIC, "byte-rate", "gauge") == "kafka.producer.topic.byte_rate"
    assert otel.instrument_name("app-info", "start-time-ms", "gauge") == (
        "kafka.app_info.start_time_ms"
    )
