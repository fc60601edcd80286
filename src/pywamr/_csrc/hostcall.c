/*
 * pywamr._fastcall, part 2: the caller of Python host functions whose
 * parameters are values (i32, i64, f32, f64, pointers as offsets: no '~'
 * memory view, no '$' string; the rule of _host.c_call).
 *
 * The bridge's trampoline calls call_host (through the address it was given
 * with pw_set_host_caller) instead of cffi's pw_py_host / pw_py_host0..4: it
 * takes the GIL, calls the Python function with the values as ints and
 * floats, and accepts a result of its type in C (an int in the type's range
 * for i32/i64, a float or non-bool int for f32/f64, None without a result).
 * Everything else stays in Python: a result C does not accept is handed to
 * the binding's check(r), which raises the error the cffi way raises, and
 * any exception goes to failed(py_id, handle, exc), which stores it on the
 * instance (the guest traps; the call that entered wasm re-raises it).  An
 * exception never crosses C.
 */
#include "fastcall_module.h"

#include <string.h>

/* py_id -> (func, check, pass_instance as bool) */
static PyObject *hosts;
static PyObject *instance_of, *host_failed;

PyObject *
hostcall_set_context(PyObject *module, PyObject *args)
{
    PyObject *of, *failed;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO:set_host_context", &of, &failed))
        return NULL;
    if (!PyCallable_Check(of) || !PyCallable_Check(failed)) {
        PyErr_SetString(PyExc_TypeError, "set_host_context takes two callables");
        return NULL;
    }
    if (!hosts && !(hosts = PyDict_New()))
        return NULL;
    Py_INCREF(of);
    Py_INCREF(failed);
    Py_XSETREF(instance_of, of);
    Py_XSETREF(host_failed, failed);
    Py_RETURN_NONE;
}

PyObject *
hostcall_set_host(PyObject *module, PyObject *args)
{
    PyObject *key, *func, *check, *entry;
    int pass_instance, rc;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!OOp:set_host", &PyLong_Type, &key, &func, &check,
                          &pass_instance))
        return NULL;
    if (!hosts) {
        PyErr_SetString(PyExc_RuntimeError, "set_host_context() first");
        return NULL;
    }
    if (!PyCallable_Check(func) || !PyCallable_Check(check)) {
        PyErr_SetString(PyExc_TypeError, "func and check must be callable");
        return NULL;
    }
    entry = PyTuple_Pack(3, func, check, pass_instance ? Py_True : Py_False);
    if (!entry)
        return NULL;
    rc = PyDict_SetItem(hosts, key, entry);
    Py_DECREF(entry);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyObject *
hostcall_drop_host(PyObject *module, PyObject *key)
{
    (void)module;
    if (hosts && PyDict_Contains(hosts, key) == 1 && PyDict_DelItem(hosts, key) < 0)
        return NULL;
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* Store r as a result of this kind (0: none) into args[0], if it is one
 * pywamr's rules accept at once: None without a result; for i32/i64 an int
 * (bool included) from -2**(bits-1) to 2**bits - 1, the upper half
 * wrapping; for f32/f64 a float, or an int that is not a bool (f32
 * rounds).  1 if stored; 0 if not (no exception set); -1 with an exception
 * (an int beyond a double: the OverflowError cffi raises too). */
static int
store_result(char kind, PyObject *r, uint64_t *args)
{
    long long x;
    int overflow;
    switch (kind) {
        case 0:
            return r == Py_None;
        case 'f':
        case 'F': {
            double d;
            if (PyFloat_Check(r))
                d = PyFloat_AS_DOUBLE(r);
            else if (PyLong_Check(r) && !PyBool_Check(r)) {
                d = PyLong_AsDouble(r);
                if (d == -1.0 && PyErr_Occurred())
                    return -1;
            }
            else
                return 0;
            if (kind == 'f') {
                float f = (float)d;
                memcpy(args, &f, 4);
            }
            else {
                memcpy(args, &d, 8);
            }
            return 1;
        }
    }
    if (!PyLong_Check(r))
        return 0;
    x = PyLong_AsLongLongAndOverflow(r, &overflow);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (kind == 'i') {
        if (overflow || x < INT32_MIN || x > (long long)UINT32_MAX)
            return 0;
        args[0] = (uint32_t)x;
        return 1;
    }
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(r);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        args[0] = (uint64_t)u;
        return 1;
    }
    if (overflow < 0)
        return 0;
    args[0] = (uint64_t)x;
    return 1;
}

/* The raw wasm value args[i] of kind c as a Python object. */
static PyObject *
value_of(char c, const uint64_t *slot)
{
    if (c == '*') /* an offset into linear memory */
        return PyLong_FromUnsignedLong((uint32_t)*slot);
    return pw_fc_value(c, (const uint32_t *)slot); /* x86-64/aarch64: little-endian */
}

/* The pending exception goes to failed(py_id, handle, exc). */
static void
report(uint32_t py_id, uint32_t handle)
{
    PyObject *type, *value, *tb, *id, *h, *r = NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    id = PyLong_FromUnsignedLong(py_id);
    h = PyLong_FromUnsignedLong(handle);
    if (id && h && value)
        r = PyObject_CallFunctionObjArgs(host_failed, id, h, value, NULL);
    if (!r)
        PyErr_WriteUnraisable(host_failed);
    Py_XDECREF(r);
    Py_XDECREF(id);
    Py_XDECREF(h);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* bridge.h, pw_set_host_caller: 0 done, 1 failed, -1 unknown py_id. */
static int
call_host(uint32_t py_id, uint32_t handle, const char *plan, uint32_t nparams,
          char result, uint64_t *args)
{
    PyGILState_STATE gil;
    PyObject *key, *entry, *func, *check, *r = NULL, *stack[8], **argv = stack;
    Py_ssize_t nargs = 0, i;
    int rc = 1, stored;

    gil = PyGILState_Ensure();
    key = PyLong_FromUnsignedLong(py_id);
    entry = key && hosts ? PyDict_GetItemWithError(hosts, key) : NULL;
    Py_XDECREF(key);
    if (!entry) {
        PyErr_Clear();
        PyGILState_Release(gil);
        return -1;
    }
    Py_INCREF(entry); /* a host function may drop its own binding */
    func = PyTuple_GET_ITEM(entry, 0);
    check = PyTuple_GET_ITEM(entry, 1);
    if (nparams + 1 > sizeof(stack) / sizeof(stack[0])
        && !(argv = PyMem_Malloc((nparams + 1) * sizeof(PyObject *)))) {
        PyErr_NoMemory();
        goto failed;
    }
    if (PyTuple_GET_ITEM(entry, 2) == Py_True) {
        PyObject *h = PyLong_FromUnsignedLong(handle);
        PyObject *inst = h ? PyObject_CallOneArg(instance_of, h) : NULL;
        Py_XDECREF(h);
        if (!inst)
            goto failed;
        argv[nargs++] = inst;
    }
    for (i = 0; i < (Py_ssize_t)nparams; i++) {
        PyObject *v = value_of(plan[i], &args[i]);
        if (!v)
            goto failed;
        argv[nargs++] = v;
    }
    r = PyObject_Vectorcall(func, argv, (size_t)nargs, NULL);
    if (!r)
        goto failed;
    if ((stored = store_result(result, r, args)) == 0) {
        PyObject *checked = PyObject_CallOneArg(check, r); /* raises */
        stored = checked ? store_result(result, checked, args) : -1;
        if (stored == 0)
            PyErr_Format(PyExc_TypeError, "host function returned an unusable %.100s",
                         Py_TYPE(checked)->tp_name);
        Py_XDECREF(checked);
    }
    if (stored != 1)
        goto failed;
    rc = 0;
    goto done;
failed:
    report(py_id, handle);
done:
    Py_XDECREF(r);
    for (i = 0; i < nargs; i++)
        Py_DECREF(argv[i]);
    if (argv != stack)
        PyMem_Free(argv);
    Py_DECREF(entry);
    PyGILState_Release(gil);
    return rc;
}

PyObject *
hostcall_caller_address(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromVoidPtr((void *)(uintptr_t)&call_host);
}
