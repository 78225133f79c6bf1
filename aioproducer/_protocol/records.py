"""Record batch v2 (magic 2): build batches, re-stamp their producer state, decode them.

Layout (all integers big-endian; offsets in bytes)::

    0  baseOffset int64          27 baseTimestamp int64     57 recordCount int32
    8  batchLength int32         35 maxTimestamp int64      61 records (compressed as one
    12 partitionLeaderEpoch int32 43 producerId int64          block when a codec is set)
    16 magic int8 = 2            51 producerEpoch int16
    17 crc uint32 (CRC-32C of bytes 21..end)                 53 baseSequence int32
    21 attributes int16 (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
    23 lastOffsetDelta int32

A record is ``length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
key (varint length, -1 = null), value (likewise), header count varint, headers`` where a
header is a utf-8 key with a varint length and a value like the record's. Varints are
zigzag-encoded base-128.

:class:`RecordBatchBuilder` encodes each record straight into one bytearray as it is
appended; :func:`set_producer_state` stamps producer id, epoch and base sequence into a
built batch without recompressing it; :func:`decode_batches` is the strict reader used by
tests and tooling, raising only :class:`~aioproducer.errors.ProtocolError`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from crc32c import crc32c

from aioproducer._errors_base import ConfigurationError, IllegalStateError, ProtocolError
from aioproducer._protocol.compression import CompressionType, compress, decompress, validate_level
from aioproducer._speedups_status import compiled

__all__ = [
    "BATCH_OVERHEAD",
    "DecodedBatch",
    "DecodedRecord",
    "Header",
    "RecordBatchBuilder",
    "RecordBatchBuilderProtocol",
    "RecordBatchBuilderPy",
    "batch_size_upper_bound",
    "check_builder_settings",
    "decode_batches",
    "encode_record",
    "finish_batch",
    "record_size",
    "set_producer_state",
]

Header = tuple[str, bytes | None]

BATCH_OVERHEAD = 61
"""Bytes of a batch before its first record."""

_MAX_RECORD_OVERHEAD = 21  # length 5 + attributes 1 + timestamp delta 10 + offset delta 5
_HEADER = struct.Struct(">qiibIhiqqqhii")
_PRODUCER = struct.Struct(">qhi")
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_LENGTH_OFFSET = 8
_MAGIC_OFFSET = 16
_CRC_OFFSET = 17
_ATTRIBUTES_OFFSET = 21
_PRODUCER_OFFSET = 43
_CODEC_MASK = 0x07
_TIMESTAMP_TYPE_BIT = 0x08
_TRANSACTIONAL_BIT = 0x10
_CONTROL_BIT = 0x20


def _varint(value: int) -> bytes:
    """Zigzag base-128 encoding of a signed 64-bit integer."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _varint_size(value: int) -> int:
    zigzag = (value << 1) ^ (value >> 63)
    return (max(zigzag.bit_length(), 1) + 6) // 7


# Encodings of 0..8191 (one or two bytes), shared by every append: indexing a tuple is far
# cheaper than encoding. Larger values take the general path.
_SMALL = tuple(
    bytes((n << 1,)) if n < 64 else bytes((((n << 1) & 0x7F) | 0x80, n >> 6)) for n in range(8192)
)
_NULL = b"\x01"  # varint -1: a null key, value or header value
_ZERO = b"\x00"  # attributes of a record, or an empty header count


def _encode_headers(headers: Sequence[Header]) -> bytes:
    parts = [_varint(len(headers))]
    for name, value in headers:
        raw = name.encode()
        parts += (_varint(len(raw)), raw)
        if value is None:
            parts.append(_NULL)
        else:
            parts += (_varint(len(value)), value)
    return b"".join(parts)


def _headers_size(headers: Sequence[Header]) -> int:
    size = _varint_size(len(headers))
    for name, value in headers:
        raw_length = len(name.encode())
        size += _varint_size(raw_length) + raw_length
        size += 1 if value is None else _varint_size(len(value)) + len(value)
    return size


def _payload_size(key: bytes | None, value: bytes | None, headers: Sequence[Header]) -> int:
    size = 1 if key is None else _varint_size(len(key)) + len(key)
    size += 1 if value is None else _varint_size(len(value)) + len(value)
    return size + (_headers_size(headers) if headers else 1)


def record_size(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[Header] = (),
    *,
    timestamp_delta: int = 0,
    offset_delta: int = 0,
) -> int:
    """Exact encoded size of one record, its length prefix included."""
    body = (
        1
        + _varint_size(timestamp_delta)
        + _varint_size(offset_delta)
        + _payload_size(key, value, headers)
    )
    return body + _varint_size(body)


def batch_size_upper_bound(
    key: bytes | None, value: bytes | None, headers: Sequence[Header] = ()
) -> int:
    """Size of an uncompressed batch holding only this record, never an underestimate.

    The same bound as Java's ``estimateSizeInBytesUpperBound``; compare it with
    ``max_request_size`` and ``buffer_memory`` when a record is sent.
    """
    return BATCH_OVERHEAD + _MAX_RECORD_OVERHEAD + _payload_size(key, value, headers)


class RecordBatchBuilderProtocol(Protocol):
    """What both builders offer: :class:`RecordBatchBuilderPy` here and the compiled one in
    ``aioproducer/_protocol/_crecords.pyx``. :data:`RecordBatchBuilder` is the one in use.

    ``batch_size`` bounds the uncompressed size (header included); a record that would
    exceed it is refused, except that an empty batch always takes one record so that a
    record larger than ``batch_size`` still gets a batch of its own.
    """

    def __init__(
        self,
        *,
        batch_size: int,
        compression: CompressionType = CompressionType.NONE,
        compression_level: int | None = None,
        timestamp_type: int = 0,
        transactional: bool = False,
    ) -> None:
        """``transactional``: the batch carries the transactional attribute bit."""

    @property
    def batch_size(self) -> int: ...
    @property
    def compression(self) -> CompressionType: ...
    @property
    def compression_level(self) -> int | None: ...
    @property
    def timestamp_type(self) -> int: ...
    @property
    def transactional(self) -> bool: ...
    @property
    def estimated_size(self) -> int:
        """Uncompressed bytes so far, the 61-byte batch header included."""

    @property
    def record_count(self) -> int:
        """Records appended so far."""

    @property
    def base_timestamp(self) -> int:
        """Timestamp of the first record (0 while empty)."""

    @property
    def max_timestamp(self) -> int:
        """Largest timestamp appended (-1 while empty)."""

    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`build` has been called; appends are then refused."""

    def close(self) -> None:
        """Refuse appends from now on; :meth:`build` still works (on another thread, say:
        nothing changes the buffer it reads)."""

    def append(
        self,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
    ) -> int | None:
        """Add a record; return its offset delta, or None if the batch is full or closed."""

    def append_run(
        self,
        timestamp_ms: int,
        records: Sequence[tuple[bytes | None, bytes | None]],
        indices: Sequence[int],
    ) -> int:
        """Append ``records[i]`` (key, value; no headers) for ``i`` in ``indices``, in order,
        while they fit; return how many were appended (0 when full or closed).

        Every record gets ``timestamp_ms``; the bytes are those :meth:`append` would write.
        ``indices`` is a ``range`` or a sequence of ints (send_many's are an int64
        ``memoryview``).
        """

    def build(self, producer_id: int = -1, epoch: int = -1, base_sequence: int = -1) -> bytes:
        """Close the batch and return it, compressed, with a valid CRC.

        Producer id, epoch and base sequence default to -1 (none); :func:`set_producer_state`
        re-stamps them later without recompressing. Later appends return None, and the
        records' buffer is released: the returned bytes are the batch's only copy.
        """


def check_builder_settings(
    compression: CompressionType, compression_level: int | None, timestamp_type: int
) -> CompressionType:
    """The builders' argument checks; the codec as a :class:`CompressionType`."""
    validate_level(compression, compression_level)
    if timestamp_type not in (0, 1):
        raise ConfigurationError(f"timestamp_type must be 0 or 1, not {timestamp_type!r}")
    # an accumulator opens one per batch: skip the enum call then
    return compression if type(compression) is CompressionType else CompressionType(compression)


def encode_record(
    timestamp_delta: int,
    offset_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[Header],
) -> tuple[bytes, bytes]:
    """One record's length prefix and body, the general way (any deltas, headers)."""
    parts = [_ZERO, _varint(timestamp_delta), _varint(offset_delta)]
    parts += (_NULL,) if key is None else (_varint(len(key)), key)
    parts += (_NULL,) if value is None else (_varint(len(value)), value)
    parts.append(_encode_headers(headers) if headers else _ZERO)
    record = b"".join(parts)
    return _varint(len(record)), record


def finish_batch(  # noqa: PLR0917 - one caller per builder
    buffer: bytearray,
    count: int,
    base_timestamp: int,
    max_timestamp: int,
    codec: CompressionType,
    compression_level: int | None,
    attributes: int,
    producer_id: int,
    epoch: int,
    base_sequence: int,
) -> bytes:
    """The built batch from ``buffer`` (61 bytes of room for the header, then the records):
    both builders' :meth:`~RecordBatchBuilderProtocol.build` once checked."""
    records: bytes | None = None
    if codec != CompressionType.NONE:
        records = compress(codec, memoryview(buffer)[BATCH_OVERHEAD:], compression_level)
        buffer = bytearray(BATCH_OVERHEAD)  # the header alone; records joined on below
    _HEADER.pack_into(
        buffer,
        0,
        0,  # baseOffset: assigned by the broker
        len(buffer) - 12 + (0 if records is None else len(records)),  # bytes after this
        -1,  # partitionLeaderEpoch
        2,  # magic
        0,  # crc, set below
        codec | attributes,
        count - 1,
        base_timestamp,
        max_timestamp,
        producer_id,
        epoch,
        base_sequence,
        count,
    )
    crc = crc32c(memoryview(buffer)[_ATTRIBUTES_OFFSET:])
    if records is not None:
        crc = crc32c(records, crc)
    _UINT32.pack_into(buffer, _CRC_OFFSET, crc)
    return bytes(buffer) if records is None else b"".join((buffer, records))


class RecordBatchBuilderPy:
    """The pure-Python record batch builder (see :class:`RecordBatchBuilderProtocol`); the
    compiled twin is ``aioproducer/_protocol/_crecords.pyx``."""

    __slots__ = (
        "_base_timestamp",
        "_buffer",
        "_count",
        "_limit",
        "_max_timestamp",
        "batch_size",
        "compression",
        "compression_level",
        "estimated_size",
        "timestamp_type",
        "transactional",
    )

    def __init__(
        self,
        *,
        batch_size: int,
        compression: CompressionType = CompressionType.NONE,
        compression_level: int | None = None,
        timestamp_type: int = 0,
        transactional: bool = False,
    ) -> None:
        """``transactional``: the batch carries the transactional attribute bit."""
        self.compression = check_builder_settings(compression, compression_level, timestamp_type)
        self.batch_size = batch_size
        self.compression_level = compression_level
        self.timestamp_type = timestamp_type
        self.transactional = transactional
        self._buffer = bytearray(BATCH_OVERHEAD)
        self.estimated_size = BATCH_OVERHEAD
        self._limit = batch_size
        self._count = 0
        self._base_timestamp = 0
        self._max_timestamp = -1

    @property
    def record_count(self) -> int:
        """Records appended so far."""
        return self._count

    @property
    def base_timestamp(self) -> int:
        """Timestamp of the first record (0 while empty)."""
        return self._base_timestamp

    @property
    def max_timestamp(self) -> int:
        """Largest timestamp appended (-1 while empty)."""
        return self._max_timestamp

    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`build` has been called."""
        return self._limit < 0

    def close(self) -> None:
        """Refuse appends from now on."""
        self._limit = -1

    def _took(self, taken: int, timestamp_ms: int, size: int) -> None:
        """The bookkeeping of every append: ``taken`` records stamped ``timestamp_ms`` went
        in, and the batch is now ``size`` bytes."""
        if not taken:
            return
        if not self._count:
            self._base_timestamp = self._max_timestamp = timestamp_ms
        elif timestamp_ms > self._max_timestamp:
            self._max_timestamp = timestamp_ms
        self._count += taken
        self.estimated_size = size

    def append(
        self,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
    ) -> int | None:
        """Add a record; return its offset delta, or None if the batch is full or closed."""
        count = self._count
        if self._limit < 0:
            return None
        delta = timestamp_ms - self._base_timestamp if count else 0
        small = _SMALL
        try:
            if delta < 0:
                raise IndexError  # a negative delta: take the general path
            key_length = small[len(key)] if key is not None else _NULL
            value_length = small[len(value)] if value is not None else _NULL
            record = b"".join(
                (
                    _ZERO,
                    small[delta],
                    small[count],
                    key_length,
                    key or b"",
                    value_length,
                    value or b"",
                    _encode_headers(headers) if headers else _ZERO,
                )
            )
            length = small[len(record)]
        except IndexError:
            length, record = encode_record(delta, count, key, value, headers)
        size = self.estimated_size + len(length) + len(record)
        if size > self._limit and count:
            return None
        buffer = self._buffer
        buffer += length
        buffer += record
        self._took(1, timestamp_ms, size)
        return count

    def append_run(
        self,
        timestamp_ms: int,
        records: Sequence[tuple[bytes | None, bytes | None]],
        indices: Sequence[int],
    ) -> int:
        """Append ``records[i]`` for ``i`` in ``indices`` while they fit; return how many."""
        count = self._count
        limit = self._limit
        if limit < 0 or not indices:
            return 0
        delta = timestamp_ms - self._base_timestamp if count else 0
        if not 0 <= delta < len(_SMALL):
            return self._append_each(timestamp_ms, records, indices)
        small, join, null, zero = _SMALL, b"".join, _NULL, _ZERO
        stamp = small[delta]
        size, first = self.estimated_size, count
        parts: list[bytes] = []
        add = parts.append
        for index in indices:
            key, value = records[index]
            try:
                record = join(
                    (
                        zero,
                        stamp,
                        small[count],
                        null if key is None else small[len(key)],
                        key or b"",
                        null if value is None else small[len(value)],
                        value or b"",
                        zero,
                    )
                )
                length = small[len(record)]
            except IndexError:
                length, record = encode_record(delta, count, key, value, ())
            grown = size + len(length) + len(record)
            if grown > limit and count:
                break
            add(length)
            add(record)
            size = grown
            count += 1
        self._buffer += join(parts)
        self._took(count - first, timestamp_ms, size)
        return count - first

    def _append_each(
        self,
        timestamp_ms: int,
        records: Sequence[tuple[bytes | None, bytes | None]],
        indices: Sequence[int],
    ) -> int:
        appended = 0
        for index in indices:
            key, value = records[index]
            if self.append(timestamp_ms, key, value) is None:
                break
            appended += 1
        return appended

    def build(self, producer_id: int = -1, epoch: int = -1, base_sequence: int = -1) -> bytes:
        """Close the batch and return it (see :class:`RecordBatchBuilderProtocol`)."""
        if not self._count:
            raise IllegalStateError("cannot build a record batch with no records")
        if not self._buffer:  # released by the build
            raise IllegalStateError("the record batch was built already")
        attributes = (self.timestamp_type << 3) | (_TRANSACTIONAL_BIT if self.transactional else 0)
        built = finish_batch(
            self._buffer,
            self._count,
            self._base_timestamp,
            self._max_timestamp,
            self.compression,
            self.compression_level,
            attributes,
            producer_id,
            epoch,
            base_sequence,
        )
        self._limit = -1  # closed only once built: a failed build leaves the batch as it was
        self._buffer = bytearray()
        return built


def set_producer_state(
    batch: bytes | bytearray | memoryview,
    producer_id: int,
    epoch: int,
    base_sequence: int,
    transactional: bool = False,
) -> bytes:
    """Return ``batch`` with producer id, epoch, base sequence and transactional bit replaced.

    Only the 61-byte header is rewritten and the CRC recomputed; the (possibly compressed)
    records are copied as they are.
    """
    view = memoryview(batch)
    if len(view) < BATCH_OVERHEAD or view[_MAGIC_OFFSET] != 2:
        raise ProtocolError("not a magic v2 record batch")
    (length,) = _INT32.unpack_from(view, _LENGTH_OFFSET)
    if length + 12 != len(view):
        raise ProtocolError(f"batch length field {length} does not match {len(view)} bytes")
    header = bytearray(view[:BATCH_OVERHEAD])
    (attributes,) = _INT16.unpack_from(header, _ATTRIBUTES_OFFSET)
    if transactional:
        attributes |= _TRANSACTIONAL_BIT
    else:
        attributes &= ~_TRANSACTIONAL_BIT
    try:
        _PRODUCER.pack_into(header, _PRODUCER_OFFSET, producer_id, epoch, base_sequence)
    except struct.error as exc:
        raise ProtocolError(f"producer state out of range: {exc}") from exc
    _INT16.pack_into(header, _ATTRIBUTES_OFFSET, attributes)
    records = view[BATCH_OVERHEAD:]
    crc = crc32c(records, crc32c(memoryview(header)[_ATTRIBUTES_OFFSET:]))
    _UINT32.pack_into(header, _CRC_OFFSET, crc)
    return bytes(header) + records


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """One record of a decoded batch, with absolute offset and timestamp."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A decoded, CRC-checked and decompressed record batch."""

    base_offset: int
    partition_leader_epoch: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: tuple[DecodedRecord, ...]

    @property
    def compression(self) -> CompressionType:
        """The codec the records were compressed with."""
        return CompressionType(self.attributes & _CODEC_MASK)

    @property
    def timestamp_type(self) -> int:
        """0 for create time, 1 for log-append time."""
        return (self.attributes & _TIMESTAMP_TYPE_BIT) >> 3

    @property
    def is_transactional(self) -> bool:
        """True if the transactional attribute bit is set."""
        return bool(self.attributes & _TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        """True for a control batch (transaction markers)."""
        return bool(self.attributes & _CONTROL_BIT)


def decode_batches(data: bytes | bytearray | memoryview) -> list[DecodedBatch]:
    """Decode consecutive magic-2 batches that fill ``data`` exactly.

    Checks every CRC and length; raises ProtocolError on any malformed or truncated input.
    """
    view = memoryview(data).cast("B")
    batches: list[DecodedBatch] = []
    pos = 0
    while pos < len(view):
        if len(view) - pos < BATCH_OVERHEAD:
            raise ProtocolError(f"truncated record batch header at byte {pos}")
        header = _HEADER.unpack_from(view, pos)
        base_offset, length, leader_epoch, magic, crc, attributes, last_delta = header[:7]
        end = pos + 12 + length
        if length < BATCH_OVERHEAD - 12 or end > len(view):
            raise ProtocolError(f"invalid record batch length {length} at byte {pos}")
        if magic != 2:
            raise ProtocolError(f"unsupported record batch magic {magic}")
        if crc32c(view[pos + _ATTRIBUTES_OFFSET : end]) != crc:
            raise ProtocolError(f"record batch CRC mismatch at byte {pos}")
        base_ts, max_ts, producer_id, epoch, sequence, count = header[7:]
        codec = attributes & _CODEC_MASK
        if codec > CompressionType.ZSTD:
            raise ProtocolError(f"unknown compression codec id {codec}")
        if count < 0:
            raise ProtocolError(f"negative record count {count}")
        body = decompress(codec, view[pos + BATCH_OVERHEAD : end])
        fixed_ts = max_ts if attributes & _TIMESTAMP_TYPE_BIT else None
        records = _decode_records(body, count, base_offset, base_ts, fixed_ts)
        batches.append(
            DecodedBatch(
                base_offset,
                leader_epoch,
                crc,
                attributes,
                last_delta,
                base_ts,
                max_ts,
                producer_id,
                epoch,
                sequence,
                records,
            )
        )
        pos = end
    return batches


def _decode_records(
    body: bytes, count: int, base_offset: int, base_ts: int, fixed_ts: int | None
) -> tuple[DecodedRecord, ...]:
    records = []
    pos = 0
    try:
        for _ in range(count):
            record, pos = _decode_record(body, pos, base_offset, base_ts, fixed_ts)
            records.append(record)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"header key is not utf-8: {exc}") from exc
    if pos != len(body):
        raise ProtocolError(f"{len(body) - pos} bytes left after {count} records")
    return tuple(records)


def _read_varint(data: bytes, pos: int, end: int, max_bytes: int = 5) -> tuple[int, int]:
    result = shift = 0
    stop = min(end, pos + max_bytes)
    while pos < stop:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
    raise ProtocolError("truncated or overlong varint")


def _read_bytes(data: bytes, pos: int, end: int) -> tuple[bytes | None, int]:
    length, pos = _read_varint(data, pos, end)
    if length == -1:
        return None, pos
    if length < 0 or pos + length > end:
        raise ProtocolError(f"invalid field length {length}")
    return data[pos : pos + length], pos + length


def _decode_record(
    data: bytes, pos: int, base_offset: int, base_ts: int, fixed_ts: int | None
) -> tuple[DecodedRecord, int]:
    length, pos = _read_varint(data, pos, len(data))
    end = pos + length
    if length < 1 or end > len(data):
        raise ProtocolError(f"invalid record length {length}")
    pos += 1  # attributes: unused
    timestamp_delta, pos = _read_varint(data, pos, end, 10)
    offset_delta, pos = _read_varint(data, pos, end)
    key, pos = _read_bytes(data, pos, end)
    value, pos = _read_bytes(data, pos, end)
    header_count, pos = _read_varint(data, pos, end)
    if header_count < 0:
        raise ProtocolError(f"negative header count {header_count}")
    headers = []
    for _ in range(header_count):
        name, pos = _read_bytes(data, pos, end)
        if name is None:
            raise ProtocolError("null header key")
        header_value, pos = _read_bytes(data, pos, end)
        headers.append((name.decode(), header_value))
    if pos != end:
        raise ProtocolError(f"record length {length} does not match its fields")
    timestamp = base_ts + timestamp_delta if fixed_ts is None else fixed_ts
    record = DecodedRecord(base_offset + offset_delta, timestamp, key, value, tuple(headers))
    return record, end


def _compiled_builder() -> type[RecordBatchBuilderProtocol] | None:
    module = compiled("aioproducer._protocol._crecords")
    return (
        None
        if module is None
        else cast(type[RecordBatchBuilderProtocol], module.RecordBatchBuilder)
    )


RecordBatchBuilder: type[RecordBatchBuilderProtocol] = _compiled_builder() or RecordBatchBuilderPy
"""The record batch builder in use: the compiled one, else :class:`RecordBatchBuilderPy`."""
