"""Client metrics pushed to the cluster (KIP-714), as the Java client and librdkafka push them.

When a broker offers GetTelemetrySubscriptions and PushTelemetry (Kafka 3.7+ with a metrics
reporter implementing ``ClientTelemetry``), the producer asks for its subscription and pushes
the requested metrics at the subscription's interval as an OpenTelemetry ``MetricsData``
protobuf, with a last, terminating push from ``close()``. Everything here runs in one task
of its own, off the path of records: it never raises into the producer, and a cluster that
offers no subscription (no reporter, or one that requests no metrics) costs one request per
push interval at most.

:class:`TelemetryState` is the plain state machine (clocks passed in, no I/O);
:class:`ClientTelemetry` drives it over the cluster's connections.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from aioproducer._clientlog import ClientLog
from aioproducer._clock import now_ms
from aioproducer._connection import BrokerConnection
from aioproducer._protocol.compression import CompressionType, compress
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.push_telemetry import (
    PushTelemetryRequest,
    PushTelemetryResponse,
)
from aioproducer._protocol.otlp import DataPoint, encode_metrics_data
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer.errors import (
    InvalidRecordError,
    InvalidRequestError,
    ProducerError,
    TelemetryTooLargeError,
    ThrottlingQuotaExceededError,
    UnknownSubscriptionIdError,
    UnsupportedCompressionTypeError,
    UnsupportedVersionError,
)
from aioproducer.metrics import MetricSample

__all__ = [
    "ClientTelemetry",
    "Subscription",
    "TelemetryState",
    "telemetry_attributes",
    "telemetry_name",
]

log = logging.getLogger("aioproducer.telemetry")

DOMAIN: Final = "org.apache.kafka"
DEFAULT_PUSH_INTERVAL_MS: Final = 5 * 60 * 1000  # Java's, when the broker gives none or fails
_NEVER: Final = float("inf")
_POLL_FIRST_S: Final = 0.05  # looking for a connection: soon after start, then each second
_POLL_MAX_S: Final = 1.0
_EXCLUDED_ATTRIBUTES: Final = frozenset({"client_id"})  # the broker knows it already
_REFETCH: Final = frozenset({UnknownSubscriptionIdError.code, UnsupportedCompressionTypeError.code})
_RETRY_LATER: Final = frozenset({TelemetryTooLargeError.code, ThrottlingQuotaExceededError.code})
_DISABLE: Final = frozenset(
    {InvalidRequestError.code, InvalidRecordError.code, UnsupportedVersionError.code}
)


def telemetry_name(group: str, name: str) -> str:
    """KIP-714's name of a Java metric: ``org.apache.kafka.`` + the group without its
    ``-metrics`` + the name, lower case, ``-`` as ``.`` (``producer-topic-metrics`` /
    ``record-send-total`` -> ``org.apache.kafka.producer.topic.record.send.total``)."""
    clean_group = group.lower().replace("-", ".").replace(".metrics", "")
    return f"{DOMAIN}.{clean_group}.{name.lower().replace('-', '.')}"


def telemetry_attributes(
    tags: dict[str, str] | Sequence[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """A metric's tags as KIP-714 attributes: keys in snake case, without ``client_id``."""
    items = tags.items() if isinstance(tags, dict) else tags
    cleaned = ((key.lower().replace("-", "_"), value) for key, value in items)
    return tuple(sorted(kv for kv in cleaned if kv[0] not in _EXCLUDED_ATTRIBUTES))


@dataclass(frozen=True, slots=True)
class Subscription:
    """What the cluster asked this client to push."""

    client_instance_id: uuid.UUID
    subscription_id: int
    push_interval_ms: int
    compression: CompressionType
    delta_temporality: bool
    prefixes: tuple[str, ...] | None
    """Requested name prefixes; None: every metric; empty: none."""
    max_bytes: int

    def wants(self, name: str) -> bool:
        """Whether the metric named ``name`` (KIP-714 form) is requested."""
        if self.prefixes is None:
            return True
        return any(name.startswith(prefix) for prefix in self.prefixes)

    @classmethod
    def from_response(
        cls, response: GetTelemetrySubscriptionsResponse, instance_id: uuid.UUID
    ) -> Subscription:
        """The subscription a successful response gives (``instance_id``: the one held)."""
        if response.client_instance_id != ZERO_UUID:
            instance_id = response.client_instance_id
        interval = response.push_interval_ms
        if interval <= 0:
            interval = DEFAULT_PUSH_INTERVAL_MS
        requested = response.requested_metrics
        prefixes: tuple[str, ...] | None = requested
        if requested == ("*",) or "" in requested:
            prefixes = None
        known = {int(codec) for codec in CompressionType}
        accepted = [c for c in response.accepted_compression_types if c in known]
        # the broker lists them in its order of preference; none listed: uncompressed
        compression = CompressionType(accepted[0]) if accepted else CompressionType.NONE
        return cls(
            instance_id,
            response.subscription_id,
            interval,
            compression,
            response.delta_temporality,
            prefixes,
            response.telemetry_max_bytes,
        )


class TelemetryState:
    """KIP-714's client state machine, without I/O.

    The driver asks :meth:`due_in_ms` when the next request is due, builds it with
    :meth:`next_request` and reports the outcome with :meth:`on_subscription`,
    :meth:`on_push` or :meth:`on_failure`. ``now_ms`` is a monotonic clock in ms and
    ``wall_ns`` the Unix time in ns (the data points' timestamps).
    """

    def __init__(
        self,
        resource: Sequence[tuple[str, str]] = (),
        jitter: Callable[[float, float], float] = random.uniform,
        client_id: str = "",
    ) -> None:
        self.client_id = client_id
        self._log = ClientLog(log, client_id)  # every line names the client
        self.subscription: Subscription | None = None
        self.instance_id = ZERO_UUID
        self.enabled = True
        self._resource = tuple(resource)
        self._jitter = jitter
        self._next_at: float = 0.0  # the first subscription request is due at once
        self._need_subscription = True
        self._first_seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, float]] = {}
        # (group, name, *tags) -> (KIP-714 name, attributes, requested?): a metric's are
        # the same push after push (cleared with each new subscription)
        self._known: dict[tuple[object, ...], tuple[str, tuple[tuple[str, str], ...], bool]] = {}
        self.pushes = 0

    def due_in_ms(self, now_ms: float) -> float:
        """Milliseconds until the next request is due (inf: never again)."""
        if not self.enabled:
            return _NEVER
        return max(0.0, self._next_at - now_ms)

    @property
    def can_terminate(self) -> bool:
        """Whether a terminating push makes sense: a subscription that requests metrics."""
        return self.enabled and self.subscription is not None and not self._need_subscription

    def next_request(
        self, samples: Callable[[], Sequence[MetricSample]], wall_ns: int, terminating: bool = False
    ) -> GetTelemetrySubscriptionsRequest | PushTelemetryRequest | None:
        """The request due now: a subscription request, or a push of ``samples()`` (None
        when the payload would exceed the subscription's byte limit)."""
        subscription = self.subscription
        if self._need_subscription or subscription is None:
            return GetTelemetrySubscriptionsRequest(self.instance_id)
        payload = self.payload(subscription, samples(), wall_ns)
        data = compress(subscription.compression, payload)
        if subscription.max_bytes > 0 and len(data) > subscription.max_bytes:
            self._log.debug(
                "telemetry payload of %d bytes exceeds the broker's %d; not pushed",
                len(data),
                subscription.max_bytes,
            )
            return None
        return PushTelemetryRequest(
            subscription.client_instance_id,
            subscription.subscription_id,
            terminating,
            subscription.compression,
            data,
        )

    def payload(
        self, subscription: Subscription, samples: Sequence[MetricSample], wall_ns: int
    ) -> bytes:
        """The ``MetricsData`` protobuf of the requested ``samples``."""
        points: list[DataPoint] = []
        delta = subscription.delta_temporality
        known = self._known
        for sample in samples:
            tags = sample.tags
            found = known.get((sample.group, sample.name, *tags.items()))
            if found is None:
                name = telemetry_name(sample.group, sample.name)
                found = (name, telemetry_attributes(dict(tags)), subscription.wants(name))
                known[sample.group, sample.name, *tags.items()] = found
            name, attributes, wanted = found
            if not wanted:
                continue
            if sample.kind != "counter":
                points.append(
                    DataPoint(
                        name,
                        "gauge",
                        sample.value,
                        attributes,
                        wall_ns,
                        0,
                        False,
                        sample.description,
                    )
                )
                continue
            key = (name, attributes)
            start = self._first_seen.setdefault(key, wall_ns)
            value = sample.value
            if delta:
                last = self._last.get(key)
                self._last[key] = (wall_ns, sample.value)
                if last is not None:
                    start, value = last[0], sample.value - last[1]
            points.append(
                DataPoint(name, "sum", value, attributes, wall_ns, start, delta, sample.description)
            )
        self._forget_gone(len(samples), points)
        return encode_metrics_data(points, self._resource)

    def _forget_gone(self, count: int, points: list[DataPoint]) -> None:
        """Drop what is kept for metrics no longer reported (a topic's, once forgotten)."""
        if len(self._known) > 2 * count + 64:
            self._known.clear()
        if len(self._first_seen) > 2 * len(points) + 64:
            live = {(p.name, tuple(p.attributes)) for p in points if p.kind == "sum"}
            self._first_seen = {k: v for k, v in self._first_seen.items() if k in live}
            self._last = {k: v for k, v in self._last.items() if k in live}

    def on_subscription(self, response: GetTelemetrySubscriptionsResponse, now_ms: float) -> None:
        """Take a GetTelemetrySubscriptions response."""
        if response.error_code:
            self._on_error(response.error_code, now_ms)
            return
        old = self.subscription
        subscription = Subscription.from_response(response, self.instance_id)
        if old is not None and old.delta_temporality != subscription.delta_temporality:
            self._last.clear()  # as Java: the values tracked for deltas start over
            self._first_seen.clear()
        self.subscription = subscription
        self._known.clear()  # its prefixes may differ
        self.instance_id = subscription.client_instance_id
        interval = subscription.push_interval_ms
        if subscription.prefixes == ():  # no metrics requested: ask again an interval later
            self._need_subscription = True
            self._next_at = now_ms + interval
            self._log.debug(
                "telemetry subscription requests no metrics; asking again in %d ms",
                interval,
            )
            return
        self._need_subscription = False
        # the first push is spread over 0.5 to 1.5 intervals, as Java's, so that clients
        # started together do not push together
        self._next_at = now_ms + round(self._jitter(0.5, 1.5) * interval)
        self._log.info(
            "client telemetry subscription %d for client instance id %s: every %d ms",
            subscription.subscription_id,
            subscription.client_instance_id,
            interval,
        )

    def on_push(self, response: PushTelemetryResponse, now_ms: float) -> None:
        """Take a PushTelemetry response."""
        if response.error_code:
            self._on_error(response.error_code, now_ms)
            return
        self.pushes += 1
        assert self.subscription is not None
        self._next_at = now_ms + self.subscription.push_interval_ms

    def on_skipped(self, now_ms: float) -> None:
        """A push that was not sent (too large): try again an interval later."""
        interval = self.subscription.push_interval_ms if self.subscription else 0
        self._next_at = now_ms + (interval or DEFAULT_PUSH_INTERVAL_MS)

    def on_failure(self, now_ms: float) -> None:
        """A request that got no response (connection lost, timeout): ask for the
        subscription again after Java's default interval."""
        self._need_subscription = True
        self._next_at = now_ms + DEFAULT_PUSH_INTERVAL_MS

    def resubscribe(self) -> None:
        """Ask for the subscription with the next request (a new broker connection)."""
        self._need_subscription = True

    def disable(self, why: str) -> None:
        """Stop for good."""
        if self.enabled:
            self._log.debug("client telemetry disabled: %s", why)
        self.enabled = False

    def _on_error(self, error_code: int, now_ms: float) -> None:
        self._need_subscription = True
        if error_code in _REFETCH:
            self._next_at = now_ms
        elif error_code in _RETRY_LATER:
            interval = self.subscription.push_interval_ms if self.subscription else 0
            self._next_at = now_ms + (interval or DEFAULT_PUSH_INTERVAL_MS)
        else:
            self.disable(f"the broker answered error code {error_code}")
            return
        self._log.debug(
            "telemetry request failed with error code %d; asking again",
            error_code,
        )


class ClientTelemetry:
    """Drives :class:`TelemetryState` over the cluster's connections, in a task of its own.

    ``connection()`` gives a live connection to some broker (None: none yet); ``samples()``
    the function that gives the producer's metrics, or None once the producer is gone (a
    ``weakref.WeakMethod``: this task keeps no producer alive), which ends the task.
    """

    def __init__(
        self,
        connection: Callable[[], BrokerConnection | None],
        samples: Callable[[], Callable[[], Sequence[MetricSample]] | None],
        resource: Sequence[tuple[str, str]] = (),
        client_id: str = "",
    ) -> None:
        self.state = TelemetryState(resource, client_id=client_id)
        self._log = ClientLog(log, client_id)
        self._connection = connection
        self._samples = samples
        self._conn: BrokerConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task (in the running loop)."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="aioproducer-telemetry"
        )

    def _now_ms(self) -> float:
        return now_ms()

    def _pick(self) -> BrokerConnection | None:
        """The broker to talk to: the last one while it lasts, else any that offers the
        APIs (a new one means asking for the subscription again)."""
        conn = self._conn
        if conn is not None and conn.connected:
            return conn
        conn = self._connection()
        if conn is None:
            return None
        try:
            conn.version_for(GetTelemetrySubscriptionsRequest)
            conn.version_for(PushTelemetryRequest)
        except UnsupportedVersionError:  # no telemetry there: look again much later
            self._log.debug("%s does not offer KIP-714's telemetry APIs", conn)
            self.state.on_failure(self._now_ms())
            return None
        if self._conn is not None:
            self.state.resubscribe()
        self._conn = conn
        return conn

    def _collect(self) -> Sequence[MetricSample]:
        samples = self._samples()
        if samples is None:
            raise LookupError("the producer is gone")
        return samples()

    async def _run(self) -> None:
        poll = _POLL_FIRST_S
        try:
            while self.state.enabled:
                delay = self.state.due_in_ms(self._now_ms())
                if delay > 0:
                    await asyncio.sleep(min(delay, 86_400_000) / 1000)
                    continue
                if self._samples() is None:
                    raise LookupError("the producer is gone")
                conn = self._pick()
                if conn is None:  # no broker connected yet (or all idle-closed)
                    await asyncio.sleep(poll)
                    poll = min(poll * 2, _POLL_MAX_S)
                    continue
                poll = _POLL_FIRST_S
                await self._exchange(conn, terminating=False)
        except LookupError:
            self.state.disable("the producer is gone")
        except Exception:  # never let telemetry break the producer
            self._log.warning(
                "client telemetry stopped after an unexpected error",
                exc_info=True,
            )
            self.state.disable("unexpected error")

    async def _exchange(self, conn: BrokerConnection, terminating: bool) -> None:
        state = self.state
        request = state.next_request(self._collect, time.time_ns(), terminating)
        if request is None:
            state.on_skipped(self._now_ms())
            return
        try:
            response = await conn.request(request)
        except ProducerError as exc:
            self._log.debug("telemetry request to %s failed: %s", conn, exc)
            self._conn = None
            state.on_failure(self._now_ms())
            return
        if isinstance(response, GetTelemetrySubscriptionsResponse | PushTelemetryResponse):
            conn.throttle(response.throttle_time_ms, now_ms())  # the broker mutes it meanwhile
        if isinstance(response, GetTelemetrySubscriptionsResponse):
            state.on_subscription(response, self._now_ms())
        elif isinstance(response, PushTelemetryResponse):
            state.on_push(response, self._now_ms())

    async def close(self, timeout: float) -> None:
        """Stop the task; then, within ``timeout`` seconds, push a last time (terminating)
        if a subscription requests metrics. Never raises (but a cancellation)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))
        state = self.state
        conn = self._conn
        if timeout <= 0 or not state.can_terminate or conn is None or not conn.connected:
            state.disable("closed")
            return
        try:
            async with asyncio.timeout(timeout):
                await self._exchange(conn, terminating=True)
        except TimeoutError:
            self._log.debug(
                "the terminating telemetry push did not finish within %.3f s",
                timeout,
            )
        except LookupError:
            pass
        except Exception:
            self._log.warning("the terminating telemetry push failed", exc_info=True)
        state.disable("closed")

    def stop(self) -> None:
        """Cancel the task now (no terminating push)."""
        self.state.disable("stopped")
        if self._task is not None:
            self._task.cancel()
            self._task = None
