# cython: language_level=3
"""The callback relay written in Cython: the candidate measured against the hand-written C one
(aioproducer/_cext/relay.c) by ``python -m benchmarks.relay_bench``. Same behaviour as
:class:`aioproducer._futures.CallbackRelay`; the queue is a list of (callback, argument,
context) tuples, so it has no way to keep the contexts only it holds away from the collector.
"""

import asyncio

from cpython.contextvars cimport PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit

cdef object _MISSING = object()
cdef object _asyncio_get_debug = asyncio.BaseEventLoop.get_debug


cdef class CallbackRelay:
    cdef readonly object loop
    cdef object _future_type
    cdef list _pending
    cdef bint _scheduled
    cdef bint _debug_attribute
    cdef object _run_method

    def __init__(self, loop, future_type):
        self.loop = loop
        self._future_type = future_type
        self._pending = []
        self._debug_attribute = getattr(type(loop), "get_debug", None) is _asyncio_get_debug
        self._run_method = self._run

    def create_future(self):
        return self._future_type(loop=self)

    def call_soon(self, callback, argument=_MISSING, *args, context=None):
        if argument is _MISSING or args:
            if argument is not _MISSING:
                args = (argument, *args)
            return self.loop.call_soon(callback, *args, context=context)
        if context is None:
            context = PyContext_CopyCurrent()
        self._pending.append((callback, argument, context))
        if not self._scheduled:
            try:
                self._schedule()
            except BaseException:
                del self._pending[-1]
                raise
        return None

    def get_debug(self):
        if self._debug_attribute:
            return self.loop._debug
        return self.loop.get_debug()

    def __getattr__(self, name):
        return getattr(self.loop, name)

    def _run(self):
        cdef list pending = self._pending
        cdef Py_ssize_t index, count = len(pending)
        cdef tuple entry
        self._pending = []
        self._scheduled = False
        for index in range(count):
            entry = <tuple>pending[index]
            callback, argument, context = entry
            try:
                PyContext_Enter(context)
                try:
                    callback(argument)
                finally:
                    PyContext_Exit(context)
            except (SystemExit, KeyboardInterrupt):
                self._requeue(pending[index + 1:])
                raise
            except BaseException as exc:
                self.loop.call_exception_handler(
                    {
                        "message": f"Exception in callback {callback!r}({argument!r})",
                        "exception": exc,
                        "future": argument,
                    }
                )

    cdef _requeue(self, list rest):
        if not rest:
            return
        self._pending[:0] = rest
        if not self._scheduled:
            self._schedule()

    cdef _schedule(self):
        self.loop.call_soon(self._run_method)
        self._scheduled = True
