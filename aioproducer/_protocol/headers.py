"""Request headers (v1, v2) and response headers (v0, v1).

A flexible request version uses request header v2 and response header v1; others use v1/v0.
The one exception: ApiVersions responses always use response header v0, so that a client can
read the correlation id whatever version the broker understood::

    buf = bytearray()
    write_request_header(buf, api_key, version, correlation_id, client_id,
                         header_version=request_header_version(flexible))
    ...
    r = Reader(frame)
    correlation_id = read_response_header(r, response_header_version(api_key, flexible))
"""

from __future__ import annotations

from dataclasses import dataclass

from aioproducer._errors_base import ProtocolError
from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.primitives import (
    INT16,
    INT32,
    Reader,
    write_nullable_string,
)

__all__ = [
    "RequestHeader",
    "read_request_header",
    "read_response_header",
    "request_header_version",
    "response_header_version",
    "write_request_header",
    "write_response_header",
]

_pack_int16 = INT16.pack
_pack_int32 = INT32.pack


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """A decoded request header (used by tests and tooling)."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def request_header_version(flexible: bool) -> int:
    """Request header version for a request version: 2 if flexible, else 1."""
    return 2 if flexible else 1


def response_header_version(api_key: int, flexible: bool) -> int:
    """Response header version: 1 if flexible, else 0; always 0 for ApiVersions."""
    if api_key == ApiKey.API_VERSIONS:
        return 0
    return 1 if flexible else 0


def write_request_header(
    buf: bytearray,
    api_key: int,
    api_version: int,
    correlation_id: int,
    client_id: str | None,
    *,
    header_version: int,
) -> None:
    """Append a request header v1 or v2. The client id is never compact, even in v2."""
    if header_version not in (1, 2):
        raise ValueError(f"unsupported request header version {header_version}")
    buf += _pack_int16(api_key)
    buf += _pack_int16(api_version)
    buf += _pack_int32(correlation_id)
    write_nullable_string(buf, client_id)
    if header_version == 2:
        buf.append(0)  # empty tagged fields


def read_request_header(reader: Reader, header_version: int) -> RequestHeader:
    """Read a request header v1 or v2."""
    if header_version not in (1, 2):
        raise ValueError(f"unsupported request header version {header_version}")
    header = RequestHeader(reader.int16(), reader.int16(), reader.int32(), reader.nullable_string())
    if header_version == 2:
        reader.skip_tagged_fields()
    return header


def write_response_header(buf: bytearray, correlation_id: int, header_version: int) -> None:
    """Append a response header v0 or v1 (used by tests and fake brokers)."""
    buf += _pack_int32(correlation_id)
    if header_version == 1:
        buf.append(0)
    elif header_version != 0:
        raise ValueError(f"unsupported response header version {header_version}")


def read_response_header(reader: Reader, header_version: int) -> int:
    """Read a response header v0 or v1; returns the correlation id."""
    try:
        correlation_id = reader.int32()
    except ProtocolError as exc:
        raise ProtocolError("response shorter than its header") from exc
    if header_version == 1:
        reader.skip_tagged_fields()
    elif header_version != 0:
        raise ValueError(f"unsupported response header version {header_version}")
    return correlation_id
