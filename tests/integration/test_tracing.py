"""aioproducer.metrics.otel's tracing against a real broker: a PRODUCER span per send that
ends on the broker's answer, and its W3C trace context in the record's headers, read back
with confluent-kafka."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aioproducer import Producer
from aioproducer._speedups_status import c as speedups
from aioproducer.errors import (
    MessageTooLargeError,
    ProducerClosedError,
    RecordTooLargeError,
    SerializationError,
)
from aioproducer.metrics.otel import instrument, uninstrument
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def traceparent(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    assert context is not None
    flags = int(context.trace_flags)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}".encode()


async def test_a_span_per_send_ends_on_the_ack_and_its_context_reaches_the_broker(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic(partitions=3)
    parent_tracer = provider.get_tracer("app")
    async with Producer(bootstrap_servers=kafka_bootstrap, client_id="traced") as producer:
        instrument(producer, tracer_provider=provider, metrics=False)
        with parent_tracer.start_as_current_span("request") as request:
            pending = producer.send(topic, b"one", key=b"user-1")
            assert exporter.get_finished_spans() == ()  # not before the broker answers
            first = await (await pending)
            second = await producer.send_and_wait(  # a stale traceparent is replaced
                topic, b"two", headers=[("app", b"x"), ("traceparent", b"stale")]
            )
            third = await producer.send_and_wait(topic, None, key=b"\xff", partition=2)
        many = await (await producer.send_many(topic, [(b"k", b"a"), (None, b"b", [])]))
    finished_spans = [s for s in exporter.get_finished_spans() if s.name != "request"]
    assert len(finished_spans) == 4
    one, two, three, batch = finished_spans
    assert batch.parent is None
    for span in finished_spans:
        assert span.name == f"send {topic}"
        assert span.kind is SpanKind.PRODUCER
        if span is not batch:  # sent inside the request's span: its children
            assert span.parent is not None
            assert span.parent.span_id == request.get_span_context().span_id
        assert span.status.status_code is StatusCode.UNSET
        attributes = span.attributes
        assert attributes is not None
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.operation.type"] == "send"
        assert attributes["messaging.operation.name"] == "send"
        assert attributes["messaging.destination.name"] == topic
        assert attributes["messaging.client.id"] == "traced"
        assert attributes["server.address"] == kafka_bootstrap.rsplit(":", 1)[0]
    assert one.attributes is not None
    assert one.attributes["messaging.kafka.message.key"] == "user-1"
    assert one.attributes["messaging.destination.partition.id"] == str(first.partition)
    assert one.attributes["messaging.kafka.offset"] == first.offset
    assert two.attributes is not None
    assert "messaging.kafka.message.key" not in two.attributes  # no key
    assert two.attributes["messaging.kafka.offset"] == second.offset
    assert three.attributes is not None
    assert "messaging.kafka.message.key" not in three.attributes  # not UTF-8
    assert three.attributes["messaging.kafka.message.tombstone"] is True
    assert three.attributes["messaging.destination.partition.id"] == "2"
    assert three.attributes["messaging.kafka.offset"] == third.offset
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 2
    assert "messaging.kafka.offset" not in batch.attributes

    records = {(r.partition, r.offset): r for r in consume_all(kafka_bootstrap, topic)}
    assert records[(first.partition, first.offset)].headers == (("traceparent", traceparent(one)),)
    assert records[(second.partition, second.offset)].headers == (
        ("app", b"x"),
        ("traceparent", traceparent(two)),
    )
    assert records[(2, third.offset)].headers == (("traceparent", traceparent(three)),)
    for metadata in many:
        assert records[(metadata.partition, metadata.offset)].headers == (
            ("traceparent", traceparent(batch)),
        )


async def test_failures_end_the_span_with_an_error(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic(config={"max.message.bytes": "2000"})
    async with Producer(bootstrap_servers=kafka_bootstrap, max_request_size=10_000) as producer:
        instrument(producer, tracer_provider=provider, metrics=False)
        with pytest.raises(RecordTooLargeError):
            await producer.send(topic, b"x" * 20_000)  # refused at the call
        with pytest.raises(MessageTooLargeError):
            await producer.send_and_wait(topic, b"x" * 5_000)  # refused by the broker
        with pytest.raises(TypeError):
            producer.send(topic, b"v", headers=5)  # type: ignore[arg-type, unused-coroutine]
    refused, rejected, bad_headers = exporter.get_finished_spans()
    for span, error in ((refused, "RecordTooLargeError"), (rejected, "MessageTooLargeError")):
        assert span.status.status_code is StatusCode.ERROR
        assert (span.status.description or "").startswith(error)
        assert [event.name for event in span.events] == ["exception"]
    assert bad_headers.status.status_code is StatusCode.ERROR


async def test_without_a_tracer_provider_nothing_is_added(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic()
    assert not trace.get_tracer("probe").start_span("probe").get_span_context().is_valid
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        instrument(producer, metrics=False)  # the global provider: none configured
        await producer.send_and_wait(topic, b"plain")
        await (await producer.send_many(topic, [(None, b"many")]))
    assert [r.headers for r in consume_all(kafka_bootstrap, topic)] == [(), ()]


async def test_instrument_before_start_and_uninstrument_restore_the_producer(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic()
    producer = Producer(bootstrap_servers=kafka_bootstrap)
    instrument(producer, tracer_provider=provider, metrics=False)
    async with producer:
        await producer.send_and_wait(topic, b"traced")  # no FastSend took the call
        uninstrument(producer)
        fast = producer.__dict__.get("send")  # the FastSend start() made, back in place
        assert (fast is not None) == (speedups is not None)
        assert "start" not in producer.__dict__
        assert "send_many" not in producer.__dict__
        await producer.send_and_wait(topic, b"plain")
        instrument(producer, tracer_provider=provider, metrics=False)
        await producer.send_and_wait(topic, b"traced again")
    assert len(exporter.get_finished_spans()) == 2
    async with Producer(bootstrap_servers=kafka_bootstrap) as started:
        fast = started.__dict__.get("send")
        assert (fast is not None) == (speedups is not None)
        instrument(started, tracer_provider=provider, metrics=False)
        with pytest.raises(ProducerClosedError):
            await started.start()  # a second start() raises; the wrappers stay as they were
        await started.send_and_wait(topic, b"traced after start")
        uninstrument(started)
        assert started.__dict__.get("send") is fast  # the FastSend is back
        await started.send_and_wait(topic, b"plain again")
    assert len(exporter.get_finished_spans()) == 3
    headers = [len(r.headers) for r in consume_all(kafka_bootstrap, topic)]
    assert headers == [1, 0, 1, 1, 0]
    uninstrument(producer)  # after close: nothing to restore
    assert "send" not in producer.__dict__


async def test_close_with_records_queued_ends_every_span(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=50) as producer:
        instrument(producer, tracer_provider=provider, metrics=False)
        futures = [await producer.send(topic, b"%d" % i) for i in range(100)]
        assert exporter.get_finished_spans() == ()
    assert len(exporter.get_finished_spans()) == 100
    assert all(f.done() for f in futures)


async def test_a_raising_propagator_costs_no_record(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(TraceContextTextMapPropagator):
        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            carrier.append(("half", b"written"))
            raise RuntimeError("propagator bug")

    provider, exporter = spans
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        instrument(producer, tracer_provider=provider, propagator=Broken(), metrics=False)
        with caplog.at_level(logging.ERROR, "aioproducer.metrics"):
            await producer.send_and_wait(topic, b"v", headers=[("app", b"x")])
    assert "propagator raised" in caplog.text
    assert [r.headers for r in consume_all(kafka_bootstrap, topic)] == [(("app", b"x"),)]
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


async def test_send_many_records_keep_their_headers_and_bad_ones_raise_as_untraced(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        instrument(producer, tracer_provider=provider, metrics=False)
        records: list[Any] = [
            (b"a", b"1", (("app", b"x"), ("traceparent", b"stale"))),
            (None, b"2", []),
        ]
        await (await producer.send_many(topic, records))
        bad_calls: list[Any] = [[(b"k",)], [(b"k", b"v", 5)], 7]
        for bad in bad_calls:
            with pytest.raises(SerializationError):
                await producer.send_many(topic, bad)
    batch, *failed = exporter.get_finished_spans()
    assert len(failed) == 3
    assert all(span.status.status_code is StatusCode.ERROR for span in failed)
    stamp = ("traceparent", traceparent(batch))
    assert [r.headers for r in consume_all(kafka_bootstrap, topic)] == [
        (("app", b"x"), stamp),
        (stamp,),
    ]


async def test_keyword_arguments_pass_through_traced_or_not(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    topic = new_topic(partitions=2)
    delivered: list[object] = []
    async with (
        Producer(bootstrap_servers=kafka_bootstrap) as traced,
        Producer(bootstrap_servers=kafka_bootstrap) as untraced,
    ):
        instrument(traced, tracer_provider=provider, metrics=False)
        instrument(untraced, metrics=False)  # no provider: its FastSend answers
        for producer in (traced, untraced):
            await producer.send(
                topic,
                b"v",
                partition=1,
                timestamp_ms=1_700_000_000_000,
                on_delivery=lambda md, error: delivered.append(md),
            )
            await producer.send_many(
                topic, [(None, b"m")], partition=0, on_delivery=lambda md, e: delivered.append(md)
            )
            await producer.flush()
    assert len(delivered) == 4
    assert all(md is not None for md in delivered)
    records = consume_all(kafka_bootstrap, topic)
    assert sorted((r.partition, r.timestamp_ms == 1_700_000_000_000) for r in records) == [
        (0, False),
        (0, False),
        (1, True),
        (1, True),
    ]
    assert len(exporter.get_finished_spans()) == 2


async def test_without_a_tracer_provider_an_incoming_context_is_passed_on(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Propagation only: no SDK here, but the current context came from upstream (an HTTP
    request's traceparent): the record carries it on."""
    topic = new_topic()
    parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    async with Producer(bootstrap_servers=kafka_bootstrap) as producer:
        instrument(producer, metrics=False)
        with trace.use_span(NonRecordingSpan(parent)):
            await producer.send_and_wait(topic, b"v")
    (record,) = consume_all(kafka_bootstrap, topic)
    assert record.headers == (
        ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    )


async def test_a_transactional_producer_traces_every_transaction(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """Transactions leave the tracing in place: every send of every transaction has its
    span and its traceparent header (the FastSend is enabled in each, never put over the
    tracing wrapper)."""
    provider, exporter = spans
    topic = new_topic(partitions=2)
    async with Producer(bootstrap_servers=kafka_bootstrap, transactional_id=topic) as producer:
        instrument(producer, tracer_provider=provider, metrics=False)
        sent = []
        for round_ in range(3):
            async with producer.transaction():
                futures = [
                    await producer.send(topic, b"%d" % round_, key=b"k%d" % p) for p in range(2)
                ]
            sent += [await f for f in futures]
    finished = exporter.get_finished_spans()
    assert len(finished) == 6
    records = {
        (r.partition, r.offset): r
        for r in consume_all(kafka_bootstrap, topic, isolation_level="read_committed")
    }
    assert len(records) == 6
    by_record = {}
    for span in finished:
        assert span.attributes is not None
        where = span.attributes["messaging.destination.partition.id"]
        by_record[(int(str(where)), int(str(span.attributes["messaging.kafka.offset"])))] = span
    assert set(by_record) == {(m.partition, m.offset) for m in sent}
    for place, span in by_record.items():
        assert records[place].headers == (("traceparent", traceparent(span)),)
