/*
 * pywamr._fastcall, part 1: FastCall, the C-API caller of exported
 * functions (the base type of pywamr.Function on CPython).
 *
 * A call of an export from Python is mostly interpreter overhead: a Python
 * frame, cffi's argument conversion, its errno bookkeeping.  This type is
 * called through CPython's vectorcall protocol, converts the arguments
 * itself and calls one C function of the bridge, pw_fcall_cells, whose
 * address it is given by the cffi module (the bindings stay cffi: this
 * module never links WAMR nor the bridge; it only calls a pointer that
 * cffi hands it, with the pw_fastfn cffi prepared).
 *
 * Only the common case is decided here: the right number of plain ints and
 * floats within their types' ranges.  Everything else leaves through the
 * Python methods of the subclass (pywamr.Function), which hold the rules
 * and their messages:
 *   _bad_args(args)          a wrong count, type or range (TypeError /
 *                            ValueError, or the general call path for
 *                            what the rules allow but the cells cannot
 *                            carry),
 *   _failed(args, None)      the call failed (trap, busy, closed...):
 *                            raises by pw_last_status(),
 *   call(*args)              a signature this type was not armed for.
 *
 * The GIL is released around the wasm call, as cffi does: other Python
 * threads, host functions (which take it back) and the timeout watchdog
 * depend on it.
 */
#include "fastcall_module.h"

#include <stddef.h>
#include <string.h>

/* pw_fcall_cells (bridge.h) */
typedef int (*cells_call)(uintptr_t fastfn, uint32_t argc, uint32_t *argv);




typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *weakrefs;
    cells_call entry; /* NULL until armed */
    uintptr_t fastfn;
    Py_ssize_t nparams;
    Py_ssize_t nresults;
    char params[MAX_CELLS];  /* 'i' 'I' 'f' 'F' */
    char results[MAX_CELLS];
} FastCall;

static PyObject *str_bad_args, *str_failed, *str_call;

static PyObject *
args_tuple(PyObject *const *args, Py_ssize_t n)
{
    PyObject *t = PyTuple_New(n);
    if (!t)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(t, i, args[i]);
    }
    return t;
}

/* self.<method>(args_tuple[, extra]) */
static PyObject *
slow_exit(PyObject *self, PyObject *method, PyObject *const *args,
          Py_ssize_t n, PyObject *extra)
{
    PyObject *t = args_tuple(args, n), *r;
    if (!t)
        return NULL;
    r = PyObject_CallMethodObjArgs(self, method, t, extra, NULL);
    Py_DECREF(t);
    return r;
}

PyObject *
pw_fc_value(char kind, const uint32_t *cell)
{
    switch (kind) {
        case 'i':
            return PyLong_FromLong((int32_t)cell[0]);
        case 'I': {
            int64_t v;
            memcpy(&v, cell, 8);
            return PyLong_FromLongLong(v);
        }
        case 'f': {
            float v;
            memcpy(&v, cell, 4);
            return PyFloat_FromDouble(v);
        }
        default: {
            double v;
            memcpy(&v, cell, 8);
            return PyFloat_FromDouble(v);
        }
    }
}

static PyObject *
fastcall_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    FastCall *self = (FastCall *)callable;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf), i;
    uint32_t argv[MAX_CELLS], cells = 0;
    int rc;

    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_SetString(PyExc_TypeError,
                        "a pywamr.Function takes no keyword arguments "
                        "(a timeout: .call(*args, timeout=seconds))");
        return NULL;
    }
    if (!self->entry) {
        PyObject *t = args_tuple(args, n), *method, *r;
        if (!t)
            return NULL;
        method = PyObject_GetAttr(callable, str_call);
        r = method ? PyObject_Call(method, t, NULL) : NULL;
        Py_XDECREF(method);
        Py_DECREF(t);
        return r;
    }
    if (n != self->nparams)
        return slow_exit(callable, str_bad_args, args, n, NULL);
    for (i = 0; i < n; i++) {
        PyObject *v = args[i];
        char kind = self->params[i];
        if (kind == 'i' || kind == 'I') {
            int overflow;
            long long x;
            if (!PyLong_Check(v)) /* bool is an int, as the rules say */
                goto bad;
            x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (x == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                goto bad;
            }
            if (kind == 'i') {
                /* -2**31 .. 2**32-1, the upper half wraps */
                if (overflow || x < INT32_MIN || x > (long long)UINT32_MAX)
                    goto bad;
                argv[cells++] = (uint32_t)x;
                continue;
            }
            if (overflow > 0) { /* 2**63 .. 2**64-1 wraps to negative */
                unsigned long long u = PyLong_AsUnsignedLongLong(v);
                if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                    PyErr_Clear();
                    goto bad;
                }
                memcpy(&argv[cells], &u, 8);
            }
            else if (overflow < 0) {
                goto bad;
            }
            else {
                memcpy(&argv[cells], &x, 8);
            }
            cells += 2;
        }
        else {
            double d;
            if (PyFloat_Check(v)) {
                d = PyFloat_AS_DOUBLE(v);
            }
            else if (PyLong_Check(v)) {
                d = PyLong_AsDouble(v);
                if (d == -1.0 && PyErr_Occurred()) { /* beyond a double */
                    PyErr_Clear();
                    goto bad;
                }
            }
            else {
                goto bad;
            }
            if (kind == 'f') {
                float x = (float)d; /* rounds; overflows to infinity */
                memcpy(&argv[cells++], &x, 4);
            }
            else {
                memcpy(&argv[cells], &d, 8);
                cells += 2;
            }
        }
    }

    Py_BEGIN_ALLOW_THREADS
    rc = self->entry(self->fastfn, cells, argv);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        return slow_exit(callable, str_failed, args, n, Py_None);

    if (self->nresults == 0)
        Py_RETURN_NONE;
    if (self->nresults == 1)
        return pw_fc_value(self->results[0], argv);
    {
        PyObject *t = PyTuple_New(self->nresults);
        uint32_t at = 0;
        if (!t)
            return NULL;
        for (i = 0; i < self->nresults; i++) {
            char kind = self->results[i];
            PyObject *v = pw_fc_value(kind, &argv[at]);
            if (!v) {
                Py_DECREF(t);
                return NULL;
            }
            PyTuple_SET_ITEM(t, i, v);
            at += (kind == 'I' || kind == 'F') ? 2 : 1;
        }
        return t;
    }

bad:
    return slow_exit(callable, str_bad_args, args, n, NULL);
}

/* Cells of a kinds string, or -1 for a kind other than i I f F. */
static long
cells_of(const char *kinds, Py_ssize_t len)
{
    long cells = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        switch (kinds[i]) {
            case 'i':
            case 'f':
                cells += 1;
                break;
            case 'I':
            case 'F':
                cells += 2;
                break;
            default:
                return -1;
        }
    }
    return cells;
}

static PyObject *
fastcall_arm(PyObject *op, PyObject *args)
{
    FastCall *self = (FastCall *)op;
    unsigned long long entry, fastfn;
    const char *params, *results;
    Py_ssize_t nparams, nresults;
    long pcells, rcells;

    if (!PyArg_ParseTuple(args, "KKs#s#:_arm", &entry, &fastfn, &params,
                          &nparams, &results, &nresults))
        return NULL;
    if (self->entry) {
        PyErr_SetString(PyExc_RuntimeError, "this function is already armed");
        return NULL;
    }
    if (!entry || !fastfn) {
        PyErr_SetString(PyExc_ValueError, "_arm needs the bridge's addresses");
        return NULL;
    }
    pcells = cells_of(params, nparams);
    rcells = cells_of(results, nresults);
    if (pcells < 0 || rcells < 0) {
        PyErr_SetString(PyExc_ValueError, "value kinds are i, I, f and F");
        return NULL;
    }
    if (pcells > MAX_CELLS || rcells > MAX_CELLS)
        Py_RETURN_FALSE; /* too many values: the general path */
    memcpy(self->params, params, (size_t)nparams);
    memcpy(self->results, results, (size_t)nresults);
    self->nparams = nparams;
    self->nresults = nresults;
    self->fastfn = (uintptr_t)fastfn;
    self->entry = (cells_call)(uintptr_t)entry;
    Py_RETURN_TRUE;
}

static PyObject *
fastcall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    FastCall *self;
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "FastCall() takes no arguments");
        return NULL;
    }
    self = (FastCall *)type->tp_alloc(type, 0);
    if (self)
        self->vectorcall = fastcall_vectorcall;
    return (PyObject *)self;
}

static void
fastcall_dealloc(PyObject *op)
{
    FastCall *self = (FastCall *)op;
    if (self->weakrefs)
        PyObject_ClearWeakRefs(op);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef fastcall_methods[] = {
    { "_arm", fastcall_arm, METH_VARARGS,
      "_arm(entry, fastfn, params, results) -> bool: call pw_fcall_cells at "
      "address entry with the pw_fastfn at address fastfn, for parameters and "
      "results of these kinds (i, I, f, F); False if they are too many." },
    { NULL, NULL, 0, NULL },
};

PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pywamr._fastcall.FastCall",
    .tp_doc = "An export called through vectorcall (base of pywamr.Function).",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE
                | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = fastcall_new,
    .tp_dealloc = fastcall_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FastCall, vectorcall),
    .tp_weaklistoffset = offsetof(FastCall, weakrefs),
    .tp_methods = fastcall_methods,
};

/* CPython before 3.12 does not pass the vectorcall flag on to a subclass
 * defined in Python (3.12 does, unless it defines __call__): set it on
 * pywamr.Function, which must not define __call__. */
PyObject *
fastcall_enable_vectorcall(PyObject *module, PyObject *arg)
{
    PyTypeObject *type;
    (void)module;
    if (!PyType_Check(arg) || !PyType_IsSubtype((PyTypeObject *)arg, &FastCallType)) {
        PyErr_SetString(PyExc_TypeError, "a subclass of FastCall is needed");
        return NULL;
    }
    type = (PyTypeObject *)arg;
    if (type->tp_call != PyVectorcall_Call
        || type->tp_vectorcall_offset != FastCallType.tp_vectorcall_offset) {
        PyErr_SetString(PyExc_TypeError, "the subclass redefines how it is called");
        return NULL;
    }
    type->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    Py_RETURN_NONE;
}

int
fastcall_init(void)
{
    if (!str_bad_args) {
        str_bad_args = PyUnicode_InternFromString("_bad_args");
        str_failed = PyUnicode_InternFromString("_failed");
        str_call = PyUnicode_InternFromString("call");
        if (!str_bad_args || !str_failed || !str_call)
            return -1;
    }
    return PyType_Ready(&FastCallType);
}
