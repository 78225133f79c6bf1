"""Expose producers' metrics to Prometheus through ``prometheus_client``.

``register(producer)`` adds the producer to one collector per registry; every scrape reads
:meth:`Producer.metric_samples` of each registered producer, so nothing is computed between
scrapes. Names follow Prometheus style: the group gives the prefix (``kafka_producer_``,
``kafka_producer_topic_``, ``kafka_producer_node_``) and the Java name the rest, dashes as
underscores, so ``record-send-total`` is the counter ``kafka_producer_record_send_total``.
Tags become labels ``client_id``, ``topic`` and ``node_id``.

A closed producer is dropped at the next scrape (and a garbage-collected one at once);
:func:`unregister` drops one at once. The registry's collector goes with its last producer.

Needs the ``prometheus`` extra: ``pip install 'aioproducer[prometheus]'``.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Iterable, Iterator

try:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"aioproducer.metrics.prometheus needs the module {exc.name!r}: "
        "pip install 'aioproducer[prometheus]'",
        name=exc.name,
    ) from exc

from aioproducer.metrics import MetricSample
from aioproducer.metrics._source import MetricSource, read_samples

__all__ = ["ProducerCollector", "metric_name", "register", "unregister"]

log = logging.getLogger("aioproducer.metrics")

#: Prometheus prefixes of the Java metric groups; another group ``x-metrics`` gets ``kafka_x_``.
PREFIXES = {
    "producer-metrics": "kafka_producer_",
    "producer-topic-metrics": "kafka_producer_topic_",
    "producer-node-metrics": "kafka_producer_node_",
}
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(group: str, name: str) -> str:
    """The Prometheus name of Java's metric ``name`` in ``group`` (counters get ``_total``
    from ``prometheus_client``, which strips a trailing ``_total`` from a family's name)."""
    prefix = PREFIXES.get(group)
    if prefix is None:
        prefix = "kafka_" + group.removesuffix("-metrics") + "_"
    return _INVALID.sub("_", prefix + name)


def _label(tag: str) -> str:
    return _INVALID.sub("_", tag)


class ProducerCollector(Collector):
    """A ``prometheus_client`` collector of the producers added to it (held weakly)."""

    def __init__(self) -> None:
        self._producers: weakref.WeakSet[MetricSource] = weakref.WeakSet()
        self._lock = threading.Lock()  # scrapes run in the HTTP server's threads

    def add(self, producer: MetricSource) -> None:
        with self._lock:
            self._producers.add(producer)

    def remove(self, producer: MetricSource) -> None:
        with self._lock:
            self._producers.discard(producer)

    def __len__(self) -> int:
        return len(self._producers)

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the names depend on the topics and brokers in use, and
        describing must not read a producer that has not started."""
        return ()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            producers = list(self._producers)
        families: dict[str, tuple[CounterMetricFamily | GaugeMetricFamily, list[str]]] = {}
        for producer in producers:
            if producer.closed:
                self.remove(producer)
                continue
            for sample in read_samples(producer):
                name = metric_name(sample.group, sample.name)
                labels = {_label(tag): value for tag, value in sample.tags.items()}
                entry = families.get(name)
                if entry is None:
                    entry = families[name] = _family(name, sample, list(labels))
                family, names = entry
                if family.type != sample.kind:
                    log.warning(
                        "metric %s is both a counter and a gauge; the %s is left out",
                        name,
                        sample.kind,
                    )
                    continue
                family.add_metric([labels.get(label, "") for label in names], sample.value)
        for family, _ in families.values():
            yield family


def _family(
    name: str, sample: MetricSample, labels: list[str]
) -> tuple[CounterMetricFamily | GaugeMetricFamily, list[str]]:
    """An empty family for ``sample``'s metric, with its label names."""
    if sample.kind == "counter":
        return CounterMetricFamily(name, sample.description, labels=labels), labels
    return GaugeMetricFamily(name, sample.description, labels=labels), labels


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, ProducerCollector] = (
    weakref.WeakKeyDictionary()
)
_collectors_lock = threading.Lock()


def register(producer: MetricSource, registry: CollectorRegistry = REGISTRY) -> ProducerCollector:
    """Expose ``producer``'s metrics in ``registry`` (the default one if not given) until
    it is closed or :func:`unregister` is called; return the registry's collector."""
    with _collectors_lock:
        collector = _collectors.get(registry)
        if collector is None:
            collector = ProducerCollector()
            registry.register(collector)
            _collectors[registry] = collector
        collector.add(producer)
    return collector


def unregister(producer: MetricSource, registry: CollectorRegistry = REGISTRY) -> None:
    """Stop exposing ``producer``'s metrics in ``registry`` (nothing if it was not there);
    the collector leaves the registry with its last producer."""
    with _collectors_lock:
        collector = _collectors.get(registry)
        if collector is None:
            return
        collector.remove(producer)
        if not len(collector):
            registry.unregister(collector)
            del _collectors[registry]
