"""Codecs: round trips, Java's wire framing, interoperability with other clients' codecs."""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import warnings
from collections.abc import Callable

import cramjam
import lz4.frame
import pytest
from aiokafka import codec as aiokafka_codec
from hypothesis import given, settings
from hypothesis import strategies as st

from aioproducer._protocol.compression import CompressionType, compress, decompress, validate_level
from aioproducer.errors import ConfigurationError, ProtocolError

with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import codec as kafka_codec

ALL = list(CompressionType)
CODECS = [c for c in CompressionType if c != CompressionType.NONE]
# Repetitive enough to compress, random enough to be realistic; 100 KiB spans several
# xerial (32 KiB) and lz4 (64 KiB) blocks.
SAMPLE = b"".join(os.urandom(16) + b"payload-%d " % i * 4 for i in range(1500))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("none", CompressionType.NONE),
        ("gzip", CompressionType.GZIP),
        ("snappy", CompressionType.SNAPPY),
        ("lz4", CompressionType.LZ4),
        ("zstd", CompressionType.ZSTD),
        (" ZSTD ", CompressionType.ZSTD),
        (None, CompressionType.NONE),
        (3, CompressionType.LZ4),
        (CompressionType.GZIP, CompressionType.GZIP),
    ],
)
def test_parse(name: str | int | None, expected: CompressionType) -> None:
    assert CompressionType.parse(name) is expected


@pytest.mark.parametrize("bad", ["brotli", "", "producer", 5, -1])
def test_parse_rejects_unknown(bad: str | int) -> None:
    with pytest.raises(ConfigurationError):
        CompressionType.parse(bad)


def test_ids_and_names_match_the_protocol() -> None:
    assert [(int(c), str(c)) for c in CompressionType] == [
        (0, "none"),
        (1, "gzip"),
        (2, "snappy"),
        (3, "lz4"),
        (4, "zstd"),
    ]


@pytest.mark.parametrize("codec", ALL)
@pytest.mark.parametrize("size", [0, 1, 100, 32 * 1024, 32 * 1024 + 1, len(SAMPLE)])
def test_round_trip(codec: CompressionType, size: int) -> None:
    data = SAMPLE[:size]
    for source in (data, bytearray(data), memoryview(data)):
        packed = compress(codec, source)
        assert isinstance(packed, bytes)
        assert decompress(codec, packed) == data
        assert decompress(codec, memoryview(packed)) == data


@settings(max_examples=60, deadline=None)
@given(codec=st.sampled_from(ALL), data=st.binary(max_size=3000))
def test_round_trip_property(codec: CompressionType, data: bytes) -> None:
    assert decompress(codec, compress(codec, data)) == data


@pytest.mark.parametrize(
    ("codec", "levels"),
    [
        (CompressionType.GZIP, [-1, 1, 5, 9]),
        (CompressionType.LZ4, [1, 2, 3, 9, 12, 17]),
        (CompressionType.ZSTD, [-131072, -5, 0, 1, 3, 19, 22]),
    ],
)
def test_levels_produce_valid_output(codec: CompressionType, levels: list[int]) -> None:
    for level in levels:
        validate_level(codec, level)
        assert decompress(codec, compress(codec, SAMPLE[:5000], level)) == SAMPLE[:5000]


@pytest.mark.parametrize(
    ("codec", "level"),
    [
        (CompressionType.GZIP, 0),
        (CompressionType.GZIP, 10),
        (CompressionType.GZIP, -2),
        (CompressionType.LZ4, 0),
        (CompressionType.LZ4, 18),
        (CompressionType.ZSTD, 23),
        (CompressionType.ZSTD, -131073),
        (CompressionType.SNAPPY, 1),
        (CompressionType.NONE, 1),
        (CompressionType.ZSTD, True),
    ],
)
def test_bad_levels_are_configuration_errors(codec: CompressionType, level: int) -> None:
    with pytest.raises(ConfigurationError):
        validate_level(codec, level)
    with pytest.raises(ConfigurationError):
        compress(codec, b"data", level)


def test_gzip_is_standard_gzip_and_accepts_several_members() -> None:
    packed = compress(CompressionType.GZIP, SAMPLE)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == SAMPLE
    two_members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert decompress(CompressionType.GZIP, two_members) == b"first second"


def test_snappy_writes_xerial_framing_in_32k_blocks() -> None:
    packed = compress(CompressionType.SNAPPY, SAMPLE)
    assert packed[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    pos, blocks = 16, []
    while pos < len(packed):
        (size,) = struct.unpack_from(">i", packed, pos)
        blocks.append(bytes(cramjam.snappy.decompress_raw(packed[pos + 4 : pos + 4 + size])))
        pos += 4 + size
    assert pos == len(packed)
    assert [len(b) for b in blocks[:-1]] == [32 * 1024] * (len(blocks) - 1)
    assert b"".join(blocks) == SAMPLE


def test_snappy_reads_a_plain_raw_block() -> None:
    raw = bytes(cramjam.snappy.compress_raw(SAMPLE))
    assert decompress(CompressionType.SNAPPY, raw) == SAMPLE


def test_lz4_frame_matches_java_descriptor() -> None:
    packed = compress(CompressionType.LZ4, SAMPLE)
    # magic, then FLG = version 01 + independent blocks, no checksums, no content size,
    # BD = 64 KiB max block: what Java's Lz4BlockOutputStream writes.
    assert packed[:6] == b"\x04\x22\x4d\x18\x60\x40"
    assert packed[-4:] == b"\x00\x00\x00\x00"  # end mark, no content checksum
    assert lz4.frame.decompress(packed) == SAMPLE


def test_lz4_reads_frames_with_checksums_and_content_size() -> None:
    framed = lz4.frame.compress(
        SAMPLE, content_checksum=True, block_checksum=True, store_size=True, block_linked=True
    )
    assert decompress(CompressionType.LZ4, framed) == SAMPLE


@pytest.mark.parametrize(
    ("codec", "encode", "decode"),
    [
        (CompressionType.GZIP, aiokafka_codec.gzip_encode, aiokafka_codec.gzip_decode),
        (CompressionType.SNAPPY, aiokafka_codec.snappy_encode, aiokafka_codec.snappy_decode),
        (CompressionType.LZ4, aiokafka_codec.lz4_encode, aiokafka_codec.lz4_decode),
        (CompressionType.ZSTD, aiokafka_codec.zstd_encode, aiokafka_codec.zstd_decode),
        (CompressionType.GZIP, kafka_codec.gzip_encode, kafka_codec.gzip_decode),
        pytest.param(
            CompressionType.SNAPPY,
            kafka_codec.snappy_encode,
            kafka_codec.snappy_decode,
            marks=pytest.mark.skipif(not kafka_codec.has_snappy(), reason="needs python-snappy"),
        ),
        (CompressionType.LZ4, kafka_codec.lz4_encode, kafka_codec.lz4_decode),
        pytest.param(
            CompressionType.ZSTD,
            kafka_codec.zstd_encode,
            kafka_codec.zstd_decode,
            marks=pytest.mark.skipif(not kafka_codec.has_zstd(), reason="needs zstandard"),
        ),
    ],
    ids=lambda v: getattr(v, "__module__", str(v)),
)
def test_interoperates_with_other_clients(
    codec: CompressionType,
    encode: Callable[[bytes], bytes],
    decode: Callable[[bytes], bytes],
) -> None:
    assert bytes(decode(compress(codec, SAMPLE))) == SAMPLE
    assert decompress(codec, encode(SAMPLE)) == SAMPLE


def test_snappy_reads_other_clients_raw_blocks() -> None:
    raw = aiokafka_codec.snappy_encode(SAMPLE, xerial_compatible=False)
    assert decompress(CompressionType.SNAPPY, raw) == SAMPLE


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_input_is_a_protocol_error(codec: CompressionType) -> None:
    packed = compress(codec, SAMPLE)
    for cut in (1, 5, len(packed) // 2, len(packed) - 1):
        with pytest.raises(ProtocolError):
            decompress(codec, packed[:cut])


@pytest.mark.parametrize("codec", CODECS)
def test_empty_input_is_a_protocol_error(codec: CompressionType) -> None:
    with pytest.raises(ProtocolError):
        decompress(codec, b"")


@settings(max_examples=200, deadline=None)
@given(codec=st.sampled_from(CODECS), data=st.binary(max_size=200))
def test_garbage_raises_only_protocol_error(codec: CompressionType, data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decompress(codec, data)


@settings(max_examples=100, deadline=None)
@given(codec=st.sampled_from(CODECS), data=st.data())
def test_corrupted_output_raises_only_protocol_error(
    codec: CompressionType, data: st.DataObject
) -> None:
    packed = bytearray(compress(codec, SAMPLE[:2000]))
    position = data.draw(st.integers(0, len(packed) - 1))
    packed[position] ^= 1 << data.draw(st.integers(0, 7))
    with contextlib.suppress(ProtocolError):
        decompress(codec, packed)


def test_unknown_codec_id_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decompress(7, b"data")
