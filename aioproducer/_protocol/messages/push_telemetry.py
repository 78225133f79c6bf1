"""PushTelemetry (API key 72), version 0 (flexible): KIP-714's metrics push.

The metrics travel as an OpenTelemetry ``MetricsData`` protobuf
(:mod:`aioproducer._protocol.otlp`), compressed with one of the codecs the subscription
accepts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import (
    Reader,
    write_bool,
    write_bytes,
    write_int8,
    write_int32,
    write_tagged_fields,
    write_uuid,
)

__all__ = ["PushTelemetryRequest", "PushTelemetryResponse"]


@dataclass(frozen=True, slots=True)
class PushTelemetryResponse:
    """The broker's verdict on a push."""

    error_code: int
    throttle_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class PushTelemetryRequest:
    """Push ``metrics`` (compressed with ``compression_type``) for a subscription."""

    API_KEY: ClassVar[int] = ApiKey.PUSH_TELEMETRY
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 0
    FLEXIBLE_FROM: ClassVar[int] = 0

    client_instance_id: uuid.UUID
    subscription_id: int
    terminating: bool
    compression_type: int
    metrics: bytes

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        buf = bytearray()
        write_uuid(buf, self.client_instance_id)
        write_int32(buf, self.subscription_id)
        write_bool(buf, self.terminating)
        write_int8(buf, self.compression_type)
        write_bytes(buf, self.metrics, True)
        write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> PushTelemetryResponse:
        """Decode a response body; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        throttle_time_ms = r.int32()
        error_code = r.int16()
        r.skip_tagged_fields()
        return PushTelemetryResponse(error_code, throttle_time_ms)
