/*
 * CallbackRelay: the C twin of aioproducer.futures.CallbackRelay (the reference; tests hold
 * the two to the same behaviour). A RecordFuture is an asyncio.Future whose loop is a relay:
 * the callbacks the future schedules when it is done are queued here, and all those queued
 * run in one callback of the real loop, each in its own context, in order. Errors go to the
 * loop's exception handler, as asyncio's Handle sends them; SystemExit and KeyboardInterrupt
 * propagate and leave the callbacks not yet run queued for the next run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

int add_callback_relay(PyObject *module);

typedef struct {
    PyObject_HEAD
    PyObject *loop;
    PyObject *future_type;
    PyObject *init_kwargs; /* {"loop": self}, what create_future passes the future type */
    PyObject *pending;     /* flat list: callback, argument, context, callback, ... */
    int scheduled;
    int debug_attribute; /* the loop's get_debug() is asyncio's: read loop._debug instead */
} RelayObject;

static PyObject *empty_tuple;
static PyObject *get_debug_name;        /* interned "get_debug" */
static PyObject *debug_attribute_name;  /* interned "_debug" */
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
    Py_VISIT(self->pending);
    return 0;
}

static int
relay_clear(RelayObject *self)
{
    Py_CLEAR(self->loop);
    Py_CLEAR(self->future_type);
    Py_CLEAR(self->init_kwargs);
    Py_CLEAR(self->pending);
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
    self->pending = PyList_New(0);
    self->init_kwargs = PyDict_New();
    if (self->pending == NULL || self->init_kwargs == NULL ||
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
    PyObject *handle = PyObject_CallMethod(self->loop, "call_soon", "O", run);
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
    return PyObject_Call(self->future_type, empty_tuple, self->init_kwargs);
}

static PyObject *
relay_call_soon(RelayObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *context = Py_None;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nkw > 1 || (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                                                   "context") != 0)) {
        PyErr_SetString(PyExc_TypeError, "call_soon() takes only the keyword 'context'");
        return NULL;
    }
    if (nkw == 1) {
        context = args[nargs];
    }
    if (nargs != 2) {
        /* not a future's callback: the real loop's call_soon, unchanged */
        PyObject *call_soon = PyObject_GetAttrString(self->loop, "call_soon");
        if (call_soon == NULL) {
            return NULL;
        }
        PyObject *result = PyObject_Vectorcall(call_soon, args, (size_t)nargs, kwnames);
        Py_DECREF(call_soon);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
        Py_RETURN_NONE;
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
    Py_ssize_t size = PyList_GET_SIZE(self->pending);
    int failed = PyList_Append(self->pending, args[0]) < 0 ||
                 PyList_Append(self->pending, args[1]) < 0 ||
                 PyList_Append(self->pending, context) < 0;
    Py_DECREF(context);
    if (!failed && !self->scheduled && schedule(self) < 0) {
        failed = 1;
    }
    if (failed) {
        SavedError error = save_error();
        PyList_SetSlice(self->pending, size, PyList_GET_SIZE(self->pending), NULL);
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

/* Put batch[first:] back in front of the queue, keeping the error that is set. */
static void
requeue(RelayObject *self, PyObject *batch, Py_ssize_t first)
{
    SavedError error = save_error();
    Py_ssize_t size = PyList_GET_SIZE(batch);
    if (first < size) {
        PyObject *rest = PyList_GetSlice(batch, first, size);
        if (rest == NULL || PyList_SetSlice(self->pending, 0, 0, rest) < 0 ||
            (!self->scheduled && schedule(self) < 0)) {
            PyErr_WriteUnraisable((PyObject *)self);
        }
        Py_XDECREF(rest);
    }
    restore_error(error);
}

static PyObject *
relay_run(RelayObject *self, PyObject *unused)
{
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *batch = self->pending;
    self->pending = fresh;
    self->scheduled = 0;
    Py_ssize_t size = PyList_GET_SIZE(batch);
    for (Py_ssize_t i = 0; i + 2 < size; i += 3) {
        PyObject *callback = PyList_GET_ITEM(batch, i);
        PyObject *argument = PyList_GET_ITEM(batch, i + 1);
        PyObject *context = PyList_GET_ITEM(batch, i + 2);
        PyObject *result = NULL;
        if (PyContext_Enter(context) == 0) {
            result = PyObject_CallOneArg(callback, argument);
            if (PyContext_Exit(context) < 0) {
                Py_CLEAR(result);
            }
        }
        if (result != NULL) {
            Py_DECREF(result);
            continue;
        }
        if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
            PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            requeue(self, batch, i + 3);
            Py_DECREF(batch);
            return NULL;
        }
        report(self, callback, argument);
    }
    Py_DECREF(batch);
    Py_RETURN_NONE;
}

static PyObject *
relay_getattro(PyObject *self, PyObject *name)
{
    PyObject *value = PyObject_GenericGetAttr(self, name);
    if (value != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return value;
    }
    PyErr_Clear();
    return PyObject_GetAttr(((RelayObject *)self)->loop, name);
}

static PyMethodDef relay_methods[] = {
    {"create_future", (PyCFunction)relay_create_future, METH_NOARGS,
     "A new pending future whose callbacks this relay runs."},
    {"call_soon", (PyCFunction)(void (*)(void))relay_call_soon, METH_FASTCALL | METH_KEYWORDS,
     "Queue callback(future) to run in context (a copy of the current one if None) in the\n"
     "relay's next run; any other call is the real loop's call_soon."},
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
              "callbacks futures schedule in batches (aioproducer.futures documents it).",
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
    if (empty_tuple == NULL || get_debug_name == NULL || debug_attribute_name == NULL) {
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
    return 0;
}
