/*
 * pywamr._fastcall: the module (see fastcall_module.h for its parts).
 * Only PyInit__fastcall leaves the library (cmake/extension.map).
 */
#include "fastcall_module.h"


static PyMethodDef module_methods[] = {
    { "enable_vectorcall", fastcall_enable_vectorcall, METH_O,
      "enable_vectorcall(cls): calls of instances of this subclass of FastCall "
      "take the vectorcall path (CPython < 3.12 does not inherit it)." },
    { "set_host_context", hostcall_set_context, METH_VARARGS,
      "set_host_context(instance_of, failed): instance_of(handle) gives the "
      "instance a host function is passed; failed(py_id, handle, exc) stores "
      "the exception of a host function on its instance." },
    { "set_host", hostcall_set_host, METH_VARARGS,
      "set_host(py_id, func, check, pass_instance): call func for py_id; "
      "check(r) raises for a result C does not accept." },
    { "drop_host", hostcall_drop_host, METH_O,
      "drop_host(py_id): forget it (pw_py_hostN is called for it again)." },
    { "host_caller_address", hostcall_caller_address, METH_NOARGS,
      "host_caller_address() -> int: the caller for pw_set_host_caller." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pywamr._fastcall",
    .m_doc = "Calls between Python and wasm in C (see _csrc/fastcall_module.h).",
    .m_size = -1,
    .m_methods = module_methods,
};


PyMODINIT_FUNC
PyInit__fastcall(void)
{
    PyObject *m;
    if (fastcall_init() < 0)
        return NULL;
    if (!(m = PyModule_Create(&module_def)))
        return NULL;
    Py_INCREF(&FastCallType);
    if (PyModule_AddObject(m, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(&FastCallType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "MAX_CELLS", MAX_CELLS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
