/*
 * CallbackRelay: the C twin of aioproducer._futures.CallbackRelay (the reference; tests hold
 * the two to the same behaviour). A RecordFuture is an asyncio.Future whose loop is a relay:
 * the callbacks the future schedules when it is done are queued here, and all those queued
 * run in one callback of the real loop, each in its own context, in order. Errors go to the
 * loop's exception handler, as asyncio's Handle sends them; SystemExit and KeyboardInterrupt
 * propagate and leave the callbacks not yet run queued for the next run. Unlike the Python
 * relay, it keeps the contexts only its queue holds untracked by the collector (see
 * owned_by_queue), and the futures it makes (below).
 *
 * Futures untracked. create_future untracks the future it makes: a program that sends a
 * million records before awaiting any holds a million pending futures, and each full
 * collection walked them all (a quarter of scenario 1's CPU, and its loop's p99 lag). A
 * future that succeeds holds its loop and a RecordMetadata (a tuple of a str and ints) and,
 * once done, no callbacks: it cannot be part of a cycle. One that fails or is cancelled
 * holds an exception whose traceback may hold a frame holding the future: it is tracked
 * again when the producer fails it (aioproducer._speedups.track), when a callback is
 * scheduled for it cancelled (here), and when its batch settles and finds it done (settle).
 * A done future that only the queue holds is walked by the relay's traverse as the relay's
 * own, as an untracked context is (a relay dropped with callbacks queued is collected). What
 * is left: a pending future with callbacks, in a cycle that becomes garbage before the future
 * is settled (a producer dropped unclosed, with its loop, while a task awaited a record), is
 * not collected.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

int add_callback_relay(PyObject *module);

/* A queued callback: callback(argument) to run in context. */
typedef struct {
    PyObject *callback, *argument, *context;
} Entry;

/* The callbacks queued for the next run, in order (the relay owns their references). */
typedef struct {
    Entry *items;
    Py_ssize_t size, capacity;
} Queue;

typedef struct {
    PyObject_HEAD
    PyObject *loop;
    PyObject *future_type;
    PyObject *init_kwargs; /* {"loop": self}, what create_future passes the future type */
    Queue pending;
    /* Bound get_debug and call_soon, made once: a future asks for the first when it is made
       and for the second when it schedules a callback; a type with its own getattro gets no
       unbound-method shortcut, so each ask would otherwise make a bound method. */
    PyObject *bound_get_debug;
    PyObject *bound_call_soon;
    int scheduled;
    int debug_attribute; /* the loop's get_debug() is asyncio's: read loop._debug instead */
} RelayObject;

/*
 * Contexts held only by the queue are untracked by the garbage collector.
 *
 * A future that is done when a callback is added (gather adds one to each future it is given)
 * schedules the callback at once, with a new copy of the current context that only the queue
 * will hold. Gathering many done futures queues as many contexts before any runs, and each
 * full collection would walk them all: most of the collector's time in a gather of a million
 * futures. Such a context (the caller's reference its only one, so no other object can hold
 * it) is untracked while queued; the relay's traverse walks its references as the relay's
 * own, so a cycle through a context variable is still found, and it is tracked again before
 * the queue lets it go (CPython requires a context to be tracked when it is freed). A context
 * someone else holds stays tracked.
 */
static int
owned_by_queue(PyObject *object)
{
    return PyObject_IS_GC(object) && !PyObject_GC_IsTracked(object) && Py_REFCNT(object) == 1;
}

/* Append callback(argument) in context, taking new references to callback and argument and
   the caller's reference to context; -1 on MemoryError (the context's reference kept). */
static int
queue_push(Queue *queue, PyObject *callback, PyObject *argument, PyObject *context)
{
    if (queue->size == queue->capacity) {
        Py_ssize_t capacity = queue->capacity < 64 ? 64 : queue->capacity * 2;
        Entry *items = PyMem_Realloc(queue->items, (size_t)capacity * sizeof(Entry));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        queue->items = items;
        queue->capacity = capacity;
    }
    /* Held by the caller of call_soon at most (a future drops it when call_soon returns) and
       by the queue: untracked, the queue will hold it alone. Were the caller to keep it, the
       traverse would see it shared and leave it be, and it would be tracked again when the
       queue lets it go. */
    if (PyContext_CheckExact(context) && Py_REFCNT(context) <= 2 &&
        PyObject_GC_IsTracked(context)) {
        PyObject_GC_UnTrack(context);
    }
    Entry *entry = &queue->items[queue->size++];
    entry->callback = Py_NewRef(callback);
    entry->argument = Py_NewRef(argument);
    entry->context = context;
    return 0;
}

/* Drop an entry's references, tracking its context again first. */
static void
entry_release(Entry *entry)
{
    if (!PyObject_GC_IsTracked(entry->context)) {
        PyObject_GC_Track(entry->context);
    }
    Py_DECREF(entry->callback);
    Py_DECREF(entry->argument);
    Py_DECREF(entry->context);
}

/* Release entries[first:] of a queue taken out of its relay, and its memory. */
static void
queue_release(Queue *queue, Py_ssize_t first)
{
    for (Py_ssize_t i = first; i < queue->size; i++) {
        entry_release(&queue->items[i]);
    }
    PyMem_Free(queue->items);
    *queue = (Queue){NULL, 0, 0};
}

/* The relay's queue, handed over (the relay's own is empty afterwards). */
static Queue
queue_take(RelayObject *self)
{
    Queue taken = self->pending;
    self->pending = (Queue){NULL, 0, 0};
    return taken;
}

static PyTypeObject RelayType;
static PyObject *empty_tuple;
static PyObject *get_debug_name;        /* interned "get_debug" */
static PyObject *debug_attribute_name;  /* interned "_debug" */
static PyObject *call_soon_name;        /* interned "call_soon" */
static PyObject *context_name;          /* interned "context" */
static PyObject *cancelled_name;        /* interned "cancelled" */
static PyObject *future_loop_name;      /* interned "_loop" */
static PyObject *loop_name;             /* interned "loop" */
static PyObject *asyncio_get_debug;     /* asyncio.BaseEventLoop.get_debug */

/* A future asks its loop for get_debug() each time it is made, and asyncio's is a Python
   method returning self._debug: called from C it costs several times the future itself.
   For a loop whose get_debug is asyncio's, the relay reads the attribute. */
static int
uses_asyncio_get_debug(PyObject *loop)
{
    PyObject *method = PyObject_GetAttr((PyObject *)Py_TYPE(loop), get_debug_name);
    if (method == NULL) {
        PyErr_Clear();
        return 0;
    }
    int same = method == asyncio_get_debug;
    Py_DECREF(method);
    return same;
}

/* The error being raised, taken out and put back (PyErr_Fetch is deprecated from 3.12). */
#if PY_VERSION_HEX >= 0x030C0000
typedef PyObject *SavedError;
static SavedError save_error(void) { return PyErr_GetRaisedException(); }
static void restore_error(SavedError error) { PyErr_SetRaisedException(error); }
#else
typedef struct {
    PyObject *type, *value, *traceback;
} SavedError;
static SavedError
save_error(void)
{
    SavedError error;
    PyErr_Fetch(&error.type, &error.value, &error.traceback);
    PyErr_NormalizeException(&error.type, &error.value, &error.traceback);
    if (error.value != NULL && error.traceback != NULL) {
        PyException_SetTraceback(error.value, error.traceback);
    }
    return error;
}
static void restore_error(SavedError error) { PyErr_Restore(error.type, error.value, error.traceback); }
#endif

/* The exception being raised, cleared (its traceback attached), or NULL. */
static PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return save_error();
#else
    SavedError error = save_error();
    Py_XDECREF(error.type);
    Py_XDECREF(error.traceback);
    return error.value;
#endif
}

static int
relay_traverse(RelayObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->loop);
    Py_VISIT(self->future_type);
    Py_VISIT(self->init_kwargs);
    Py_VISIT(self->bound_get_debug);
    Py_VISIT(self->bound_call_soon);
    for (Py_ssize_t i = 0; i < self->pending.size; i++) {
        Entry *entry = &self->pending.items[i];
        Py_VISIT(entry->callback);
        if (owned_by_queue(entry->argument)) {
            /* an untracked future (see "Futures untracked") only the queue holds: its
               references, its relay among them, are the relay's */
            int failed = Py_TYPE(entry->argument)->tp_traverse(entry->argument, visit, arg);
            if (failed) {
                return failed;
            }
        }
        else {
            Py_VISIT(entry->argument);
        }
        if (owned_by_queue(entry->context)) {
            /* an untracked context only the queue holds: its references are the relay's */
            int failed = Py_TYPE(entry->context)->tp_traverse(entry->context, visit, arg);
            if (failed) {
                return failed;
            }
        }
        else {
            Py_VISIT(entry->context);
        }
    }
    return 0;
}

static int
relay_clear(RelayObject *self)
{
    Queue pending = queue_take(self);
    queue_release(&pending, 0);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->future_type);
    Py_CLEAR(self->init_kwargs);
    Py_CLEAR(self->bound_get_debug);
    Py_CLEAR(self->bound_call_soon);
    return 0;
}

static void
relay_dealloc(RelayObject *self)
{
    PyObject_GC_UnTrack(self);
    relay_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
relay_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *loop, *future_type;
    static char *names[] = {"loop", "future_type", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:CallbackRelay", names, &loop,
                                     &future_type)) {
        return NULL;
    }
    RelayObject *self = (RelayObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(loop);
    self->loop = loop;
    Py_INCREF(future_type);
    self->future_type = future_type;
    self->debug_attribute = uses_asyncio_get_debug(loop);
    self->init_kwargs = PyDict_New();
    if (self->init_kwargs == NULL ||
        PyDict_SetItemString(self->init_kwargs, "loop", (PyObject *)self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Ask the real loop to run self._run soon. */
static int
schedule(RelayObject *self)
{
    PyObject *run = PyObject_GetAttrString((PyObject *)self, "_run");
    if (run == NULL) {
        return -1;
    }
    PyObject *handle = PyObject_CallMethodOneArg(self->loop, call_soon_name, run);
    Py_DECREF(run);
    if (handle == NULL) {
        return -1;
    }
    Py_DECREF(handle);
    self->scheduled = 1;
    return 0;
}

static PyObject *
relay_create_future(RelayObject *self, PyObject *unused)
{
    PyObject *future = PyObject_Call(self->future_type, empty_tuple, self->init_kwargs);
    if (future != NULL && PyObject_IS_GC(future) && PyObject_GC_IsTracked(future)) {
        PyObject_GC_UnTrack(future); /* see "Futures untracked" above */
    }
    return future;
}

/* A future of ours that a callback is being scheduled for: tracked again if cancelled (its
   CancelledError, once raised, may hold a frame that holds the future). */
static int
track_if_cancelled(RelayObject *self, PyObject *future)
{
    if (!PyObject_IS_GC(future) || PyObject_GC_IsTracked(future) ||
        !PyType_Check(self->future_type) ||
        !PyObject_TypeCheck(future, (PyTypeObject *)self->future_type)) {
        return 0;
    }
    PyObject *cancelled = PyObject_CallMethodNoArgs(future, cancelled_name);
    int is_cancelled = cancelled == NULL ? -1 : PyObject_IsTrue(cancelled);
    Py_XDECREF(cancelled);
    if (is_cancelled > 0) {
        PyObject_GC_Track(future);
    }
    return is_cancelled < 0 ? -1 : 0;
}

static PyObject *
relay_call_soon(RelayObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *context = Py_None;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nkw > 1 ||
        (nkw == 1 && PyTuple_GET_ITEM(kwnames, 0) != context_name &&
         PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "context") != 0)) {
        PyErr_SetString(PyExc_TypeError, "call_soon() takes only the keyword 'context'");
        return NULL;
    }
    if (nkw == 1) {
        context = args[nargs];
    }
    if (nargs != 2) {
        /* not a future's callback: the real loop's call_soon, unchanged */
        PyObject *call_soon = PyObject_GetAttr(self->loop, call_soon_name);
        if (call_soon == NULL) {
            return NULL;
        }
        PyObject *handle = PyObject_Vectorcall(call_soon, args, (size_t)nargs, kwnames);
        Py_DECREF(call_soon);
        return handle; /* the loop's Handle, as the caller would get from the loop */
    }
    if (track_if_cancelled(self, args[1]) < 0) {
        return NULL;
    }
    if (context == Py_None) {
        context = PyContext_CopyCurrent();
        if (context == NULL) {
            return NULL;
        }
    }
    else {
        Py_INCREF(context);
    }
    if (queue_push(&self->pending, args[0], args[1], context) < 0) {
        Py_DECREF(context);
        return NULL;
    }
    if (!self->scheduled && schedule(self) < 0) {
        SavedError error = save_error();
        Entry last = self->pending.items[--self->pending.size];
        entry_release(&last);
        restore_error(error);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
relay_get_debug(RelayObject *self, PyObject *unused)
{
    if (self->debug_attribute) {
        return PyObject_GetAttr(self->loop, debug_attribute_name);
    }
    return PyObject_CallMethodNoArgs(self->loop, get_debug_name);
}

/* Report the error a callback raised (it is set) to the loop's exception handler. */
static void
report(RelayObject *self, PyObject *callback, PyObject *argument)
{
    PyObject *exception = take_exception();
    PyObject *message = PyUnicode_FromFormat("Exception in callback %R(%R)", callback, argument);
    PyObject *context = message == NULL ? NULL
                                        : Py_BuildValue("{sOsOsO}", "message", message,
                                                        "exception",
                                                        exception ? exception : Py_None,
                                                        "future", argument);
    Py_XDECREF(message);
    Py_XDECREF(exception);
    PyObject *result = context == NULL ? NULL
                                       : PyObject_CallMethod(self->loop, "call_exception_handler",
                                                             "O", context);
    Py_XDECREF(context);
    if (result == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    Py_XDECREF(result);
}

/* Put batch's entries [first:] back in front of the queue, keeping the error that is set;
   the batch's memory is freed, its other entries released. */
static void
requeue(RelayObject *self, Queue *batch, Py_ssize_t first)
{
    SavedError error = save_error();
    Py_ssize_t rest = batch->size - first;
    if (rest > 0) {
        Queue *pending = &self->pending;
        Entry *items = PyMem_Malloc((size_t)(rest + pending->size) * sizeof(Entry));
        if (items == NULL) {
            PyErr_NoMemory();
            PyErr_WriteUnraisable((PyObject *)self);
        }
        else {
            memcpy(items, batch->items + first, (size_t)rest * sizeof(Entry));
            if (pending->size > 0) {
                memcpy(items + rest, pending->items, (size_t)pending->size * sizeof(Entry));
            }
            PyMem_Free(pending->items);
            pending->items = items;
            pending->size = pending->capacity = rest + pending->size;
            batch->size = first; /* the moved entries are the queue's now */
            if (!self->scheduled && schedule(self) < 0) {
                PyErr_WriteUnraisable((PyObject *)self);
            }
        }
    }
    queue_release(batch, first);
    restore_error(error);
}

static PyObject *
relay_run(RelayObject *self, PyObject *unused)
{
    Queue batch = queue_take(self);
    self->scheduled = 0;
    for (Py_ssize_t i = 0; i < batch.size; i++) {
        Entry *entry = &batch.items[i];
        PyObject *result = NULL;
        if (PyContext_Enter(entry->context) == 0) {
            result = PyObject_CallOneArg(entry->callback, entry->argument);
            if (PyContext_Exit(entry->context) < 0) {
                Py_CLEAR(result);
            }
        }
        if (result != NULL) {
            Py_DECREF(result);
        }
        else if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
                 PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            entry_release(entry);
            requeue(self, &batch, i + 1);
            return NULL;
        }
        else {
            report(self, entry->callback, entry->argument);
        }
        entry_release(entry);
    }
    batch.size = 0; /* every entry is released */
    queue_release(&batch, 0);
    Py_RETURN_NONE;
}

static PyObject *
relay_getattro(PyObject *self, PyObject *name)
{
    RelayObject *relay = (RelayObject *)self;
    PyObject **bound = name == get_debug_name   ? &relay->bound_get_debug
                       : name == call_soon_name ? &relay->bound_call_soon
                                                : NULL;
    if (bound != NULL) {
        if (*bound == NULL) {
            *bound = PyObject_GenericGetAttr(self, name);
        }
        return Py_XNewRef(*bound);
    }
    PyObject *value = PyObject_GenericGetAttr(self, name);
    if (value != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return value;
    }
    PyErr_Clear();
    return PyObject_GetAttr(((RelayObject *)self)->loop, name);
}

/* RecordFuture.get_loop: the loop its relay serves, or its loop when that is no relay of
   ours (a Python relay: its ``loop`` attribute; a plain loop: the loop). A task asks it of
   each future it awaits, and gather of each future it is given: in Python, a frame each. */
static PyObject *
record_future_get_loop(PyObject *future, PyObject *unused)
{
    PyObject *loop = PyObject_GetAttr(future, future_loop_name);
    if (loop == NULL) {
        return NULL;
    }
    if (Py_IS_TYPE(loop, &RelayType)) {
        PyObject *real = ((RelayObject *)loop)->loop;
        Py_DECREF(loop);
        if (real == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "the future's relay was cleared");
            return NULL;
        }
        return Py_NewRef(real);
    }
    PyObject *real = PyObject_GetAttr(loop, loop_name);
    if (real != NULL) {
        Py_DECREF(loop);
        return real;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        Py_DECREF(loop);
        return NULL;
    }
    PyErr_Clear();
    return loop;
}

static PyMethodDef record_future_get_loop_def = {
    "get_loop", (PyCFunction)record_future_get_loop, METH_NOARGS,
    "The event loop the future's relay serves (not the relay itself); made with a plain\n"
    "loop, that loop.",
};

static PyMethodDef relay_methods[] = {
    {"create_future", (PyCFunction)relay_create_future, METH_NOARGS,
     "A new pending future whose callbacks this relay runs."},
    {"call_soon", (PyCFunction)(void (*)(void))relay_call_soon, METH_FASTCALL | METH_KEYWORDS,
     "Queue callback(future) to run in context (a copy of the current one if None) in the\n"
     "relay's next run (returns None); any other call is the real loop's call_soon (returns\n"
     "its Handle)."},
    {"get_debug", (PyCFunction)relay_get_debug, METH_NOARGS, "The real loop's debug flag."},
    {"_run", (PyCFunction)relay_run, METH_NOARGS,
     "Run the callbacks queued so far (those queued meanwhile wait for the next run)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef relay_members[] = {
    {"loop", T_OBJECT, offsetof(RelayObject, loop), READONLY, "The real event loop."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RelayType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aioproducer._speedups.CallbackRelay",
    .tp_basicsize = sizeof(RelayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "CallbackRelay(loop, future_type): the loop of a RecordFuture; it runs the\n"
              "callbacks futures schedule in batches (aioproducer._futures documents it).",
    .tp_new = relay_new,
    .tp_dealloc = (destructor)relay_dealloc,
    .tp_traverse = (traverseproc)relay_traverse,
    .tp_clear = (inquiry)relay_clear,
    .tp_getattro = relay_getattro,
    .tp_methods = relay_methods,
    .tp_members = relay_members,
};

int
add_callback_relay(PyObject *module)
{
    empty_tuple = PyTuple_New(0);
    get_debug_name = PyUnicode_InternFromString("get_debug");
    debug_attribute_name = PyUnicode_InternFromString("_debug");
    call_soon_name = PyUnicode_InternFromString("call_soon");
    context_name = PyUnicode_InternFromString("context");
    cancelled_name = PyUnicode_InternFromString("cancelled");
    future_loop_name = PyUnicode_InternFromString("_loop");
    loop_name = PyUnicode_InternFromString("loop");
    if (empty_tuple == NULL || get_debug_name == NULL || debug_attribute_name == NULL ||
        call_soon_name == NULL || context_name == NULL || cancelled_name == NULL ||
        future_loop_name == NULL || loop_name == NULL) {
        return -1;
    }
    PyObject *base_events = PyImport_ImportModule("asyncio.base_events");
    PyObject *base_loop =
        base_events == NULL ? NULL : PyObject_GetAttrString(base_events, "BaseEventLoop");
    Py_XDECREF(base_events);
    asyncio_get_debug = base_loop == NULL ? NULL : PyObject_GetAttr(base_loop, get_debug_name);
    Py_XDECREF(base_loop);
    if (asyncio_get_debug == NULL || PyType_Ready(&RelayType) < 0) {
        return -1;
    }
    Py_INCREF(&RelayType);
    if (PyModule_AddObject(module, "CallbackRelay", (PyObject *)&RelayType) < 0) {
        Py_DECREF(&RelayType);
        return -1;
    }
    /* a method of asyncio.Future (so it binds to a RecordFuture as get_loop) */
    PyObject *asyncio = PyImport_ImportModule("asyncio");
    PyObject *future_type = asyncio == NULL ? NULL : PyObject_GetAttrString(asyncio, "Future");
    Py_XDECREF(asyncio);
    if (future_type == NULL || !PyType_Check(future_type)) {
        Py_XDECREF(future_type);
        return -1;
    }
    PyObject *get_loop = PyDescr_NewMethod((PyTypeObject *)future_type, &record_future_get_loop_def);
    Py_DECREF(future_type);
    if (get_loop == NULL || PyModule_AddObject(module, "record_future_get_loop", get_loop) < 0) {
        Py_XDECREF(get_loop);
        return -1;
    }
    return 0;
}
