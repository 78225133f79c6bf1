"""``Producer.metrics()`` against a real broker: counts checked against the futures and a
confluent-kafka read-back; delivery callbacks and flush(); the producer's log lines."""

from __future__ import annotations

import asyncio
import logging
import math
import os

import pytest

from aioproducer import Producer, RecordMetadata
from aioproducer.errors import ConfigurationError
from aioproducer.metrics import MetricSample
from aioproducer.metrics._registry import METRIC_DESCRIPTIONS
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import count_records

pytestmark = pytest.mark.integration

_REQUIRED = [
    "record-send-total",
    "record-send-rate",
    "record-error-total",
    "record-error-rate",
    "record-retry-total",
    "record-retry-rate",
    "request-total",
    "request-rate",
    "request-latency-avg",
    "request-latency-max",
    "batch-size-avg",
    "batch-size-max",
    "records-per-request-avg",
    "compression-rate-avg",
    "record-queue-time-avg",
    "record-queue-time-max",
    "record-size-avg",
    "buffer-total-bytes",
    "buffer-available-bytes",
    "bufferpool-wait-time-ns-total",
    "bufferpool-wait-ratio",
    "waiting-threads",
    "requests-in-flight",
    "produce-throttle-time-avg",
    "produce-throttle-time-max",
    "outgoing-byte-total",
    "outgoing-byte-rate",
    "incoming-byte-total",
    "connection-count",
    "connection-creation-total",
    "connection-close-total",
    "metadata-age",
]


async def test_counts_match_the_futures_and_the_log(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    good = new_topic(partitions=3)
    small = new_topic(config={"max.message.bytes": "2000"})  # big records fail there
    async with Producer(
        bootstrap_servers=kafka_bootstrap, linger_ms=20, compression_type="gzip"
    ) as producer:
        futures = [await producer.send(good, b"v%d" % i, b"k%d" % i) for i in range(700)]
        futures += [await producer.send(good, b"h", None, headers=[("a", b"1")]) for _ in range(50)]
        many = await producer.send_many(good, [(b"m%d" % i, b"x" * 50) for i in range(250)])
        futures += [await producer.send(small, b"s%d" % i, b"k") for i in range(40)]
        futures += [await producer.send(small, os.urandom(5000), b"k") for _ in range(7)]
        await producer.flush()
        values = producer.metrics()
        topics = producer.metrics(topic=True)
        nodes = producer.metrics(node=True)
    failed = sum(1 for f in futures if f.exception() is not None)
    acknowledged = len(futures) - failed + len(await many)
    assert failed == 7
    assert set(_REQUIRED) <= set(values)
    assert values["record-send-total"] == acknowledged == 1040
    assert values["record-error-total"] == failed
    assert topics[good]["record-send-total"] == 1000 == count_records(kafka_bootstrap, good)
    assert topics[small]["record-send-total"] == 40 == count_records(kafka_bootstrap, small)
    assert topics[small]["record-error-total"] == 7
    assert topics[good]["record-error-total"] == 0
    assert 0 < topics[good]["compression-rate"] < 1  # gzip shrinks repeated bytes
    assert topics[good]["byte-total"] > 0
    assert values["record-send-rate"] > 0
    assert values["request-total"] > 0
    assert values["records-per-request-avg"] > 0
    assert values["request-latency-max"] >= values["request-latency-avg"] >= 0
    assert values["batch-size-max"] >= values["batch-size-avg"] > 0
    assert values["outgoing-byte-total"] > 0
    assert values["incoming-byte-total"] > 0
    assert values["buffer-total-bytes"] == 32 * 1024 * 1024
    assert values["connection-creation-total"] >= 2  # bootstrap, then the broker by id
    assert 0 <= values["metadata-age"] < 60
    (node,) = (n for n in nodes if n >= 0)
    assert nodes[node]["request-total"] > 0
    assert not math.isnan(nodes[node]["request-latency-avg"])
    assert sum(n["request-total"] for n in nodes.values()) == values["request-total"]


async def test_metric_samples_carry_groups_tags_and_kinds(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, client_id="sampled") as producer:
        await producer.send_and_wait(topic, b"v")
        samples = producer.metric_samples()
    assert all(isinstance(s, MetricSample) for s in samples)
    assert {s.group for s in samples} == set(METRIC_DESCRIPTIONS)
    for sample in samples:
        assert sample.tags["client-id"] == "sampled"
        assert sample.kind == ("counter" if sample.name.endswith("-total") else "gauge")
        assert sample.description == METRIC_DESCRIPTIONS[sample.group][sample.name]
    sent = {(s.tags.get("topic"), s.value) for s in samples if s.name == "record-send-total"}
    assert (None, 1.0) in sent
    assert (topic, 1.0) in sent
    assert any(s.tags.get("node-id", "").startswith("node-") for s in samples)


async def test_every_callback_ran_when_flush_returns(
    kafka_bootstrap: str, new_topic: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    topic = new_topic(partitions=2)
    seen: list[tuple[RecordMetadata | None, BaseException | None]] = []
    in_order: list[int] = []

    def bad(metadata: RecordMetadata | None, error: BaseException | None) -> None:
        raise RuntimeError("a callback that raises")

    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=10) as producer:
        for i in range(1000):
            await producer.send(
                topic, b"v%d" % i, b"k%d" % (i % 7), on_delivery=lambda m, e: seen.append((m, e))
            )
            if i % 100 == 0:
                await producer.send(topic, b"x", on_delivery=bad)
        await producer.send_many(
            topic, [(None, b"m")] * 10, on_delivery=lambda r, e: in_order.append(len(r or ()))
        )
        await producer.flush()
        assert len(seen) == 1000  # every one ran before flush() returned
        assert in_order == [10]
        assert all(m is not None and e is None for m, e in seen)
    raised = [r for r in caplog.records if "on_delivery callback raised" in r.getMessage()]
    assert len(raised) == 10


async def test_on_delivery_gets_the_error(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic(config={"max.message.bytes": "1000"})
    got: list[tuple[RecordMetadata | None, BaseException | None]] = []
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        future = await producer.send(
            topic, b"z" * 3000, on_delivery=lambda m, e: got.append((m, e))
        )
        await producer.flush()
        with pytest.raises(ConfigurationError, match="must be callable"):
            await producer.send(topic, b"v", on_delivery="nope")  # type: ignore[arg-type]
    ((metadata, error),) = got
    assert metadata is None
    assert error is future.exception()


async def test_cancelled_future_gives_cancelled_error(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    got: list[BaseException | None] = []
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=200) as producer:
        future = await producer.send(topic, b"v", on_delivery=lambda m, e: got.append(e))
        future.cancel()
        await producer.flush()
    assert len(got) == 1
    assert isinstance(got[0], asyncio.CancelledError)


async def test_logs_carry_the_client_id(
    kafka_bootstrap: str, new_topic: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    topic = new_topic()
    caplog.set_level(logging.DEBUG, logger="aioproducer")
    async with Producer(
        bootstrap_servers=kafka_bootstrap,
        client_id="logged-client",
        linger_ms=7,
        sasl_password=None,
    ) as producer:
        await producer.send_and_wait(topic, b"v")
    lines = [r for r in caplog.records if r.name.startswith("aioproducer")]
    assert lines
    assert all("logged-client" in r.getMessage() for r in lines)
    started = [r for r in lines if r.levelno == logging.INFO and "starting" in r.getMessage()]
    assert len(started) == 1
    assert "linger_ms=7" in started[0].getMessage()
    assert kafka_bootstrap.rsplit(":", maxsplit=1)[-1] in started[0].getMessage()
    assert any("connected to broker" in r.getMessage() for r in lines)
    assert any(r.levelno == logging.DEBUG and "Produce" in r.getMessage() for r in lines)
