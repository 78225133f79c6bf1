/*
 * aioproducer._speedups: optional C versions of the hot loops (and, in _relay.c, of
 * aioproducer._futures.CallbackRelay).
 *
 * Each function has a pure-Python twin that is the reference (tests compare the two):
 *   plan_keyed  <->  Producer._plan_runs (its Java-hash loop)
 *   CallbackRelay (_relay.c)  <->  aioproducer._futures.CallbackRelay
 *   FastSend (_fastsend.c)  <->  Producer.send's path for a keyed bytes record
 * Apart from settle (futures' set_result), the relay (callbacks) and FastSend (which calls
 * create_future, wakeup_for and, for every call it does not take, Producer.send), nothing
 * here calls back into Python code, so the lists cannot change under a loop. The record
 * batch builder is compiled from Cython (aioproducer/_protocol/_crecords.pyx).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_encode.h"

static PyObject *
py_murmur2(PyObject *module, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "murmur2() takes bytes, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyLong_FromLong(murmur2((const unsigned char *)PyBytes_AS_STRING(arg),
                                   PyBytes_GET_SIZE(arg)));
}

/* ---- plan_keyed ------------------------------------------------------------------------- */

PyDoc_STRVAR(plan_keyed_doc,
"plan_keyed(records, runs, limit, start) -> int\n\n"
"For records[start:] that are (bytes, bytes) tuples with len(key) + len(value) <= limit,\n"
"append the record's index (int64, native order) to runs[toPositive(murmur2(key)) %\n"
"len(runs)], a bytearray. Stop at the first other record and return its index\n"
"(len(records) when all were placed).");

static PyObject *
py_plan_keyed(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "plan_keyed() takes 4 arguments");
        return NULL;
    }
    PyObject *records = args[0], *runs = args[1];
    if (!PyList_CheckExact(records) || !PyList_CheckExact(runs)) {
        PyErr_SetString(PyExc_TypeError, "plan_keyed() takes lists of records and of runs");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    Py_ssize_t start = PyLong_AsSsize_t(args[3]);
    if ((limit == -1 || start == -1) && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t partitions = PyList_GET_SIZE(runs);
    if (partitions < 1 || start < 0) {
        PyErr_SetString(PyExc_ValueError, "plan_keyed() needs runs and a start >= 0");
        return NULL;
    }
    for (Py_ssize_t p = 0; p < partitions; p++) {
        if (!PyByteArray_CheckExact(PyList_GET_ITEM(runs, p))) {
            PyErr_SetString(PyExc_TypeError, "plan_keyed() runs must be bytearrays");
            return NULL;
        }
    }
    Py_ssize_t count = PyList_GET_SIZE(records);
    Py_ssize_t index = start;
    for (; index < count; index++) {
        PyObject *record = PyList_GET_ITEM(records, index);
        if (!PyTuple_CheckExact(record) || PyTuple_GET_SIZE(record) != 2) {
            break;
        }
        PyObject *key = PyTuple_GET_ITEM(record, 0), *value = PyTuple_GET_ITEM(record, 1);
        if (!PyBytes_CheckExact(key) || !PyBytes_CheckExact(value)) {
            break;
        }
        Py_ssize_t key_length = PyBytes_GET_SIZE(key);
        if (key_length + PyBytes_GET_SIZE(value) > limit) {
            break;
        }
        uint32_t hash = (uint32_t)murmur2((const unsigned char *)PyBytes_AS_STRING(key),
                                          key_length) & 0x7FFFFFFFU;
        PyObject *run = PyList_GET_ITEM(runs, (Py_ssize_t)(hash % (uint32_t)partitions));
        Py_ssize_t used = PyByteArray_GET_SIZE(run);
        if (PyByteArray_Resize(run, used + 8) < 0) {
            return NULL;
        }
        int64_t entry = (int64_t)index;
        memcpy(PyByteArray_AS_STRING(run) + used, &entry, 8);
    }
    return PyLong_FromSsize_t(index);
}

/* ---- typed buffers ---------------------------------------------------------------------- */

/* Get a C-contiguous buffer of ``format`` items of ``itemsize`` bytes (``type`` names it),
   writable if asked; else ValueError "<function>() <what> must be <type> ('<format>')". */
static int
get_typed_buffer(PyObject *obj, Py_buffer *view, const char *format, Py_ssize_t itemsize,
                 int writable, const char *function, const char *what, const char *type)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->format == NULL || strcmp(view->format, format) != 0 || view->itemsize != itemsize) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s() %s must be %s ('%s')", function, what, type, format);
        return -1;
    }
    return 0;
}

/* ---- settle ------------------------------------------------------------------------------ */

PyDoc_STRVAR(settle_doc,
"settle(completions, metadata_type, topic, partition, base_offset, log_append_time_ms,\n"
"       timestamps) -> None\n\n"
"ProducerBatch.complete's loop: for each completion (None entries skipped) that is not\n"
"done(), set_result(metadata_type((topic, partition, offset, timestamp))) where offset is\n"
"base_offset + index (-1 when base_offset < 0) and timestamp log_append_time_ms when >= 0,\n"
"else timestamps[index] (a buffer of int64).");

static PyObject *
py_settle(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "settle() takes 7 arguments");
        return NULL;
    }
    PyObject *completions = args[0], *type = args[1], *topic = args[2], *partition = args[3];
    if (!PyList_Check(completions) || !PyType_Check(type) ||
        !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "settle() takes a list and a tuple subclass");
        return NULL;
    }
    /* A metadata tuple holds a str and three ints and (without a __dict__) nothing else: it
       can never be part of a reference cycle, so it is untracked as CPython untracks such
       plain tuples. A batch's results then cost the collector nothing while they are alive. */
    int untrack = PyUnicode_CheckExact(topic) && PyLong_CheckExact(partition) &&
                  ((PyTypeObject *)type)->tp_dictoffset == 0;
    int64_t base_offset = PyLong_AsLongLong(args[4]);
    int64_t log_append_time = PyLong_AsLongLong(args[5]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer view;
    if (get_typed_buffer(args[6], &view, "q", 8, 0, "settle", "timestamps", "int64") < 0) {
        return NULL;
    }
    const int64_t *timestamps = (const int64_t *)view.buf;
    Py_ssize_t stamped = view.len / 8;
    PyObject *done_name = PyUnicode_InternFromString("done");
    PyObject *set_name = PyUnicode_InternFromString("set_result");
    PyObject *result = NULL, *stamp_object = NULL;
    int64_t stamp_value = 0;
    if (done_name == NULL || set_name == NULL) {
        goto finally;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(completions); i++) {
        PyObject *completion = PyList_GET_ITEM(completions, i);
        if (completion == Py_None) {
            continue;
        }
        Py_INCREF(completion);
        PyObject *done = PyObject_CallMethodNoArgs(completion, done_name);
        int is_done = done == NULL ? -1 : PyObject_IsTrue(done);
        Py_XDECREF(done);
        if (is_done > 0 && PyObject_IS_GC(completion) && !PyObject_GC_IsTracked(completion)) {
            /* done before its batch: cancelled (or failed) by someone else; see track() */
            PyObject_GC_Track(completion);
        }
        if (is_done) {
            Py_DECREF(completion);
            if (is_done < 0) {
                goto finally;
            }
            continue;
        }
        if (log_append_time < 0 && i >= stamped) {
            Py_DECREF(completion);
            PyErr_SetString(PyExc_IndexError, "settle() has fewer timestamps than completions");
            goto finally;
        }
        int64_t stamp = log_append_time >= 0 ? log_append_time : timestamps[i];
        if (stamp_object == NULL || stamp != stamp_value) {
            /* records of a batch mostly share a millisecond: share its int too */
            Py_XDECREF(stamp_object);
            stamp_object = PyLong_FromLongLong(stamp);
            if (stamp_object == NULL) {
                Py_DECREF(completion);
                goto finally;
            }
            stamp_value = stamp;
        }
        PyObject *offset = PyLong_FromLongLong(base_offset >= 0 ? base_offset + i : -1);
        /* what tuple.__new__(type, (topic, partition, offset, stamp)) makes, without the two
           tuples it would make on the way: the instance is allocated and filled directly */
        PyObject *metadata =
            offset == NULL ? NULL : ((PyTypeObject *)type)->tp_alloc((PyTypeObject *)type, 4);
        if (metadata == NULL) {
            Py_XDECREF(offset);
            Py_DECREF(completion);
            goto finally;
        }
        PyTuple_SET_ITEM(metadata, 0, Py_NewRef(topic));
        PyTuple_SET_ITEM(metadata, 1, Py_NewRef(partition));
        PyTuple_SET_ITEM(metadata, 2, offset);
        PyTuple_SET_ITEM(metadata, 3, Py_NewRef(stamp_object));
        if (untrack && PyObject_GC_IsTracked(metadata)) {
            PyObject_GC_UnTrack(metadata);
        }
        PyObject *outcome = PyObject_CallMethodOneArg(completion, set_name, metadata);
        Py_DECREF(metadata);
        Py_DECREF(completion);
        if (outcome == NULL) {
            goto finally;
        }
        Py_DECREF(outcome);
    }
    result = Py_NewRef(Py_None);
finally:
    Py_XDECREF(stamp_object);
    Py_XDECREF(done_name);
    Py_XDECREF(set_name);
    PyBuffer_Release(&view);
    return result;
}

/* ---- track ------------------------------------------------------------------------------- */

PyDoc_STRVAR(track_doc,
"track(objects) -> None\n\n"
"Have the garbage collector track each object of the list objects that it can track and\n"
"does not: the futures the C CallbackRelay makes are untracked (_relay.c says why), and a\n"
"failed one is tracked again, since its exception's traceback may lead back to it.");

static PyObject *
py_track(PyObject *module, PyObject *objects)
{
    if (!PyList_Check(objects)) {
        PyErr_Format(PyExc_TypeError, "track() takes a list, not %.100s",
                     Py_TYPE(objects)->tp_name);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objects); i++) {
        PyObject *item = PyList_GET_ITEM(objects, i);
        if (PyObject_IS_GC(item) && !PyObject_GC_IsTracked(item)) {
            PyObject_GC_Track(item);
        }
    }
    Py_RETURN_NONE;
}

/* ---- resolve_run ------------------------------------------------------------------------- */

PyDoc_STRVAR(resolve_run_doc,
"resolve_run(indices, partitions, offsets, timestamps, partition, base_offset,\n"
"            log_append_time_ms) -> None\n\n"
"RecordGroup.resolve's loop for a run given as int64 indices: for the k-th index i,\n"
"partitions[i] = partition, offsets[i] = base_offset + k when base_offset >= 0, and\n"
"timestamps[i] = log_append_time_ms when that is >= 0. partitions is an int32 ('i')\n"
"array, offsets and timestamps int64 ('q'). Every index is checked before any is written.");

static PyObject *
py_resolve_run(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "resolve_run() takes 7 arguments");
        return NULL;
    }
    long long partition = PyLong_AsLongLong(args[4]);
    long long base_offset = PyLong_AsLongLong(args[5]);
    long long log_append_time = PyLong_AsLongLong(args[6]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (partition < INT32_MIN || partition > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "resolve_run() partition out of int32 range");
        return NULL;
    }
    Py_buffer idx, parts, offs, stamps;
    if (get_typed_buffer(args[0], &idx, "q", 8, 0, "resolve_run", "indices", "int64") < 0) {
        return NULL;
    }
    if (get_typed_buffer(args[1], &parts, "i", 4, 1, "resolve_run", "partitions", "int32") < 0) {
        PyBuffer_Release(&idx);
        return NULL;
    }
    if (get_typed_buffer(args[2], &offs, "q", 8, 1, "resolve_run", "offsets", "int64") < 0) {
        PyBuffer_Release(&idx);
        PyBuffer_Release(&parts);
        return NULL;
    }
    if (get_typed_buffer(args[3], &stamps, "q", 8, 1, "resolve_run", "timestamps", "int64") < 0) {
        PyBuffer_Release(&idx);
        PyBuffer_Release(&parts);
        PyBuffer_Release(&offs);
        return NULL;
    }
    PyObject *result = NULL;
    const int64_t *indices = (const int64_t *)idx.buf;
    Py_ssize_t count = idx.len / 8;
    Py_ssize_t size = parts.len / 4;
    if (offs.len / 8 < size) {
        size = offs.len / 8;
    }
    if (stamps.len / 8 < size) {
        size = stamps.len / 8;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        if (indices[k] < 0 || indices[k] >= size) {
            PyErr_Format(PyExc_IndexError, "resolve_run() index %lld out of range",
                         (long long)indices[k]);
            goto finally;
        }
    }
    int32_t *partitions = (int32_t *)parts.buf;
    int64_t *offsets = (int64_t *)offs.buf, *timestamps = (int64_t *)stamps.buf;
    for (Py_ssize_t k = 0; k < count; k++) {
        int64_t i = indices[k];
        partitions[i] = (int32_t)partition;
        if (base_offset >= 0) {
            offsets[i] = base_offset + k;
        }
        if (log_append_time >= 0) {
            timestamps[i] = log_append_time;
        }
    }
    result = Py_NewRef(Py_None);
finally:
    PyBuffer_Release(&idx);
    PyBuffer_Release(&parts);
    PyBuffer_Release(&offs);
    PyBuffer_Release(&stamps);
    return result;
}

/* ---- module ----------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"murmur2", (PyCFunction)py_murmur2, METH_O, "Java's Utils.murmur2(bytes), a signed int32."},
    {"plan_keyed", (PyCFunction)(void (*)(void))py_plan_keyed, METH_FASTCALL, plan_keyed_doc},
    {"settle", (PyCFunction)(void (*)(void))py_settle, METH_FASTCALL, settle_doc},
    {"resolve_run", (PyCFunction)(void (*)(void))py_resolve_run, METH_FASTCALL, resolve_run_doc},
    {"track", (PyCFunction)py_track, METH_O, track_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "aioproducer._speedups",
    "Optional C versions of the hot loops and of the callback relay; pure-Python twins are\n"
    "the reference.",
    -1, methods,
};

int add_callback_relay(PyObject *module); /* _relay.c */
int add_fast_send(PyObject *module);      /* _fastsend.c */

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && (add_callback_relay(module) < 0 || add_fast_send(module) < 0)) {
        Py_CLEAR(module);
    }
    return module;
}
