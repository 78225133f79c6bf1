/*
 * aioproducer/_cext/cext.h: what the hand-written C offers the module aioproducer._speedups
 * (compiled from aioproducer/_speedups.pyx, which calls these at its import).
 */
#ifndef AIOPRODUCER_CEXT_H
#define AIOPRODUCER_CEXT_H

#include <Python.h>

/* relay.c: add the type CallbackRelay to module; -1 with an exception set on failure */
int add_callback_relay(PyObject *module);

/* fastsend.c: add the types FastSend and Ready to module; -1 with an exception set on failure */
int add_fast_send(PyObject *module);

#endif
