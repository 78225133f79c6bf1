# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""``plan_keyed``, ``settle`` and ``resolve_run`` written in Cython: the candidates measured
against the hand-written C ones (aioproducer/_cext/speedups.c) by
``python -m benchmarks.relay_bench``; same contracts (their Python twins:
``_send_many.plan_keyed_py``, ``_batch.settle_py``, ``_batch.resolve_run_py``)."""

from cpython.object cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.string cimport memcpy

cdef extern from "Python.h":
    void Py_DECREF_raw "Py_DECREF" (PyObject *obj)


cdef extern from "_cext/encode.h":
    int32_t murmur2(const unsigned char *data, Py_ssize_t length)


cdef extern from "Python.h":
    # borrowed references, as the C loop takes them
    PyObject *PyList_GET_ITEM(object list, Py_ssize_t index)
    PyObject *PyTuple_GET_ITEM(PyObject *tuple, Py_ssize_t index)
    Py_ssize_t PyTuple_GET_SIZE(PyObject *tuple)
    bint PyTuple_CheckExact(PyObject *obj)
    bint PyBytes_CheckExact(PyObject *obj)
    Py_ssize_t PyBytes_GET_SIZE(PyObject *obj)
    char *PyBytes_AS_STRING(PyObject *obj)
    int PyByteArray_Resize(PyObject *bytearray, Py_ssize_t len) except -1
    bint PyObject_GC_IsTracked(object obj)
    void PyObject_GC_UnTrack(object obj)
    ctypedef struct PyTypeObject:
        PyObject *(*tp_alloc)(PyTypeObject *type, Py_ssize_t items)
    void PyTuple_SET_ITEM(object tuple, Py_ssize_t index, object item)
    void Py_INCREF(object obj)
    object PyLong_FromLongLong(long long value)
    char *PyByteArray_AS_STRING(PyObject *bytearray)
    Py_ssize_t PyByteArray_GET_SIZE(PyObject *bytearray)


cdef inline object _new_metadata(type metadata_type, object topic, object partition,
                                 object offset, object stamp):
    """What tuple.__new__(metadata_type, (topic, partition, offset, stamp)) makes, without
    the tuples it would make on the way."""
    cdef PyObject *made = (<PyTypeObject *>metadata_type).tp_alloc(<PyTypeObject *>metadata_type, 4)
    if made == NULL:
        raise MemoryError()
    cdef object metadata = <object>made  # Cython takes a reference: drop the one made gave
    Py_DECREF_raw(made)
    Py_INCREF(topic)
    PyTuple_SET_ITEM(metadata, 0, topic)
    Py_INCREF(partition)
    PyTuple_SET_ITEM(metadata, 1, partition)
    Py_INCREF(offset)
    PyTuple_SET_ITEM(metadata, 2, offset)
    Py_INCREF(stamp)
    PyTuple_SET_ITEM(metadata, 3, stamp)
    return metadata


def plan_keyed(list records, list runs, Py_ssize_t limit, Py_ssize_t start):
    cdef Py_ssize_t partitions = len(runs), index, count = len(records), used, key_length
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
    index = start
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
        hash_ = <uint32_t>murmur2(<const unsigned char *>PyBytes_AS_STRING(key), key_length)
        run = PyList_GET_ITEM(runs, <Py_ssize_t>((hash_ & 0x7FFFFFFFU) % <uint32_t>partitions))
        used = PyByteArray_GET_SIZE(run)
        PyByteArray_Resize(run, used + 8)
        entry = index
        memcpy(PyByteArray_AS_STRING(run) + used, &entry, 8)
        index += 1
    return index


def settle(list completions, type metadata_type, str topic, object partition,
           int64_t base_offset, int64_t log_append_time_ms, const int64_t[::1] timestamps):
    cdef Py_ssize_t index, count = len(completions)
    cdef object completion, stamp = None, metadata
    cdef int64_t stamp_value = 0, value
    # a str, an int and ints cannot make a cycle: the metadata is untracked, as CPython
    # untracks such plain tuples
    cdef bint untrack = type(partition) is int and metadata_type.__dictoffset__ == 0
    for index in range(count):
        completion = completions[index]
        if completion is None or completion.done():
            continue
        if log_append_time_ms >= 0:
            value = log_append_time_ms
        else:
            if index >= timestamps.shape[0]:
                raise IndexError("settle() has fewer timestamps than completions")
            value = timestamps[index]
        if stamp is None or value != stamp_value:
            stamp, stamp_value = value, value
        metadata = _new_metadata(
            metadata_type, topic, partition,
            PyLong_FromLongLong(base_offset + index if base_offset >= 0 else -1), stamp,
        )
        if untrack and PyObject_GC_IsTracked(metadata):
            PyObject_GC_UnTrack(metadata)
        completion.set_result(metadata)


def resolve_run(const int64_t[::1] indices, int32_t[::1] partitions, int64_t[::1] offsets,
                int64_t[::1] timestamps, int32_t partition, int64_t base_offset,
                int64_t log_append_time_ms):
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
