/*
 * pywamr._fastcall: calls between Python and wasm written against CPython's
 * C API (the rest of pywamr binds to C through cffi).  It never links WAMR
 * nor the bridge: it calls, and is called through, addresses that the cffi
 * modules hand over (pw_fcall_cells; pw_set_host_caller).
 *
 *   fastcall_module.c   the module: its functions, the init
 *   vectorcall.c        FastCall, the caller of exports (base of Function)
 *   hostcall.c          the caller of Python host functions of values
 */
#ifndef PW_FASTCALL_MODULE_H
#define PW_FASTCALL_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The most cells (32-bit units) an export call carries either way: 32 i64
 * values. */
#define MAX_CELLS 64

/* vectorcall.c */
extern PyTypeObject FastCallType;
/* The wasm value of kind 'i' 'I' 'f' or 'F' in cells (little-endian) as a
 * Python int or float. */
PyObject *pw_fc_value(char kind, const uint32_t *cell);
int fastcall_init(void);
PyObject *fastcall_enable_vectorcall(PyObject *module, PyObject *cls);

/* hostcall.c */
PyObject *hostcall_set_context(PyObject *module, PyObject *args);
PyObject *hostcall_set_host(PyObject *module, PyObject *args);
PyObject *hostcall_drop_host(PyObject *module, PyObject *py_id);
PyObject *hostcall_caller_address(PyObject *module, PyObject *unused);

#endif
