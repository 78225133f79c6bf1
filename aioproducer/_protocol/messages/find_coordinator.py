"""FindCoordinator (API key 10), versions 0-6: which broker coordinates a group or transaction.

Versions 0-3 look up one key per request; 4+ batch several (``CoordinatorKeys``). The
request takes a sequence of keys either way and refuses more than one below v4. The
response is normalized to one :class:`Coordinator` per key; v0-3 responses do not echo the
key, so their single entry has ``key=None``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aioproducer._broker_errors import UnsupportedVersionError
from aioproducer._protocol.api import ApiKey, check_version, is_flexible
from aioproducer._protocol.primitives import (
    Reader,
    write_array_length,
    write_int8,
    write_string,
    write_tagged_fields,
)

__all__ = [
    "Coordinator",
    "CoordinatorType",
    "FindCoordinatorRequest",
    "FindCoordinatorResponse",
]


class CoordinatorType(enum.IntEnum):
    """The ``KeyType`` of a lookup."""

    GROUP = 0
    TRANSACTION = 1  # v1+
    SHARE = 2  # v6+


_MIN_VERSION_FOR_TYPE: dict[int, int] = {CoordinatorType.GROUP: 0, CoordinatorType.TRANSACTION: 1}


@dataclass(frozen=True, slots=True)
class Coordinator:
    """The coordinator found for one key (or the error explaining why not)."""

    key: str | None
    """The key looked up; None in v0-3 responses, which answer the single key sent."""
    node_id: int
    host: str
    port: int
    error_code: int
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class FindCoordinatorResponse:
    """Normalized FindCoordinator response (every version)."""

    throttle_time_ms: int
    coordinators: tuple[Coordinator, ...]


@dataclass(frozen=True, slots=True)
class FindCoordinatorRequest:
    """Find the coordinator of ``keys`` (group ids or transactional ids)."""

    API_KEY: ClassVar[int] = ApiKey.FIND_COORDINATOR
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 6
    FLEXIBLE_FROM: ClassVar[int] = 3

    keys: Sequence[str]
    key_type: int = CoordinatorType.GROUP

    def encode(self, version: int) -> bytes:
        """Encode the body; raises UnsupportedVersionError if ``version`` cannot express it."""
        check_version(type(self), version)
        if version < _MIN_VERSION_FOR_TYPE.get(self.key_type, 6):
            msg = f"FindCoordinator v{version} cannot look up key type {self.key_type}"
            raise UnsupportedVersionError(msg)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        if version <= 3:
            if len(self.keys) != 1:
                msg = f"FindCoordinator v{version} looks up exactly one key, not {len(self.keys)}"
                raise UnsupportedVersionError(msg)
            write_string(buf, self.keys[0], flexible)
            if version >= 1:
                write_int8(buf, self.key_type)
        else:
            write_int8(buf, self.key_type)
            write_array_length(buf, len(self.keys), flexible)
            for key in self.keys:
                write_string(buf, key, flexible)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> FindCoordinatorResponse:
        """Decode a response body of any version; trailing bytes are ignored."""
        check_version(cls, version)
        flexible = is_flexible(cls, version)
        r = Reader(data)
        coordinators: tuple[Coordinator, ...]
        throttle_time_ms = r.int32() if version >= 1 else 0
        if version <= 3:
            error_code = r.int16()
            error_message = r.nullable_string(flexible) if version >= 1 else None
            node_id, host, port = r.int32(), r.string(flexible), r.int32()
            coordinators = (Coordinator(None, node_id, host, port, error_code, error_message),)
        else:
            coordinators = tuple(r.array(_read_coordinator, flexible))
        if flexible:
            r.skip_tagged_fields()
        return FindCoordinatorResponse(throttle_time_ms, coordinators)


def _read_coordinator(r: Reader) -> Coordinator:
    # Only in v4+, which are all flexible.
    key = r.string(True)
    node_id, host, port = r.int32(), r.string(True), r.int32()
    error_code, error_message = r.int16(), r.nullable_string(True)
    r.skip_tagged_fields()
    return Coordinator(key, node_id, host, port, error_code, error_message)
