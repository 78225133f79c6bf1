"""OpenTelemetry for a producer: its metrics as observable instruments, a span per send.

``instrument(producer)`` does both, with the global providers unless others are given:

- **Metrics**: every metric of :meth:`Producer.metric_samples` becomes an instrument of the
  meter ``aioproducer``, read when the meter provider collects: counters (Java's ``*-total``
  names) as ``ObservableCounter`` and the rest as ``ObservableGauge``. Names are the group's
  prefix (``kafka.producer.``, ``kafka.producer.topic.``, ``kafka.producer.node.``) and the
  Java name with underscores, a counter without ``-total`` (``record-send-total`` is
  ``kafka.producer.record_send``, which OpenTelemetry's Prometheus exporter shows as
  ``kafka_producer_record_send_total``). Attributes: ``client_id``, ``topic``, ``node_id``.
- **Tracing**: the instance's ``send`` and ``send_many`` are wrapped. Each call opens a
  PRODUCER span ``send <topic>`` with the messaging semantic conventions, writes its W3C
  trace context into the record's headers (``traceparent``, through the global or given
  propagator), and ends the span when the broker acknowledges the record (with its
  partition and offset) or the record fails (status ERROR). While no tracer provider records
  (none configured), no header is added and no span is kept.

Producers not instrumented are untouched: the wrappers live on the instance. A closed producer
leaves the metrics at the next collection; :func:`uninstrument` undoes both at once.

Needs the ``otel`` extra: ``pip install 'aioproducer[otel]'`` (the API only; the SDK and
exporters are the application's choice).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import metrics, propagate, trace
    from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
    from opentelemetry.propagators.textmap import Setter, TextMapPropagator
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"aioproducer.metrics.otel needs the module {exc.name!r}: pip install 'aioproducer[otel]'",
        name=exc.name,
    ) from exc

import aioproducer
from aioproducer.metrics import MetricKind, MetricSample
from aioproducer.metrics._registry import METRIC_DESCRIPTIONS
from aioproducer.metrics._source import MetricSource, read_samples

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable

    from aioproducer._batch import RecordMetadata, SentRecords
    from aioproducer._producer import Producer
    from aioproducer._protocol.records import Header

__all__ = ["instrument", "instrument_name", "uninstrument"]

log = logging.getLogger("aioproducer.metrics")

#: Instrument name prefixes of the Java metric groups; another ``x-metrics`` gets ``kafka.x.``.
PREFIXES = {
    "producer-metrics": "kafka.producer.",
    "producer-topic-metrics": "kafka.producer.topic.",
    "producer-node-metrics": "kafka.producer.node.",
}
_SCOPE = "aioproducer"


def instrument_name(group: str, name: str, kind: str) -> str:
    """The OpenTelemetry instrument name of Java's metric ``name`` in ``group``."""
    prefix = PREFIXES.get(group)
    if prefix is None:
        prefix = "kafka." + group.removesuffix("-metrics").replace("-", "_") + "."
    if kind == "counter":
        name = name.removesuffix("-total")
    return prefix + name.replace("-", "_")


def _attributes(sample: MetricSample) -> dict[str, str]:
    return {tag.replace("-", "_"): value for tag, value in sample.tags.items()}


# -- metrics ---------------------------------------------------------------------------------
class _MeterBridge:
    """The instruments of one meter, fed from the samples of the producers added to it.

    The instruments' callbacks share one snapshot per collection: it is read again when an
    instrument that already read it asks once more. An instrument must exist before the
    collection that reports it (the SDK holds its lock while collecting): every declared
    metric gets one up front, and a metric first seen during a collection (one not declared)
    gets its instrument just after, from a thread.
    """

    def __init__(self, meter: Meter) -> None:
        self._meter = meter
        self._producers: weakref.WeakSet[MetricSource] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._instruments: dict[tuple[str, str], object] = {}
        self._snapshot: dict[tuple[str, str], list[MetricSample]] = {}
        self._read: set[tuple[str, str]] = set()  # instruments that read the snapshot
        self._pending: dict[tuple[str, str], list[MetricSample]] = {}
        self._create(_declared())

    def add(self, producer: MetricSource) -> None:
        with self._lock:
            self._producers.add(producer)
        if not producer.closed:
            self._create(_by_metric(read_samples(producer)))

    def remove(self, producer: MetricSource) -> None:
        with self._lock:
            self._producers.discard(producer)

    def _create(self, samples: dict[tuple[str, str], list[MetricSample]]) -> None:
        """Instruments for the metrics in ``samples`` that have none (outside a collection)."""
        for key, found in samples.items():
            with self._lock:
                if key in self._instruments:
                    continue
                self._instruments[key] = None  # reserved: created once
            sample = found[0]
            name = instrument_name(sample.group, sample.name, sample.kind)
            callback = _callback(weakref.ref(self), key)
            if sample.kind == "counter":
                created: object = self._meter.create_observable_counter(
                    name, [callback], description=sample.description
                )
            else:
                created = self._meter.create_observable_gauge(
                    name, [callback], description=sample.description
                )
            with self._lock:
                self._instruments[key] = created

    def observe(self, key: tuple[str, str]) -> list[MetricSample]:
        """The samples of one metric for this collection."""
        with self._lock:
            if key in self._read or not self._snapshot:
                self._snapshot = self._read_all()
                self._read.clear()
            self._read.add(key)
            return self._snapshot.get(key, [])

    def _read_all(self) -> dict[tuple[str, str], list[MetricSample]]:
        samples: list[MetricSample] = []
        for producer in list(self._producers):
            if producer.closed:
                self._producers.discard(producer)
                continue
            samples.extend(read_samples(producer))
        found = _by_metric(samples)
        new = {key: group for key, group in found.items() if key not in self._instruments}
        if new and not self._pending:
            self._pending = new
            threading.Thread(
                target=self._create_pending, name="aioproducer-otel-instruments", daemon=True
            ).start()
        return found

    def _create_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        self._create(pending)


def _declared() -> dict[tuple[str, str], list[MetricSample]]:
    """A sample of every metric the producer declares, so that each has its instrument
    before the first collection (a topic's metrics appear only once it is used)."""
    return {
        (group, name): [MetricSample(group, name, {}, 0.0, _kind(name), description)]
        for group, names in METRIC_DESCRIPTIONS.items()
        for name, description in names.items()
    }


def _kind(name: str) -> MetricKind:
    """MetricSample's rule: Java's ``*-total`` metrics are counters."""
    return "counter" if name.endswith("-total") else "gauge"


def _by_metric(samples: Iterable[MetricSample]) -> dict[tuple[str, str], list[MetricSample]]:
    found: dict[tuple[str, str], list[MetricSample]] = {}
    for sample in samples:
        found.setdefault((sample.group, sample.name), []).append(sample)
    return found


def _callback(
    bridge: weakref.ref[_MeterBridge], key: tuple[str, str]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterator[Observation]:
        current = bridge()
        if current is None:
            return
        for sample in current.observe(key):
            if math.isfinite(sample.value):  # an average of nothing (NaN) is left out
                yield Observation(sample.value, _attributes(sample))

    return observe


# One bridge per meter provider: an instrument name registered twice on a meter keeps only
# the first callbacks.
_bridges: weakref.WeakKeyDictionary[MeterProvider, _MeterBridge] = weakref.WeakKeyDictionary()
_bridges_lock = threading.Lock()


def _bridge_for(meter_provider: MeterProvider | None) -> _MeterBridge:
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    with _bridges_lock:
        bridge = _bridges.get(provider)
        if bridge is None:
            meter = provider.get_meter(_SCOPE, aioproducer.__version__)
            bridge = _bridges[provider] = _MeterBridge(meter)
    return bridge


# -- tracing ---------------------------------------------------------------------------------
class _HeaderSetter(Setter[list["Header"]]):
    """Writes a propagator's fields as record headers, replacing any of the same name."""

    def set(self, carrier: list[Header], key: str, value: str) -> None:
        carrier[:] = [header for header in carrier if header[0] != key]
        carrier.append((key, value.encode()))


_SETTER = _HeaderSetter()


def _key_text(key: object) -> str | None:
    """The key as the ``messaging.kafka.message.key`` string, when it has one."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes | bytearray | memoryview):
        try:
            return bytes(key).decode()
        except UnicodeDecodeError:
            return None
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    return None


def _as_header_list(headers: object) -> list[Header] | None:
    """``headers`` as a new list to inject into, or None if it is not a sequence of headers
    (the producer then raises its own error for it)."""
    if headers is None:
        return []
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        return None
    return list(headers)


def _end(span: Span, error: BaseException | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


def _settled(span: Span, single: bool, future: asyncio.Future[Any]) -> None:
    """A done-callback: the record (``single``) or records were acknowledged or failed."""
    if future.cancelled():
        span.set_status(Status(StatusCode.ERROR, "cancelled"))
        span.end()
        return
    error = future.exception()
    if error is None and single:
        metadata: RecordMetadata = future.result()
        span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
        if metadata.offset >= 0:  # -1: acks=0, or a duplicate the broker did not place
            span.set_attribute("messaging.kafka.offset", metadata.offset)
    _end(span, error)


async def _until_queued(
    pending: Awaitable[asyncio.Future[Any]], span: Span, single: bool
) -> asyncio.Future[Any]:
    """Await send()'s awaitable; the span ends when its future settles."""
    try:
        future = await pending
    except BaseException as exc:
        _end(span, exc)
        raise
    future.add_done_callback(functools.partial(_settled, span, single))
    return future


class _Tracing:
    """The instance's send and send_many, traced; calls go to the producer's class."""

    def __init__(
        self,
        producer: Producer,
        tracer: Tracer,
        propagator: TextMapPropagator | None,
        global_provider: bool,
    ) -> None:
        self._producer = weakref.ref(producer)
        self._tracer = tracer
        self._global = global_provider  # the tracer follows the global provider
        self._propagator = propagator
        self._send = type(producer).send
        self._send_many = type(producer).send_many
        config = producer.config
        host, port = config.bootstrap_servers[0]
        self._attributes: dict[str, str | int | bool] = {
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.client.id": config.client_id,
            "server.address": host,
            "server.port": port,
        }
        # the started producer's FastSend (C), which answers the calls no span is made for
        self.displaced: Callable[..., Awaitable[asyncio.Future[RecordMetadata]]] | None = None

    def install(self, producer: Producer) -> None:
        """Put the wrappers on the instance: send, send_many, and start (which sets a FastSend
        as the instance's send, to be kept for the untraced calls)."""
        attributes = producer.__dict__
        self.displaced = attributes.get("send")
        attributes["send"] = self.send
        attributes["send_many"] = self.send_many
        attributes["start"] = self.start

    def remove(self, producer: Producer) -> None:
        """Take the wrappers off; a FastSend comes back while the producer runs."""
        attributes = producer.__dict__
        if attributes.get("send") == self.send:
            if self.displaced is not None and not producer.closed:
                attributes["send"] = self.displaced
            else:
                del attributes["send"]
        for name, wrapper in (("send_many", self.send_many), ("start", self.start)):
            if attributes.get(name) == wrapper:
                del attributes[name]

    async def start(self) -> None:
        """The producer's start(), then send() wrapped again over the FastSend it made
        (never under it: the FastSend hands the calls it does not answer to what it wraps)."""
        producer = self._producer()
        assert producer is not None
        attributes = producer.__dict__
        if attributes.get("send") == self.send:
            del attributes["send"]
        try:
            await type(producer).start(producer)
            self.displaced = attributes.get("send")  # the FastSend start() made, if any
        finally:
            attributes["send"] = self.send

    def _open(
        self, topic: object, partition: object, key: object = None, value: object = b""
    ) -> Span | None:
        """A span for a send to ``topic``, or None when nothing traces."""
        if (
            self._global
            and type(trace.get_tracer_provider()) is trace.ProxyTracerProvider
            and not trace.get_current_span().get_span_context().is_valid
        ):
            return None  # no provider set, and no context to pass on: the no-op span's case
        span = self._tracer.start_span(f"send {topic}", kind=SpanKind.PRODUCER)
        if not span.get_span_context().is_valid:
            return None  # no tracer provider: a non-recording span with no context
        if span.is_recording():
            attributes = self._attributes.copy()
            attributes["messaging.destination.name"] = str(topic)
            if type(partition) is int:
                attributes["messaging.destination.partition.id"] = str(partition)
            text = _key_text(key)
            if text is not None:
                attributes["messaging.kafka.message.key"] = text
            if value is None and key is not None:
                attributes["messaging.kafka.message.tombstone"] = True
            span.set_attributes(attributes)
        return span

    def _inject(self, carrier: list[Header], span: Span) -> None:
        """Write the span's context into ``carrier``; a propagator that raises is logged and
        the record goes without it (tracing never costs a record)."""
        propagator = self._propagator or propagate.get_global_textmap()
        written = list(carrier)
        try:
            propagator.inject(written, context=trace.set_span_in_context(span), setter=_SETTER)
        except Exception:
            log.exception("the trace-context propagator raised; record sent without its context")
            return
        carrier[:] = written

    def send(
        self, topic: str, value: object = None, key: object = None, **options: Any
    ) -> Awaitable[asyncio.Future[RecordMetadata]]:
        """:meth:`Producer.send` in a span; ``options`` are its keyword arguments, passed on
        as given (a FastSend answers only the calls without them)."""
        producer = self._producer()
        assert producer is not None  # it holds this wrapper
        span = self._open(topic, options.get("partition"), key, value)
        if span is None:
            if self.displaced is not None:  # nothing traces: the C path, if there is one
                return self.displaced(topic, value, key, **options)
            return self._send(producer, topic, value, key, **options)
        carrier = _as_header_list(options.get("headers"))
        if carrier is not None:  # else the producer raises for the headers
            self._inject(carrier, span)
            options["headers"] = carrier
        try:
            pending = self._send(producer, topic, value, key, **options)
        except BaseException as exc:
            _end(span, exc)
            raise
        return _until_queued(pending, span, single=True)

    async def send_many(
        self, topic: str, records: Any, **options: Any
    ) -> asyncio.Future[SentRecords]:
        """:meth:`Producer.send_many` in one span; every record gets its context."""
        producer = self._producer()
        assert producer is not None
        span = self._open(topic, options.get("partition"))
        if span is None:
            return await self._send_many(producer, topic, records, **options)
        if isinstance(records, Iterable):  # else the producer raises for it
            stamp: list[Header] = []
            self._inject(stamp, span)
            records = [_stamped(record, stamp) for record in records]
            span.set_attribute("messaging.batch.message_count", len(records))
        pending = self._send_many(producer, topic, records, **options)
        return await _until_queued(pending, span, single=False)


def _stamped(record: object, stamp: list[Header]) -> object:
    """``record`` with the trace headers, or as it is if it is no record (send_many raises)."""
    if type(record) is not tuple or not 2 <= len(record) <= 3:
        return record
    if len(record) == 2:
        return (record[0], record[1], stamp)
    carrier = _as_header_list(record[2])
    if carrier is None:
        return record
    names = {name for name, _ in stamp}
    carrier = [header for header in carrier if type(header) is not tuple or header[0] not in names]
    return (record[0], record[1], [*carrier, *stamp])


# -- instrument / uninstrument ---------------------------------------------------------------
class _Instrumented:
    __slots__ = ("bridge", "tracing")

    def __init__(self, bridge: _MeterBridge | None, tracing: _Tracing | None) -> None:
        self.bridge = bridge
        self.tracing = tracing


_instrumented: weakref.WeakKeyDictionary[Producer, _Instrumented] = weakref.WeakKeyDictionary()


def instrument(
    producer: Producer,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    propagator: TextMapPropagator | None = None,
    tracing: bool = True,
    metrics: bool = True,
) -> None:
    """Report ``producer``'s metrics to ``meter_provider`` and trace its sends with
    ``tracer_provider`` (the global providers and propagator when not given).

    Call it before or after ``start()``; once per producer (again raises ValueError until
    :func:`uninstrument`).
    """
    if producer in _instrumented:
        raise ValueError(f"{producer!r} is already instrumented")
    bridge = _bridge_for(meter_provider) if metrics else None
    traced = None
    if tracing:
        tracer = trace.get_tracer(_SCOPE, aioproducer.__version__, tracer_provider)
        traced = _Tracing(producer, tracer, propagator, tracer_provider is None)
        traced.install(producer)
    if bridge is not None:
        bridge.add(producer)
    _instrumented[producer] = _Instrumented(bridge, traced)


def uninstrument(producer: Producer) -> None:
    """Undo :func:`instrument` (nothing if ``producer`` is not instrumented)."""
    done = _instrumented.pop(producer, None)
    if done is None:
        return
    if done.bridge is not None:
        done.bridge.remove(producer)
    if done.tracing is not None:
        done.tracing.remove(producer)
