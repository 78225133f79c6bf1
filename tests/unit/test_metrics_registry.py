"""The sampled statistics (Java's SampledStat and Rate) and the registry, without a broker."""

from __future__ import annotations

import math

import pytest

from aioproducer import Producer
from aioproducer._accumulator import RecordAccumulator
from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicPartition
from aioproducer.errors import ConfigurationError
from aioproducer.metrics._registry import METRIC_DESCRIPTIONS, ProducerMetrics, Samples, Stat


def _total(samples: Samples, stat: Stat, now: int) -> float:
    samples.tick(now)
    return sum(stat.sums[slot] for slot in samples.live(now))


def _record(samples: Samples, stat: Stat, now: int, value: float = 1.0, events: int = 1) -> None:
    samples.tick(now)
    stat.record(samples.current, value, events)


def test_rate_counts_the_missing_windows_as_java_does() -> None:
    """Two samples of 1 s: before a whole window has passed, the rate is over one window
    more than elapsed (Java assumes the prior window existed, with nothing in it)."""
    samples = Samples(2, 1000, 0)
    stat = samples.stat()
    for now in (0, 30, 60):
        _record(samples, stat, now)
    assert samples.rate(stat, 60) == pytest.approx(3 / 1.06)
    samples.tick(1000)
    assert samples.rate(stat, 1000) == pytest.approx(3 / 1.0)  # one full window: no padding


def test_rate_spans_the_kept_samples() -> None:
    samples = Samples(2, 1000, 0)
    stat = samples.stat()
    for now in range(0, 2500, 100):  # one a 100 ms, for 2.5 s
        _record(samples, stat, now)
    # samples start at 0, 1000 and 2000 (num_samples + 1 kept): 25 events over 2.4 s
    assert samples.rate(stat, 2400) == pytest.approx(25 / 2.4)


def test_a_sample_is_dropped_num_samples_windows_after_it_ended() -> None:
    samples = Samples(2, 1000, 0)
    stat = samples.stat()
    _record(samples, stat, 0, 5.0)
    assert _total(samples, stat, 1999) == 5.0
    assert _total(samples, stat, 1999 + 1999) == 5.0  # sample 0 ended at 1999
    assert _total(samples, stat, 1999 + 2000) == 0.0
    assert samples.rate(stat, 3999) == 0.0
    assert math.isnan(samples.avg(stat, 3999))
    assert math.isnan(samples.max(stat, 3999))


def test_a_long_idle_time_empties_every_sample() -> None:
    samples = Samples(2, 1000, 0)
    stat = samples.stat()
    _record(samples, stat, 10, 7.0)
    samples.tick(50_000)
    assert samples.starts.count(-1) == 2
    assert _total(samples, stat, 50_000) == 0.0
    assert samples.rate(stat, 50_000) == 0.0


def test_avg_is_weighted_and_max_is_per_value() -> None:
    samples = Samples(2, 30_000, 0)
    stat = samples.stat()
    _record(samples, stat, 0, 300.0, events=3)  # three observations summing to 300
    _record(samples, stat, 10, 50.0)
    assert samples.avg(stat, 10) == pytest.approx(350 / 4)
    assert samples.max(stat, 10) == 300.0
    assert math.isnan(samples.avg(samples.stat(), 0))


def test_a_sample_fills_for_one_window_then_the_next_begins() -> None:
    samples = Samples(1, 100, 0)
    stat = samples.stat()
    _record(samples, stat, 0)
    _record(samples, stat, 99)
    _record(samples, stat, 100)  # a new sample; the first is kept (num_samples + 1)
    assert _total(samples, stat, 150) == 3.0
    assert _total(samples, stat, 199) == 3.0
    assert _total(samples, stat, 200) == 1.0  # the ring reused the first sample's slot


def test_registry_reads_every_described_metric() -> None:
    registry = ProducerMetrics("c", 2, 1000, buffer_total=100, clock=lambda: 0)
    assert list(registry.producer_values()) == list(METRIC_DESCRIPTIONS["producer-metrics"])
    assert registry.producer_values()["buffer-total-bytes"] == 100.0
    assert math.isnan(registry.producer_values()["metadata-age"])  # not bound to a producer
    registry.node(3).sent(10)
    registry.node(3).received(4)
    registry.topic("t")
    assert list(registry.node_values()[3]) == list(METRIC_DESCRIPTIONS["producer-node-metrics"])
    assert list(registry.topic_values()["t"]) == list(METRIC_DESCRIPTIONS["producer-topic-metrics"])
    values = registry.producer_values()
    assert values["request-total"] == 1.0
    assert values["outgoing-byte-total"] == 10.0
    assert values["incoming-byte-total"] == 4.0
    samples = registry.samples()
    assert len(samples) == sum(len(names) for names in METRIC_DESCRIPTIONS.values())
    assert {s.tags.get("node-id") for s in samples} == {None, "node-3"}


def test_batches_count_once_whatever_settles_them() -> None:
    """Acknowledged, failed, retried and split batches, through the accumulator."""
    config = ProducerConfig(batch_size=200, linger_ms=0)
    registry = ProducerMetrics("c")
    accumulator = RecordAccumulator(config, metrics=registry)
    tp = TopicPartition("t", 0)
    futures = [_Completion() for _ in range(5)]
    for completion in futures:
        accumulator.append(tp, 0, None, b"v" * 50, (), completion)
    first, *_ = accumulator.queued(tp)
    accumulator.reenqueue(first, 0)
    first.seal()
    accumulator.split_and_reenqueue(first, 0)  # not counted: its pieces settle its records
    pieces = accumulator.queued(tp)
    for batch in pieces:
        accumulator.deallocate(batch)  # as the sender does
        batch.complete(0)
        batch.complete(0)  # a second settle changes nothing
        batch.fail(RuntimeError("late"))
    assert registry.send_total == 5
    assert registry.error_total == 0
    assert registry.retry_total == first.record_count
    accumulator.append(TopicPartition("t", 1), 0, None, b"v", (), _Completion())
    assert accumulator.abort_all(RuntimeError("closed")) == 1
    assert registry.error_total == 1
    assert registry.topic_values()["t"]["record-error-total"] == 1.0


def test_settings_validated_and_java_names_accepted() -> None:
    config = ProducerConfig.from_mapping(
        {"metrics.num.samples": "3", "metrics.sample.window.ms": "1000"}
    )
    assert (config.metrics_num_samples, config.metrics_sample_window_ms) == (3, 1000)
    with pytest.raises(ConfigurationError, match="metrics_num_samples"):
        ProducerConfig(metrics_num_samples=0)
    with pytest.raises(ConfigurationError, match="metrics_sample_window_ms"):
        ProducerConfig(metrics_sample_window_ms=0)


class _Completion:
    def __init__(self) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False

    def exception(self) -> BaseException | None:
        return self.error

    def set_result(self, result: object, /) -> None:
        self.result, self._done = result, True

    def set_exception(self, exception: BaseException, /) -> None:
        self.error, self._done = exception, True


def test_a_producer_not_started_reads_zeros() -> None:
    producer = Producer(bootstrap_servers="127.0.0.1:1", client_id="idle", buffer_memory=1000)
    values = producer.metrics()
    assert values["record-send-total"] == 0.0
    assert values["buffer-total-bytes"] == 1000.0
    assert math.isnan(values["request-latency-avg"])
    assert producer.metrics(topic=True) == {}
    assert producer.metrics(node=True) == {}
    assert {s.group for s in producer.metric_samples()} == {"producer-metrics"}
    with pytest.raises(ValueError, match="not both"):
        producer.metrics(topic=True, node=True)  # type: ignore[call-overload]
