"""ApiVersions (key 18), versions 0-4.

Responses always use response header v0. A broker that does not know the requested version
answers UNSUPPORTED_VERSION (35) with a v0 body that still lists its ApiKeys; the decoder
detects that and decodes the body as v0 (``decoded_version`` tells), so the caller can retry
with the highest ApiVersions version the broker listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aioproducer._errors_base import ProtocolError
from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.error_codes import UNSUPPORTED_VERSION
from aioproducer._protocol.primitives import Reader, write_string

__all__ = [
    "ApiVersionRange",
    "ApiVersionsRequest",
    "ApiVersionsResponse",
    "FinalizedFeature",
    "SupportedFeature",
]


@dataclass(frozen=True, slots=True)
class ApiVersionRange:
    """Versions of one API the broker supports (inclusive)."""

    api_key: int
    min_version: int
    max_version: int


@dataclass(frozen=True, slots=True)
class SupportedFeature:
    """A feature the broker supports (v3+)."""

    name: str
    min_version: int
    max_version: int


@dataclass(frozen=True, slots=True)
class FinalizedFeature:
    """A cluster-wide finalized feature level (v3+)."""

    name: str
    max_version_level: int
    min_version_level: int


@dataclass(frozen=True, slots=True)
class ApiVersionsResponse:
    """Normalized ApiVersions response, whatever the version."""

    error_code: int
    api_keys: tuple[ApiVersionRange, ...]
    throttle_time_ms: int = 0
    supported_features: tuple[SupportedFeature, ...] = ()
    finalized_features_epoch: int = -1
    finalized_features: tuple[FinalizedFeature, ...] = ()
    zk_migration_ready: bool = False
    decoded_version: int = 0
    """The version the body was decoded as: 0 after an UNSUPPORTED_VERSION fallback."""

    @property
    def api_versions(self) -> dict[int, tuple[int, int]]:
        """``{api_key: (min_version, max_version)}`` for every API the broker listed."""
        return {e.api_key: (e.min_version, e.max_version) for e in self.api_keys}

    def version_range(self, api_key: int) -> ApiVersionRange | None:
        """The broker's range for ``api_key``, or None if it does not support that API."""
        for entry in self.api_keys:
            if entry.api_key == api_key:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class ApiVersionsRequest:
    """ApiVersions request; the client software fields are sent from v3."""

    API_KEY: ClassVar[int] = ApiKey.API_VERSIONS
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 4
    FLEXIBLE_FROM: ClassVar[int] = 3

    client_software_name: str = "aioproducer"
    client_software_version: str = "unknown"

    def encode(self, version: int) -> bytes:
        """Encode the request body."""
        check_version(ApiVersionsRequest, version)
        if version < 3:
            return b""
        buf = bytearray()
        write_string(buf, self.client_software_name, flexible=True)
        write_string(buf, self.client_software_version, flexible=True)
        buf.append(0)
        return bytes(buf)

    def expects_response(self) -> bool:
        """ApiVersions is always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> ApiVersionsResponse:
        """Decode a body, falling back to v0 when the broker answered UNSUPPORTED_VERSION."""
        check_version(cls, version)
        if version > 0 and len(data) >= 2 and data[0] == 0 and data[1] == UNSUPPORTED_VERSION:
            try:
                return _decode(Reader(data), 0)
            except ProtocolError:
                pass  # not a v0 body after all; decode it as the version we asked for
        return _decode(Reader(data), version)


def _api_version(r: Reader, flexible: bool) -> ApiVersionRange:
    entry = ApiVersionRange(r.int16(), r.int16(), r.int16())
    if flexible:
        r.skip_tagged_fields()
    return entry


def _supported_feature(r: Reader) -> SupportedFeature:
    feature = SupportedFeature(r.string(True), r.int16(), r.int16())
    r.skip_tagged_fields()
    return feature


def _finalized_feature(r: Reader) -> FinalizedFeature:
    feature = FinalizedFeature(r.string(True), r.int16(), r.int16())
    r.skip_tagged_fields()
    return feature


def _decode(r: Reader, version: int) -> ApiVersionsResponse:
    flexible = version >= 3
    error_code = r.int16()
    n = r.array_length(flexible)
    api_keys = tuple(_api_version(r, flexible) for _ in range(n))
    throttle = r.int32() if version >= 1 else 0
    supported: tuple[SupportedFeature, ...] = ()
    epoch = -1
    finalized: tuple[FinalizedFeature, ...] = ()
    zk_ready = False
    if flexible:
        for tag, raw in r.tagged_fields().items():
            t = Reader(raw)
            if tag == 0:
                supported = tuple(t.array(_supported_feature, True))
            elif tag == 1:
                epoch = t.int64()
            elif tag == 2:
                finalized = tuple(t.array(_finalized_feature, True))
            elif tag == 3:
                zk_ready = t.boolean()
    return ApiVersionsResponse(
        error_code, api_keys, throttle, supported, epoch, finalized, zk_ready, version
    )
