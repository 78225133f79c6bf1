# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled record batch builder: the twin of
:class:`aioproducer._protocol.records.RecordBatchBuilderPy`, one
``RecordBatchBuilderProtocol`` for both (records.py documents the format and picks one).

Records without headers are encoded in C (``aioproducer/_cext/encode.h``, shared with the fast
send() of ``aioproducer/_speedups``); a record with headers, or a delta out of the C
encoder's range, is encoded by records.py's :func:`encode_record`. The bookkeeping of every
append (count, timestamps, size) is :meth:`RecordBatchBuilder._took`.

``rb_fits`` and ``rb_append`` are the builder's C API (``cdef api``: Cython writes
``_crecords_api.h``), the methods the fast send() calls.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from libc.stdint cimport int64_t

from aioproducer._protocol.compression import CompressionType
from aioproducer._errors_base import IllegalStateError


cdef extern from "_cext/encode.h":
    int varint_size(int64_t value)
    int64_t body_size(int timestamp_size, int64_t offset_delta, object key, object value)
    char *put_record(char *out, int64_t body, int64_t timestamp_delta, int64_t offset_delta,
                     object key, object value)
    int extend_bytearray(object buffer, Py_ssize_t used, Py_ssize_t size) except -1


cdef enum:
    BATCH_OVERHEAD = 61
    TRANSACTIONAL_BIT = 0x10

cdef object _records = None  # aioproducer._protocol.records, imported at first use (it imports us)


cdef object _records_module():
    global _records
    if _records is None:
        from aioproducer._protocol import records
        _records = records
    return _records


cdef inline int _check(object key, object value) except -1:
    if (key is not None and not isinstance(key, bytes)) or (
        value is not None and not isinstance(value, bytes)
    ):
        raise TypeError("record keys and values must be bytes or None")
    return 0


cdef class RecordBatchBuilder:
    """The compiled record batch builder (see ``RecordBatchBuilderProtocol``)."""

    cdef bytearray _buffer
    cdef Py_ssize_t _count
    cdef Py_ssize_t _limit  # -1 once closed
    cdef Py_ssize_t _size
    cdef int64_t _base_timestamp
    cdef int64_t _max_timestamp
    cdef readonly Py_ssize_t batch_size
    cdef readonly object compression
    cdef readonly object compression_level
    cdef readonly int timestamp_type
    cdef readonly bint transactional

    def __init__(
        self,
        *,
        Py_ssize_t batch_size,
        compression=CompressionType.NONE,
        compression_level=None,
        int timestamp_type=0,
        bint transactional=False,
    ):
        self.compression = _records_module().check_builder_settings(
            compression, compression_level, timestamp_type
        )
        self.batch_size = batch_size
        self.compression_level = compression_level
        self.timestamp_type = timestamp_type
        self.transactional = transactional
        self._buffer = bytearray(BATCH_OVERHEAD)
        self._size = BATCH_OVERHEAD
        self._limit = batch_size
        self._count = 0
        self._base_timestamp = 0
        self._max_timestamp = -1

    @property
    def estimated_size(self):
        """Uncompressed bytes so far, the 61-byte batch header included."""
        return self._size

    @property
    def record_count(self):
        """Records appended so far."""
        return self._count

    @property
    def base_timestamp(self):
        """Timestamp of the first record (0 while empty)."""
        return self._base_timestamp

    @property
    def max_timestamp(self):
        """Largest timestamp appended (-1 while empty)."""
        return self._max_timestamp

    @property
    def closed(self):
        """True once :meth:`close` or :meth:`build` has been called."""
        return self._limit < 0

    def close(self):
        """Refuse appends from now on."""
        self._limit = -1

    cdef inline void _took(self, Py_ssize_t taken, int64_t timestamp_ms, Py_ssize_t size):
        # The bookkeeping of every append: ``taken`` records stamped ``timestamp_ms`` went
        # in, and the batch is now ``size`` bytes.
        if not taken:
            return
        if not self._count:
            self._base_timestamp = self._max_timestamp = timestamp_ms
        elif timestamp_ms > self._max_timestamp:
            self._max_timestamp = timestamp_ms
        self._count += taken
        self._size = size

    cdef inline int64_t _delta(self, int64_t timestamp_ms):
        return timestamp_ms - self._base_timestamp if self._count else 0

    cdef inline Py_ssize_t _fits(self, int64_t timestamp_ms, object key, object value):
        # Bytes the record (bytes or None key and value, no headers) adds; 0 when it does
        # not fit (the first record of an open batch always does).
        if self._limit < 0:
            return 0
        cdef int64_t body = body_size(
            varint_size(self._delta(timestamp_ms)), self._count, key, value
        )
        cdef int64_t size = varint_size(body) + body
        if self._size + size > self._limit and self._count:
            return 0
        return <Py_ssize_t>size

    cdef Py_ssize_t _append(self, int64_t timestamp_ms, object key, object value) except -1:
        # Append the record (as _fits); return the batch's size, 0 when it does not fit.
        cdef Py_ssize_t size = self._fits(timestamp_ms, key, value)
        if not size:
            return 0
        cdef int64_t delta = self._delta(timestamp_ms)
        cdef Py_ssize_t used = PyByteArray_GET_SIZE(self._buffer)
        extend_bytearray(self._buffer, used, size)
        put_record(
            PyByteArray_AS_STRING(self._buffer) + used,
            body_size(varint_size(delta), self._count, key, value),
            delta,
            self._count,
            key,
            value,
        )
        self._took(1, timestamp_ms, used + size)
        return used + size

    def append(self, int64_t timestamp_ms, key, value, headers=()):
        """Add a record; return its offset delta, or None if the batch is full or closed."""
        cdef Py_ssize_t count = self._count
        if headers:
            return self._append_general(timestamp_ms, key, value, headers)
        _check(key, value)
        return count if self._append(timestamp_ms, key, value) else None

    cdef object _append_general(self, int64_t timestamp_ms, key, value, headers):
        # A record with headers: records.py encodes it.
        cdef Py_ssize_t count = self._count
        if self._limit < 0:
            return None
        length, record = _records_module().encode_record(
            self._delta(timestamp_ms), count, key, value, headers
        )
        cdef Py_ssize_t size = self._size + len(length) + len(record)
        if size > self._limit and count:
            return None
        self._buffer += length
        self._buffer += record
        self._took(1, timestamp_ms, size)
        return count

    def append_run(self, int64_t timestamp_ms, records, indices):
        """Append ``records[i]`` for ``i`` in ``indices`` while they fit; return how many."""
        cdef const long long[:] table = None
        cdef Py_ssize_t start = self._count
        if type(records) is list:
            if type(indices) is memoryview and indices.format == "q":
                table = indices
                return self._run(timestamp_ms, records, table, 0, table.shape[0])
            if type(indices) is range and indices.step == 1:
                return self._run(timestamp_ms, records, None, indices.start, indices.stop)
        for index in indices:  # any other sequences: one at a time
            record = records[index]
            if type(record) is not tuple or len(<tuple>record) != 2:
                raise TypeError("append_run() records must be (key, value) tuples")
            _check((<tuple>record)[0], (<tuple>record)[1])
            if not self._append(timestamp_ms, (<tuple>record)[0], (<tuple>record)[1]):
                break
        return self._count - start

    cdef Py_ssize_t _run(
        self,
        int64_t timestamp_ms,
        list records,
        const long long[:] table,
        Py_ssize_t first,
        Py_ssize_t last,
    ) except -1:
        # records[table[i]] (records[i] without a table) for first <= i < last: every record
        # checked and sized, then the buffer grown once and the records written.
        if self._limit < 0 or first >= last:
            return 0
        cdef Py_ssize_t i, index, taken = 0, count = self._count
        cdef Py_ssize_t length = len(records)
        cdef int64_t delta = self._delta(timestamp_ms)
        cdef int timestamp_size = varint_size(delta)
        cdef Py_ssize_t used = PyByteArray_GET_SIZE(self._buffer)
        cdef int64_t body, size, total = 0
        cdef tuple record
        cdef bint indexed = table is not None
        for i in range(first, last):
            index = table[i] if indexed else i
            if not 0 <= index < length:
                raise IndexError("append_run() index out of range")
            record = self._pair(records[index])
            body = body_size(timestamp_size, count + taken, record[0], record[1])
            size = varint_size(body) + body
            if used + total + size > self._limit and count + taken > 0:
                break
            total += size
            taken += 1
        extend_bytearray(self._buffer, used, <Py_ssize_t>total)
        cdef char *out = PyByteArray_AS_STRING(self._buffer) + used
        for i in range(first, first + taken):
            record = <tuple>records[table[i] if indexed else i]
            out = put_record(
                out,
                body_size(timestamp_size, count, record[0], record[1]),
                delta,
                count,
                record[0],
                record[1],
            )
            count += 1
        self._took(taken, timestamp_ms, used + <Py_ssize_t>total)
        return taken

    cdef inline tuple _pair(self, object record):
        if type(record) is not tuple or len(<tuple>record) != 2:
            raise TypeError("append_run() records must be (key, value) tuples")
        _check((<tuple>record)[0], (<tuple>record)[1])
        return <tuple>record

    def build(self, int64_t producer_id=-1, int epoch=-1, int base_sequence=-1):
        """Close the batch and return it (see ``RecordBatchBuilderProtocol``)."""
        if not self._count:
            raise IllegalStateError("cannot build a record batch with no records")
        if not self._buffer:  # released by the build
            raise IllegalStateError("the record batch was built already")
        built = _records_module().finish_batch(
            self._buffer,
            self._count,
            self._base_timestamp,
            self._max_timestamp,
            self.compression,
            self.compression_level,
            (self.timestamp_type << 3) | (TRANSACTIONAL_BIT if self.transactional else 0),
            producer_id,
            epoch,
            base_sequence,
        )
        self._limit = -1  # closed only once built: a failed build leaves the batch as it was
        self._buffer = bytearray()
        return built


cdef api Py_ssize_t rb_fits(object builder, int64_t timestamp_ms, object key, object value):
    """Bytes the record (bytes or None key and value) would add to ``builder``, a
    RecordBatchBuilder; 0 when it does not fit."""
    return (<RecordBatchBuilder>builder)._fits(timestamp_ms, key, value)


cdef api Py_ssize_t rb_batch_size(object builder):
    """``builder``'s capacity in bytes (each batch's own: batches may grow)."""
    return (<RecordBatchBuilder>builder).batch_size


cdef api Py_ssize_t rb_append(
    object builder, int64_t timestamp_ms, object key, object value
) except -1:
    """Append the record to ``builder``; its size after, 0 when the record did not fit."""
    return (<RecordBatchBuilder>builder)._append(timestamp_ms, key, value)
