/*
 * FastSend and Ready: the C form of Producer.send for its most common call, and the awaitable
 * it returns. aioproducer/_producer.py is the reference (Producer.send and _enqueue); tests
 * hold the two to the same bytes and state.
 *
 * FastSend(send, create_future, routes, topics, accumulator, wakeup_for, max_record_size,
 *          batch_size, record_bound, loop_running, thread)
 * is installed as a started producer's ``send`` when no serializer or custom partitioner is
 * configured. A call send(topic, value, key) (by position or keyword; partition, timestamp_ms
 * and headers only as None) with a str topic whose route is cached, an exact bytes key and a
 * bytes or None value, while the accumulator is open and buffer memory has room and nobody
 * waits in line for it, is taken here: the partition is Java's hash of the key, the future
 * made, and the record appended by the accumulator's own append (its compiled Appender,
 * aioproducer/_caccumulate.pyx, through its C API appender_room and appender_append:
 * _caccumulate_api.h), which fills the partition's open batch or opens one; the sender is
 * woken as _enqueue would. FastSend reads no attribute of the accumulator or of its batches.
 * Every other call (a full buffer, headers, a timestamp, serializers, errors of any kind)
 * goes to ``send``, the Python method, which decides everything this file does not; nothing
 * is appended here in that case. As send() does, it yields to the event loop at least every
 * ``batch_size`` bytes it takes (a Ready that pauses), and once after a record that opened a
 * batch behind a full one, so a loop of sends lets the sender write what filled up.
 * ``enabled`` (writable, True at first) False hands every call to ``send``: a transactional
 * producer's FastSend is disabled outside its transactions, where send() refuses records.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "_caccumulate_api.h" /* the accumulator's append: appender_room, appender_append */

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

typedef struct {
    PyObject_HEAD
    PyObject *send;          /* Producer.send, bound: every call not taken here */
    PyObject *create_future; /* the relay's create_future */
    PyObject *routes;        /* Producer._routes: topic -> (TopicInfo, [TopicPartition]) */
    PyObject *topics;        /* cluster.metadata.topics: topic -> TopicInfo */
    PyObject *accumulator;   /* the RecordAccumulator: a compiled Appender */
    PyObject *wakeup_for;    /* Sender.wakeup_for */
    Py_ssize_t max_record_size;
    Py_ssize_t batch_size;
    Py_ssize_t record_bound; /* what Producer charges a record beyond key and value */
    Py_ssize_t unyielded;    /* bytes taken since a Ready that pauses was returned: at
                                batch_size, the next Ready pauses, so a loop of sends lets
                                the event loop run */
    PyObject *loop_running;  /* the producer's loop's is_running: a call outside the loop */
    unsigned long thread;    /* and the thread it runs on go to send (Python raises) */
    char enabled;            /* 0: every call goes to send (outside a transaction) */
    vectorcallfunc vectorcall;
} FastSendObject;

static int
fast_traverse(FastSendObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->send);
    Py_VISIT(self->create_future);
    Py_VISIT(self->routes);
    Py_VISIT(self->topics);
    Py_VISIT(self->accumulator);
    Py_VISIT(self->wakeup_for);
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
    Py_CLEAR(self->wakeup_for);
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

/* Wall-clock milliseconds, as time.time_ns() // 1_000_000. */
static int64_t
wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + (int64_t)(now.tv_nsec / 1000000);
}

/* What Appender.append did (AppendResult's values). */
enum { APPENDED = 0, NEW_BATCH = 1, BATCH_FULL = 2, NEW_BATCH_FULL = 3 };

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

/* The call taken here, as Ready(future); NULL with no error set when it is not this case. */
static PyObject *
fast_path(FastSendObject *self, PyObject *topic, PyObject *value, PyObject *key)
{
    if (!self->enabled || !PyUnicode_CheckExact(topic) || !PyBytes_CheckExact(key) ||
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
    /* Open, with room, nobody in line (RecordAccumulator.has_room): else Python raises, or
       waits for buffer memory. */
    int room = appender_room(self->accumulator, (Py_ssize_t)size);
    if (room <= 0) {
        return NULL;
    }
    uint32_t hash = (uint32_t)murmur2((const unsigned char *)PyBytes_AS_STRING(key),
                                      PyBytes_GET_SIZE(key)) & 0x7FFFFFFFU;
    PyObject *tp = PyList_GET_ITEM(tps, (Py_ssize_t)(hash % (uint32_t)PyList_GET_SIZE(tps)));
    Py_INCREF(tp);
    PyObject *result = NULL;
    PyObject *future = PyObject_CallNoArgs(self->create_future);
    if (future == NULL) {
        goto finally;
    }
    int appended = appender_append(self->accumulator, tp, wall_clock_ms(), key, value, future);
    if (appended < 0) {
        goto finally;
    }
    if (appended != APPENDED) { /* as _enqueue: a full or new batch, let the sender know */
        PyObject *woken = PyObject_CallOneArg(self->wakeup_for, tp);
        if (woken == NULL) {
            goto finally;
        }
        Py_DECREF(woken);
    }
    int pause;
    if (appended == NEW_BATCH_FULL) { /* behind a full batch: yield, as send()'s _after_fill */
        self->unyielded = 0;
        pause = 1;
    } else {
        pause = taken(self, size);
    }
    result = ready_make(future, pause);
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

/* 0 when ``accumulator`` is a compiled Appender (whose C API FastSend calls), else -1 with a
   TypeError. */
static int
check_appender(PyObject *accumulator)
{
    PyObject *module = PyImport_ImportModule("aioproducer._caccumulate");
    if (module == NULL) {
        return -1;
    }
    PyObject *compiled = PyObject_GetAttrString(module, "Appender");
    Py_DECREF(module);
    if (compiled == NULL) {
        return -1;
    }
    int is_appender = PyObject_TypeCheck(accumulator, (PyTypeObject *)compiled);
    Py_DECREF(compiled); /* the module holds it */
    if (!is_appender) {
        PyErr_Format(PyExc_TypeError, "FastSend: the accumulator must be an Appender, not %R",
                     Py_TYPE(accumulator));
        return -1;
    }
    return 0;
}

static PyObject *
fast_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *send, *create_future, *routes, *topics, *accumulator, *wakeup_for, *loop_running;
    unsigned long thread;
    Py_ssize_t max_record_size, batch_size, record_bound;
    static char *names[] = {"send",         "create_future",   "routes",     "topics",
                            "accumulator",  "wakeup_for",      "max_record_size",
                            "batch_size",   "record_bound",    "loop_running",
                            "thread",       NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O!OOnnnOk:FastSend", names, &send,
                                     &create_future, &PyDict_Type, &routes, &PyDict_Type,
                                     &topics, &accumulator, &wakeup_for, &max_record_size,
                                     &batch_size, &record_bound, &loop_running, &thread)) {
        return NULL;
    }
    if (record_bound < 0) {
        PyErr_SetString(PyExc_ValueError, "FastSend: record_bound must not be negative");
        return NULL;
    }
    if (appender_append == NULL && import_aioproducer___caccumulate() < 0) {
        return NULL; /* the Appender's C API, found at the first FastSend */
    }
    if (check_appender(accumulator) < 0) {
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
    self->wakeup_for = Py_NewRef(wakeup_for);
    self->max_record_size = max_record_size;
    self->batch_size = batch_size;
    self->unyielded = 0;
    self->record_bound = record_bound;
    self->loop_running = Py_NewRef(loop_running);
    self->thread = thread;
    self->enabled = 1;
    self->vectorcall = (vectorcallfunc)fast_vectorcall;
    return (PyObject *)self;
}

static PyObject *
fast_call(FastSendObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call((PyObject *)self, args, kwargs);
}

static PyMemberDef fast_members[] = {
    {"enabled", T_BOOL, offsetof(FastSendObject, enabled), 0,
     "False: every call goes to the Python send (a transactional producer outside a "
     "transaction)."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject FastSendType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aioproducer._speedups.FastSend",
    .tp_basicsize = sizeof(FastSendObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "FastSend(send, create_future, routes, topics, accumulator, wakeup_for,\n"
              "max_record_size, batch_size, record_bound, loop_running, thread): a\n"
              "producer's send() for its common call\n"
              "(aioproducer/_cext/fastsend.c documents it); every other call goes to ``send``.",
    .tp_new = fast_new,
    .tp_dealloc = (destructor)fast_dealloc,
    .tp_traverse = (traverseproc)fast_traverse,
    .tp_clear = (inquiry)fast_clear,
    .tp_call = (ternaryfunc)fast_call,
    .tp_members = fast_members,
    .tp_vectorcall_offset = offsetof(FastSendObject, vectorcall),
};

int
add_fast_send(PyObject *module)
{
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
