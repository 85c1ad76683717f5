/*
 * withlib - an extension linked against libzstd.so.1, a library that no
 * manylinux policy whitelists: `show` must report it as external, and the
 * wheel only gets a manylinux tag once the library is grafted in (repair).
 */
#include <stddef.h>
#include <stdio.h>
#include "pyapi.h"

/* From zstd.h; declared here so the build needs only the library itself. */
extern unsigned ZSTD_versionNumber(void);
extern size_t ZSTD_compressBound(size_t srcSize);
extern const char *ZSTD_versionString(void);

static PyObject *withlib_zstd_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromUnsignedLong(ZSTD_versionNumber());
}

static PyObject *withlib_compress_bound(PyObject *self, PyObject *args)
{
    long n;
    (void)self;
    if (!PyArg_ParseTuple(args, "l", &n))
        return NULL;
    return PyLong_FromUnsignedLong((unsigned long)ZSTD_compressBound((size_t)n));
}

static PyObject *withlib_describe(PyObject *self, PyObject *args)
{
    char buf[64];
    (void)self;
    (void)args;
    snprintf(buf, sizeof buf, "zstd %s", ZSTD_versionString());
    return PyUnicode_FromString(buf);
}

static PyMethodDef withlib_methods[] = {
    {"describe", withlib_describe, METH_VARARGS, "describe() -> 'zstd X.Y.Z'"},
    {"zstd_version", withlib_zstd_version, METH_VARARGS, "zstd_version() -> ZSTD_versionNumber()"},
    {"compress_bound", withlib_compress_bound, METH_VARARGS, "compress_bound(n) -> ZSTD_compressBound(n)"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef withlib_module = {
    PyModuleDef_HEAD_INIT, "withlib", "An example extension linked to libzstd.", -1,
    withlib_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_withlib(void)
{
    return PyModule_Create2(&withlib_module, PYTHON_API_VERSION);
}
