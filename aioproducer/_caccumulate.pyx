# cython: language_level=3
"""The compiled per-partition append: the twin of :class:`aioproducer._appender.AppenderPy`,
one ``AppenderProtocol`` for both (_appender.py documents them and picks one).

:class:`Appender` owns the bytes buffer_memory holds (``_used``, and the line's
``_reserved`` and ``_queued``) as typed fields, the accumulator's queues of batches per
partition (``_batches``), and the one step every record takes: into its partition's open
batch, or through ``_append_new`` (the accumulator's) into a new one.

``appender_room`` and ``appender_append`` are its C API (``cdef api``: Cython writes
``_caccumulate_api.h``), what the fast send() (``_cext/fastsend.c``) calls; it reads nothing
else of the accumulator.
"""

from cpython cimport array
from cpython.ref cimport Py_REFCNT
from libc.stdint cimport int64_t

from aioproducer._protocol._crecords import RecordBatchBuilder as _CompiledBuilder


cdef extern from "_protocol/_crecords_api.h":
    int import_aioproducer___protocol___crecords() except -1
    Py_ssize_t rb_fits(object builder, int64_t timestamp_ms, object key, object value) except? -1
    Py_ssize_t rb_batch_size(object builder) except? -1
    Py_ssize_t rb_append(object builder, int64_t timestamp_ms, object key, object value) except -1


import_aioproducer___protocol___crecords()

cdef enum:
    APPENDED = 0
    NEW_BATCH = 1
    BATCH_FULL = 2

# AppendResult's members by value, and ProducerClosedError: taken at the first append
# (_appender.py, which defines the one, imports this module).
cdef tuple _results = None
cdef object _closed_error = None


cdef int _load() except -1:
    global _results, _closed_error
    from aioproducer._appender import AppendResult
    from aioproducer.errors import ProducerClosedError

    _results = tuple(AppendResult(value) for value in range(4))
    _closed_error = ProducerClosedError
    return 0


cdef inline bint _plain(object data):
    return data is None or type(data) is bytes


cdef class Appender:
    """The compiled per-partition append (see ``AppenderProtocol``)."""

    cdef public long long _buffer_memory
    cdef public long long _used
    cdef public long long _reserved
    cdef public long long _queued
    cdef public bint _closed
    cdef public dict _batches

    def __init__(self, long long buffer_memory):
        self._buffer_memory = buffer_memory
        self._used = 0
        self._reserved = 0
        self._queued = 0
        self._closed = False
        self._batches = {}

    def has_room(self, long long nbytes, long long held=0):
        """True if ``nbytes`` may be taken now: nobody is in line and they fit beside the
        bytes in use and those granted. ``held``: the caller's own grant, which it may use
        whoever waits."""
        return self._has_room(nbytes, held)

    cdef inline bint _has_room(self, long long nbytes, long long held) noexcept:
        # not cpdef: a cpdef method called from C first looks for a Python override
        if self._queued and not held:
            return False
        return self._used + self._reserved - held + nbytes <= self._buffer_memory

    def append(
        self,
        tp,
        int64_t timestamp_ms,
        key,
        value,
        headers,
        completion,
        int64_t now_ms=-1,
    ):
        """Append one record to ``tp``'s open batch, or to a new one; never waits. Charges
        its bytes to buffer_memory (check :meth:`has_room` first)."""
        cdef int code = self._append(tp, timestamp_ms, key, value, headers, completion, now_ms)
        return _results[code]

    def _append_new(self, tp, queue, timestamp_ms, key, value, headers, completion, now_ms):
        """Open a batch of ``tp`` (``queue``: its queue, or None) with the record, created
        at ``now_ms`` (-1: the accumulator's clock): the accumulator's."""
        raise NotImplementedError

    cdef int _append(
        self,
        object tp,
        int64_t timestamp_ms,
        object key,
        object value,
        object headers,
        object completion,
        int64_t now_ms,
    ) except -1:
        if _results is None:
            _load()
        if self._closed:
            raise _closed_error("the accumulator is closed")
        cdef object queue = self._batches.get(tp)
        cdef Py_ssize_t before, size, record
        if queue:
            batch = queue[-1]
            builder = batch.builder
            # The builder's append is the one step that can refuse or fail, and it changes
            # nothing when it does: what must match it comes after.
            if type(builder) is _CompiledBuilder and not headers and _plain(key) and _plain(value):
                record = rb_fits(builder, timestamp_ms, key, value)  # the bytes it adds
                if record:
                    size = rb_append(builder, timestamp_ms, key, value)
                    self._charged(batch, timestamp_ms, completion, record)
                    if size >= rb_batch_size(builder) or len(queue) > 1:
                        return BATCH_FULL
                    return APPENDED
            else:
                before = builder.estimated_size
                if builder.append(timestamp_ms, key, value, headers) is not None:
                    size = builder.estimated_size
                    self._charged(batch, timestamp_ms, completion, size - before)
                    if size >= builder.batch_size or len(queue) > 1:
                        return BATCH_FULL
                    return APPENDED
        return self._append_new(tp, queue, timestamp_ms, key, value, headers, completion, now_ms)

    cdef inline int _charged(
        self, object batch, int64_t timestamp_ms, object completion, Py_ssize_t size
    ) except -1:
        """The record is in ``batch``'s builder: its completion, timestamp and bytes. The
        timestamp goes into the array's buffer (no int object, no method call: a few percent
        of a record's CPU) when the array is ``array("q")``, as ProducerBatch makes it, and
        only the batch and this call hold it: array.append refuses to grow an array that
        lends its buffer (a memoryview holds a reference), extend_buffer would not."""
        self._used += size
        cdef list completions = batch.completions
        completions.append(completion)
        timestamps = batch.timestamps
        if (
            type(timestamps) is array.array
            and Py_REFCNT(timestamps) == 2
            and (<array.array>timestamps).ob_descr.typecode == b"q"
        ):
            array.extend_buffer(<array.array>timestamps, <char *>&timestamp_ms, 1)
        else:
            timestamps.append(timestamp_ms)
        return 0


cdef api int appender_room(object appender, Py_ssize_t nbytes) except -1:
    """1 when ``appender`` (an Appender) is open and :meth:`Appender.has_room` for
    ``nbytes``, else 0."""
    cdef Appender self = <Appender>appender
    return not self._closed and self._has_room(nbytes, 0)


cdef api int appender_append(
    object appender, object tp, int64_t timestamp_ms, object key, object value,
    object completion,
) except -1:
    """:meth:`Appender.append` of a record without headers, at the accumulator's clock:
    what it did as an ``AppendResult`` value (0 to 3)."""
    return (<Appender>appender)._append(tp, timestamp_ms, key, value, (), completion, -1)
