"""The checks of what a caller hands the producer: a record, a topic, a partition, a timeout.

:class:`RecordCheck` is the one place a record's key, value, headers and timestamp are
serialized and checked, for :meth:`Producer.send <aioproducer.Producer.send>` and
:meth:`Producer.send_many <aioproducer.Producer.send_many>` alike. Every check raises before
anything is queued.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NoReturn

from aioproducer._config import ProducerConfig
from aioproducer._protocol.records import Header
from aioproducer.errors import (
    ConfigurationError,
    InvalidPartitionError,
    InvalidTopicNameError,
    RecordTooLargeError,
    SerializationError,
)

__all__ = [
    "RECORD_BOUND",
    "CheckedRecord",
    "RecordCheck",
    "as_bytes",
    "check_timeout",
    "check_topic",
    "raise_bad_partition",
]

_BYTES_TYPES: Final = (bytes, bytearray, memoryview)
_TOPIC_RE: Final = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
RECORD_BOUND: Final = 61 + 21  # batch header + a record's largest varint overhead (Java)
_INT64_MAX: Final = (1 << 63) - 1  # a batch's timestamps are int64

#: A record as the accumulator takes it: key, value, headers, timestamp (None: the time it
#: is appended) and the bytes it may take at most (what buffer_memory must have room for).
CheckedRecord = tuple[bytes | None, bytes | None, Sequence[Header], int | None, int]


def check_timeout(what: str, timeout: object) -> float | None:
    """``timeout`` (seconds) of ``what`` if it is None or a number; NaN and others raise."""
    if timeout is None:
        return None
    if type(timeout) not in (int, float) or timeout != timeout:  # noqa: PLR0124 - NaN
        raise ConfigurationError(
            f"{what} timeout must be None or a number of seconds, not {timeout!r}"
        )
    return float(min(timeout, 1e12))  # type: ignore[call-overload]  # 10**400 s: forever


def check_topic(topic: object) -> str:
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic) or topic in (".", ".."):
        raise InvalidTopicNameError(
            f"invalid topic name {topic!r}: 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'"
        )
    return topic


def raise_bad_partition(topic: str, partition: object, partitions: int) -> NoReturn:
    raise InvalidPartitionError(
        f"partition {partition!r} is not a partition of topic {topic!r}, which has "
        f"{partitions} (0 to {partitions - 1})"
    )


def as_bytes(what: str, value: object, serialized: bool = False) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    if isinstance(value, _BYTES_TYPES):
        return bytes(value)
    if serialized:
        raise SerializationError(
            f"the {what}_serializer returned {type(value).__name__}; it must return bytes or None"
        )
    raise SerializationError(
        f"{what} must be bytes or None, not {type(value).__name__}; "
        f"pass a {what}_serializer to send other types"
    )


def _serialize(serializer: Callable[[Any], object], what: str, obj: object) -> bytes | None:
    """``serializer(obj)`` as bytes; whatever it raises comes out as SerializationError."""
    try:
        result = serializer(obj)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"the {what}_serializer raised {type(exc).__name__}: {exc}"
        ) from exc
    return as_bytes(what, result, True)


def _check_timestamp(timestamp_ms: object) -> int:
    if type(timestamp_ms) is not int or not 0 <= timestamp_ms <= _INT64_MAX:
        raise SerializationError(
            f"timestamp_ms must be an int from 0 to 2**63-1 (ms since the epoch), "
            f"not {timestamp_ms!r}"
        )
    return timestamp_ms


def _check_headers(headers: object) -> list[Header]:
    if isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
        raise SerializationError(
            f"headers must be a sequence of (str, bytes | None) pairs, not {type(headers).__name__}"
        )
    checked: list[Header] = []
    for item in headers:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise SerializationError(f"each header must be a (name, value) pair, not {item!r}")
        name, value = item
        if not isinstance(name, str):
            raise SerializationError(f"header name must be str, not {type(name).__name__}")
        try:
            name.encode()
        except UnicodeEncodeError as exc:
            raise SerializationError(f"header name {name!r} cannot be encoded as UTF-8") from exc
        if value is not None and not isinstance(value, _BYTES_TYPES):
            raise SerializationError(
                f"header {name!r} value must be bytes or None, not {type(value).__name__}"
            )
        checked.append((name, None if value is None else bytes(value)))
    return checked


def _headers_bound(headers: Sequence[Header]) -> int:
    """Bytes the headers may take in a record (utf-8 names, varint lengths)."""
    return sum(len(name) * 4 + len(value or b"") + 10 for name, value in headers)


class RecordCheck:
    """Serializes and checks records for one producer's settings: called as
    ``check(key, value, headers, timestamp_ms)``, it returns a :data:`CheckedRecord` or
    raises SerializationError (a serializer, a type, a header, the timestamp) or
    RecordTooLargeError (more than max_request_size or buffer_memory)."""

    __slots__ = ("_config", "_key_serializer", "_value_serializer", "max_size")

    def __init__(self, config: ProducerConfig) -> None:
        self._config = config
        self._key_serializer = config.key_serializer
        self._value_serializer = config.value_serializer
        self.max_size = min(config.max_request_size, config.buffer_memory)

    @property
    def plain(self) -> bool:
        """No serializer: keys and values are taken as they come (bytes or None)."""
        return self._key_serializer is None and self._value_serializer is None

    def __call__(
        self, key: object, value: object, headers: object, timestamp_ms: object
    ) -> CheckedRecord:
        # Serialized here, once: a send() that waits appends later from these bytes.
        if self._key_serializer is not None:
            key = _serialize(self._key_serializer, "key", key)
        if self._value_serializer is not None:
            value = _serialize(self._value_serializer, "value", value)
        if key is not None and type(key) is not bytes:  # bytes pass straight through
            key = as_bytes("key", key)
        if value is not None and type(value) is not bytes:
            value = as_bytes("value", value)
        key_bytes: bytes | None = key  # checked just above
        value_bytes: bytes | None = value
        size = RECORD_BOUND
        if key_bytes is not None:
            size += len(key_bytes)
        if value_bytes is not None:
            size += len(value_bytes)
        header_list: Sequence[Header] = ()
        if headers:
            header_list = _check_headers(headers)
            size += _headers_bound(header_list)
        if timestamp_ms is not None:
            timestamp_ms = _check_timestamp(timestamp_ms)
        if size > self.max_size:
            self._raise_too_large(size)
        return key_bytes, value_bytes, header_list, timestamp_ms, size

    def _raise_too_large(self, size: int) -> NoReturn:
        config = self._config
        limit, name = min(
            (config.max_request_size, "max_request_size"), (config.buffer_memory, "buffer_memory")
        )
        raise RecordTooLargeError(
            f"the record is up to {size} bytes serialized, more than {name} ({limit})"
        )
