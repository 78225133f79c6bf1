# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""aioproducer._speedups: the compiled loops of the hot path, and the module that carries the
hand-written C types of ``aioproducer/_cext/``.

Each function or type has a pure-Python twin that is the reference (tests compare the two)::

    murmur2      <->  aioproducer._partitioner._murmur2_py (both hash with Java's seed)
    plan_keyed   <->  aioproducer._send_many.plan_keyed_py
    settle       <->  aioproducer._batch.settle_py
    resolve_run  <->  aioproducer._batch.resolve_run_py
    CallbackRelay (C, _cext/relay.c)      <->  aioproducer._futures.CallbackRelay
    FastSend, Ready (C, _cext/fastsend.c) <->  Producer.send's path for a keyed bytes record

The loops are Cython; the two C files stay C because Cython was measured slower there
(docs/benchmarks.md, "Hand-written C or Cython"). Apart from settle (futures' ``done`` and
``set_result``), nothing here calls back into Python code while a loop runs, so the lists
cannot change under it: plan_keyed reads them through borrowed references, as C would.
"""

import sys as _sys

from cpython.object cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.string cimport memcpy


cdef extern from "_cext/encode.h":
    int32_t c_murmur2 "murmur2" (const unsigned char *data, Py_ssize_t length)


cdef extern from "_cext/cext.h":
    int add_callback_relay(object module) except -1
    int add_fast_send(object module) except -1


cdef extern from "Python.h":
    # borrowed references (plan_keyed's loop runs no Python code: nothing can drop them)
    PyObject *PyList_GET_ITEM(object list, Py_ssize_t index)
    PyObject *PyTuple_GET_ITEM(PyObject *tuple, Py_ssize_t index)
    Py_ssize_t PyTuple_GET_SIZE(PyObject *tuple)
    bint PyTuple_CheckExact(PyObject *obj)
    bint PyBytes_CheckExact(PyObject *obj)
    Py_ssize_t PyBytes_GET_SIZE(PyObject *obj)
    char *PyBytes_AS_STRING(PyObject *obj)
    int PyByteArray_Resize(PyObject *bytearray, Py_ssize_t size) except -1
    char *PyByteArray_AS_STRING(PyObject *bytearray)
    Py_ssize_t PyByteArray_GET_SIZE(PyObject *bytearray)
    # settle's metadata tuples, made as tuple.__new__ would without its two temporary tuples
    ctypedef struct PyTypeObject:
        PyObject *(*tp_alloc)(PyTypeObject *type, Py_ssize_t items)
    void PyTuple_SET_ITEM(object tuple, Py_ssize_t index, object item)
    void Py_INCREF(object obj)
    void Py_DECREF_borrowed "Py_DECREF" (PyObject *obj)
    bint PyObject_GC_IsTracked(object obj)
    void PyObject_GC_UnTrack(object obj)
    void PyObject_GC_Track(object obj)
    bint PyObject_IS_GC(object obj)


def murmur2(bytes data not None):
    """Java's Utils.murmur2(bytes), a signed int32."""
    return c_murmur2(<const unsigned char *>PyBytes_AS_STRING(<PyObject *>data), len(data))


def plan_keyed(list records not None, list runs not None, Py_ssize_t limit, Py_ssize_t start):
    """plan_keyed(records, runs, limit, start) -> int

    For records[start:] that are (bytes, bytes) tuples with len(key) + len(value) <= limit,
    append the record's index (int64, native order) to runs[toPositive(murmur2(key)) %
    len(runs)], a bytearray. Stop at the first other record and return its index
    (len(records) when all were placed)."""
    cdef Py_ssize_t partitions = len(runs), count = len(records), index = start
    cdef Py_ssize_t used, key_length
    cdef PyObject *record
    cdef PyObject *key
    cdef PyObject *value
    cdef PyObject *run
    cdef uint32_t hash_
    cdef int64_t entry
    if partitions < 1 or start < 0:
        raise ValueError("plan_keyed() needs runs and a start >= 0")
    for item in runs:
        if type(item) is not bytearray:
            raise TypeError("plan_keyed() runs must be bytearrays")
    while index < count:
        record = PyList_GET_ITEM(records, index)
        if not PyTuple_CheckExact(record) or PyTuple_GET_SIZE(record) != 2:
            break
        key = PyTuple_GET_ITEM(record, 0)
        value = PyTuple_GET_ITEM(record, 1)
        if not PyBytes_CheckExact(key) or not PyBytes_CheckExact(value):
            break
        key_length = PyBytes_GET_SIZE(key)
        if key_length + PyBytes_GET_SIZE(value) > limit:
            break
        hash_ = <uint32_t>c_murmur2(<const unsigned char *>PyBytes_AS_STRING(key), key_length)
        run = PyList_GET_ITEM(runs, <Py_ssize_t>((hash_ & 0x7FFFFFFFU) % <uint32_t>partitions))
        used = PyByteArray_GET_SIZE(run)
        PyByteArray_Resize(run, used + 8)
        entry = index
        memcpy(PyByteArray_AS_STRING(run) + used, &entry, 8)
        index += 1
    return index


cdef inline object _metadata(type metadata_type, object topic, object partition, object offset,
                             object stamp):
    """What ``tuple.__new__(metadata_type, (topic, partition, offset, stamp))`` makes."""
    cdef PyObject *made = (<PyTypeObject *>metadata_type).tp_alloc(
        <PyTypeObject *>metadata_type, 4
    )
    if made == NULL:
        raise MemoryError()
    cdef object metadata = <object>made  # a second reference: the one made gave is dropped
    Py_DECREF_borrowed(made)
    Py_INCREF(topic)
    PyTuple_SET_ITEM(metadata, 0, topic)
    Py_INCREF(partition)
    PyTuple_SET_ITEM(metadata, 1, partition)
    Py_INCREF(offset)
    PyTuple_SET_ITEM(metadata, 2, offset)
    Py_INCREF(stamp)
    PyTuple_SET_ITEM(metadata, 3, stamp)
    return metadata


def settle(list completions not None, type metadata_type not None, topic, partition,
           int64_t base_offset, int64_t log_append_time_ms, const int64_t[::1] timestamps):
    """settle(completions, metadata_type, topic, partition, base_offset, log_append_time_ms,
    timestamps) -> None

    ProducerBatch.complete's loop: for each completion (None entries skipped) that is not
    done(), set_result(metadata_type((topic, partition, offset, timestamp))) where offset is
    base_offset + index (-1 when base_offset < 0) and timestamp log_append_time_ms when >= 0,
    else timestamps[index] (a buffer of int64)."""
    if not issubclass(metadata_type, tuple):
        raise TypeError("settle() takes a list and a tuple subclass")
    # A metadata tuple of a str and three ints (without a __dict__) can never be part of a
    # reference cycle: it is untracked, as CPython untracks such plain tuples, so a batch's
    # results cost the collector nothing while they are alive.
    cdef bint untrack = (
        type(topic) is str and type(partition) is int and metadata_type.__dictoffset__ == 0
    )
    cdef Py_ssize_t index, stamped = timestamps.shape[0]
    cdef int64_t stamp, shared_value = 0
    cdef object shared = None, completion, metadata
    for index in range(len(completions)):
        completion = completions[index]
        if completion is None:
            continue
        if completion.done():
            # done before its batch: cancelled (or failed) by someone else; see track()
            if PyObject_IS_GC(completion) and not PyObject_GC_IsTracked(completion):
                PyObject_GC_Track(completion)
            continue
        if log_append_time_ms >= 0:
            stamp = log_append_time_ms
        elif index < stamped:
            stamp = timestamps[index]
        else:
            raise IndexError("settle() has fewer timestamps than completions")
        if shared is None or stamp != shared_value:
            shared, shared_value = stamp, stamp  # records of a batch mostly share a millisecond
        metadata = _metadata(
            metadata_type, topic, partition, base_offset + index if base_offset >= 0 else -1,
            shared,
        )
        if untrack and PyObject_GC_IsTracked(metadata):
            PyObject_GC_UnTrack(metadata)
        completion.set_result(metadata)


def track(list objects not None):
    """track(objects) -> None

    Have the garbage collector track each object of the list that it can track and does not:
    the futures the C CallbackRelay makes are untracked (_cext/relay.c says why), and a failed
    one is tracked again, since its exception's traceback may lead back to it."""
    cdef object item
    for item in objects:
        if PyObject_IS_GC(item) and not PyObject_GC_IsTracked(item):
            PyObject_GC_Track(item)


def resolve_run(const int64_t[::1] indices not None, int32_t[::1] partitions not None,
                int64_t[::1] offsets not None, int64_t[::1] timestamps not None,
                int32_t partition, int64_t base_offset, int64_t log_append_time_ms):
    """resolve_run(indices, partitions, offsets, timestamps, partition, base_offset,
    log_append_time_ms) -> None

    RecordGroup.resolve's loop for a run given as int64 indices: for the k-th index i,
    partitions[i] = partition, offsets[i] = base_offset + k when base_offset >= 0, and
    timestamps[i] = log_append_time_ms when that is >= 0. partitions is an int32 ('i')
    array, offsets and timestamps int64 ('q'). Every index is checked before any is written."""
    cdef Py_ssize_t k, count = indices.shape[0]
    cdef Py_ssize_t size = min(partitions.shape[0], offsets.shape[0], timestamps.shape[0])
    cdef int64_t i
    for k in range(count):
        if indices[k] < 0 or indices[k] >= size:
            raise IndexError(f"resolve_run() index {indices[k]} out of range")
    for k in range(count):
        i = indices[k]
        partitions[i] = partition
        if base_offset >= 0:
            offsets[i] = base_offset + k
        if log_append_time_ms >= 0:
            timestamps[i] = log_append_time_ms


# The C types join this module (its import has put it in sys.modules already).
add_callback_relay(_sys.modules[__name__])
add_fast_send(_sys.modules[__name__])
