"""GetTelemetrySubscriptions (API key 71), version 0 (flexible): KIP-714's subscription.

The client asks with its instance id (the zero UUID the first time, so the broker assigns
one) and learns which metrics the cluster wants pushed, how often, and how compressed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import ZERO_UUID, Reader, write_tagged_fields, write_uuid

__all__ = ["GetTelemetrySubscriptionsRequest", "GetTelemetrySubscriptionsResponse"]


@dataclass(frozen=True, slots=True)
class GetTelemetrySubscriptionsResponse:
    """The client's telemetry subscription (or the error why there is none)."""

    error_code: int
    client_instance_id: uuid.UUID
    """The id the broker assigned when the request carried the zero UUID, else zero."""
    subscription_id: int
    accepted_compression_types: tuple[int, ...]
    """Codec ids the broker accepts for PushTelemetry, most preferred first."""
    push_interval_ms: int
    telemetry_max_bytes: int
    delta_temporality: bool
    """Counters as deltas since the last push (else cumulative since they began)."""
    requested_metrics: tuple[str, ...]
    """Metric name prefixes; empty: none; one empty string (or ``"*"``): every metric."""
    throttle_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class GetTelemetrySubscriptionsRequest:
    """Ask for the subscription of ``client_instance_id`` (zero: assign me one)."""

    API_KEY: ClassVar[int] = ApiKey.GET_TELEMETRY_SUBSCRIPTIONS
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 0
    FLEXIBLE_FROM: ClassVar[int] = 0

    client_instance_id: uuid.UUID = ZERO_UUID

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        buf = bytearray()
        write_uuid(buf, self.client_instance_id)
        write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> GetTelemetrySubscriptionsResponse:
        """Decode a response body; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        throttle_time_ms = r.int32()
        error_code = r.int16()
        instance_id = r.uuid()
        subscription_id = r.int32()
        codecs = tuple(r.int8() for _ in range(r.array_length(True)))
        push_interval_ms = r.int32()
        max_bytes = r.int32()
        delta = r.boolean()
        requested = tuple(r.string(True) for _ in range(r.array_length(True)))
        r.skip_tagged_fields()
        return GetTelemetrySubscriptionsResponse(
            error_code,
            instance_id,
            subscription_id,
            codecs,
            push_interval_ms,
            max_bytes,
            delta,
            requested,
            throttle_time_ms,
        )
