"""The producer's metrics registry: Java's sampled statistics, recorded where work happens.

Rates, averages and maxima are read from time samples as Java's ``SampledStat`` and
``Rate`` (``org.apache.kafka.common.metrics.stats``) read them: ``metrics_num_samples``
samples of ``metrics_sample_window_ms`` (plus the one being filled); a rate is the samples'
sum over the time they span, counted as at least ``num_samples - 1`` whole windows; a
sample whose end is ``num_samples`` windows old is dropped. One difference, for speed:
the samples of all of one producer's statistics share their boundaries (:class:`Samples`),
so recording a value is a few list additions and no clock read. A new sample starts at the
first event (or read) after the current one has lasted a window, as in Java.

:class:`ProducerMetrics` holds a producer's statistics and counters. Batches (when they
settle), the sender (per request and response) and connections (per request and read)
call it; never per record. :meth:`ProducerMetrics.samples` reads everything as
:class:`~aioproducer.metrics.MetricSample`. A plain object: no asyncio, times in ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from aioproducer._clock import now_ms
from aioproducer.metrics import MetricKind, MetricSample

if TYPE_CHECKING:
    from aioproducer._batch import ProducerBatch

__all__ = ["METRIC_DESCRIPTIONS", "NodeStats", "ProducerMetrics", "Samples", "Stat", "TopicStats"]

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
_NO_MAX: Final = -math.inf


def _kind(name: str) -> MetricKind:
    return "counter" if name.endswith("-total") else "gauge"


class Stat:
    """One statistic's sums, event counts and maxima, one slot per sample of its
    :class:`Samples`; record into slot ``samples.current``."""

    __slots__ = ("counts", "maxima", "sums")

    def __init__(self, slots: int) -> None:
        self.sums = [0.0] * slots
        self.counts = [0] * slots
        self.maxima = [_NO_MAX] * slots

    def record(
        self, slot: int, value: float, events: int = 1, largest: float | None = None
    ) -> None:
        """Add ``value``: the sum of ``events`` observations, the largest of which is
        ``largest`` (None: ``value`` itself, one observation)."""
        self.sums[slot] += value
        self.counts[slot] += events
        top = value if largest is None else largest
        if top > self.maxima[slot]:  # noqa: PLR1730 - cheaper than max()
            self.maxima[slot] = top

    def clear(self, slot: int) -> None:
        self.sums[slot] = 0.0
        self.counts[slot] = 0
        self.maxima[slot] = _NO_MAX


class Samples:
    """The time samples a producer's statistics share: a ring of ``num_samples + 1``, the
    ``current`` one filling until it has lasted ``window_ms`` and time is next looked at
    (:meth:`tick`)."""

    __slots__ = ("_span", "current", "keep", "next_at", "starts", "stats", "window_ms")

    def __init__(self, num_samples: int, window_ms: int, now_ms: int) -> None:
        self.window_ms = window_ms
        self.keep = num_samples + 1  # one extra sample, as Java keeps
        self._span = num_samples * window_ms  # a sample that ended this long ago is dropped
        self.starts = [now_ms] + [-1] * num_samples  # -1: not used yet
        self.current = 0
        self.next_at = now_ms + window_ms
        """Time at which the current sample is complete (the next tick then advances)."""
        self.stats: list[Stat] = []

    def stat(self) -> Stat:
        stat = Stat(self.keep)
        self.stats.append(stat)
        return stat

    def tick(self, now_ms: int) -> None:
        """Start a new sample if the current one has lasted a window (callers on hot paths
        compare ``now_ms >= next_at`` first)."""
        if now_ms < self.next_at:
            return
        if now_ms - self.starts[self.current] >= self._span + self.window_ms:
            self.starts = [-1] * self.keep  # idle for the whole span: nothing is left
            for stat in self.stats:
                for slot in range(self.keep):
                    stat.clear(slot)
        else:
            self.current = (self.current + 1) % self.keep
            for stat in self.stats:
                stat.clear(self.current)
        self.starts[self.current] = now_ms
        self.next_at = now_ms + self.window_ms

    def live(self, now_ms: int) -> list[int]:
        """The slots still in the window at ``now_ms`` (after :meth:`tick`): the current
        one, and those that ended less than ``num_samples`` windows ago."""
        slots = [self.current]
        starts, keep = self.starts, self.keep
        for slot in range(keep):
            if slot != self.current and starts[slot] >= 0:
                ended = starts[(slot + 1) % keep]  # the next sample's start
                if now_ms - ended < self._span:
                    slots.append(slot)
        return slots

    def rate(self, stat: Stat, now_ms: int) -> float:
        """Java's ``Rate``: the live samples' sum per second of the time they span, that
        time counted as at least ``num_samples - 1`` whole windows (so a first reading is
        not a spike)."""
        live = self.live(now_ms)
        total = sum(stat.sums[slot] for slot in live)
        elapsed = now_ms - min(self.starts[slot] for slot in live)
        full, least = elapsed // self.window_ms, self.keep - 2  # num_samples - 1 windows
        if full < least:
            elapsed += (least - full) * self.window_ms
        return total / (max(elapsed, 1) / 1000)

    def avg(self, stat: Stat, now_ms: int) -> float:
        """The mean of the live samples (sum / events); NaN when empty, as Java's ``Avg``."""
        live = self.live(now_ms)
        events = sum(stat.counts[slot] for slot in live)
        if not events:
            return _NAN
        return sum(stat.sums[slot] for slot in live) / events

    def max(self, stat: Stat, now_ms: int) -> float:
        """The largest value in the live samples; NaN when empty, as Java's ``Max``."""
        found = [stat.maxima[slot] for slot in self.live(now_ms) if stat.counts[slot]]
        return float(max(found)) if found else _NAN


class TopicStats:
    """Counters and statistics of one topic (``producer-topic-metrics``)."""

    __slots__ = (
        "byte_total",
        "bytes",
        "compression",
        "error_total",
        "errors",
        "retry_total",
        "send_total",
        "sends",
    )

    def __init__(self, samples: Samples) -> None:
        self.send_total = self.error_total = self.retry_total = self.byte_total = 0
        self.sends, self.errors = samples.stat(), samples.stat()
        self.bytes, self.compression = samples.stat(), samples.stat()

    def values(self, samples: Samples, now_ms: int) -> dict[str, float]:
        return {
            "record-send-total": float(self.send_total),
            "record-send-rate": samples.rate(self.sends, now_ms),
            "record-error-total": float(self.error_total),
            "record-error-rate": samples.rate(self.errors, now_ms),
            "record-retry-total": float(self.retry_total),
            "byte-total": float(self.byte_total),
            "byte-rate": samples.rate(self.bytes, now_ms),
            "compression-rate": samples.avg(self.compression, now_ms),
        }


class NodeStats:
    """Counters and statistics of one broker (``producer-node-metrics``); its connections
    call :meth:`sent`, :meth:`received`, :meth:`opened` and :meth:`closed`."""

    __slots__ = (
        "_producer",
        "incoming_byte_total",
        "latency",
        "outgoing_byte_total",
        "request_total",
        "requests",
    )

    def __init__(self, producer: ProducerMetrics) -> None:
        self._producer = producer
        self.request_total = self.outgoing_byte_total = self.incoming_byte_total = 0
        self.requests = producer.clock_samples.stat()
        self.latency = producer.clock_samples.stat()

    def sent(self, nbytes: int) -> None:
        """A request of ``nbytes`` was written."""
        producer = self._producer
        slot = producer.clock_samples.current
        self.request_total += 1
        self.outgoing_byte_total += nbytes
        self.requests.sums[slot] += 1
        producer.request_total += 1
        producer.requests.sums[slot] += 1
        producer.outgoing_byte_total += nbytes
        producer.outgoing.sums[slot] += nbytes

    def received(self, nbytes: int) -> None:
        """``nbytes`` were read."""
        producer = self._producer
        self.incoming_byte_total += nbytes
        producer.incoming_byte_total += nbytes
        producer.incoming.sums[producer.clock_samples.current] += nbytes

    def opened(self) -> None:
        """A connection to the broker was made."""
        self._producer.connection_creation_total += 1

    def closed(self) -> None:
        """A connection to the broker was closed or lost."""
        self._producer.connection_close_total += 1

    def values(self, samples: Samples, now_ms: int) -> dict[str, float]:
        return {
            "request-total": float(self.request_total),
            "request-rate": samples.rate(self.requests, now_ms),
            "request-latency-avg": samples.avg(self.latency, now_ms),
            "request-latency-max": samples.max(self.latency, now_ms),
            "outgoing-byte-total": float(self.outgoing_byte_total),
            "incoming-byte-total": float(self.incoming_byte_total),
        }


class ProducerMetrics:
    """Every metric of one producer. Levels (buffer, connections, in-flight requests,
    metadata age) are read when asked for, through :meth:`bind`'s callable."""

    def __init__(
        self,
        client_id: str,
        num_samples: int = 2,
        window_ms: int = 30_000,
        buffer_total: int = 0,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.client_id = client_id
        self.buffer_total = buffer_total
        self._clock = clock
        self.clock_samples = samples = Samples(num_samples, window_ms, clock())
        self.topics: dict[str, TopicStats] = {}
        self.nodes: dict[int, NodeStats] = {}
        self.send_total = self.error_total = self.retry_total = 0
        self.request_total = self.outgoing_byte_total = self.incoming_byte_total = 0
        self.connection_creation_total = self.connection_close_total = 0
        self.buffer_wait_ns_total = 0
        new = samples.stat
        self.sends, self.errors, self.retries = new(), new(), new()
        self.requests, self.outgoing, self.incoming = new(), new(), new()
        self.latency, self.throttle, self.batch_size = new(), new(), new()
        self.compression, self.queue_time, self.record_size = new(), new(), new()
        self.records_per_request, self.buffer_wait = new(), new()
        self._levels: Callable[[], tuple[int, int, int, int, float]] | None = None

    def bind(self, levels: Callable[[], tuple[int, int, int, int, float]]) -> None:
        """``levels()`` gives (buffer available bytes, tasks waiting for buffer, requests in
        flight, open connections, metadata age in seconds) when metrics are read."""
        self._levels = levels

    def topic(self, topic: str) -> TopicStats:
        stats = self.topics.get(topic)
        if stats is None:
            stats = self.topics[topic] = TopicStats(self.clock_samples)
        return stats

    def node(self, node_id: int) -> NodeStats:
        stats = self.nodes.get(node_id)
        if stats is None:
            stats = self.nodes[node_id] = NodeStats(self)
        return stats

    # -- recording: once per settled batch, request or response ---------------------------
    def batch_acknowledged(self, batch: ProducerBatch) -> None:
        count, slot = len(batch.completions), self.clock_samples.current
        topic = self.topics.get(batch.tp.topic) or self.topic(batch.tp.topic)
        self.send_total += count
        self.sends.sums[slot] += count
        topic.send_total += count
        topic.sends.sums[slot] += count

    def batch_failed(self, batch: ProducerBatch) -> None:
        count, slot = len(batch.completions), self.clock_samples.current
        topic = self.topics.get(batch.tp.topic) or self.topic(batch.tp.topic)
        self.error_total += count
        self.errors.sums[slot] += count
        topic.error_total += count
        topic.errors.sums[slot] += count

    def batch_retried(self, batch: ProducerBatch) -> None:
        count = len(batch.completions)
        self.retry_total += count
        self.retries.sums[self.clock_samples.current] += count
        self.topic(batch.tp.topic).retry_total += count

    def request_sent(self, batches: Sequence[ProducerBatch], now_ms: int) -> None:
        """A Produce request carries ``batches`` (sealed) out at ``now_ms`` (the sender's
        clock, the one batches' creation times use). Summed here, recorded once."""
        samples = self.clock_samples
        if now_ms >= samples.next_at:
            samples.tick(now_ms)
        slot, topics = samples.current, self.topics
        records = sizes = raws = queued = largest = longest = 0
        ratios = 0.0
        name: str | None = None
        topic: TopicStats | None = None
        for batch in batches:
            size = len(batch.built or b"")
            raw = batch.builder.estimated_size
            ratio = size / raw if raw else 1.0
            waited = now_ms - batch.created_ms
            records += len(batch.completions)
            sizes += size
            raws += raw
            ratios += ratio
            queued += waited
            if size > largest:  # noqa: PLR1730 - cheaper than max()
                largest = size
            if waited > longest:  # noqa: PLR1730
                longest = waited
            if batch.tp.topic != name or topic is None:
                name = batch.tp.topic
                topic = topics.get(name) or self.topic(name)
            topic.byte_total += size
            topic.bytes.sums[slot] += size
            topic.compression.sums[slot] += ratio
            topic.compression.counts[slot] += 1
        count = len(batches)
        self.batch_size.record(slot, sizes, count, largest)
        self.compression.record(slot, ratios, count)
        self.queue_time.record(slot, queued, count, longest)
        self.record_size.record(slot, raws - _BATCH_HEADER * count, records)
        self.records_per_request.record(slot, records)

    def produce_answered(
        self, node_id: int, latency_ms: int, throttle_ms: int, now_ms: int
    ) -> None:
        """A Produce response came from ``node_id``, ``latency_ms`` after its request."""
        samples = self.clock_samples
        if now_ms >= samples.next_at:
            samples.tick(now_ms)
        slot = samples.current
        self.latency.record(slot, latency_ms)
        node = self.nodes.get(node_id) or self.node(node_id)
        node.latency.record(slot, latency_ms)
        self.throttle.record(slot, throttle_ms)

    def buffer_waited(self, nanoseconds: int) -> None:
        """A send() waited ``nanoseconds`` for buffer_memory."""
        self.buffer_wait_ns_total += nanoseconds
        self.buffer_wait.sums[self.clock_samples.current] += nanoseconds

    # -- reading -----------------------------------------------------------------------------
    def _now(self) -> int:
        now = self._clock()
        self.clock_samples.tick(now)
        return now

    def producer_values(self) -> dict[str, float]:
        """``producer-metrics`` by Java name."""
        now, samples = self._now(), self.clock_samples
        rate, avg, top = samples.rate, samples.avg, samples.max
        available, waiting, in_flight, connections, age = (
            self._levels() if self._levels is not None else (self.buffer_total, 0, 0, 0, _NAN)
        )
        return {
            "record-send-total": float(self.send_total),
            "record-send-rate": rate(self.sends, now),
            "record-error-total": float(self.error_total),
            "record-error-rate": rate(self.errors, now),
            "record-retry-total": float(self.retry_total),
            "record-retry-rate": rate(self.retries, now),
            "request-total": float(self.request_total),
            "request-rate": rate(self.requests, now),
            "request-latency-avg": avg(self.latency, now),
            "request-latency-max": top(self.latency, now),
            "batch-size-avg": avg(self.batch_size, now),
            "batch-size-max": top(self.batch_size, now),
            "records-per-request-avg": avg(self.records_per_request, now),
            "compression-rate-avg": avg(self.compression, now),
            "record-queue-time-avg": avg(self.queue_time, now),
            "record-queue-time-max": top(self.queue_time, now),
            "record-size-avg": avg(self.record_size, now),
            "buffer-total-bytes": float(self.buffer_total),
            "buffer-available-bytes": float(available),
            "bufferpool-wait-time-ns-total": float(self.buffer_wait_ns_total),
            "bufferpool-wait-ratio": rate(self.buffer_wait, now) / 1e9,
            "waiting-threads": float(waiting),
            "requests-in-flight": float(in_flight),
            "produce-throttle-time-avg": avg(self.throttle, now),
            "produce-throttle-time-max": top(self.throttle, now),
            "outgoing-byte-total": float(self.outgoing_byte_total),
            "outgoing-byte-rate": rate(self.outgoing, now),
            "incoming-byte-total": float(self.incoming_byte_total),
            "incoming-byte-rate": rate(self.incoming, now),
            "connection-count": float(connections),
            "connection-creation-total": float(self.connection_creation_total),
            "connection-close-total": float(self.connection_close_total),
            "metadata-age": float(age),
        }

    def topic_values(self) -> dict[str, dict[str, float]]:
        """``producer-topic-metrics``: topic -> name -> value."""
        now = self._now()
        return {t: stats.values(self.clock_samples, now) for t, stats in list(self.topics.items())}

    def node_values(self) -> dict[int, dict[str, float]]:
        """``producer-node-metrics``: node id -> name -> value."""
        now = self._now()
        return {n: stats.values(self.clock_samples, now) for n, stats in list(self.nodes.items())}

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
