"""The request/response contract every message codec implements, and version negotiation.

A message module defines one request class (a frozen dataclass) satisfying :class:`Request`
and one normalized, frozen response dataclass whatever the version::

    @dataclass(frozen=True, slots=True)
    class FooRequest:
        API_KEY: ClassVar[int] = ApiKey.FOO
        MIN_VERSION: ClassVar[int] = 0
        MAX_VERSION: ClassVar[int] = 4
        FLEXIBLE_FROM: ClassVar[int] = 3
        ...
        def encode(self, version: int) -> bytes:            # body only, no header
            check_version(type(self), version)
            flexible = is_flexible(type(self), version)
            ...
        def expects_response(self) -> bool:
            return True
        @classmethod
        def decode_response(cls, data: memoryview, version: int) -> FooResponse: ...

Response bodies may carry trailing bytes; decoders ignore them. ``negotiate()`` picks the
version to use from a broker's ApiVersions range, raising
:class:`aioproducer.errors.UnsupportedVersionError` (re-exported here) when there is none.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Protocol

from aioproducer._broker_errors import UnsupportedVersionError

__all__ = [
    "NEVER_FLEXIBLE",
    "ApiKey",
    "Request",
    "Response",
    "UnsupportedVersionError",
    "check_version",
    "is_flexible",
    "negotiate",
]

NEVER_FLEXIBLE = 1 << 15
"""``FLEXIBLE_FROM`` for APIs with no flexible version (no valid int16 version reaches it)."""


class ApiKey(enum.IntEnum):
    """Kafka API keys used by the producer."""

    PRODUCE = 0
    METADATA = 3
    FIND_COORDINATOR = 10
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    INIT_PRODUCER_ID = 22
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    TXN_OFFSET_COMMIT = 28
    SASL_AUTHENTICATE = 36
    DESCRIBE_CLUSTER = 60
    DESCRIBE_PRODUCERS = 61
    DESCRIBE_TRANSACTIONS = 65
    GET_TELEMETRY_SUBSCRIPTIONS = 71
    PUSH_TELEMETRY = 72


class Response(Protocol):
    """Marker for normalized response dataclasses (any object satisfies it)."""


class Request(Protocol):
    """What :class:`~aioproducer._protocol.client.ClientConnection` needs from a request."""

    API_KEY: ClassVar[int]
    MIN_VERSION: ClassVar[int]
    """Lowest version implemented."""
    MAX_VERSION: ClassVar[int]
    """Highest version implemented."""
    FLEXIBLE_FROM: ClassVar[int]
    """First flexible version (request header v2, compact types, tagged fields)."""

    def encode(self, version: int) -> bytes:
        """Encode the request body (no header, no size prefix)."""
        ...

    def expects_response(self) -> bool:
        """False only for requests the broker never answers (Produce with acks=0)."""
        ...

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> Response:
        """Decode a response body; raises ProtocolError on malformed input."""
        ...


class _Versioned(Protocol):
    API_KEY: ClassVar[int]
    MIN_VERSION: ClassVar[int]
    MAX_VERSION: ClassVar[int]
    FLEXIBLE_FROM: ClassVar[int]


def check_version(request_cls: type[_Versioned], version: int) -> None:
    """Raise ``ValueError`` if ``version`` is outside what the codec implements (a local bug)."""
    if not request_cls.MIN_VERSION <= version <= request_cls.MAX_VERSION:
        raise ValueError(
            f"{request_cls.__name__} implements versions "
            f"{request_cls.MIN_VERSION}..{request_cls.MAX_VERSION}, not {version}"
        )


def is_flexible(request_cls: type[_Versioned], version: int) -> bool:
    """True when ``version`` uses compact types and tagged fields."""
    return version >= request_cls.FLEXIBLE_FROM


def negotiate(request_cls: type[_Versioned], broker_min: int, broker_max: int) -> int:
    """Pick the highest version both sides support, or raise UnsupportedVersionError."""
    low = max(request_cls.MIN_VERSION, broker_min)
    high = min(request_cls.MAX_VERSION, broker_max)
    if low > high:
        raise UnsupportedVersionError(
            f"no common version for API {request_cls.API_KEY}: client supports "
            f"{request_cls.MIN_VERSION}..{request_cls.MAX_VERSION}, "
            f"broker supports {broker_min}..{broker_max}"
        )
    return high
