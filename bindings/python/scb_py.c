/*
 * Python callables as a card's transport and trace hook. Card I/O runs
 * with the GIL released (SCB_BLOCKING in scboot.i), so each callback takes
 * the GIL for the duration of the Python call and gives it back.
 */
#include "scb_py.h"

#include <limits.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct scb_py_card {
    scb_card_t *card;           /* NULL once closed */
    PyThread_type_lock lock;
    atomic_ulong owner;         /* thread holding the lock, 0 when free */
};

struct scb_py_callback {
    scb_bind_callback_t base;   /* first: the engine sees this */
    PyObject *fn;
    PyObject *error;            /* exception raised by fn, until taken */
};

struct scb_py_trace {
    scb_bind_trace_t base;      /* first */
    PyObject *fn;
};

/* scboot.StateError (the package's class) with text, RuntimeError when
 * the package cannot be imported. Error paths only. */
static void raise_state(const char *text)
{
    PyObject *mod = PyImport_ImportModule("scboot._errors");
    PyObject *cls = mod != NULL ? PyObject_GetAttrString(mod, "StateError") : NULL;
    Py_XDECREF(mod);
    if (cls == NULL) {
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError, text);
        return;
    }
    PyErr_SetString(cls, text);
    Py_DECREF(cls);
}

scb_py_card_t *scb_py_card_new(scb_card_t *handle)
{
    scb_card_t *card = handle;
    scb_py_card_t *c = calloc(1, sizeof *c);
    PyThread_type_lock lock = PyThread_allocate_lock();
    if (c == NULL || lock == NULL || card == NULL) {
        free(c);
        if (lock != NULL)
            PyThread_free_lock(lock);
        Py_BEGIN_ALLOW_THREADS
        scb_card_free(&card);
        Py_END_ALLOW_THREADS
        PyErr_NoMemory();
        return NULL;
    }
    c->card = card;
    c->lock = lock;
    atomic_init(&c->owner, 0);
    return c;
}

static int take_lock(scb_py_card_t *c)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!PyThread_acquire_lock(c->lock, NOWAIT_LOCK)) {
        /* Only this thread can have stored its own id. */
        if (atomic_load(&c->owner) == me) {
            raise_state("a card's transport or trace callback used that same card "
                        "(it is in the middle of a call)");
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(c->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    atomic_store(&c->owner, me);
    return 0;
}

static void give_lock(scb_py_card_t *c)
{
    atomic_store(&c->owner, 0);
    PyThread_release_lock(c->lock);
}

scb_card_t *scb_py_card_acquire(scb_py_card_t *c)
{
    if (c == NULL) {
        raise_state("the card is closed");
        return NULL;
    }
    if (take_lock(c) != 0)
        return NULL;
    if (c->card == NULL) {
        give_lock(c);
        raise_state("the card is closed");
        return NULL;
    }
    return c->card;
}

void scb_py_card_release(scb_py_card_t *c)
{
    if (c != NULL)
        give_lock(c);
}

scb_card_t *scb_py_card_peek(scb_py_card_t *c)
{
    return c != NULL ? c->card : NULL;
}

int scb_py_card_close(scb_py_card_t *c)
{
    if (c == NULL)
        return 0;
    if (take_lock(c) != 0)
        return -1;
    scb_card_t *card = c->card;
    c->card = NULL;
    if (card != NULL) {
        /* PC/SC disconnects: no GIL needed, nor wanted. */
        Py_BEGIN_ALLOW_THREADS
        scb_card_free(&card);
        Py_END_ALLOW_THREADS
    }
    give_lock(c);
    return 0;
}

void scb_py_card_delete(scb_py_card_t *c)
{
    if (c == NULL)
        return;
    if (scb_py_card_close(c) != 0)
        PyErr_WriteUnraisable(NULL);
    PyThread_free_lock(c->lock);
    free(c);
}

/* Keep the exception being raised so that the binding re-raises it in
 * the caller once the card operation has returned. The first one wins:
 * the engine stops at the first transport failure. */
static void keep_error(scb_py_callback_t *cb)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (cb->error == NULL)
        cb->error = value;
    else
        Py_XDECREF(value);
}

/* A Python transport may raise an exception carrying a transport code
 * (scboot.CardRemovedError etc.): the engine then reacts to that code (a
 * removed card drops its sessions). Anything else is SCB_E_TRANSPORT. */
static long transport_code(PyObject *exc)
{
    long rc = SCB_E_TRANSPORT;
    if (exc == NULL)
        return rc;
    PyObject *code = PyObject_GetAttrString(exc, "code");
    if (code == NULL) {
        PyErr_Clear();
        return rc;
    }
    if (PyLong_Check(code)) {
        long c = PyLong_AsLong(code);
        if (c >= INT_MIN && c <= 0 && scb_error_family((int)c) == SCB_FAMILY_TRANSPORT)
            rc = c;
    }
    PyErr_Clear();
    Py_DECREF(code);
    return rc;
}

static long py_call(scb_bind_callback_t *base, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                    size_t cap)
{
    scb_py_callback_t *cb = (scb_py_callback_t *)base;
    PyGILState_STATE gil = PyGILState_Ensure();
    long n = -1;
    PyObject *arg = PyBytes_FromStringAndSize((const char *)cmd, (Py_ssize_t)cmd_len);
    PyObject *result = arg != NULL ? PyObject_CallOneArg(cb->fn, arg) : NULL;
    Py_XDECREF(arg);
    if (result != NULL) {
        Py_buffer view;
        if (PyObject_GetBuffer(result, &view, PyBUF_SIMPLE) == 0) {
            size_t len = (size_t)view.len;
            memcpy(resp, view.buf, len < cap ? len : cap);
            n = (long)len;
            PyBuffer_Release(&view);
        } else {
            PyErr_Format(PyExc_TypeError,
                         "transport function must return bytes (response data + SW1 SW2), "
                         "not %.100s", Py_TYPE(result)->tp_name);
        }
        Py_DECREF(result);
    }
    if (n < 0) {
        keep_error(cb);
        n = transport_code(cb->error);
    }
    PyGILState_Release(gil);
    return n;
}

scb_py_callback_t *scb_py_callback_new(PyObject *fn, unsigned flags)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "transport must be callable: fn(command: bytes) -> bytes");
        return NULL;
    }
    scb_py_callback_t *cb = PyMem_Calloc(1, sizeof *cb);
    if (cb == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    cb->base.call = py_call;
    cb->base.flags = flags;
    Py_INCREF(fn);
    cb->fn = fn;
    return cb;
}

void scb_py_callback_free(scb_py_callback_t *cb)
{
    if (cb == NULL)
        return;
    Py_CLEAR(cb->fn);
    Py_CLEAR(cb->error);
    PyMem_Free(cb);
}

int scb_py_card_open_callback(scb_card_t **out, scb_py_callback_t *cb)
{
    return scb_bind_card_open_callback(out, cb != NULL ? &cb->base : NULL);
}

PyObject *scb_py_callback_take_error(scb_py_callback_t *cb)
{
    PyObject *e = cb != NULL ? cb->error : NULL;
    if (e == NULL)
        Py_RETURN_NONE;
    cb->error = NULL;
    return e;   /* the reference moves to the caller */
}

static void py_line(scb_bind_trace_t *base, int kind, const char *text)
{
    scb_py_trace_t *t = (scb_py_trace_t *)base;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *r = PyObject_CallFunction(t->fn, "is", kind, text);
    if (r == NULL)
        PyErr_WriteUnraisable(t->fn);
    Py_XDECREF(r);
    PyGILState_Release(gil);
}

scb_py_trace_t *scb_py_trace_new(PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "trace hook must be callable: fn(kind: int, line: str)");
        return NULL;
    }
    scb_py_trace_t *t = PyMem_Calloc(1, sizeof *t);
    if (t == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    t->base.line = py_line;
    Py_INCREF(fn);
    t->fn = fn;
    return t;
}

void scb_py_trace_free(scb_py_trace_t *t)
{
    if (t == NULL)
        return;
    Py_CLEAR(t->fn);
    PyMem_Free(t);
}

int scb_py_card_set_trace(scb_card_t *card, scb_py_trace_t *t)
{
    return scb_bind_card_set_trace(card, t != NULL ? &t->base : NULL);
}
