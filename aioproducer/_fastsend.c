/*
 * FastSend and Ready: the C form of Producer.send for its most common call, and the awaitable
 * it returns. aioproducer/producer.py is the reference (Producer.send, _enqueue and
 * RecordAccumulator.append); tests hold the two to the same bytes and state.
 *
 * FastSend(send, create_future, routes, topics, accumulator, batches, wakeup_for,
 *          max_record_size, batch_size) is installed as a started producer's ``send`` when
 * no serializer or custom partitioner is configured. A call send(topic, value, key) with a
 * str topic whose route is cached, an exact bytes key, a bytes or None value and no other
 * argument, for a partition whose open batch has room, is appended here: the record is
 * encoded into the batch's buffer, its future made, the accumulator's bytes charged, and the
 * sender woken as Python would. Every other call (a new batch, a full buffer, headers,
 * a timestamp, serializers, errors of any kind) goes to ``send``, the Python method, which
 * decides everything this file does not; nothing is appended here in that case.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "_encode.h"

int add_fast_send(PyObject *module);

/* What Producer._enqueue charges a record beyond its key and value (_RECORD_BOUND). */
#define RECORD_BOUND 82

/* ---- Ready: an awaitable that is already done with a value -------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *value; /* NULL once awaited or closed */
} ReadyObject;

static PyTypeObject ReadyType;

static PyObject *
ready_make(PyObject *value)
{
    ReadyObject *self = PyObject_GC_New(ReadyObject, &ReadyType);
    if (self == NULL) {
        return NULL;
    }
    self->value = Py_NewRef(value);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *
ready_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *value;
    static char *names[] = {"value", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Ready", names, &value)) {
        return NULL;
    }
    return ready_make(value);
}

static int
ready_traverse(ReadyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->value);
    return 0;
}

static int
ready_clear(ReadyObject *self)
{
    Py_CLEAR(self->value);
    return 0;
}

static void
ready_dealloc(ReadyObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->value);
    PyObject_GC_Del(self);
}

/* The value, taken (the Ready is spent), or NULL with RuntimeError when it already was. */
static PyObject *
ready_take(ReadyObject *self)
{
    PyObject *value = self->value;
    if (value == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited send()");
        return NULL;
    }
    self->value = NULL;
    return value;
}

static PySendResult
ready_am_send(ReadyObject *self, PyObject *arg, PyObject **result)
{
    PyObject *value = ready_take(self);
    if (value == NULL) {
        *result = NULL;
        return PYGEN_ERROR;
    }
    *result = value;
    return PYGEN_RETURN;
}

/* Raise StopIteration(value), as a coroutine that returns ``value`` does. */
static PyObject *
ready_stop(ReadyObject *self)
{
    PyObject *value = ready_take(self);
    if (value == NULL) {
        return NULL;
    }
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (stop != NULL) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
    return NULL;
}

static PyObject *
ready_iternext(ReadyObject *self)
{
    return ready_stop(self);
}

static PyObject *
ready_send(ReadyObject *self, PyObject *arg)
{
    return ready_stop(self);
}

static PyObject *
ready_throw(ReadyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw() takes 1 to 3 arguments");
        return NULL;
    }
    Py_CLEAR(self->value);
    PyObject *type = args[0], *value = nargs > 1 ? args[1] : Py_None;
    if (PyExceptionInstance_Check(type)) {
        PyErr_SetObject((PyObject *)Py_TYPE(type), type);
    } else if (PyExceptionClass_Check(type)) {
        PyErr_SetObject(type, value);
    } else {
        PyErr_SetString(PyExc_TypeError, "throw() takes an exception or an exception type");
    }
    return NULL;
}

static PyObject *
ready_close(ReadyObject *self, PyObject *unused)
{
    Py_CLEAR(self->value);
    Py_RETURN_NONE;
}

static PyObject *
ready_await(ReadyObject *self)
{
    return Py_NewRef(self);
}

static PyMethodDef ready_methods[] = {
    {"send", (PyCFunction)ready_send, METH_O, "Finish: raise StopIteration(value)."},
    {"throw", (PyCFunction)(void (*)(void))ready_throw, METH_FASTCALL,
     "Raise the exception given (the value is dropped)."},
    {"close", (PyCFunction)ready_close, METH_NOARGS, "Drop the value."},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods ready_as_async = {
    .am_await = (unaryfunc)ready_await,
    .am_send = (sendfunc)ready_am_send,
};

static PyTypeObject ReadyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aioproducer._speedups.Ready",
    .tp_basicsize = sizeof(ReadyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Ready(value): awaiting it gives ``value`` at once, as a coroutine that\n"
              "returns ``value`` would; it has a coroutine's send, throw and close.",
    .tp_new = ready_new,
    .tp_dealloc = (destructor)ready_dealloc,
    .tp_traverse = (traverseproc)ready_traverse,
    .tp_clear = (inquiry)ready_clear,
    .tp_as_async = &ready_as_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)ready_iternext,
    .tp_methods = ready_methods,
};

/* ---- FastSend ----------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *send;          /* Producer.send, bound: every call not taken here */
    PyObject *create_future; /* the relay's create_future */
    PyObject *routes;        /* Producer._routes: topic -> (TopicInfo, [TopicPartition]) */
    PyObject *topics;        /* cluster.metadata.topics: topic -> TopicInfo */
    PyObject *accumulator;   /* the RecordAccumulator (its _used and _closed) */
    PyObject *batches;       /* accumulator._batches: TopicPartition -> deque[ProducerBatch] */
    PyObject *wakeup_for;    /* Sender.wakeup_for */
    Py_ssize_t max_record_size;
    Py_ssize_t batch_size;
    Py_ssize_t buffer_memory;
    vectorcallfunc vectorcall;
} FastSendObject;

static PyObject *name_used, *name_closed, *name_builder, *name_buffer, *name_count, *name_limit,
    *name_base_timestamp, *name_max_timestamp, *name_estimated_size, *name_completions,
    *name_timestamps, *name_append;

static int
fast_traverse(FastSendObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->send);
    Py_VISIT(self->create_future);
    Py_VISIT(self->routes);
    Py_VISIT(self->topics);
    Py_VISIT(self->accumulator);
    Py_VISIT(self->batches);
    Py_VISIT(self->wakeup_for);
    return 0;
}

static int
fast_clear(FastSendObject *self)
{
    Py_CLEAR(self->send);
    Py_CLEAR(self->create_future);
    Py_CLEAR(self->routes);
    Py_CLEAR(self->topics);
    Py_CLEAR(self->accumulator);
    Py_CLEAR(self->batches);
    Py_CLEAR(self->wakeup_for);
    return 0;
}

static void
fast_dealloc(FastSendObject *self)
{
    PyObject_GC_UnTrack(self);
    fast_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* An attribute that must be an int fitting int64 (else -1 with an error set). */
static int
get_int64(PyObject *obj, PyObject *name, int64_t *out)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
set_int64(PyObject *obj, PyObject *name, int64_t number)
{
    PyObject *value = PyLong_FromLongLong(number);
    if (value == NULL) {
        return -1;
    }
    int status = PyObject_SetAttr(obj, name, value);
    Py_DECREF(value);
    return status;
}

/* Wall-clock milliseconds, as time.time_ns() // 1_000_000. */
static int64_t
wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + (int64_t)(now.tv_nsec / 1000000);
}

/* The open batch of ``tp`` if it is the only one there (else Py_None as ``*batch`` with
   *more set when there are several), new reference; NULL on error. */
static PyObject *
last_batch(FastSendObject *self, PyObject *tp, int *several)
{
    PyObject *queue = PyDict_GetItemWithError(self->batches, tp);
    if (queue == NULL) {
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    Py_ssize_t length = PyObject_Size(queue);
    if (length < 0) {
        return NULL;
    }
    if (length == 0) {
        return Py_NewRef(Py_None);
    }
    *several = length > 1;
    return PySequence_GetItem(queue, length - 1);
}

/*
 * Append (key, value) to ``batch``, the open batch of ``tp``: 1 when appended (``*future``
 * then holds the new future), 0 when it is not this file's case, -1 on error.
 */
static int
append_here(FastSendObject *self, PyObject *batch, PyObject *key, PyObject *value, int64_t size,
            PyObject **future)
{
    int status = -1;
    int64_t used, count, limit, base, max_timestamp, estimated;
    PyObject *builder = NULL, *buffer = NULL, *stamp = NULL, *list = NULL, *stamps = NULL;
    PyObject *closed = PyObject_GetAttr(self->accumulator, name_closed);
    if (closed == NULL) {
        return -1;
    }
    int is_closed = PyObject_IsTrue(closed);
    Py_DECREF(closed);
    if (is_closed != 0) {
        return is_closed < 0 ? -1 : 0;
    }
    if (get_int64(self->accumulator, name_used, &used) < 0) {
        return -1;
    }
    if (used + size > self->buffer_memory) {
        return 0; /* Python waits for buffer memory */
    }
    builder = PyObject_GetAttr(batch, name_builder);
    if (builder == NULL) {
        goto finally;
    }
    buffer = PyObject_GetAttr(builder, name_buffer);
    if (buffer == NULL || get_int64(builder, name_count, &count) < 0 ||
        get_int64(builder, name_limit, &limit) < 0 ||
        get_int64(builder, name_base_timestamp, &base) < 0 ||
        get_int64(builder, name_max_timestamp, &max_timestamp) < 0 ||
        get_int64(builder, name_estimated_size, &estimated) < 0) {
        goto finally;
    }
    if (!PyByteArray_CheckExact(buffer) || count < 1) {
        status = 0; /* an empty batch is opened by Python */
        goto finally;
    }
    int64_t timestamp = wall_clock_ms();
    int64_t delta = timestamp - base;
    int64_t body = body_size(varint_size(delta), count, key, value);
    int64_t record = varint_size(body) + body;
    Py_ssize_t length = PyByteArray_GET_SIZE(buffer);
    if (length + record > limit) {
        status = 0; /* full (or built): Python opens the next batch */
        goto finally;
    }
    list = PyObject_GetAttr(batch, name_completions);
    stamps = PyObject_GetAttr(batch, name_timestamps);
    stamp = PyLong_FromLongLong(timestamp);
    if (list == NULL || stamps == NULL || stamp == NULL) {
        goto finally;
    }
    if (!PyList_CheckExact(list)) {
        status = 0;
        goto finally;
    }
    *future = PyObject_CallNoArgs(self->create_future);
    if (*future == NULL) {
        goto finally;
    }
    if (extend_bytearray(buffer, length, (Py_ssize_t)record) < 0) {
        Py_CLEAR(*future);
        goto finally;
    }
    put_record(PyByteArray_AS_STRING(buffer) + length, body, delta, count, key, value);
    int64_t now_size = (int64_t)length + record;
    if (set_int64(builder, name_estimated_size, now_size) < 0 ||
        set_int64(builder, name_count, count + 1) < 0 ||
        (timestamp > max_timestamp &&
         PyObject_SetAttr(builder, name_max_timestamp, stamp) < 0) ||
        set_int64(self->accumulator, name_used, used + now_size - estimated) < 0 ||
        PyList_Append(list, *future) < 0) {
        Py_CLEAR(*future);
        goto finally;
    }
    PyObject *appended = PyObject_CallMethodOneArg(stamps, name_append, stamp);
    if (appended == NULL) {
        Py_CLEAR(*future);
        goto finally;
    }
    Py_DECREF(appended);
    status = now_size >= self->batch_size ? 2 : 1;
finally:
    Py_XDECREF(builder);
    Py_XDECREF(buffer);
    Py_XDECREF(stamp);
    Py_XDECREF(list);
    Py_XDECREF(stamps);
    return status;
}

/* The call taken here, as Ready(future); NULL with no error set when it is not this case. */
static PyObject *
fast_path(FastSendObject *self, PyObject *topic, PyObject *value, PyObject *key)
{
    if (!PyUnicode_CheckExact(topic) || !PyBytes_CheckExact(key) ||
        (value != Py_None && !PyBytes_CheckExact(value))) {
        return NULL;
    }
    int64_t size = RECORD_BOUND + PyBytes_GET_SIZE(key) +
                   (value == Py_None ? 0 : PyBytes_GET_SIZE(value));
    if (size > self->max_record_size) {
        return NULL; /* Python raises RecordTooLargeError */
    }
    PyObject *route = PyDict_GetItemWithError(self->routes, topic);
    if (route == NULL || !PyTuple_CheckExact(route) || PyTuple_GET_SIZE(route) != 2) {
        return NULL;
    }
    PyObject *info = PyDict_GetItemWithError(self->topics, topic);
    PyObject *tps = PyTuple_GET_ITEM(route, 1);
    if (info == NULL || info != PyTuple_GET_ITEM(route, 0) || !PyList_CheckExact(tps) ||
        PyList_GET_SIZE(tps) < 1) {
        return NULL;
    }
    uint32_t hash = (uint32_t)murmur2((const unsigned char *)PyBytes_AS_STRING(key),
                                      PyBytes_GET_SIZE(key)) & 0x7FFFFFFFU;
    PyObject *tp = PyList_GET_ITEM(tps, (Py_ssize_t)(hash % (uint32_t)PyList_GET_SIZE(tps)));
    Py_INCREF(tp);
    int several = 0;
    PyObject *batch = last_batch(self, tp, &several);
    PyObject *future = NULL, *result = NULL;
    if (batch == NULL || batch == Py_None) {
        goto finally;
    }
    int appended = append_here(self, batch, key, value, size, &future);
    if (appended <= 0) {
        goto finally;
    }
    if (appended == 2 || several) { /* full: as _enqueue, let the sender know */
        PyObject *woken = PyObject_CallOneArg(self->wakeup_for, tp);
        if (woken == NULL) {
            goto finally;
        }
        Py_DECREF(woken);
    }
    result = ready_make(future);
finally:
    Py_DECREF(tp);
    Py_XDECREF(batch);
    Py_XDECREF(future);
    return result;
}

static inline int
is_name(PyObject *name, const char *text)
{
    return PyUnicode_CompareWithASCIIString(name, text) == 0;
}

static PyObject *
fast_vectorcall(FastSendObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    /* send(topic, value, key), by position or keyword; partition, timestamp_ms and headers
       only as None */
    PyObject *given[3] = {NULL, NULL, NULL};
    int simple = nargs >= 1 && nargs <= 3;
    for (Py_ssize_t i = 0; simple && i < nargs; i++) {
        given[i] = args[i];
    }
    Py_ssize_t keywords = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; simple && i < keywords; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i), *arg = args[nargs + i];
        if (is_name(name, "value") && given[1] == NULL) {
            given[1] = arg;
        } else if (is_name(name, "key") && given[2] == NULL) {
            given[2] = arg;
        } else if (arg != Py_None || !(is_name(name, "partition") ||
                                       is_name(name, "timestamp_ms") ||
                                       is_name(name, "headers"))) {
            simple = 0;
        }
    }
    if (simple && given[2] != NULL) {
        PyObject *result =
            fast_path(self, given[0], given[1] == NULL ? Py_None : given[1], given[2]);
        if (result != NULL || PyErr_Occurred()) {
            return result;
        }
    }
    return PyObject_Vectorcall(self->send, args, nargsf, kwnames);
}

static PyObject *
fast_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *send, *create_future, *routes, *topics, *accumulator, *batches, *wakeup_for;
    Py_ssize_t max_record_size, batch_size, buffer_memory;
    static char *names[] = {"send",     "create_future", "routes",          "topics",
                            "accumulator", "batches",    "wakeup_for",      "max_record_size",
                            "batch_size",  "buffer_memory", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O!OO!Onnn:FastSend", names, &send,
                                     &create_future, &PyDict_Type, &routes, &PyDict_Type,
                                     &topics, &accumulator, &PyDict_Type, &batches, &wakeup_for,
                                     &max_record_size, &batch_size, &buffer_memory)) {
        return NULL;
    }
    FastSendObject *self = (FastSendObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->send = Py_NewRef(send);
    self->create_future = Py_NewRef(create_future);
    self->routes = Py_NewRef(routes);
    self->topics = Py_NewRef(topics);
    self->accumulator = Py_NewRef(accumulator);
    self->batches = Py_NewRef(batches);
    self->wakeup_for = Py_NewRef(wakeup_for);
    self->max_record_size = max_record_size;
    self->batch_size = batch_size;
    self->buffer_memory = buffer_memory;
    self->vectorcall = (vectorcallfunc)fast_vectorcall;
    return (PyObject *)self;
}

static PyObject *
fast_call(FastSendObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call((PyObject *)self, args, kwargs);
}

static PyTypeObject FastSendType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aioproducer._speedups.FastSend",
    .tp_basicsize = sizeof(FastSendObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "FastSend(send, create_future, routes, topics, accumulator, batches, wakeup_for,\n"
              "max_record_size, batch_size, buffer_memory): a producer's send() for its\n"
              "common call (aioproducer/_fastsend.c documents it); every other call goes\n"
              "to ``send``.",
    .tp_new = fast_new,
    .tp_dealloc = (destructor)fast_dealloc,
    .tp_traverse = (traverseproc)fast_traverse,
    .tp_clear = (inquiry)fast_clear,
    .tp_call = (ternaryfunc)fast_call,
    .tp_vectorcall_offset = offsetof(FastSendObject, vectorcall),
};

int
add_fast_send(PyObject *module)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&name_used, "_used"},
        {&name_closed, "_closed"},
        {&name_builder, "builder"},
        {&name_buffer, "_buffer"},
        {&name_count, "_count"},
        {&name_limit, "_limit"},
        {&name_base_timestamp, "_base_timestamp"},
        {&name_max_timestamp, "_max_timestamp"},
        {&name_estimated_size, "estimated_size"},
        {&name_completions, "completions"},
        {&name_timestamps, "timestamps"},
        {&name_append, "append"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) {
            return -1;
        }
    }
    if (PyType_Ready(&ReadyType) < 0 || PyType_Ready(&FastSendType) < 0) {
        return -1;
    }
    Py_INCREF(&ReadyType);
    if (PyModule_AddObject(module, "Ready", (PyObject *)&ReadyType) < 0) {
        Py_DECREF(&ReadyType);
        return -1;
    }
    Py_INCREF(&FastSendType);
    if (PyModule_AddObject(module, "FastSend", (PyObject *)&FastSendType) < 0) {
        Py_DECREF(&FastSendType);
        return -1;
    }
    return 0;
}
