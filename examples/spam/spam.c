/*
 * spam - a clean extension module: it needs only the interpreter and old
 * glibc symbols (strlen, strchr), so it audits as the oldest manylinux
 * policy its arch has.
 */
#include <string.h>
#include "pyapi.h"

static PyObject *spam_add(PyObject *self, PyObject *args)
{
    long a, b;
    (void)self;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyObject *spam_length(PyObject *self, PyObject *args)
{
    const char *s;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &s))
        return NULL;
    return PyLong_FromLong((long)strlen(s));
}

static PyObject *spam_has_space(PyObject *self, PyObject *args)
{
    const char *s;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &s))
        return NULL;
    return PyBool_FromLong(strchr(s, ' ') != NULL);
}

static PyMethodDef spam_methods[] = {
    {"add", spam_add, METH_VARARGS, "add(a, b) -> a + b"},
    {"length", spam_length, METH_VARARGS, "length(s) -> len of s in UTF-8 bytes"},
    {"has_space", spam_has_space, METH_VARARGS, "has_space(s) -> True if s contains a space"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef spam_module = {
    PyModuleDef_HEAD_INIT, "spam", "A tiny example extension.", -1, spam_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_spam(void)
{
    return PyModule_Create2(&spam_module, PYTHON_API_VERSION);
}
