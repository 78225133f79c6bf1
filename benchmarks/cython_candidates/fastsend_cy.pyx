# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""FastSend and Ready written in Cython: the candidate measured against the hand-written C
ones (aioproducer/_cext/fastsend.c) by ``python -m benchmarks.send_bench --cython``. The same
fast path, step for step: send(topic, value, key) by position or keyword (partition,
timestamp_ms, headers and on_delivery only as None), the thread and loop check, the size
bound, the cached route, the accumulator's room and append through its C API
(``_caccumulate_api.h``), Java's murmur2 (the C of ``_cext/encode.h``), the future, the
wakeup and the yield cadence (a pausing Ready every batch_size bytes, and after a record that
opened a batch behind a full one). Every other call goes to the Python ``send``.

Written for speed: final classes with typed attributes, borrowed references for the dict,
tuple and list items (as the C takes them), a Ready the collector does not track (as the
C's), made with ``Ready.__new__`` (the type's tp_new: no ``__init__``). Two ways to install
it: ``FastSend(...).send`` (a bound method of a cdef class: Cython's METH_FASTCALL argument
parser, called by vectorcall; ``binding(False)`` makes it a builtin method, one hop
shorter than a bound cyfunction) or the instance itself (``__call__``: tp_call, an args tuple
and a kwargs dict per call; Cython 3.3 gives a cdef class no vectorcall of its own).
"""

cimport cython
from cpython.object cimport PyObject
from cpython.pythread cimport PyThread_get_thread_ident
from libc.stdint cimport int32_t, int64_t, uint32_t
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from aioproducer._caccumulate import Appender as _Appender


cdef extern from "_cext/encode.h":
    int32_t c_murmur2 "murmur2" (const unsigned char *data, Py_ssize_t length)


cdef extern from "_caccumulate_api.h":
    int import_aioproducer___caccumulate() except -1
    int appender_room(object appender, Py_ssize_t nbytes) except -1
    int appender_append(
        object appender, object tp, int64_t timestamp_ms, object key, object value,
        object completion,
    ) except -1


cdef extern from "Python.h":
    # borrowed references: nothing runs Python code between the lookup and the use
    PyObject *PyDict_GetItemWithError(object d, object key) except? NULL
    bint PyTuple_CheckExact(PyObject *obj)
    Py_ssize_t PyTuple_GET_SIZE(PyObject *obj)
    PyObject *PyTuple_GET_ITEM(PyObject *obj, Py_ssize_t index)
    bint PyList_CheckExact(PyObject *obj)
    Py_ssize_t PyList_GET_SIZE(PyObject *obj)
    PyObject *PyList_GET_ITEM(PyObject *obj, Py_ssize_t index)
    Py_ssize_t PyBytes_GET_SIZE(object obj)
    char *PyBytes_AS_STRING(object obj)


import_aioproducer___caccumulate()

cdef enum:  # what Appender.append did (AppendResult's values)
    APPENDED = 0
    NEW_BATCH_FULL = 3


@cython.final
@cython.auto_pickle(False)
@cython.no_gc
cdef class Ready:
    """Ready(value): awaiting it gives ``value`` at once (a pausing one yields None first)."""

    cdef object value
    cdef bint spent
    cdef bint pause

    def __init__(self, value):
        self.value = value

    cdef inline object _take(self):
        if self.spent:
            raise RuntimeError("cannot reuse already awaited send()")
        self.spent = True
        value = self.value
        self.value = None
        return value

    cdef inline bint _pauses(self):
        if self.pause and not self.spent:
            self.pause = False
            return True
        return False

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        if self._pauses():
            return None
        raise StopIteration(self._take())

    def send(self, arg):
        if self._pauses():
            return None
        raise StopIteration(self._take())

    def throw(self, typ, val=None, tb=None):
        self.spent = True
        self.value = None
        if isinstance(typ, BaseException):
            raise typ
        if isinstance(typ, type) and issubclass(typ, BaseException):
            raise typ if val is None else typ(val)
        raise TypeError("throw() takes an exception or an exception type")

    def close(self):
        self.spent = True
        self.value = None


cdef inline int64_t _wall_clock_ms() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_REALTIME, &now)
    return <int64_t>now.tv_sec * 1000 + <int64_t>(now.tv_nsec // 1000000)


@cython.final
@cython.auto_pickle(False)
cdef class FastSend:
    """FastSend(send, create_future, routes, topics, accumulator, wakeup_for,
    max_record_size, batch_size, record_bound, loop_running, thread)."""

    cdef object _send
    cdef object _create_future
    cdef dict _routes
    cdef dict _topics
    cdef object _accumulator
    cdef object _wakeup_for
    cdef object _loop_running
    cdef Py_ssize_t _max_record_size
    cdef Py_ssize_t _batch_size
    cdef Py_ssize_t _record_bound
    cdef Py_ssize_t _unyielded
    cdef unsigned long _thread

    def __init__(
        self, send, create_future, dict routes not None, dict topics not None, accumulator,
        wakeup_for, Py_ssize_t max_record_size, Py_ssize_t batch_size,
        Py_ssize_t record_bound, loop_running, unsigned long thread,
    ):
        if record_bound < 0:
            raise ValueError("FastSend: record_bound must not be negative")
        if not isinstance(accumulator, _Appender):
            raise TypeError(
                f"FastSend: the accumulator must be an Appender, not {type(accumulator)!r}"
            )
        self._send = send
        self._create_future = create_future
        self._routes = routes
        self._topics = topics
        self._accumulator = accumulator
        self._wakeup_for = wakeup_for
        self._max_record_size = max_record_size
        self._batch_size = batch_size
        self._record_bound = record_bound
        self._unyielded = 0
        self._loop_running = loop_running
        self._thread = thread

    cdef inline object _fast(self, object topic, object value, object key):
        """The call taken here, as a Ready; None when it is not this case."""
        cdef PyObject *route
        cdef PyObject *info
        cdef PyObject *tps
        cdef int64_t size
        cdef uint32_t hash_
        cdef int appended
        cdef bint pause
        cdef Ready ready
        if type(topic) is not str or type(key) is not bytes or (
            value is not None and type(value) is not bytes
        ):
            return None
        if PyThread_get_thread_ident() != self._thread:
            return None
        if self._loop_running() is not True:
            return None
        size = self._record_bound + PyBytes_GET_SIZE(key)
        if value is not None:
            size += PyBytes_GET_SIZE(value)
        if size > self._max_record_size:
            return None
        route = PyDict_GetItemWithError(self._routes, topic)
        if route is NULL or not PyTuple_CheckExact(route) or PyTuple_GET_SIZE(route) != 2:
            return None
        info = PyDict_GetItemWithError(self._topics, topic)
        tps = PyTuple_GET_ITEM(route, 1)
        if (
            info is NULL or info != PyTuple_GET_ITEM(route, 0) or not PyList_CheckExact(tps)
            or PyList_GET_SIZE(tps) < 1
        ):
            return None
        if appender_room(self._accumulator, <Py_ssize_t>size) <= 0:
            return None
        hash_ = (<uint32_t>c_murmur2(
            <const unsigned char *>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)
        )) & 0x7FFFFFFFU
        tp = <object>PyList_GET_ITEM(tps, <Py_ssize_t>(hash_ % <uint32_t>PyList_GET_SIZE(tps)))
        future = self._create_future()
        appended = appender_append(self._accumulator, tp, _wall_clock_ms(), key, value, future)
        if appended != APPENDED:  # as _enqueue: a full or new batch, let the sender know
            self._wakeup_for(tp)
        if appended == NEW_BATCH_FULL:  # behind a full batch: yield, as send()'s _after_fill
            self._unyielded = 0
            pause = True
        else:
            self._unyielded += <Py_ssize_t>size
            pause = self._unyielded >= self._batch_size
            if pause:
                self._unyielded = 0
        ready = Ready.__new__(Ready)
        ready.value = future
        ready.pause = pause
        return ready

    cdef inline object _call(
        self, topic, value, key, partition, timestamp_ms, headers, on_delivery,
    ):
        if (
            key is not None and partition is None and timestamp_ms is None
            and headers is None and on_delivery is None
        ):
            ready = self._fast(topic, value, key)
            if ready is not None:
                return ready
        return self._send(
            topic, value, key, partition=partition, timestamp_ms=timestamp_ms,
            headers=headers, on_delivery=on_delivery,
        )

    @cython.binding(False)  # a builtin method (METH_FASTCALL), not a cyfunction in a method
    def send(
        self, topic, value=None, key=None, *, partition=None, timestamp_ms=None,
        headers=None, on_delivery=None,
    ):
        """The producer's send(): installed as ``FastSend(...).send``."""
        return self._call(topic, value, key, partition, timestamp_ms, headers, on_delivery)

    def __call__(
        self, topic, value=None, key=None, *, partition=None, timestamp_ms=None,
        headers=None, on_delivery=None,
    ):
        """The same as :meth:`send`, installed as the instance itself."""
        return self._call(topic, value, key, partition, timestamp_ms, headers, on_delivery)
