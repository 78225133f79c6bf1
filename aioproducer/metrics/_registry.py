"""The producer's metrics registry: Java's sampled statistics, recorded where work happens.

:class:`Window` is Java's ``SampledStat`` (``org.apache.kafka.common.metrics.stats``): a
few time samples of ``metrics_sample_window_ms`` each (``metrics_num_samples`` of them, plus
the one being filled), from which a rate (Java's ``Rate``: the samples' sum over the time
they span, at least ``num_samples - 1`` whole windows), an average and a maximum are read.
One window feeds all three, since Java's separate stats would share the same samples.

:class:`ProducerMetrics` holds a producer's windows and counters. The sender, the
accumulator's batches and the connections call it once per batch, request or settled batch
(never per record); :meth:`ProducerMetrics.samples` reads everything as
:class:`~aioproducer.metrics.MetricSample`. A plain object: no asyncio, times in ms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from aioproducer.metrics import MetricKind, MetricSample

if TYPE_CHECKING:
    from aioproducer.batch import ProducerBatch

__all__ = [
    "METRIC_DESCRIPTIONS",
    "Meter",
    "NodeStats",
    "ProducerMetrics",
    "TopicStats",
    "Window",
]

PRODUCER: Final = "producer-metrics"
TOPIC: Final = "producer-topic-metrics"
NODE: Final = "producer-node-metrics"
_BATCH_HEADER: Final = 61  # a record batch's header, in the uncompressed size

#: Every metric, by group then Java name, with its meaning (the docs' table reads this).
METRIC_DESCRIPTIONS: Final[Mapping[str, Mapping[str, str]]] = {
    PRODUCER: {
        "record-send-total": "records the brokers acknowledged",
        "record-send-rate": "records acknowledged per second",
        "record-error-total": "records that failed for good (their futures hold the error)",
        "record-error-rate": "records failed per second",
        "record-retry-total": "records of batches put back to be sent again",
        "record-retry-rate": "records retried per second",
        "request-total": "requests sent to the brokers (every API, as Java counts)",
        "request-rate": "requests sent per second",
        "request-latency-avg": "average time from writing a Produce request to its response (ms)",
        "request-latency-max": "longest time from writing a Produce request to its response (ms)",
        "batch-size-avg": "average bytes of a batch as sent (compressed)",
        "batch-size-max": "largest batch sent, in bytes (compressed)",
        "records-per-request-avg": "average records per Produce request",
        "compression-rate-avg": "average compressed size / uncompressed size of a batch sent",
        "record-queue-time-avg": "average time a batch waited from creation to being sent (ms)",
        "record-queue-time-max": "longest time a batch waited from creation to being sent (ms)",
        "record-size-avg": "average record size in bytes (uncompressed)",
        "buffer-total-bytes": "buffer_memory: the bytes records may hold while queued",
        "buffer-available-bytes": "bytes of buffer_memory neither in use nor granted",
        "bufferpool-wait-time-ns-total": "nanoseconds send() calls spent waiting for buffer_memory",
        "bufferpool-wait-ratio": "fraction of time send() calls spent waiting for buffer_memory",
        "waiting-threads": "send() calls (tasks) in line for buffer_memory now",
        "requests-in-flight": "requests written and not yet answered, over all brokers",
        "produce-throttle-time-avg": "average throttle time brokers asked for (ms, quotas)",
        "produce-throttle-time-max": "longest throttle time a broker asked for (ms, quotas)",
        "outgoing-byte-total": "bytes written to the brokers",
        "outgoing-byte-rate": "bytes written to the brokers per second",
        "incoming-byte-total": "bytes read from the brokers",
        "incoming-byte-rate": "bytes read from the brokers per second",
        "connection-count": "open connections to brokers",
        "connection-creation-total": "connections opened to brokers",
        "connection-close-total": "connections to brokers closed or lost",
        "metadata-age": "seconds since the cluster metadata was last refreshed",
    },
    TOPIC: {
        "record-send-total": "records of the topic the brokers acknowledged",
        "record-send-rate": "records of the topic acknowledged per second",
        "record-error-total": "records of the topic that failed for good",
        "record-error-rate": "records of the topic failed per second",
        "record-retry-total": "records of the topic retried",
        "byte-total": "bytes of the topic's batches sent (compressed, retries included)",
        "byte-rate": "bytes of the topic's batches sent per second",
        "compression-rate": "average compressed / uncompressed size of the topic's batches",
    },
    NODE: {
        "request-total": "requests sent to the broker",
        "request-rate": "requests sent to the broker per second",
        "request-latency-avg": "average Produce latency at the broker (ms)",
        "request-latency-max": "longest Produce latency at the broker (ms)",
        "outgoing-byte-total": "bytes written to the broker",
        "incoming-byte-total": "bytes read from the broker",
    },
}

_NAN: Final = math.nan
# A sample: [start_ms, last_event_ms, events, sum, max]
_START, _LAST, _EVENTS, _SUM, _MAX = range(5)


def monotonic_ms() -> int:
    """The clock the metrics use (monotonic, whole milliseconds)."""
    return time.monotonic_ns() // 1_000_000


def _kind(name: str) -> MetricKind:
    return "counter" if name.endswith("-total") else "gauge"


class Window:
    """Java's SampledStat over time samples: :meth:`rate`, :meth:`avg` and :meth:`max` of
    what was recorded in the last ``num_samples`` windows of ``window_ms``."""

    __slots__ = ("_current", "_keep", "_samples", "_span", "window_ms")

    def __init__(self, num_samples: int, window_ms: int) -> None:
        self.window_ms = window_ms
        self._keep = num_samples + 1  # one extra sample, as Java keeps
        self._span = num_samples * window_ms  # a sample idle this long is obsolete
        self._samples: list[list[float]] = []
        self._current = 0

    def record(self, value: float, now_ms: int, events: int = 1) -> None:
        """Add ``value`` (the sum of ``events`` observations; the max sees it as one)."""
        samples = self._samples
        if not samples:
            samples.append([now_ms, now_ms, 0, 0.0, -math.inf])
        sample = samples[self._current]
        if now_ms - sample[_START] >= self.window_ms:
            sample = self._advance(now_ms)
        sample[_SUM] += value
        sample[_EVENTS] += events
        if value > sample[_MAX]:  # noqa: PLR1730 - cheaper than max()
            sample[_MAX] = value
        sample[_LAST] = now_ms

    def _advance(self, now_ms: int) -> list[float]:
        self._current = (self._current + 1) % self._keep
        fresh = [now_ms, now_ms, 0, 0.0, -math.inf]
        if self._current >= len(self._samples):
            self._samples.append(fresh)
        else:
            self._samples[self._current] = fresh
        return fresh

    def _purge(self, now_ms: int) -> None:
        """Reset samples with no event in the last ``num_samples`` windows (Java's purge)."""
        for index, sample in enumerate(self._samples):
            if now_ms - sample[_LAST] >= self._span:
                self._samples[index] = [now_ms, now_ms, 0, 0.0, -math.inf]

    def total(self, now_ms: int) -> float:
        """The sum recorded in the samples still in the window."""
        self._purge(now_ms)
        return sum(sample[_SUM] for sample in self._samples)

    def rate(self, now_ms: int) -> float:
        """Java's ``Rate``: the samples' sum per second of the time they span, counting at
        least ``num_samples - 1`` whole windows before the current one (0.0 when empty)."""
        total = self.total(now_ms)
        oldest = min((sample[_START] for sample in self._samples), default=now_ms)
        elapsed = now_ms - oldest
        full, least = elapsed // self.window_ms, self._keep - 2  # num_samples - 1 windows
        if full < least:
            elapsed += (least - full) * self.window_ms
        return total / (max(elapsed, 1) / 1000)

    def avg(self, now_ms: int) -> float:
        """The mean of what was recorded in the window (sum / events); NaN when nothing was,
        as Java's ``Avg``."""
        self._purge(now_ms)
        events = sum(sample[_EVENTS] for sample in self._samples)
        if not events:
            return _NAN
        return sum(sample[_SUM] for sample in self._samples) / events

    def max(self, now_ms: int) -> float:
        """The largest value recorded in the window; NaN when none was, as Java's ``Max``."""
        self._purge(now_ms)
        found = [sample[_MAX] for sample in self._samples if sample[_EVENTS]]
        return float(max(found)) if found else _NAN


class Meter(Window):
    """A :class:`Window` that also keeps the sum of everything ever recorded (Java's
    ``Meter``: a rate and a ``*-total``)."""

    __slots__ = ("cumulative",)

    def __init__(self, num_samples: int, window_ms: int) -> None:
        super().__init__(num_samples, window_ms)
        self.cumulative: float = 0

    def record(self, value: float, now_ms: int, events: int = 1) -> None:
        self.cumulative += value
        Window.record(self, value, now_ms, events)


class TopicStats:
    """Counters and windows of one topic (``producer-topic-metrics``)."""

    __slots__ = ("bytes", "compression", "errors", "retries", "sends")

    def __init__(self, num_samples: int, window_ms: int) -> None:
        self.sends = Meter(num_samples, window_ms)
        self.errors = Meter(num_samples, window_ms)
        self.retries = Meter(num_samples, window_ms)
        self.bytes = Meter(num_samples, window_ms)
        self.compression = Window(num_samples, window_ms)

    def values(self, now_ms: int) -> dict[str, float]:
        return {
            "record-send-total": float(self.sends.cumulative),
            "record-send-rate": self.sends.rate(now_ms),
            "record-error-total": float(self.errors.cumulative),
            "record-error-rate": self.errors.rate(now_ms),
            "record-retry-total": float(self.retries.cumulative),
            "byte-total": float(self.bytes.cumulative),
            "byte-rate": self.bytes.rate(now_ms),
            "compression-rate": self.compression.avg(now_ms),
        }


class NodeStats:
    """Counters and windows of one broker (``producer-node-metrics``); its connections
    call :meth:`sent` and :meth:`received`."""

    __slots__ = ("_producer", "incoming_byte_total", "latency", "outgoing_byte_total", "requests")

    def __init__(self, producer: ProducerMetrics) -> None:
        self._producer = producer
        self.outgoing_byte_total = 0
        self.incoming_byte_total = 0
        self.requests = Meter(producer.num_samples, producer.window_ms)
        self.latency = Window(producer.num_samples, producer.window_ms)

    def sent(self, nbytes: int) -> None:
        """A request of ``nbytes`` was written."""
        producer = self._producer
        now = monotonic_ms()
        self.outgoing_byte_total += nbytes
        self.requests.record(1, now)
        producer.requests.record(1, now)
        producer.outgoing.record(nbytes, now)

    def opened(self) -> None:
        """A connection to the broker was made."""
        self._producer.connection_creations += 1

    def closed(self) -> None:
        """A connection to the broker was closed or lost."""
        self._producer.connection_closes += 1

    def received(self, nbytes: int) -> None:
        """``nbytes`` were read."""
        self.incoming_byte_total += nbytes
        self._producer.incoming.record(nbytes, monotonic_ms())

    def values(self, now_ms: int) -> dict[str, float]:
        return {
            "request-total": float(self.requests.cumulative),
            "request-rate": self.requests.rate(now_ms),
            "request-latency-avg": self.latency.avg(now_ms),
            "request-latency-max": self.latency.max(now_ms),
            "outgoing-byte-total": float(self.outgoing_byte_total),
            "incoming-byte-total": float(self.incoming_byte_total),
        }


class ProducerMetrics:
    """Every metric of one producer. Levels (buffer, connections, in-flight requests,
    metadata age) are read when asked for, through :meth:`bind`'s callables."""

    def __init__(
        self,
        client_id: str,
        num_samples: int = 2,
        window_ms: int = 30_000,
        buffer_total: int = 0,
        clock: Callable[[], int] = monotonic_ms,
    ) -> None:
        self.client_id = client_id
        self.num_samples = num_samples
        self.window_ms = window_ms
        self.buffer_total = buffer_total
        self._clock = clock
        self.topics: dict[str, TopicStats] = {}
        self.nodes: dict[int, NodeStats] = {}
        self.connection_creations = 0
        self.connection_closes = 0
        meter, new = self._meter, self._window
        self.sends, self.errors, self.retries = meter(), meter(), meter()
        self.requests, self.outgoing, self.incoming = meter(), meter(), meter()
        self.buffer_wait = meter()
        self.latency, self.throttle, self.batch_size = new(), new(), new()
        self.compression, self.queue_time, self.record_size = new(), new(), new()
        self.records_per_request = new()
        self._levels: Callable[[], tuple[int, int, int, int, float]] | None = None

    def _window(self) -> Window:
        return Window(self.num_samples, self.window_ms)

    def _meter(self) -> Meter:
        return Meter(self.num_samples, self.window_ms)

    def bind(self, levels: Callable[[], tuple[int, int, int, int, float]]) -> None:
        """``levels()`` gives (buffer available bytes, tasks waiting for buffer, requests in
        flight, open connections, metadata age in seconds) when metrics are read."""
        self._levels = levels

    def topic(self, topic: str) -> TopicStats:
        stats = self.topics.get(topic)
        if stats is None:
            stats = self.topics[topic] = TopicStats(self.num_samples, self.window_ms)
        return stats

    def node(self, node_id: int) -> NodeStats:
        stats = self.nodes.get(node_id)
        if stats is None:
            stats = self.nodes[node_id] = NodeStats(self)
        return stats

    # -- recording (once per batch, request or connection) -----------------------------------
    def batch_acknowledged(self, batch: ProducerBatch) -> None:
        count, now = batch.record_count, self._clock()
        self.sends.record(count, now)
        self.topic(batch.tp.topic).sends.record(count, now)

    def batch_failed(self, batch: ProducerBatch) -> None:
        count, now = batch.record_count, self._clock()
        self.errors.record(count, now)
        self.topic(batch.tp.topic).errors.record(count, now)

    def batch_retried(self, batch: ProducerBatch) -> None:
        count, now = batch.record_count, self._clock()
        self.retries.record(count, now)
        self.topic(batch.tp.topic).retries.record(count, now)

    def request_sent(self, batches: Sequence[ProducerBatch], now_ms: int) -> None:
        """A Produce request carries ``batches`` (sealed) out, ``now_ms`` on the sender's clock
        (the one batches' creation times use)."""
        now = self._clock()
        records = 0
        for batch in batches:
            count = batch.record_count
            records += count
            built = batch.built
            size = len(built) if built is not None else 0
            raw = batch.builder.estimated_size
            ratio = size / raw if raw else 1.0
            self.batch_size.record(size, now)
            self.compression.record(ratio, now)
            self.queue_time.record(max(0, now_ms - batch.created_ms), now)
            self.record_size.record(max(0, raw - _BATCH_HEADER), now, count)
            topic = self.topic(batch.tp.topic)
            topic.bytes.record(size, now)
            topic.compression.record(ratio, now)
        self.records_per_request.record(records, now)

    def produce_answered(self, node_id: int, latency_ms: float, throttle_ms: int) -> None:
        """A Produce response came from ``node_id`` after ``latency_ms``."""
        now = self._clock()
        self.latency.record(latency_ms, now)
        self.node(node_id).latency.record(latency_ms, now)
        self.throttle.record(throttle_ms, now)

    def buffer_waited(self, nanoseconds: int) -> None:
        """A send() waited ``nanoseconds`` for buffer_memory."""
        self.buffer_wait.record(nanoseconds, self._clock())

    # -- reading -----------------------------------------------------------------------------
    def producer_values(self) -> dict[str, float]:
        """``producer-metrics`` by Java name."""
        now = self._clock()
        available, waiting, in_flight, connections, age = (
            self._levels() if self._levels is not None else (self.buffer_total, 0, 0, 0, _NAN)
        )
        return {
            "record-send-total": float(self.sends.cumulative),
            "record-send-rate": self.sends.rate(now),
            "record-error-total": float(self.errors.cumulative),
            "record-error-rate": self.errors.rate(now),
            "record-retry-total": float(self.retries.cumulative),
            "record-retry-rate": self.retries.rate(now),
            "request-total": float(self.requests.cumulative),
            "request-rate": self.requests.rate(now),
            "request-latency-avg": self.latency.avg(now),
            "request-latency-max": self.latency.max(now),
            "batch-size-avg": self.batch_size.avg(now),
            "batch-size-max": self.batch_size.max(now),
            "records-per-request-avg": self.records_per_request.avg(now),
            "compression-rate-avg": self.compression.avg(now),
            "record-queue-time-avg": self.queue_time.avg(now),
            "record-queue-time-max": self.queue_time.max(now),
            "record-size-avg": self.record_size.avg(now),
            "buffer-total-bytes": float(self.buffer_total),
            "buffer-available-bytes": float(available),
            "bufferpool-wait-time-ns-total": float(self.buffer_wait.cumulative),
            "bufferpool-wait-ratio": self.buffer_wait.rate(now) / 1e9,
            "waiting-threads": float(waiting),
            "requests-in-flight": float(in_flight),
            "produce-throttle-time-avg": self.throttle.avg(now),
            "produce-throttle-time-max": self.throttle.max(now),
            "outgoing-byte-total": float(self.outgoing.cumulative),
            "outgoing-byte-rate": self.outgoing.rate(now),
            "incoming-byte-total": float(self.incoming.cumulative),
            "incoming-byte-rate": self.incoming.rate(now),
            "connection-count": float(connections),
            "connection-creation-total": float(self.connection_creations),
            "connection-close-total": float(self.connection_closes),
            "metadata-age": float(age),
        }

    def topic_values(self) -> dict[str, dict[str, float]]:
        """``producer-topic-metrics``: topic -> name -> value."""
        now = self._clock()
        return {topic: stats.values(now) for topic, stats in self.topics.items()}

    def node_values(self) -> dict[int, dict[str, float]]:
        """``producer-node-metrics``: node id -> name -> value."""
        now = self._clock()
        return {node: stats.values(now) for node, stats in self.nodes.items()}

    def samples(self) -> list[MetricSample]:
        """Every metric now, as :class:`MetricSample`."""
        client = {"client-id": self.client_id}
        groups: list[tuple[str, Mapping[str, str], dict[str, float]]] = [
            (PRODUCER, client, self.producer_values())
        ]
        groups += [
            (TOPIC, {**client, "topic": topic}, values)
            for topic, values in self.topic_values().items()
        ]
        groups += [
            (NODE, {**client, "node-id": f"node-{node_id}"}, values)
            for node_id, values in self.node_values().items()
        ]
        return [
            MetricSample(group, name, tags, value, _kind(name), METRIC_DESCRIPTIONS[group][name])
            for group, tags, values in groups
            for name, value in values.items()
        ]
