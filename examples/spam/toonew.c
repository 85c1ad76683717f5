/*
 * toonew - an extension that calls glibc functions whose symbol versions are
 * recent when linked against glibc 2.36 (Debian 12):
 *   stat         GLIBC_2.33  (a real exported function only since 2.33)
 *   dlopen       GLIBC_2.34  (moved from libdl into libc in 2.34)
 *   arc4random   GLIBC_2.36  (new in 2.36)
 * so no manylinux policy older than manylinux_2_36 accepts it.
 */
#include <stdint.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "pyapi.h"

static PyObject *toonew_filesize(PyObject *self, PyObject *args)
{
    const char *path;
    struct stat st;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    if (stat(path, &st) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromLong((long)st.st_size);
}

static PyObject *toonew_can_load(PyObject *self, PyObject *args)
{
    const char *name;
    void *handle;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
    if (handle)
        dlclose(handle);
    return PyBool_FromLong(handle != NULL);
}

static PyObject *toonew_random(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromUnsignedLong((unsigned long)arc4random());
}

static PyMethodDef toonew_methods[] = {
    {"filesize", toonew_filesize, METH_VARARGS, "filesize(path) -> st_size from stat()"},
    {"can_load", toonew_can_load, METH_VARARGS, "can_load(soname) -> True if dlopen() finds it"},
    {"random", toonew_random, METH_VARARGS, "random() -> 32 random bits from arc4random()"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef toonew_module = {
    PyModuleDef_HEAD_INIT, "toonew", "An example extension needing a recent glibc.", -1,
    toonew_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_toonew(void)
{
    return PyModule_Create2(&toonew_module, PYTHON_API_VERSION);
}
