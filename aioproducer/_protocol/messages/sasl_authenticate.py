"""SaslAuthenticate (API key 36), versions 0-2: carry one round of SASL tokens.

v2 is flexible; v1+ responses add ``session_lifetime_ms`` (KIP-368: re-authenticate before
it runs out; 0 means no limit). The tokens may hold credentials, so they are left out of
the reprs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version, is_flexible
from aioproducer._protocol.primitives import Reader, write_bytes, write_tagged_fields

__all__ = ["SaslAuthenticateRequest", "SaslAuthenticateResponse"]


@dataclass(frozen=True, slots=True)
class SaslAuthenticateResponse:
    """Normalized SaslAuthenticate response (every version)."""

    error_code: int
    error_message: str | None
    auth_bytes: bytes = field(repr=False)
    session_lifetime_ms: int = 0
    """Milliseconds until the session must re-authenticate (v1+; 0 = no limit)."""


@dataclass(frozen=True, slots=True)
class SaslAuthenticateRequest:
    """Send the client's SASL token ``auth_bytes`` for the mechanism chosen at handshake."""

    API_KEY: ClassVar[int] = ApiKey.SASL_AUTHENTICATE
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 2
    FLEXIBLE_FROM: ClassVar[int] = 2

    auth_bytes: bytes = field(repr=False)

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        write_bytes(buf, self.auth_bytes, flexible)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> SaslAuthenticateResponse:
        """Decode a response body of any version; trailing bytes are ignored."""
        check_version(cls, version)
        flexible = is_flexible(cls, version)
        r = Reader(data)
        error_code = r.int16()
        error_message = r.nullable_string(flexible)
        auth_bytes = r.bytes(flexible)
        session_lifetime_ms = r.int64() if version >= 1 else 0
        if flexible:
            r.skip_tagged_fields()
        return SaslAuthenticateResponse(error_code, error_message, auth_bytes, session_lifetime_ms)
