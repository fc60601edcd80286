/*
 * pywamr._fastcall, part 2: the caller of Python host functions of
 * integers (at most four i32/i64/pointer values, an i32/i64 result or
 * none: the rule of _host.int_call).
 *
 * The bridge's trampoline calls call_host (through the address it was given
 * with pw_set_int_host_caller) instead of cffi's pw_py_host0..4: it takes
 * the GIL, calls the Python function with the values as ints, and accepts
 * an int in its type's range (or None without a result) in C.  Everything
 * else stays in Python: a bad result is handed to the binding's check(r),
 * which raises the error the cffi way raises, and any exception goes to
 * failed(py_id, handle, exc), which stores it on the instance (the guest
 * traps; the call that entered wasm re-raises it).  An exception never
 * crosses C.
 */
#include "fastcall_module.h"

#include <string.h>

/* py_id -> (func, check, result kind as str, pass_instance as bool) */
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
    const char *result;
    int pass_instance, rc;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!OOsp:set_host", &PyLong_Type, &key, &func, &check,
                          &result, &pass_instance))
        return NULL;
    if (!hosts) {
        PyErr_SetString(PyExc_RuntimeError, "set_host_context() first");
        return NULL;
    }
    if (strcmp(result, "") && strcmp(result, "i") && strcmp(result, "I")) {
        PyErr_SetString(PyExc_ValueError, "result kinds are '', 'i' and 'I'");
        return NULL;
    }
    if (!PyCallable_Check(func) || !PyCallable_Check(check)) {
        PyErr_SetString(PyExc_TypeError, "func and check must be callable");
        return NULL;
    }
    entry = Py_BuildValue("(OOCO)", func, check, result[0] ? result[0] : ' ',
                          pass_instance ? Py_True : Py_False);
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

/* r as the C value of a result of this kind, if it is one pywamr's rules
 * accept at once: None without a result; an int (bool included) from
 * -2**(bits-1) to 2**bits - 1, the upper half wrapping. */
static int
accept_result(char kind, PyObject *r, int64_t *out)
{
    long long x;
    int overflow;
    if (kind == ' ') {
        *out = 0;
        return r == Py_None;
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
        *out = x;
        return 1;
    }
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(r);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        *out = (int64_t)u;
        return 1;
    }
    if (overflow < 0)
        return 0;
    *out = x;
    return 1;
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

/* bridge.h, pw_set_int_host_caller: 0 with *result, 1 failed, -1 unknown. */
static int
call_host(uint32_t py_id, uint32_t handle, uint32_t nvalues,
          const int64_t *values, int64_t *result)
{
    PyGILState_STATE gil;
    PyObject *key, *entry, *func, *check, *r = NULL, *argv[5];
    Py_ssize_t nargs = 0, i;
    char kind;
    int rc = 1;

    if (nvalues > 4)
        return -1;
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
    kind = PyUnicode_READ_CHAR(PyTuple_GET_ITEM(entry, 2), 0);
    if (PyTuple_GET_ITEM(entry, 3) == Py_True) {
        PyObject *h = PyLong_FromUnsignedLong(handle);
        PyObject *inst = h ? PyObject_CallOneArg(instance_of, h) : NULL;
        Py_XDECREF(h);
        if (!inst)
            goto failed;
        argv[nargs++] = inst;
    }
    for (i = 0; i < (Py_ssize_t)nvalues; i++) {
        PyObject *v = PyLong_FromLongLong(values[i]);
        if (!v)
            goto failed;
        argv[nargs++] = v;
    }
    r = PyObject_Vectorcall(func, argv, (size_t)nargs, NULL);
    if (!r)
        goto failed;
    if (!accept_result(kind, r, result)) {
        PyObject *checked = PyObject_CallOneArg(check, r); /* raises */
        int ok = checked && accept_result(kind, checked, result);
        if (checked && !ok)
            PyErr_Format(PyExc_TypeError, "host function returned an unusable %.100s",
                         Py_TYPE(checked)->tp_name);
        Py_XDECREF(checked);
        if (!ok)
            goto failed;
    }
    rc = 0;
    goto done;
failed:
    report(py_id, handle);
done:
    Py_XDECREF(r);
    for (i = 0; i < nargs; i++)
        Py_DECREF(argv[i]);
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
