"""Record batch v2: golden bytes from aiokafka and kafka-python, round trips, fuzzed decoding."""

from __future__ import annotations

import ast
import contextlib
import struct
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka.record import _crecords
from aiokafka.record import default_records as aiokafka_py
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

import aioproducer._protocol.records as records_module
from aioproducer._protocol.compression import CompressionType
from aioproducer._protocol.records import (
    BATCH_OVERHEAD,
    DecodedRecord,
    Header,
    RecordBatchBuilder,
    batch_size_upper_bound,
    decode_batches,
    record_size,
    set_producer_state,
)
from aioproducer.errors import IllegalStateError, ProtocolError

pytestmark = pytest.mark.usefixtures("each_builder")  # both builders, each test


with warnings.catch_warnings():  # kafka-python's import warns on Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.record import default_records as kafka_records

Record = tuple[int, bytes | None, bytes | None, list[Header]]

RECORD_SETS: dict[str, list[Record]] = {
    "one": [(1_700_000_000_000, b"key", b"value", [])],
    "nulls": [(5, None, None, []), (5, b"", b"", [])],
    "headers": [
        (10, b"k", b"v", [("trace-id", b"abc"), ("empty", b""), ("null", None), ("ü", b"x")])
    ],
    "timestamps out of order": [
        (1000, b"a", b"1", []),
        (990, b"b", b"2", []),
        (2000, None, b"3", []),
    ],
    # two-byte varints, and values past the precomputed table (the general path)
    "large": [(7, b"k" * 70, b"v" * 200, []), (8, b"x" * 9000, b"y" * 20000, [("h", b"z" * 9000)])],
    "late timestamp": [(0, b"a", b"b", []), (3_600_000, b"c", b"d", [])],
    "many": [(100 + i % 7, b"key-%d" % i, b"value-%d" % (i * 31), []) for i in range(300)],
}

# (builder class, batch class) of every independent implementation installed
AIOKAFKA = {
    "aiokafka-c": (_crecords.DefaultRecordBatchBuilder, _crecords.DefaultRecordBatch),
    "aiokafka-py": (
        aiokafka_py._DefaultRecordBatchBuilderPy,
        aiokafka_py._DefaultRecordBatchPy,
    ),
}
KAFKA_PYTHON = (kafka_records.DefaultRecordBatchBuilder, kafka_records.DefaultRecordBatch)


def build_ours(records: Sequence[Record], **options: Any) -> bytes:
    builder = RecordBatchBuilder(batch_size=1 << 30, **options)
    for offset, (timestamp, key, value, headers) in enumerate(records):
        assert builder.append(timestamp, key, value, headers) == offset
    return builder.build()


def build_theirs(
    builder_cls: Callable[..., Any],
    records: Sequence[Record],
    codec: int = 0,
    producer: tuple[int, int, int] = (-1, -1, -1),
    transactional: bool = False,
) -> bytes:
    builder = builder_cls(2, codec, transactional, *producer, 1 << 30)
    for offset, (timestamp, key, value, headers) in enumerate(records):
        builder.append(offset, timestamp, key, value, headers)
    return bytes(builder.build())


def read_theirs(batch_cls: Callable[[bytes], Any], data: bytes) -> list[DecodedRecord]:
    batch = batch_cls(data)
    assert batch.validate_crc()
    return [DecodedRecord(r.offset, r.timestamp, r.key, r.value, tuple(r.headers)) for r in batch]


def expected(records: Sequence[Record]) -> list[DecodedRecord]:
    return [
        DecodedRecord(offset, ts, key, value, tuple(headers))
        for offset, (ts, key, value, headers) in enumerate(records)
    ]


def without_leader_epoch(batch: bytes) -> bytes:
    """kafka-python writes partitionLeaderEpoch 0, Java -1; the CRC does not cover it."""
    return batch[:12] + batch[16:]


# -- golden bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORD_SETS)
@pytest.mark.parametrize("impl", AIOKAFKA)
def test_uncompressed_bytes_equal_aiokafka(name: str, impl: str) -> None:
    records = RECORD_SETS[name]
    assert build_ours(records) == build_theirs(AIOKAFKA[impl][0], records)


@pytest.mark.parametrize("name", RECORD_SETS)
def test_uncompressed_bytes_equal_kafka_python(name: str) -> None:
    records = RECORD_SETS[name]
    theirs = build_theirs(KAFKA_PYTHON[0], records)
    assert without_leader_epoch(build_ours(records)) == without_leader_epoch(theirs)


@pytest.mark.parametrize("transactional", [False, True])
@pytest.mark.parametrize("impl", AIOKAFKA)
def test_producer_state_bytes_equal_aiokafka(impl: str, transactional: bool) -> None:
    records = RECORD_SETS["headers"] + RECORD_SETS["nulls"]
    producer = (123456789012, 7, 2_000_000_000)
    theirs = build_theirs(AIOKAFKA[impl][0], records, 0, producer, transactional)
    ours = set_producer_state(build_ours(records), *producer, transactional=transactional)
    assert ours == theirs


def test_producer_state_bytes_equal_kafka_python() -> None:
    records = RECORD_SETS["many"]
    producer = (42, 3, 17)
    theirs = build_theirs(KAFKA_PYTHON[0], records, 0, producer, transactional=True)
    ours = set_producer_state(build_ours(records), *producer, transactional=True)
    assert without_leader_epoch(ours) == without_leader_epoch(theirs)


def codecs_of(module: Any) -> list[CompressionType]:
    checks = {
        CompressionType.GZIP: module.has_gzip,
        CompressionType.SNAPPY: module.has_snappy,
        CompressionType.LZ4: module.has_lz4,
        CompressionType.ZSTD: module.has_zstd,
    }
    return [CompressionType.NONE] + [codec for codec, has in checks.items() if has()]


def interop_cases() -> list[Any]:
    from aiokafka import codec as aiokafka_codec  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import codec as kafka_codec  # noqa: PLC0415
    implementations = {**AIOKAFKA, "kafka-python": KAFKA_PYTHON}
    cases = []
    for impl, classes in implementations.items():
        module = kafka_codec if impl == "kafka-python" else aiokafka_codec
        cases += [pytest.param(classes, codec, id=f"{impl}-{codec}") for codec in codecs_of(module)]
    return cases


@pytest.mark.parametrize(("classes", "codec"), interop_cases())
def test_compressed_batches_interoperate(classes: tuple[Any, Any], codec: CompressionType) -> None:
    records = RECORD_SETS["many"] + RECORD_SETS["headers"] + RECORD_SETS["large"]
    builder_cls, batch_cls = classes
    ours = build_ours(records, compression=codec)
    assert ours[22] & 0x07 == codec  # attributes: int16 at 21
    assert read_theirs(batch_cls, ours) == expected(records)
    theirs = build_theirs(builder_cls, records, codec)
    (batch,) = decode_batches(theirs)
    assert batch.compression == codec
    assert list(batch.records) == expected(records)


def test_compressed_batch_is_smaller_and_sized_by_uncompressed_bytes() -> None:
    builder = RecordBatchBuilder(batch_size=4096, compression=CompressionType.ZSTD)
    while builder.append(1, b"key", b"the same value again " * 4) is not None:
        pass
    assert builder.estimated_size <= 4096
    batch = builder.build()
    assert len(batch) < builder.estimated_size / 4
    (decoded,) = decode_batches(batch)
    assert len(decoded.records) == builder.record_count


# -- builder ---------------------------------------------------------------------------------


def test_header_fields() -> None:
    builder = RecordBatchBuilder(batch_size=1000, timestamp_type=1)
    builder.append(50, b"a", b"b")
    builder.append(40, b"a", b"b")
    builder.append(70, b"a", b"b")
    assert (builder.base_timestamp, builder.max_timestamp, builder.record_count) == (50, 70, 3)
    data = builder.build()
    fields = struct.unpack_from(">qiibIhiqqqhii", data)
    assert fields == (0, len(data) - 12, -1, 2, crc32c(data[21:]), 8, 2, 50, 70, -1, -1, -1, 3)
    (batch,) = decode_batches(data)
    assert batch.timestamp_type == 1
    assert [r.timestamp for r in batch.records] == [70, 70, 70]  # log-append time: max


def test_batch_size_limit() -> None:
    size = BATCH_OVERHEAD + 3 * record_size(b"k", b"v" * 20)
    builder = RecordBatchBuilder(batch_size=size)
    for offset in range(3):
        assert builder.append(0, b"k", b"v" * 20) == offset
    assert builder.estimated_size == size
    assert builder.append(0, b"k", b"v") is None
    assert builder.record_count == 3
    assert len(builder.build()) == size


def test_empty_batch_takes_an_oversized_record() -> None:
    builder = RecordBatchBuilder(batch_size=100)
    assert builder.append(0, None, b"x" * 500) == 0
    assert builder.append(0, None, b"") is None
    assert builder.estimated_size > 500


def test_estimated_size_tracks_exact_record_sizes() -> None:
    builder = RecordBatchBuilder(batch_size=1 << 20)
    for offset, (ts, key, value, headers) in enumerate(RECORD_SETS["large"] * 2):
        before = builder.estimated_size
        builder.append(ts, key, value, headers)
        size = record_size(key, value, headers, timestamp_delta=ts - 7, offset_delta=offset)
        assert builder.estimated_size - before == size
    assert len(builder.build()) == builder.estimated_size


@pytest.mark.parametrize("name", RECORD_SETS)
def test_upper_bound_is_never_exceeded(name: str) -> None:
    for ts, key, value, headers in RECORD_SETS[name]:
        assert len(build_ours([(ts, key, value, headers)])) <= batch_size_upper_bound(
            key, value, headers
        )


def test_build_closes_the_batch() -> None:
    builder = RecordBatchBuilder(batch_size=1000)
    builder.append(1, b"a", b"b")
    states = [builder.closed]
    builder.build()
    states.append(builder.closed)
    assert states == [False, True]
    assert builder.append(1, b"a", b"b") is None


def test_a_closed_batch_refuses_appends_and_builds_once() -> None:
    builder = RecordBatchBuilder(batch_size=1000, compression=CompressionType.GZIP)
    builder.append(1, b"a", b"b")
    builder.close()  # what precedes a build on another thread
    assert builder.closed
    assert builder.append(2, b"a", b"c") is None
    assert builder.append(2, b"a", b"c", [("h", b"v")]) is None
    assert builder.append_run(2, [(b"a", b"c")], range(1)) == 0
    assert builder.estimated_size == BATCH_OVERHEAD + record_size(b"a", b"b")
    assert [r.value for r in decode_batches(builder.build())[0].records] == [b"b"]
    with pytest.raises(IllegalStateError, match="built already"):
        builder.build()


@pytest.mark.parametrize("codec", [CompressionType.NONE, CompressionType.LZ4])
def test_a_built_batch_keeps_one_copy_and_builds_once(codec: CompressionType) -> None:
    builder = RecordBatchBuilder(batch_size=100_000, compression=codec)
    for i in range(50):
        builder.append(i, None, b"v" * 1000)
    built = builder.build()
    assert len(decode_batches(built)[0].records) == 50
    assert builder.append(1, None, b"v", [("h", None)]) is None
    assert builder.append(1, None, b"v") is None
    with pytest.raises(IllegalStateError, match="built already"):
        builder.build()
    assert builder.estimated_size > 50_000  # its buffer_memory charge is unchanged


def test_a_failed_build_leaves_the_batch_open(monkeypatch: pytest.MonkeyPatch) -> None:
    builder = RecordBatchBuilder(batch_size=100_000, compression=CompressionType.GZIP)
    builder.append(1, b"k", b"v" * 100)

    def broken(*_: object) -> bytes:
        raise MemoryError("no room to compress")

    with monkeypatch.context() as patch:
        patch.setattr(records_module, "compress", broken)
        with pytest.raises(MemoryError):
            builder.build()
    assert not builder.closed
    assert builder.append(2, b"k", b"w") == 1
    assert [r.value for r in decode_batches(builder.build())[0].records] == [b"v" * 100, b"w"]


def test_empty_batch_cannot_be_built() -> None:
    with pytest.raises(IllegalStateError):
        RecordBatchBuilder(batch_size=1000).build()


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="level"):
        RecordBatchBuilder(batch_size=1000, compression=CompressionType.SNAPPY, compression_level=3)
    with pytest.raises(ValueError, match="timestamp_type"):
        RecordBatchBuilder(batch_size=1000, timestamp_type=2)


# -- producer state --------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CompressionType))
def test_set_producer_state_round_trip(codec: CompressionType) -> None:
    records = RECORD_SETS["many"]
    built = build_ours(records, compression=codec)
    stamped = set_producer_state(bytearray(built), 99, 1, 1000, transactional=True)
    assert len(stamped) == len(built)
    assert stamped[BATCH_OVERHEAD:] == built[BATCH_OVERHEAD:]  # not recompressed
    (batch,) = decode_batches(stamped)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (99, 1, 1000)
    assert batch.is_transactional
    assert batch.compression == codec
    assert list(batch.records) == expected(records)
    # bumping the epoch later, and clearing the transactional bit
    (again,) = decode_batches(set_producer_state(memoryview(stamped), 99, 2, 0))
    assert (again.producer_epoch, again.base_sequence, again.is_transactional) == (2, 0, False)


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x00" * 60, build_ours(RECORD_SETS["one"]) + b"\x00", b"\x00" * 16 + b"\x01" * 50],
)
def test_set_producer_state_rejects_non_batches(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        set_producer_state(bad, 1, 1, 1)


def test_set_producer_state_rejects_out_of_range_values() -> None:
    with pytest.raises(ProtocolError):
        set_producer_state(build_ours(RECORD_SETS["one"]), 1, 1 << 15, 0)


# -- decoding --------------------------------------------------------------------------------


def test_decodes_consecutive_batches() -> None:
    first = build_ours(RECORD_SETS["one"])
    second = build_ours(RECORD_SETS["headers"], compression=CompressionType.LZ4)
    batches = decode_batches(first + second)
    assert [list(b.records) for b in batches] == [
        expected(RECORD_SETS["one"]),
        expected(RECORD_SETS["headers"]),
    ]
    assert decode_batches(b"") == []


def test_offsets_are_relative_to_the_base_offset() -> None:
    data = bytearray(build_ours(RECORD_SETS["nulls"]))
    struct.pack_into(">q", data, 0, 1000)  # as the broker assigns it; not covered by the CRC
    (batch,) = decode_batches(data)
    assert [r.offset for r in batch.records] == [1000, 1001]


@pytest.mark.parametrize("codec", list(CompressionType))
def test_every_truncation_is_a_protocol_error(codec: CompressionType) -> None:
    data = build_ours(RECORD_SETS["headers"] + RECORD_SETS["nulls"], compression=codec)
    for cut in range(1, len(data)):
        with pytest.raises(ProtocolError):
            decode_batches(data[:cut])
    with pytest.raises(ProtocolError):
        decode_batches(data + b"\x00")


@pytest.mark.parametrize("codec", list(CompressionType))
def test_every_bit_flip_covered_by_the_crc_is_detected(codec: CompressionType) -> None:
    data = build_ours(RECORD_SETS["headers"], compression=codec)
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            if position >= 17:  # the CRC and everything it covers
                with pytest.raises(ProtocolError):
                    decode_batches(flipped)
            else:
                with contextlib.suppress(ProtocolError):
                    decode_batches(flipped)


def with_valid_crc(data: bytearray) -> bytearray:
    struct.pack_into(">I", data, 17, crc32c(data[21:]))
    return data


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_records_raise_only_protocol_error(data: st.DataObject) -> None:
    """Mutate the records section and fix the CRC, so that the record parser is exercised."""
    codec = data.draw(
        st.sampled_from([CompressionType.NONE, CompressionType.NONE, *CompressionType])
    )
    batch = bytearray(build_ours(RECORD_SETS["headers"] + RECORD_SETS["nulls"], compression=codec))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(23, len(batch) - 1))
        batch[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del batch[data.draw(st.integers(BATCH_OVERHEAD, len(batch))) :]
        struct.pack_into(">i", batch, 8, len(batch) - 12)
    with contextlib.suppress(ProtocolError):
        decode_batches(with_valid_crc(batch))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_protocol_error(garbage: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_batches(garbage)
    header = bytearray(build_ours(RECORD_SETS["one"])[:BATCH_OVERHEAD]) + garbage
    struct.pack_into(">i", header, 8, len(header) - 12)
    with contextlib.suppress(ProtocolError):
        decode_batches(with_valid_crc(header))


# -- properties ------------------------------------------------------------------------------

blobs = st.none() | st.binary(max_size=300)
header_lists = st.lists(st.tuples(st.text(max_size=10), blobs), max_size=4)
timestamps = st.integers(-(2**40), 2**41)
record_lists = st.lists(st.tuples(timestamps, blobs, blobs, header_lists), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(records=record_lists, codec=st.sampled_from(list(CompressionType)))
def test_build_decode_round_trip(records: list[Record], codec: CompressionType) -> None:
    data = build_ours(records, compression=codec)
    (batch,) = decode_batches(data)
    assert list(batch.records) == expected(records)
    assert batch.max_timestamp == max(r[0] for r in records)
    assert batch.last_offset_delta == len(records) - 1
    if codec == CompressionType.NONE:
        assert (
            len(data)
            == sum(
                record_size(k, v, h, timestamp_delta=ts - records[0][0], offset_delta=i)
                for i, (ts, k, v, h) in enumerate(records)
            )
            + BATCH_OVERHEAD
        )


@settings(max_examples=100, deadline=None)
@given(records=record_lists)
def test_uncompressed_bytes_equal_aiokafka_property(records: list[Record]) -> None:
    assert build_ours(records) == build_theirs(_crecords.DefaultRecordBatchBuilder, records)


@settings(max_examples=100, deadline=None)
@given(
    producer_id=st.integers(-1, 2**63 - 1),
    epoch=st.integers(-1, 2**15 - 1),
    sequence=st.integers(-1, 2**31 - 1),
    transactional=st.booleans(),
    codec=st.sampled_from(list(CompressionType)),
)
def test_set_producer_state_property(
    producer_id: int, epoch: int, sequence: int, transactional: bool, codec: CompressionType
) -> None:
    built = build_ours(RECORD_SETS["headers"], compression=codec)
    (batch,) = decode_batches(
        set_producer_state(built, producer_id, epoch, sequence, transactional)
    )
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (
        producer_id,
        epoch,
        sequence,
    )
    assert batch.is_transactional == transactional
    assert list(batch.records) == expected(RECORD_SETS["headers"])


def test_module_is_sans_io() -> None:
    tree = ast.parse(Path(records_module.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"asyncio", "socket", "ssl", "time", "selectors"}


@pytest.mark.parametrize("codec", [CompressionType.NONE, CompressionType.LZ4])
def test_build_stamps_producer_state_as_set_producer_state_would(codec: CompressionType) -> None:
    builders = [RecordBatchBuilder(batch_size=16384, compression=codec) for _ in range(2)]
    for builder in builders:
        for i in range(20):
            builder.append(1_000 + i, f"k{i}".encode(), b"v" * i)
    stamped = builders[0].build(77, 3, 2_147_483_640)
    assert stamped == set_producer_state(builders[1].build(), 77, 3, 2_147_483_640)
    (batch,) = decode_batches(stamped)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (77, 3, 2_147_483_640)
