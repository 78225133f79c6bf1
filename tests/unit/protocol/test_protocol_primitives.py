"""Primitives: round trips, cross-checks against kafka-python/aiokafka, malformed input."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import kafka_python_counterpart  # noqa: F401  (imports kafka-python without its warning)
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioproducer._protocol import primitives as p
from aioproducer._protocol.primitives import Reader
from aioproducer.errors import ProtocolError

int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)


def encoded(write: Callable[[bytearray], None]) -> bytes:
    buf = bytearray()
    write(buf)
    return bytes(buf)


@given(st.integers(-(2**7), 2**7 - 1), st.integers(-(2**15), 2**15 - 1), int32, int64)
def test_fixed_width_round_trip(i8: int, i16: int, i32: int, i64: int) -> None:
    buf = bytearray()
    p.write_int8(buf, i8)
    p.write_int16(buf, i16)
    p.write_int32(buf, i32)
    p.write_int64(buf, i64)
    p.write_uint32(buf, i32 & 0xFFFFFFFF)
    p.write_bool(buf, i8 > 0)
    r = Reader(buf)
    assert (r.int8(), r.int16(), r.int32(), r.int64()) == (i8, i16, i32, i64)
    assert r.uint32() == i32 & 0xFFFFFFFF
    assert r.boolean() is (i8 > 0)
    assert r.at_end()


@given(st.integers(0, 2**32 - 1))
def test_unsigned_varint_matches_kafka_python(value: int) -> None:
    from kafka.protocol.schemas.fields.codecs.types import UnsignedVarInt32  # noqa: PLC0415

    data = encoded(lambda b: p.write_unsigned_varint(b, value))
    assert data == UnsignedVarInt32.encode(value)
    assert Reader(data).unsigned_varint() == value


@given(int32)
def test_varint_matches_kafka_python(value: int) -> None:
    from kafka.protocol.schemas.fields.codecs.types import VarInt32  # noqa: PLC0415

    data = encoded(lambda b: p.write_varint(b, value))
    assert data == VarInt32.encode(value)
    assert Reader(data).varint() == value


@given(int64)
def test_varlong_matches_kafka_python(value: int) -> None:
    from kafka.protocol.schemas.fields.codecs.types import VarInt64  # noqa: PLC0415

    data = encoded(lambda b: p.write_varlong(b, value))
    assert data == VarInt64.encode(value)
    assert Reader(data).varlong() == value
    assert VarInt64.decode(io.BytesIO(data)) == value


@given(st.text(max_size=300), st.booleans())
def test_string_matches_aiokafka(value: str, flexible: bool) -> None:
    from aiokafka.protocol.types import CompactString, String  # noqa: PLC0415

    data = encoded(lambda b: p.write_string(b, value, flexible))
    codec = CompactString() if flexible else String()
    assert data == codec.encode(value)
    assert Reader(data).string(flexible) == value
    assert Reader(data).nullable_string(flexible) == value


@given(st.none() | st.text(max_size=50), st.booleans())
def test_nullable_string_round_trip(value: str | None, flexible: bool) -> None:
    data = encoded(lambda b: p.write_nullable_string(b, value, flexible))
    assert Reader(data).nullable_string(flexible) == value


@given(st.none() | st.binary(max_size=300), st.booleans())
def test_bytes_match_aiokafka(value: bytes | None, flexible: bool) -> None:
    from aiokafka.protocol.types import Bytes, CompactBytes  # noqa: PLC0415

    data = encoded(lambda b: p.write_nullable_bytes(b, value, flexible))
    assert data == (CompactBytes if flexible else Bytes).encode(value)
    assert Reader(data).nullable_bytes(flexible) == value
    if value is not None:
        assert encoded(lambda b: p.write_bytes(b, value, flexible)) == data
        assert Reader(data).bytes(flexible) == value


@given(st.none() | st.lists(int32, max_size=40), st.booleans())
def test_arrays_round_trip(values: list[int] | None, flexible: bool) -> None:
    buf = bytearray()
    if values is None:
        p.write_nullable_array_length(buf, None, flexible)
        assert Reader(buf).nullable_array(Reader.int32, flexible) is None
        return
    p.write_array(buf, values, p.write_int32, flexible)
    assert Reader(buf).array(Reader.int32, flexible) == values
    assert Reader(buf).nullable_array(Reader.int32, flexible) == values
    assert Reader(buf).int32_array(flexible) == tuple(values)
    assert encoded(lambda b: p.write_int32_array(b, values, flexible)) == bytes(buf)


@given(st.dictionaries(st.integers(0, 2**31), st.binary(max_size=20), max_size=5))
def test_tagged_fields_round_trip(fields: dict[int, bytes]) -> None:
    data = encoded(lambda b: p.write_tagged_fields(b, fields))
    assert {k: bytes(v) for k, v in Reader(data).tagged_fields().items()} == fields
    r = Reader(data + b"\x07")
    r.skip_tagged_fields()
    assert r.int8() == 7


@given(st.builds(uuid.UUID, int=st.integers(0, 2**128 - 1)))
def test_uuid_round_trip(value: uuid.UUID) -> None:
    data = encoded(lambda b: p.write_uuid(b, value))
    assert len(data) == 16
    assert Reader(data).uuid() == value


def test_empty_tagged_fields_is_one_zero_byte() -> None:
    assert encoded(p.write_tagged_fields) == b"\x00"
    assert Reader(b"\x00").tagged_fields() == {}


@pytest.mark.parametrize(
    ("data", "read"),
    [
        (b"", Reader.int8),
        (b"\x00", Reader.int16),
        (b"\x00\x00\x00", Reader.int32),
        (b"\x00" * 7, Reader.int64),
        (b"\x00" * 15, Reader.uuid),
        (b"\x80", Reader.unsigned_varint),
        (b"\xff\xff\xff\xff\x7f", Reader.unsigned_varint),  # 35 bits
        (b"\xff\xff\xff\xff\xff\x01", Reader.unsigned_varint),  # 6 bytes
        (b"\xff\xff\xff\xff\xff\x01", Reader.varint),
        (b"\xff" * 10 + b"\x01", Reader.varlong),  # 11 bytes
        (b"\xff" * 9 + b"\x7f", Reader.varlong),  # 70 bits
        (b"\x00\x05abc", Reader.string),
        (b"\xff\xff", Reader.string),  # null where not nullable
        (b"\xff\xfe", Reader.nullable_string),  # -2
        (b"\x00\x02\xff\xfe", Reader.string),  # invalid UTF-8
        (b"\x00\x00\x00\x09abc", Reader.bytes),
        (b"\xff\xff\xff\xff", Reader.bytes),
        (b"\xff\xff\xff\xfe", Reader.nullable_bytes),
        (b"\x7f\xff\xff\xff", Reader.array_length),  # longer than the data
        (b"\xff\xff\xff\xff", Reader.array_length),
        (b"\xff\xff\xff\xfd", Reader.nullable_array_length),
        (b"\x00\x00\x00\x02\x00\x00\x00\x01", Reader.int32_array),
        (b"\x02\x02\x00\x01\x00", Reader.tagged_fields),  # out of order
        (b"\x02\x01\x00\x01\x00", Reader.tagged_fields),  # duplicated
        (b"\x01\x00\x05ab", Reader.tagged_fields),  # value truncated
        (b"\x7f", Reader.tagged_fields),  # count larger than the data
    ],
)
def test_malformed_input_raises_protocol_error(
    data: bytes, read: Callable[[Reader], object]
) -> None:
    with pytest.raises(ProtocolError):
        read(Reader(data))


def test_compact_lengths_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        Reader(b"\x00").string(flexible=True)
    with pytest.raises(ProtocolError):
        Reader(b"\x00").array_length(flexible=True)
    with pytest.raises(ProtocolError):
        Reader(b"\x05ab").bytes(flexible=True)
    assert Reader(b"\x00").nullable_bytes(flexible=True) is None


def test_raw_and_skip_bounds() -> None:
    r = Reader(b"abcd")
    assert r.raw(2) == b"ab"
    assert bytes(r.rest()) == b"cd"
    with pytest.raises(ProtocolError):
        r.skip(3)
    with pytest.raises(ProtocolError):
        r.raw(-1)
    assert r.remaining == 2


def test_encoders_refuse_out_of_range_varints() -> None:
    with pytest.raises(ValueError, match="out of range"):
        p.write_unsigned_varint(bytearray(), 2**32)
    with pytest.raises(ValueError, match="out of range"):
        p.write_unsigned_varint(bytearray(), -1)
    with pytest.raises(ValueError, match="out of range"):
        p.write_varint(bytearray(), 2**31)
    with pytest.raises(ValueError, match="out of range"):
        p.write_varlong(bytearray(), -(2**63) - 1)


def test_reader_accepts_bytes_bytearray_and_memoryview() -> None:
    for data in (b"\x00\x07", bytearray(b"\x00\x07"), memoryview(b"\xff\x00\x07")[1:]):
        assert Reader(data).int16() == 7
