/*
 * FastSend and Ready: the C form of Producer.send for its most common call, and the awaitable
 * it returns. aioproducer/_producer.py is the reference (Producer.send, _enqueue and
 * RecordAccumulator.append); tests hold the two to the same bytes and state.
 *
 * FastSend(send, create_future, routes, topics, accumulator, batches, wakeup_for,
 *          builder_type, batch_type, max_record_size, batch_size, buffer_memory,
 *          record_bound, open_batch, loop_running, thread)
 * is installed as a started producer's ``send`` when no serializer or custom partitioner is
 * configured. A call send(topic, value, key) (by position or keyword; partition, timestamp_ms
 * and headers only as None) with a str topic whose route is cached, an exact bytes key and a
 * bytes or None value, for a partition whose open batch has room, while buffer memory has room
 * and nobody waits in line for it (RecordAccumulator.has_room), is appended here: the record is
 * encoded into the batch's buffer, its future made, the accumulator's bytes charged, and the
 * sender woken as Python would. A record that needs a new batch of its partition goes, with
 * its partition and timestamp, to ``open_batch`` (Producer._open_batch), which opens the batch
 * in Python. Every other call (a full buffer, headers, a timestamp, serializers, errors of
 * any kind) goes to ``send``, the Python method, which decides everything this file does
 * not; nothing is appended here in that case. As send() does, it yields to the event loop at
 * least every ``batch_size`` bytes it takes (a Ready that pauses), so a loop of sends does not
 * hold the loop while batches grow far beyond batch_size.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>
#include <time.h>

#include "encode.h"
#include "_protocol/_crecords_api.h" /* the builder's C methods: rb_fits, rb_append, rb_batch_size */

int add_fast_send(PyObject *module);

/* ---- Ready: an awaitable that is already done with a value -------------------------------- */

/* Not tracked by the collector: one is made per record sent, and each tracked allocation
   brings the next collection nearer. It holds one reference, and is spent (drops it) the
   moment it is awaited; a cycle through one that is never awaited is not collected. */
typedef struct {
    PyObject_HEAD
    PyObject *value; /* NULL once awaited or closed */
    int pause;       /* yield once (a bare yield: a Task runs again next loop iteration)
                        before giving the value */
} ReadyObject;

static PyTypeObject ReadyType;

static PyObject *
ready_make(PyObject *value, int pause)
{
    ReadyObject *self = PyObject_New(ReadyObject, &ReadyType);
    if (self == NULL) {
        return NULL;
    }
    self->value = Py_NewRef(value);
    self->pause = pause;
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
    return ready_make(value, 0);
}

static void
ready_dealloc(ReadyObject *self)
{
    Py_CLEAR(self->value);
    PyObject_Free(self);
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

/* 1 when the Ready is to yield first (it then no longer is). */
static inline int
ready_pauses(ReadyObject *self)
{
    if (self->pause && self->value != NULL) {
        self->pause = 0;
        return 1;
    }
    return 0;
}

static PySendResult
ready_am_send(ReadyObject *self, PyObject *arg, PyObject **result)
{
    if (ready_pauses(self)) {
        *result = Py_NewRef(Py_None);
        return PYGEN_NEXT;
    }
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
    if (ready_pauses(self)) {
        return Py_NewRef(Py_None);
    }
    return ready_stop(self);
}

static PyObject *
ready_send(ReadyObject *self, PyObject *arg)
{
    if (ready_pauses(self)) {
        return Py_NewRef(Py_None);
    }
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
    {"send", (PyCFunction)ready_send, METH_O,
     "Finish: raise StopIteration(value) (a pausing Ready yields None first)."},
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
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Ready(value): awaiting it gives ``value`` at once, as a coroutine that\n"
              "returns ``value`` would; it has a coroutine's send, throw and close.\n"
              "FastSend also makes pausing ones, which yield once (None) before.",
    .tp_new = ready_new,
    .tp_dealloc = (destructor)ready_dealloc,
    .tp_as_async = &ready_as_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)ready_iternext,
    .tp_methods = ready_methods,
};

/* ---- FastSend ----------------------------------------------------------------------------- */

/*
 * The batch's attributes are __slots__: FastSend reads them at the offsets their member
 * descriptors give (found once, for the exact class it is given), as the descriptors
 * themselves would; an object of any other class goes to Python. The builder is the compiled
 * RecordBatchBuilder (aioproducer/_protocol/_crecords.pyx), appended to through its C methods.
 */
enum { BATCH_BUILDER, BATCH_COMPLETIONS, BATCH_TIMESTAMPS, BATCH_SLOTS };
static const char *batch_slot_names[BATCH_SLOTS] = {"builder", "completions", "timestamps"};

typedef struct {
    PyObject_HEAD
    PyObject *send;          /* Producer.send, bound: every call not taken here */
    PyObject *create_future; /* the relay's create_future */
    PyObject *routes;        /* Producer._routes: topic -> (TopicInfo, [TopicPartition]) */
    PyObject *topics;        /* cluster.metadata.topics: topic -> TopicInfo */
    PyObject *accumulator;   /* the RecordAccumulator's __dict__: _used, _reserved, _queued,
                                _closed */
    PyObject *batches;       /* accumulator._batches: TopicPartition -> deque[ProducerBatch] */
    PyObject *wakeup_for;    /* Sender.wakeup_for */
    PyObject *builder_type;  /* RecordBatchBuilder, the compiled one */
    PyObject *batch_type;    /* ProducerBatch */
    Py_ssize_t batch_slots[BATCH_SLOTS];
    Py_ssize_t max_record_size;
    Py_ssize_t batch_size;
    Py_ssize_t buffer_memory;
    Py_ssize_t record_bound; /* what Producer charges a record beyond key and value */
    Py_ssize_t unyielded;    /* bytes taken since a Ready that pauses (or an open_batch
                                result that yields) was returned: at batch_size, the next
                                Ready pauses, so a loop of sends lets the event loop run */
    PyObject *open_batch;    /* Producer._open_batch: a record that opens a batch */
    PyObject *loop_running;  /* the producer's loop's is_running: a call outside the loop */
    unsigned long thread;    /* and the thread it runs on go to send (Python raises) */
    vectorcallfunc vectorcall;
} FastSendObject;

static PyObject *name_used, *name_reserved, *name_queued, *name_closed, *name_append;

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
    Py_VISIT(self->builder_type);
    Py_VISIT(self->batch_type);
    Py_VISIT(self->open_batch);
    Py_VISIT(self->loop_running);
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
    Py_CLEAR(self->builder_type);
    Py_CLEAR(self->batch_type);
    Py_CLEAR(self->open_batch);
    Py_CLEAR(self->loop_running);
    return 0;
}

static void
fast_dealloc(FastSendObject *self)
{
    PyObject_GC_UnTrack(self);
    fast_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The offsets of ``type``'s __slots__ ``names`` (object members), or -1 with an error. */
static int
find_slots(PyObject *type, const char **names, int count, Py_ssize_t *offsets)
{
    for (int i = 0; i < count; i++) {
        PyObject *descriptor = PyObject_GetAttrString(type, names[i]);
        if (descriptor == NULL) {
            return -1;
        }
        int is_slot = Py_IS_TYPE(descriptor, &PyMemberDescr_Type) &&
                      ((PyMemberDescrObject *)descriptor)->d_member->type == T_OBJECT_EX;
        if (is_slot) {
            offsets[i] = ((PyMemberDescrObject *)descriptor)->d_member->offset;
        }
        Py_DECREF(descriptor);
        if (!is_slot) {
            PyErr_Format(PyExc_TypeError, "FastSend: %R.%s is not a __slots__ attribute", type,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* The slot at ``offset`` of ``obj``: a borrowed reference, NULL when unset. */
static inline PyObject *
slot_get(PyObject *obj, Py_ssize_t offset)
{
    return *(PyObject **)((char *)obj + offset);
}

/* Wall-clock milliseconds, as time.time_ns() // 1_000_000. */
static int64_t
wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + (int64_t)(now.tv_nsec / 1000000);
}

/* The open batch of ``tp`` (borrowed; NULL when there is none), with *several set when the
   partition has more than one batch queued. */
static PyObject *
last_batch(FastSendObject *self, PyObject *tp, int *several)
{
    PyObject *queue = PyDict_GetItemWithError(self->batches, tp);
    if (queue == NULL) {
        return NULL;
    }
    Py_ssize_t length = PyObject_Size(queue);
    if (length <= 0) {
        PyErr_Clear();
        return NULL;
    }
    *several = length > 1;
    PyObject *batch = PySequence_GetItem(queue, length - 1);
    if (batch == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_DECREF(batch); /* the deque still holds it */
    return batch;
}

static inline int
is_int(PyObject *object)
{
    return object != NULL && PyLong_CheckExact(object);
}

/*
 * The accumulator's bytes in use into ``*used``: 1 when it is open and has room for ``size``
 * more as RecordAccumulator.has_room decides (nobody waits in line, and the bytes fit beside
 * those in use and those granted to waiters), 0 when not (Python raises, or waits in line),
 * -1 on error.
 */
static int
room_for(FastSendObject *self, int64_t size, int64_t *used)
{
    PyObject *closed = PyDict_GetItemWithError(self->accumulator, name_closed);
    PyObject *used_object = PyDict_GetItemWithError(self->accumulator, name_used);
    PyObject *reserved_object = PyDict_GetItemWithError(self->accumulator, name_reserved);
    PyObject *queued_object = PyDict_GetItemWithError(self->accumulator, name_queued);
    if (closed != Py_False || !is_int(used_object) || !is_int(reserved_object) ||
        !is_int(queued_object)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    *used = PyLong_AsLongLong(used_object);
    long long reserved = PyLong_AsLongLong(reserved_object);
    long long queued = PyLong_AsLongLong(queued_object);
    if (PyErr_Occurred()) {
        return -1;
    }
    return queued == 0 && *used + reserved + size <= self->buffer_memory;
}

enum { NOT_HERE = 0, APPENDED = 1, APPENDED_FULL = 2, NO_ROOM = 3 };

/*
 * Append (key, value) to ``batch``, the open batch of its partition, whose accumulator holds
 * ``used`` bytes and has room for the record (room_for): APPENDED, or APPENDED_FULL when that
 * filled it (``*future`` then holds the new future); NO_ROOM when the record does not fit the
 * batch (a new one must open); NOT_HERE when it is not this file's case; -1 on error.
 */
static int
append_here(FastSendObject *self, PyObject *batch, PyObject *key, PyObject *value, int64_t used,
            PyObject **future)
{
    if ((PyObject *)Py_TYPE(batch) != self->batch_type) {
        return NOT_HERE;
    }
    PyObject *builder = slot_get(batch, self->batch_slots[BATCH_BUILDER]);
    PyObject *completions = slot_get(batch, self->batch_slots[BATCH_COMPLETIONS]);
    PyObject *stamps = slot_get(batch, self->batch_slots[BATCH_TIMESTAMPS]);
    if (builder == NULL || (PyObject *)Py_TYPE(builder) != self->builder_type ||
        completions == NULL || !PyList_CheckExact(completions) || stamps == NULL) {
        return NOT_HERE;
    }
    int64_t timestamp = wall_clock_ms();
    Py_ssize_t record = rb_fits(builder, timestamp, key, value);
    if (record == 0) {
        return NO_ROOM; /* full (or built): the next batch opens */
    }
    PyObject *stamp = PyLong_FromLongLong(timestamp);
    PyObject *new_used = PyLong_FromLongLong(used + (int64_t)record);
    if (stamp == NULL || new_used == NULL) {
        goto error;
    }
    *future = PyObject_CallNoArgs(self->create_future);
    if (*future == NULL || PyList_Append(completions, *future) < 0) {
        goto error;
    }
    /* Nothing below fails but for memory; then the batch is put back as it was. */
    PyObject *appended = PyObject_CallMethodOneArg(stamps, name_append, stamp);
    if (appended == NULL) {
        goto unlist;
    }
    Py_DECREF(appended);
    Py_ssize_t size = rb_append(builder, timestamp, key, value); /* fits: rb_fits said so */
    if (size <= 0) {
        Py_XDECREF(PyObject_CallMethod(stamps, "pop", NULL));
        goto unlist;
    }
    /* replaces the value of a key the dict holds: no allocation, cannot fail */
    PyDict_SetItem(self->accumulator, name_used, new_used);
    Py_DECREF(new_used);
    Py_DECREF(stamp);
    return size >= rb_batch_size(builder) ? APPENDED_FULL : APPENDED; /* the batch's own capacity */
unlist:
    PyList_SetSlice(completions, PyList_GET_SIZE(completions) - 1, PyList_GET_SIZE(completions),
                    NULL);
error:
    Py_CLEAR(*future);
    Py_XDECREF(stamp);
    Py_XDECREF(new_used);
    return -1;
}

/* Count ``size`` bytes taken: 1 when that reaches batch_size (the count starts again, and
   the Ready returned must pause), else 0. */
static inline int
taken(FastSendObject *self, int64_t size)
{
    self->unyielded += (Py_ssize_t)size;
    if (self->unyielded < self->batch_size) {
        return 0;
    }
    self->unyielded = 0;
    return 1;
}

/* open_batch(tp, timestamp_ms, key, value): what it returns, or NULL with an error set. */
static PyObject *
open_batch(FastSendObject *self, PyObject *tp, PyObject *key, PyObject *value)
{
    PyObject *stamp = PyLong_FromLongLong(wall_clock_ms());
    if (stamp == NULL) {
        return NULL;
    }
    PyObject *args[4] = {tp, stamp, key, value};
    PyObject *result = PyObject_Vectorcall(self->open_batch, args, 4, NULL);
    Py_DECREF(stamp);
    return result;
}

/* The call taken here, as Ready(future) (or what open_batch returns); NULL with no error set
   when it is not this case. */
static PyObject *
fast_path(FastSendObject *self, PyObject *topic, PyObject *value, PyObject *key)
{
    if (!PyUnicode_CheckExact(topic) || !PyBytes_CheckExact(key) ||
        (value != Py_None && !PyBytes_CheckExact(value))) {
        return NULL;
    }
    /* In the producer's loop: on its thread while it runs (a second loop on that thread can
       only run once the first has stopped). asyncio's _get_running_loop() would say it too,
       but costs a getpid() system call per call on CPython 3.11. */
    if (PyThread_get_thread_ident() != self->thread) {
        return NULL; /* Python raises WrongEventLoopError */
    }
    PyObject *running = PyObject_CallNoArgs(self->loop_running);
    if (running == NULL) {
        return NULL;
    }
    Py_DECREF(running); /* only compared with Py_True, which is never freed */
    if (running != Py_True) {
        return NULL;
    }
    int64_t size = self->record_bound + PyBytes_GET_SIZE(key) +
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
    int64_t used = 0;
    if (PyErr_Occurred() || room_for(self, size, &used) <= 0) {
        goto finally; /* an error, or Python raises or waits for buffer memory */
    }
    int appended = batch == NULL ? NO_ROOM : append_here(self, batch, key, value, used, &future);
    if (appended == NO_ROOM) { /* none open, or no room in it: Python opens one */
        result = open_batch(self, tp, key, value);
        if (result != NULL && Py_IS_TYPE(result, &ReadyType)) {
            ((ReadyObject *)result)->pause = taken(self, size); /* a new one, not yet awaited */
        } else if (result != NULL) {
            self->unyielded = 0; /* Producer._after_fill: it yields */
        }
        goto finally;
    }
    if (appended <= 0) {
        goto finally;
    }
    if (appended == APPENDED_FULL || several) { /* full: as _enqueue, let the sender know */
        PyObject *woken = PyObject_CallOneArg(self->wakeup_for, tp);
        if (woken == NULL) {
            goto finally;
        }
        Py_DECREF(woken);
    }
    result = ready_make(future, taken(self, size));
finally:
    Py_DECREF(tp);
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

/* 0 when ``type`` is the compiled RecordBatchBuilder (whose C methods FastSend calls), else
   -1 with a TypeError. */
static int
check_builder_type(PyObject *type)
{
    PyObject *module = PyImport_ImportModule("aioproducer._protocol._crecords");
    if (module == NULL) {
        return -1;
    }
    PyObject *compiled = PyObject_GetAttrString(module, "RecordBatchBuilder");
    Py_DECREF(module);
    if (compiled == NULL) {
        return -1;
    }
    Py_DECREF(compiled); /* the module holds it */
    if (type != compiled) {
        PyErr_Format(PyExc_TypeError, "FastSend: builder_type must be %R, not %R", compiled,
                     type);
        return -1;
    }
    return 0;
}

static PyObject *
fast_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *send, *create_future, *routes, *topics, *accumulator, *batches, *wakeup_for;
    PyObject *builder_type, *batch_type, *open_batch_function, *loop_running;
    unsigned long thread;
    Py_ssize_t max_record_size, batch_size, buffer_memory, record_bound;
    static char *names[] = {"send",          "create_future", "routes",
                            "topics",        "accumulator",   "batches",
                            "wakeup_for",    "builder_type",  "batch_type",
                            "max_record_size", "batch_size",  "buffer_memory",
                            "record_bound",  "open_batch",    "loop_running", "thread", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O!OO!OO!O!nnnnOOk:FastSend", names, &send,
                                     &create_future, &PyDict_Type, &routes, &PyDict_Type,
                                     &topics, &accumulator, &PyDict_Type, &batches, &wakeup_for,
                                     &PyType_Type, &builder_type, &PyType_Type, &batch_type,
                                     &max_record_size, &batch_size, &buffer_memory,
                                     &record_bound, &open_batch_function, &loop_running,
                                     &thread)) {
        return NULL;
    }
    if (record_bound < 0) {
        PyErr_SetString(PyExc_ValueError, "FastSend: record_bound must not be negative");
        return NULL;
    }
    if (rb_append == NULL && import_aioproducer___protocol___crecords() < 0) {
        return NULL; /* the builder's C methods, found at the first FastSend */
    }
    if (check_builder_type(builder_type) < 0) {
        return NULL;
    }
    PyObject *state = PyObject_GenericGetDict(accumulator, NULL);
    if (state == NULL) {
        return NULL;
    }
    FastSendObject *self = (FastSendObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(state);
        return NULL;
    }
    self->send = Py_NewRef(send);
    self->create_future = Py_NewRef(create_future);
    self->routes = Py_NewRef(routes);
    self->topics = Py_NewRef(topics);
    self->accumulator = state;
    self->batches = Py_NewRef(batches);
    self->wakeup_for = Py_NewRef(wakeup_for);
    self->builder_type = Py_NewRef(builder_type);
    self->batch_type = Py_NewRef(batch_type);
    self->max_record_size = max_record_size;
    self->batch_size = batch_size;
    self->unyielded = 0;
    self->buffer_memory = buffer_memory;
    self->record_bound = record_bound;
    self->open_batch = Py_NewRef(open_batch_function);
    self->loop_running = Py_NewRef(loop_running);
    self->thread = thread;
    self->vectorcall = (vectorcallfunc)fast_vectorcall;
    if (find_slots(batch_type, batch_slot_names, BATCH_SLOTS, self->batch_slots) < 0) {
        Py_DECREF(self);
        return NULL;
    }
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
              "builder_type, batch_type, max_record_size, batch_size, buffer_memory,\n"
              "record_bound, open_batch, loop_running, thread): a producer's send() for its\n"
              "common call\n"
              "(aioproducer/_cext/fastsend.c documents it); every other call goes to ``send``.",
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
    name_used = PyUnicode_InternFromString("_used");
    name_reserved = PyUnicode_InternFromString("_reserved");
    name_queued = PyUnicode_InternFromString("_queued");
    name_closed = PyUnicode_InternFromString("_closed");
    name_append = PyUnicode_InternFromString("append");
    if (name_used == NULL || name_reserved == NULL || name_queued == NULL || name_closed == NULL ||
        name_append == NULL) {
        return -1;
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
