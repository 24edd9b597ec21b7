/*
 * Python typemaps and glue for the shared interface (bindings/scboot.i).
 * Built with: swig -python -threads -module _core -interface _scboot
 * The extension is scboot._scboot; scboot._core is SWIG's proxy over it.
 * Users never see either: the package scboot is the API.
 */
%module scboot_core

%{
#include "scb_py.h"
#include <stdlib.h>
%}

/* With -threads every wrapper would release the GIL; only calls that may
 * wait for a card or run a Python callback do (SCB_BLOCKING in scboot.i). */
%nothread;
#define SCB_BLOCKING(f) %thread f

/* ---- bytes in ---------------------------------------------------------- */
%typemap(in) (const uint8_t *IN_BYTES, size_t IN_LEN) (Py_buffer view, int have_view = 0) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else if (PyBytes_Check($input)) {
        $1 = ($1_ltype)PyBytes_AS_STRING($input);
        $2 = (size_t)PyBytes_GET_SIZE($input);
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0)
            SWIG_fail;
        have_view = 1;
        $1 = ($1_ltype)view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const uint8_t *IN_BYTES, size_t IN_LEN) {
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
}
%typemap(typecheck) (const uint8_t *IN_BYTES, size_t IN_LEN) {
    $1 = $input == Py_None || PyObject_CheckBuffer($input);
}

%typemap(in) const uint8_t IN_ARRAY[ANY] (char *p = NULL, Py_ssize_t n = 0) {
    if (PyBytes_AsStringAndSize($input, &p, &n) != 0)
        SWIG_fail;
    if (n != $1_dim0) {
        PyErr_Format(PyExc_ValueError, "expected %d bytes, got %zd", (int)$1_dim0, n);
        SWIG_fail;
    }
    $1 = (uint8_t *)p;
}

/* ---- bytes out ---------------------------------------------------------
 * OUT_BYTES takes one Python argument: a writable buffer of at least
 * SCB_BIND_BYTES_MAX bytes to work in (a Card keeps one: no allocation per
 * APDU, where a fresh 64 KB block costs more than the APDU itself), or None
 * for a temporary one. The result is a new bytes object of the length the
 * call wrote. */
%typemap(in) (uint8_t *OUT_BYTES, size_t *OUT_LEN)
    (Py_buffer work, int have_work = 0, uint8_t *heap = NULL, size_t capacity = 0) {
    if ($input == Py_None) {
        heap = malloc(SCB_BIND_BYTES_MAX);
        if (heap == NULL) {
            PyErr_NoMemory();
            SWIG_fail;
        }
        $1 = heap;
    } else {
        if (PyObject_GetBuffer($input, &work, PyBUF_WRITABLE) != 0)
            SWIG_fail;
        have_work = 1;
        if ((size_t) work.len < SCB_BIND_BYTES_MAX) {
            PyErr_SetString(PyExc_ValueError, "the response buffer is smaller than "
                                              "SCB_BIND_BYTES_MAX");
            SWIG_fail;
        }
        $1 = ($1_ltype) work.buf;
    }
    capacity = SCB_BIND_BYTES_MAX;
    $2 = &capacity;
}
%typemap(argout) (uint8_t *OUT_BYTES, size_t *OUT_LEN) {
    size_t n = (result == 0 && *$2 <= SCB_BIND_BYTES_MAX) ? *$2 : 0;
    $result = SWIG_Python_AppendOutput($result,
                                       PyBytes_FromStringAndSize((const char *)$1, (Py_ssize_t)n));
}
%typemap(freearg) (uint8_t *OUT_BYTES, size_t *OUT_LEN) {
    if (have_work$argnum)
        PyBuffer_Release(&work$argnum);
    free(heap$argnum);
}

%typemap(in, numinputs=0) uint8_t OUT_ARRAY[ANY] (uint8_t temp[$1_dim0]) {
    memset(temp, 0, sizeof temp);
    $1 = temp;
}
%typemap(argout) uint8_t OUT_ARRAY[ANY] {
    $result = SWIG_Python_AppendOutput($result,
                                       PyBytes_FromStringAndSize((const char *)$1, $1_dim0));
}

%typemap(in, numinputs=0) (const uint8_t **VIEW_DATA, size_t *VIEW_LEN)
    (const uint8_t *p = NULL, size_t n = 0) {
    $1 = ($1_ltype)&p;
    $2 = &n;
}
%typemap(argout) (const uint8_t **VIEW_DATA, size_t *VIEW_LEN) {
    $result = SWIG_Python_AppendOutput($result,
                                       PyBytes_FromStringAndSize(*$1 ? (const char *)*$1 : "",
                                                                 *$1 ? (Py_ssize_t)*$2 : 0));
}

%typemap(out) uint8_t [ANY] {
    $result = PyBytes_FromStringAndSize((const char *)$1, $1_dim0);
}

%typemap(in, numinputs=0) (char *DETAIL, size_t DETAIL_LEN) (char text[256]) {
    text[0] = '\0';
    $1 = text;
    $2 = sizeof text;
}
%typemap(argout) (char *DETAIL, size_t DETAIL_LEN) {
    $result = SWIG_Python_AppendOutput($result, PyUnicode_DecodeUTF8($1, strlen($1), "replace"));
}

%typemap(in, numinputs=0) char **OUT_SECRET_TEXT (char *text = NULL) {
    $1 = &text;
}
%typemap(argout) char **OUT_SECRET_TEXT {
    PyObject *s = *$1 != NULL ? PyUnicode_DecodeUTF8(*$1, strlen(*$1), "strict") : NULL;
    if (s == NULL && !PyErr_Occurred()) {
        Py_INCREF(Py_None);
        s = Py_None;
    }
    if (s == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, s);
}
%typemap(freearg) char **OUT_SECRET_TEXT {
    if ($1 != NULL)
        scbj_free(*$1);
}

/* ---- handles and structs ----------------------------------------------- */
%typemap(in, numinputs=0) SWIGTYPE **OUT_HANDLE ($*1_ltype temp = NULL) {
    $1 = &temp;
}
%typemap(argout) SWIGTYPE **OUT_HANDLE {
    $result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(*$1, $*1_descriptor, 0));
}

%typemap(in) SWIGTYPE **FREE_HANDLE ($*1_ltype temp = NULL, int res = 0) {
    res = SWIG_ConvertPtr($input, (void **)&temp, $*1_descriptor, 0);
    if (!SWIG_IsOK(res))
        SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', expected a $*1_type");
    $1 = &temp;
}

%typemap(in, numinputs=0) SWIGTYPE *OUT_STRUCT {
    $1 = ($1_ltype)calloc(1, sizeof *$1);
    if ($1 == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
}
%typemap(argout) SWIGTYPE *OUT_STRUCT {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj($1, $1_descriptor, SWIG_POINTER_OWN));
    $1 = NULL;   /* owned by the Python object now */
}
%typemap(freearg) SWIGTYPE *OUT_STRUCT {
    free($1);
}

/* ---- card handles: one call at a time ---------------------------------- */
/* Python holds cards as scb_py_card_t (scb_py.h); every call on a card
 * takes its lock for the duration of the call, getters of const state
 * only look. */
%typemap(in) scb_card_t *card (scb_py_card_t *held = NULL, void *argp = NULL, int res = 0) {
    res = SWIG_ConvertPtr($input, &argp, $descriptor(scb_py_card_t *), 0);
    if (!SWIG_IsOK(res))
        SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', expected a card");
    $1 = scb_py_card_acquire((scb_py_card_t *)argp);
    if ($1 == NULL)
        SWIG_fail;
    held = (scb_py_card_t *)argp;
}
%typemap(freearg) scb_card_t *card {
    scb_py_card_release(held$argnum);
}
%typemap(in) const scb_card_t *card (void *argp = NULL, int res = 0) {
    res = SWIG_ConvertPtr($input, &argp, $descriptor(scb_py_card_t *), 0);
    if (!SWIG_IsOK(res))
        SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', expected a card");
    $1 = scb_py_card_peek((scb_py_card_t *)argp);
}
%typemap(freearg) const scb_card_t *card ""
%newobject scb_py_card_new;
%exception scb_py_card_new {
    $action
    if (result == NULL)
        SWIG_fail;
}
%exception scb_py_card_close {
    $action
    if (result != 0)
        SWIG_fail;
}
/* SWIG's view of the opaque struct, for the destructor of the Python object. */
%nodefaultctor scb_py_card;
struct scb_py_card {};
%extend scb_py_card {
    ~scb_py_card() { scb_py_card_delete($self); }
}

/* ---- Python callables as transport and trace hook ---------------------- */
%typemap(in) PyObject *fn "$1 = $input;"

%exception scb_py_callback_new {
    $action
    if (result == NULL)
        SWIG_fail;
}
%exception scb_py_trace_new {
    $action
    if (result == NULL)
        SWIG_fail;
}
%apply SWIGTYPE **OUT_HANDLE { scb_card_t **out };
SCB_BLOCKING(scb_py_card_open_callback);
%ignore scb_py_card_acquire;      /* the typemaps' business */
%ignore scb_py_card_release;
%ignore scb_py_card_peek;
%ignore scb_py_card_delete;
%include "scb_py.h"

%include "../scboot.i"
