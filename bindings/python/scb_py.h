/*
 * Python side of the binding glue: Python callables as the transport and
 * as the trace hook of a card (see bindings/scb_bind.h). The functions are
 * called with the GIL held; the callbacks take it again themselves, since
 * card I/O runs with the GIL released.
 */
#ifndef SCB_PY_H
#define SCB_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "scb_bind.h"

typedef struct scb_py_card scb_py_card_t;
typedef struct scb_py_callback scb_py_callback_t;
typedef struct scb_py_trace scb_py_trace_t;

/* A card handle as Python holds it: the C handle and a lock that keeps it
 * to one call at a time (scboot.h: one thread per handle). Each wrapped
 * call on the card takes the lock (waiting without the GIL when another
 * thread has it), which is cheaper than a Python-level lock around the
 * call; a callback of the card that calls the card again (a deadlock
 * otherwise) gets scboot.StateError. */
/* Takes ownership of handle (freed on failure too). NULL with an error set. */
scb_py_card_t *scb_py_card_new(scb_card_t *handle);
/* Free the C handle (after any call in flight); later calls raise
 * scboot.StateError. Safe twice. -1 with an error set when called from
 * the card's own callback. */
int scb_py_card_close(scb_py_card_t *c);
/* close, then free c (the Python object's destructor). */
void scb_py_card_delete(scb_py_card_t *c);
/* The C handle for one call, with the lock taken (c NULL: a closed card).
 * NULL with an error set. */
scb_card_t *scb_py_card_acquire(scb_py_card_t *c);
void scb_py_card_release(scb_py_card_t *c);
/* The C handle without the lock, for getters of const state (NULL when
 * closed: the getters return their empty value). */
scb_card_t *scb_py_card_peek(scb_py_card_t *c);

/* A transport calling fn(command: bytes) -> bytes (data + SW1 SW2).
 * flags: SCB_TP_*. NULL with a Python error set on failure. */
scb_py_callback_t *scb_py_callback_new(PyObject *fn, unsigned flags);
void scb_py_callback_free(scb_py_callback_t *cb);
/* The card handle over cb (cb must outlive it). */
int scb_py_card_open_callback(scb_card_t **out, scb_py_callback_t *cb);
/* The exception the function raised (or the error in its result) since
 * the last call, or None; the callback forgets it. */
PyObject *scb_py_callback_take_error(scb_py_callback_t *cb);

/* A trace hook calling fn(kind: int, line: str); exceptions in fn are
 * reported as unraisable (they cannot abort the card operation). */
scb_py_trace_t *scb_py_trace_new(PyObject *fn);
void scb_py_trace_free(scb_py_trace_t *t);
/* Install t on card (t None: remove the hook). */
int scb_py_card_set_trace(scb_card_t *card, scb_py_trace_t *t);

#endif /* SCB_PY_H */
