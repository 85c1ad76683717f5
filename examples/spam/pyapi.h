/*
 * pyapi.h - the handful of CPython C-API declarations our example extensions use.
 *
 * The examples are built without Python headers: the auditor only reads the ELF
 * files, and cross-compiling for every arch should need nothing but a cross gcc.
 * The layouts below follow the stable ABI of a non-debug CPython 3 build, so the
 * x86_64 modules really import into a CPython 3.11 of the same arch.
 */
#ifndef SPAM_PYAPI_H
#define SPAM_PYAPI_H

#include <stddef.h>

typedef long Py_ssize_t; /* ssize_t on every Linux ABI we target */
typedef struct _object PyObject;
typedef PyObject *(*PyCFunction)(PyObject *self, PyObject *args);

struct _object {
    Py_ssize_t ob_refcnt;
    void *ob_type;
};

typedef struct PyMethodDef {
    const char *ml_name;
    PyCFunction ml_meth;
    int ml_flags;
    const char *ml_doc;
} PyMethodDef;

typedef struct PyModuleDef_Base {
    PyObject ob_base;
    PyObject *(*m_init)(void);
    Py_ssize_t m_index;
    PyObject *m_copy;
} PyModuleDef_Base;

typedef struct PyModuleDef {
    PyModuleDef_Base m_base;
    const char *m_name;
    const char *m_doc;
    Py_ssize_t m_size;
    PyMethodDef *m_methods;
    void *m_slots;
    void *m_traverse;
    void *m_clear;
    void *m_free;
} PyModuleDef;

#define PyModuleDef_HEAD_INIT {{1, NULL}, NULL, 0, NULL}
#define METH_VARARGS 0x0001
#define PYTHON_API_VERSION 1013

#if defined(__GNUC__)
#define PyMODINIT_FUNC __attribute__((visibility("default"))) PyObject *
#else
#define PyMODINIT_FUNC PyObject *
#endif

/* Provided by the interpreter at import time: undefined symbols in our .so. */
extern PyObject *PyModule_Create2(PyModuleDef *def, int apiver);
extern int PyArg_ParseTuple(PyObject *args, const char *format, ...);
extern PyObject *PyLong_FromLong(long v);
extern PyObject *PyLong_FromUnsignedLong(unsigned long v);
extern PyObject *PyBool_FromLong(long v);
extern PyObject *PyUnicode_FromString(const char *u);
extern PyObject *PyErr_SetFromErrno(PyObject *type);
extern PyObject *PyExc_OSError;

#endif /* SPAM_PYAPI_H */
