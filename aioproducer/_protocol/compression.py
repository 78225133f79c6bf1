"""Record batch compression codecs: pure ``bytes -> bytes`` functions.

The wire formats are the ones the Java client writes, so that every consumer can read them:

* gzip: a standard gzip member (zlib, ``wbits=31``); several members are accepted on input.
* snappy: xerial's stream framing (``b"\\x82SNAPPY\\x00"``, two big-endian int32s for version
  and compatible version, then ``int32 length + raw snappy block`` per 32 KiB of input), which
  Java's ``SnappyInputStream`` requires. On input a single plain raw snappy block (what
  librdkafka and others write) is accepted too.
* lz4: an LZ4 frame with independent 64 KiB blocks and no block or content checksum, as Java's
  ``Lz4BlockOutputStream`` writes (it rejects linked blocks).
* zstd: one zstd frame.

Levels follow Java's ``compression.<codec>.level`` ranges (KIP-390): gzip 1..9 or -1 (zlib's
default, 6); lz4 1..17 (9, the default, selects the fast compressor, anything else the
high-compression one); zstd -131072..22 (default 3); snappy and none take no level.
"""

from __future__ import annotations

import struct
import zlib
from enum import IntEnum

import cramjam
import lz4.frame

from aioproducer._errors_base import ConfigurationError, ProtocolError

__all__ = [
    "CompressionType",
    "compress",
    "decompress",
    "validate_level",
]


class CompressionType(IntEnum):
    """The codec ids stored in bits 0-2 of a record batch's attributes."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    @classmethod
    def parse(cls, value: str | int | None) -> CompressionType:
        """Accept a codec name (``"gzip"``, case-insensitive), an id, or None (no codec)."""
        if value is None:
            return cls.NONE
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                names = ", ".join(member.name.lower() for member in cls)
                raise ConfigurationError(
                    f"unknown compression type {value!r}; expected one of {names}"
                ) from None
        try:
            return cls(value)
        except ValueError:
            raise ConfigurationError(f"unknown compression type id {value!r}") from None

    def __str__(self) -> str:
        return self.name.lower()


# codec -> (lowest level, highest level, one more allowed value or None)
_LEVELS: dict[CompressionType, tuple[int, int, int | None]] = {
    CompressionType.GZIP: (1, 9, -1),
    CompressionType.LZ4: (1, 17, None),
    CompressionType.ZSTD: (-131072, 22, None),
}
_GZIP_DEFAULT = 6  # what zlib (and Java's Deflater.DEFAULT_COMPRESSION) uses
_LZ4_JAVA_DEFAULT = 9  # Java's default: the fast compressor
_ZSTD_DEFAULT = 3

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024  # SnappyOutputStream's default block size
_INT32 = struct.Struct(">i")


def validate_level(codec: CompressionType, level: int | None) -> None:
    """Raise ConfigurationError unless ``level`` is valid for ``codec`` (None always is)."""
    if level is None:
        return
    if isinstance(level, bool) or not isinstance(level, int):
        raise ConfigurationError(f"compression level must be an int, not {type(level).__name__}")
    bounds = _LEVELS.get(codec)
    if bounds is None:
        raise ConfigurationError(f"{codec} compression does not take a level (got {level})")
    low, high, extra = bounds
    if not (low <= level <= high or level == extra):
        allowed = f"{low}..{high}" + ("" if extra is None else f" or {extra}")
        raise ConfigurationError(f"{codec} compression level must be {allowed}, not {level}")


def compress(
    codec: CompressionType, data: bytes | bytearray | memoryview, level: int | None = None
) -> bytes:
    """Compress ``data`` the way the Java producer does for ``codec``."""
    validate_level(codec, level)
    if codec == CompressionType.NONE:
        return bytes(data)
    if codec == CompressionType.GZIP:
        gzip_level = _GZIP_DEFAULT if level is None or level == -1 else level
        return zlib.compress(data, gzip_level, wbits=31)
    if codec == CompressionType.SNAPPY:
        return _xerial_compress(data)
    if codec == CompressionType.LZ4:
        lz4_level = 0 if level is None or level == _LZ4_JAVA_DEFAULT else level
        result: bytes = lz4.frame.compress(
            data,
            compression_level=lz4_level,
            block_size=lz4.frame.BLOCKSIZE_MAX64KB,
            block_linked=False,
            content_checksum=False,
            block_checksum=False,
            store_size=False,
        )
        return result
    if codec == CompressionType.ZSTD:
        zstd_level = _ZSTD_DEFAULT if level is None else level
        return bytes(cramjam.zstd.compress(data, level=zstd_level))
    raise ConfigurationError(f"unknown compression codec {codec!r}")


def decompress(codec: CompressionType | int, data: bytes | bytearray | memoryview) -> bytes:
    """Decompress ``data``; raise ProtocolError if it is not valid ``codec`` output."""
    try:
        if codec == CompressionType.NONE:
            return bytes(data)
        if codec == CompressionType.GZIP:
            return _gzip_decompress(data)
        if codec == CompressionType.SNAPPY:
            return _snappy_decompress(data)
        if codec == CompressionType.LZ4:
            return _lz4_decompress(data)
        if codec == CompressionType.ZSTD:
            return bytes(cramjam.zstd.decompress(data))
    except ProtocolError:
        raise
    except Exception as exc:  # the codec libraries raise assorted error types
        raise ProtocolError(f"invalid {CompressionType(codec)} data: {exc}") from exc
    raise ProtocolError(f"unknown compression codec id {int(codec)}")


def _xerial_compress(data: bytes | bytearray | memoryview) -> bytes:
    view = memoryview(data)
    parts = [_XERIAL_HEADER]
    for start in range(0, len(view), _XERIAL_BLOCK):
        block = bytes(cramjam.snappy.compress_raw(view[start : start + _XERIAL_BLOCK]))
        parts.append(_INT32.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _snappy_decompress(data: bytes | bytearray | memoryview) -> bytes:
    view = memoryview(data)
    if bytes(view[:8]) != _XERIAL_MAGIC:
        return bytes(cramjam.snappy.decompress_raw(view))
    if len(view) < 16:
        raise ProtocolError("truncated xerial snappy header")
    pos, end = 16, len(view)
    parts: list[bytes] = []
    while pos < end:
        if end - pos < 4:
            raise ProtocolError("truncated xerial snappy block length")
        (size,) = _INT32.unpack_from(view, pos)
        pos += 4
        if size < 0 or size > end - pos:
            raise ProtocolError(f"invalid xerial snappy block length {size}")
        parts.append(bytes(cramjam.snappy.decompress_raw(view[pos : pos + size])))
        pos += size
    return b"".join(parts)


def _gzip_decompress(data: bytes | bytearray | memoryview) -> bytes:
    rest = bytes(data)
    parts: list[bytes] = []
    while True:
        inflater = zlib.decompressobj(wbits=31)
        parts.append(inflater.decompress(rest))
        if not inflater.eof:
            raise ProtocolError("truncated gzip data")
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)


def _lz4_decompress(data: bytes | bytearray | memoryview) -> bytes:
    decompressor = lz4.frame.LZ4FrameDecompressor()
    result: bytes = decompressor.decompress(data)
    if not decompressor.eof:
        raise ProtocolError("truncated lz4 frame")
    if decompressor.unused_data:
        raise ProtocolError("trailing bytes after lz4 frame")
    return result
