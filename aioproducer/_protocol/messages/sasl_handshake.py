"""SaslHandshake (API key 17), versions 0-1: choose a SASL mechanism.

Never flexible. After a v0 handshake the SASL tokens travel as raw size-prefixed frames
with no Kafka header; after v1 they travel in :mod:`.sasl_authenticate` requests. Clients
should use v1 (v0 is deprecated). Kafka keeps this API at v1 because clients up to 2.4
negotiated its version incorrectly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import NEVER_FLEXIBLE, ApiKey, check_version
from aioproducer._protocol.primitives import Reader, write_string

__all__ = ["SaslHandshakeRequest", "SaslHandshakeResponse"]


@dataclass(frozen=True, slots=True)
class SaslHandshakeResponse:
    """Normalized SaslHandshake response (both versions)."""

    error_code: int
    mechanisms: tuple[str, ...]
    """The mechanisms the broker has enabled."""


@dataclass(frozen=True, slots=True)
class SaslHandshakeRequest:
    """Ask to authenticate with ``mechanism`` (e.g. ``"PLAIN"``, ``"SCRAM-SHA-512"``)."""

    API_KEY: ClassVar[int] = ApiKey.SASL_HANDSHAKE
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 1
    FLEXIBLE_FROM: ClassVar[int] = NEVER_FLEXIBLE

    mechanism: str

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        buf = bytearray()
        write_string(buf, self.mechanism)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> SaslHandshakeResponse:
        """Decode a response body of either version; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        error_code = r.int16()
        return SaslHandshakeResponse(error_code, tuple(r.array(Reader.string)))
