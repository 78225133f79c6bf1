"""Kafka wire primitives: encoders that append to a ``bytearray`` and a bounds-checked ``Reader``.

Encoding: build one ``bytearray`` per request and call the ``write_*`` helpers on it::

    buf = bytearray()
    write_int16(buf, 3)
    write_string(buf, "topic", flexible)          # compact (uvarint length + 1) when flexible
    write_array_length(buf, len(items), flexible)
    write_tagged_fields(buf)                      # empty tag section, flexible versions only

Out-of-range values passed to the fixed-width encoders raise ``struct.error`` (a local bug).

Decoding: wrap a response body in a :class:`Reader` and call its methods in schema order::

    r = Reader(body)
    code = r.int16()
    name = r.string(flexible)
    n = r.array_length(flexible)
    ids = r.int32_array(flexible)                 # a whole []int32 in one unpack
    tags = r.tagged_fields()                      # {tag: raw bytes}; unknown tags are skipped

Every ``Reader`` method raises :class:`aioproducer.errors.ProtocolError` on short or malformed
input, never ``struct.error``, ``IndexError`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from aioproducer._errors_base import ProtocolError

__all__ = [
    "BOOL",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT16",
    "UINT32",
    "ZERO_UUID",
    "Reader",
    "write_array",
    "write_array_length",
    "write_bool",
    "write_bytes",
    "write_int8",
    "write_int16",
    "write_int32",
    "write_int32_array",
    "write_int64",
    "write_nullable_array_length",
    "write_nullable_bytes",
    "write_nullable_string",
    "write_string",
    "write_tagged_fields",
    "write_uint32",
    "write_unsigned_varint",
    "write_uuid",
    "write_varint",
    "write_varlong",
]

T = TypeVar("T")

INT8 = struct.Struct(">b")
INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
INT64 = struct.Struct(">q")
UINT16 = struct.Struct(">H")
UINT32 = struct.Struct(">I")
BOOL = struct.Struct(">?")

ZERO_UUID = uuid.UUID(int=0)

_pack_int8 = INT8.pack
_pack_int16 = INT16.pack
_pack_int32 = INT32.pack
_pack_int64 = INT64.pack
_pack_uint32 = UINT32.pack

_NULL_INT16 = _pack_int16(-1)
_NULL_INT32 = _pack_int32(-1)

# Single-byte unsigned varints are by far the most common; precompute them.
_SMALL_UVARINT = [bytes((i,)) for i in range(128)]


# ---------------------------------------------------------------------------------- encoders


def write_int8(buf: bytearray, value: int) -> None:
    """Append a signed 8-bit integer."""
    buf += _pack_int8(value)


def write_bool(buf: bytearray, value: bool) -> None:
    """Append a boolean as one byte (0 or 1)."""
    buf.append(1 if value else 0)


def write_int16(buf: bytearray, value: int) -> None:
    """Append a big-endian signed 16-bit integer."""
    buf += _pack_int16(value)


def write_int32(buf: bytearray, value: int) -> None:
    """Append a big-endian signed 32-bit integer."""
    buf += _pack_int32(value)


def write_int64(buf: bytearray, value: int) -> None:
    """Append a big-endian signed 64-bit integer."""
    buf += _pack_int64(value)


def write_uint32(buf: bytearray, value: int) -> None:
    """Append a big-endian unsigned 32-bit integer."""
    buf += _pack_uint32(value)


def write_uuid(buf: bytearray, value: uuid.UUID) -> None:
    """Append a UUID as its 16 raw bytes."""
    buf += value.bytes


def write_unsigned_varint(buf: bytearray, value: int) -> None:
    """Append an unsigned LEB128 varint (0 <= value < 2**32)."""
    if 0 <= value < 128:
        buf += _SMALL_UVARINT[value]
        return
    if value < 0 or value >= 1 << 32:
        raise ValueError(f"unsigned varint out of range: {value}")
    while value >= 0x80:
        buf.append((value & 0x7F) | 0x80)
        value >>= 7
    buf.append(value)


def write_varint(buf: bytearray, value: int) -> None:
    """Append a zigzag-encoded signed 32-bit varint."""
    if not -(1 << 31) <= value < 1 << 31:
        raise ValueError(f"varint out of range: {value}")
    write_unsigned_varint(buf, ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF)


def write_varlong(buf: bytearray, value: int) -> None:
    """Append a zigzag-encoded signed 64-bit varint."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"varlong out of range: {value}")
    zz = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    while zz >= 0x80:
        buf.append((zz & 0x7F) | 0x80)
        zz >>= 7
    buf.append(zz)


def write_string(buf: bytearray, value: str, flexible: bool = False) -> None:
    """Append a non-null string: int16 length, or compact (uvarint length + 1) if flexible."""
    data = value.encode()
    if flexible:
        write_unsigned_varint(buf, len(data) + 1)
    else:
        buf += _pack_int16(len(data))
    buf += data


def write_nullable_string(buf: bytearray, value: str | None, flexible: bool = False) -> None:
    """Append a nullable string (length -1, or compact 0, for null)."""
    if value is None:
        buf += b"\x00" if flexible else _NULL_INT16
    else:
        write_string(buf, value, flexible)


def write_bytes(
    buf: bytearray, value: bytes | bytearray | memoryview, flexible: bool = False
) -> None:
    """Append non-null bytes: int32 length, or compact (uvarint length + 1) if flexible."""
    if flexible:
        write_unsigned_varint(buf, len(value) + 1)
    else:
        buf += _pack_int32(len(value))
    buf += value


def write_nullable_bytes(
    buf: bytearray, value: bytes | bytearray | memoryview | None, flexible: bool = False
) -> None:
    """Append nullable bytes (length -1, or compact 0, for null)."""
    if value is None:
        buf += b"\x00" if flexible else _NULL_INT32
    else:
        write_bytes(buf, value, flexible)


def write_array_length(buf: bytearray, length: int, flexible: bool = False) -> None:
    """Append an array length: int32, or compact (uvarint length + 1) if flexible."""
    if flexible:
        write_unsigned_varint(buf, length + 1)
    else:
        buf += _pack_int32(length)


def write_nullable_array_length(buf: bytearray, length: int | None, flexible: bool = False) -> None:
    """Append a nullable array length (-1, or compact 0, for null)."""
    if length is None:
        buf += b"\x00" if flexible else _NULL_INT32
    else:
        write_array_length(buf, length, flexible)


def write_array(
    buf: bytearray,
    items: Iterable[T],
    write_item: Callable[[bytearray, T], None],
    flexible: bool = False,
) -> None:
    """Append an array: its length, then ``write_item(buf, item)`` for each item."""
    seq = items if isinstance(items, list | tuple) else list(items)
    write_array_length(buf, len(seq), flexible)
    for item in seq:
        write_item(buf, item)


def write_int32_array(buf: bytearray, values: Sequence[int], flexible: bool = False) -> None:
    """Append a non-null array of int32 in one pack."""
    write_array_length(buf, len(values), flexible)
    if values:
        buf += struct.pack(f">{len(values)}i", *values)


def write_tagged_fields(buf: bytearray, fields: Mapping[int, bytes] | None = None) -> None:
    """Append a tagged-field section; empty unless ``fields`` maps tags to encoded values."""
    if not fields:
        buf.append(0)
        return
    write_unsigned_varint(buf, len(fields))
    for tag in sorted(fields):
        value = fields[tag]
        write_unsigned_varint(buf, tag)
        write_unsigned_varint(buf, len(value))
        buf += value


# ---------------------------------------------------------------------------------- decoder


class Reader:
    """A position over a ``memoryview``; each method consumes one primitive."""

    __slots__ = ("_data", "_end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        view = data if isinstance(data, memoryview) else memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self._data = view
        self._end = len(view)
        self.pos = pos

    @property
    def remaining(self) -> int:
        """Bytes not yet consumed."""
        return self._end - self.pos

    def at_end(self) -> bool:
        """True when every byte has been consumed."""
        return self.pos >= self._end

    def rest(self) -> memoryview:
        """The unconsumed bytes (without consuming them)."""
        return self._data[self.pos :]

    def _fixed(self, st: struct.Struct, what: str) -> int:
        value: int = self.fields(st, what)[0]
        return value

    def fields(self, st: struct.Struct, what: str) -> tuple[Any, ...]:
        """Read the fixed-size fields of ``st`` in one step (``what`` names them in errors)."""
        pos = self.pos
        end = pos + st.size
        if end > self._end:
            raise ProtocolError(f"truncated {what} at offset {pos}")
        self.pos = end
        return st.unpack_from(self._data, pos)

    def skip_exact(self, expected: bytes) -> bool:
        """Consume ``expected`` if the next bytes are exactly it; else consume nothing."""
        pos = self.pos
        end = pos + len(expected)
        if end > self._end or self._data[pos:end] != expected:
            return False
        self.pos = end
        return True

    def int8(self) -> int:
        """Read a signed 8-bit integer."""
        return self._fixed(INT8, "int8")

    def int16(self) -> int:
        """Read a big-endian signed 16-bit integer."""
        return self._fixed(INT16, "int16")

    def int32(self) -> int:
        """Read a big-endian signed 32-bit integer."""
        return self._fixed(INT32, "int32")

    def int64(self) -> int:
        """Read a big-endian signed 64-bit integer."""
        return self._fixed(INT64, "int64")

    def uint16(self) -> int:
        """Read a big-endian unsigned 16-bit integer."""
        return self._fixed(UINT16, "uint16")

    def uint32(self) -> int:
        """Read a big-endian unsigned 32-bit integer."""
        return self._fixed(UINT32, "uint32")

    def boolean(self) -> bool:
        """Read a boolean (any non-zero byte is true, as in the Java client)."""
        return self._fixed(INT8, "boolean") != 0

    def uuid(self) -> uuid.UUID:
        """Read a 16-byte UUID."""
        return uuid.UUID(bytes=self.raw(16))

    def raw(self, n: int) -> bytes:
        """Read exactly ``n`` raw bytes."""
        pos = self.pos
        end = pos + n
        if n < 0 or end > self._end:
            raise ProtocolError(f"truncated data: need {n} bytes at offset {pos}")
        self.pos = end
        return bytes(self._data[pos:end])

    def skip(self, n: int) -> None:
        """Skip exactly ``n`` bytes."""
        end = self.pos + n
        if n < 0 or end > self._end:
            raise ProtocolError(f"truncated data: cannot skip {n} bytes at offset {self.pos}")
        self.pos = end

    def _uvarint(self, max_bytes: int, what: str) -> int:
        data = self._data
        pos = self.pos
        end = self._end
        result = 0
        shift = 0
        for i in range(max_bytes):
            if pos + i >= end:
                raise ProtocolError(f"truncated {what} at offset {self.pos}")
            b = data[pos + i]
            result |= (b & 0x7F) << shift
            if b < 0x80:
                self.pos = pos + i + 1
                return result
            shift += 7
        raise ProtocolError(f"{what} longer than {max_bytes} bytes at offset {self.pos}")

    def unsigned_varint(self) -> int:
        """Read an unsigned varint of at most 5 bytes (32 bits)."""
        pos = self.pos
        if pos < self._end:
            b = self._data[pos]
            if b < 0x80:  # fast path: one byte
                self.pos = pos + 1
                return b
        value = self._uvarint(5, "unsigned varint")
        if value >= 1 << 32:
            raise ProtocolError("unsigned varint exceeds 32 bits")
        return value

    def varint(self) -> int:
        """Read a zigzag-encoded signed 32-bit varint."""
        zz = self.unsigned_varint()
        return (zz >> 1) ^ -(zz & 1)

    def varlong(self) -> int:
        """Read a zigzag-encoded signed 64-bit varint (at most 10 bytes)."""
        zz = self._uvarint(10, "varlong")
        if zz >= 1 << 64:
            raise ProtocolError("varlong exceeds 64 bits")
        return (zz >> 1) ^ -(zz & 1)

    def _length(self, flexible: bool, wide: bool) -> int:
        """A length prefix; -1 means null."""
        if flexible:
            return self.unsigned_varint() - 1
        return self.int32() if wide else self.int16()

    def _text(self, n: int) -> str:
        raw = self.raw(n)
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not valid UTF-8") from exc

    def nullable_string(self, flexible: bool = False) -> str | None:
        """Read a nullable string (int16 or compact length)."""
        n = self._length(flexible, wide=False)
        if n < 0:
            if n == -1:
                return None
            raise ProtocolError(f"invalid string length {n}")
        return self._text(n)

    def string(self, flexible: bool = False) -> str:
        """Read a non-null string; a null is a ProtocolError."""
        value = self.nullable_string(flexible)
        if value is None:
            raise ProtocolError("null where a non-null string was required")
        return value

    def nullable_bytes(self, flexible: bool = False) -> bytes | None:
        """Read nullable bytes (int32 or compact length)."""
        n = self._length(flexible, wide=True)
        if n < 0:
            if n == -1:
                return None
            raise ProtocolError(f"invalid bytes length {n}")
        return self.raw(n)

    def bytes(self, flexible: bool = False) -> bytes:
        """Read non-null bytes; a null is a ProtocolError."""
        value = self.nullable_bytes(flexible)
        if value is None:
            raise ProtocolError("null where non-null bytes were required")
        return value

    def nullable_array_length(self, flexible: bool = False) -> int | None:
        """Read a nullable array length; ``None`` for a null array.

        A length larger than the remaining bytes is refused (every element takes at least one
        byte), so a hostile length can never make a decoder loop for long.
        """
        n = self._length(flexible, wide=True)
        if n < 0:
            if n == -1:
                return None
            raise ProtocolError(f"invalid array length {n}")
        if n > self._end - self.pos:
            raise ProtocolError(f"array length {n} exceeds the remaining {self.remaining} bytes")
        return n

    def array_length(self, flexible: bool = False) -> int:
        """Read a non-null array length; a null is a ProtocolError."""
        n = self.nullable_array_length(flexible)
        if n is None:
            raise ProtocolError("null where a non-null array was required")
        return n

    def array(self, read_item: Callable[[Reader], T], flexible: bool = False) -> list[T]:
        """Read a non-null array by calling ``read_item(self)`` per element."""
        return [read_item(self) for _ in range(self.array_length(flexible))]

    def nullable_array(
        self, read_item: Callable[[Reader], T], flexible: bool = False
    ) -> list[T] | None:
        """Read a nullable array by calling ``read_item(self)`` per element."""
        n = self.nullable_array_length(flexible)
        if n is None:
            return None
        return [read_item(self) for _ in range(n)]

    def int32_array(self, flexible: bool = False) -> tuple[int, ...]:
        """Read a non-null array of int32 in one unpack."""
        n = self.array_length(flexible)
        if n == 0:
            return ()
        pos = self.pos
        end = pos + 4 * n
        if end > self._end:
            raise ProtocolError(f"truncated int32 array at offset {pos}")
        self.pos = end
        return struct.unpack_from(f">{n}i", self._data, pos)

    def tagged_fields(self) -> dict[int, memoryview]:
        """Read a tagged-field section; returns ``{tag: raw value}`` (callers skip unknown tags).

        Tags must be strictly increasing, as the Java implementation requires.
        """
        count = self.unsigned_varint()
        if count == 0:
            return {}
        if count > self._end - self.pos:
            raise ProtocolError(f"tagged field count {count} exceeds the remaining bytes")
        fields: dict[int, memoryview] = {}
        last = -1
        for _ in range(count):
            tag = self.unsigned_varint()
            if tag <= last:
                raise ProtocolError(f"tagged field {tag} out of order or duplicated")
            last = tag
            size = self.unsigned_varint()
            start = self.pos
            self.skip(size)
            fields[tag] = self._data[start : self.pos]
        return fields

    def skip_tagged_fields(self) -> None:
        """Read and discard a tagged-field section."""
        if self.pos < self._end and self._data[self.pos] == 0:
            self.pos += 1
            return
        self.tagged_fields()
