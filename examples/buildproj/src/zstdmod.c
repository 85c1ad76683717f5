/* mwdemo._zstd: one-shot zstd compression through the system libzstd. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <zstd.h>

static PyObject *compress(PyObject *self, PyObject *args) {
    Py_buffer in;
    int level = 3;
    if (!PyArg_ParseTuple(args, "y*|i", &in, &level)) return NULL;
    size_t cap = ZSTD_compressBound((size_t)in.len);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (!out) { PyBuffer_Release(&in); return NULL; }
    size_t n = ZSTD_compress(PyBytes_AS_STRING(out), cap, in.buf, (size_t)in.len, level);
    PyBuffer_Release(&in);
    if (ZSTD_isError(n)) {
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "zstd: %s", ZSTD_getErrorName(n));
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)n) < 0) return NULL;
    return out;
}

static PyObject *decompress(PyObject *self, PyObject *args) {
    Py_buffer in;
    if (!PyArg_ParseTuple(args, "y*", &in)) return NULL;
    unsigned long long size = ZSTD_getFrameContentSize(in.buf, (size_t)in.len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > PY_SSIZE_T_MAX) {
        PyBuffer_Release(&in);
        return PyErr_Format(PyExc_ValueError, "not a zstd frame with a known size");
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!out) { PyBuffer_Release(&in); return NULL; }
    size_t n = ZSTD_decompress(PyBytes_AS_STRING(out), (size_t)size, in.buf, (size_t)in.len);
    PyBuffer_Release(&in);
    if (ZSTD_isError(n) || n != size) {
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "zstd: %s", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
    }
    return out;
}

static PyObject *zstd_version(PyObject *self, PyObject *unused) {
    return PyLong_FromUnsignedLong(ZSTD_versionNumber());
}

static PyMethodDef methods[] = {
    {"compress", compress, METH_VARARGS, "compress(data, level=3) -> bytes"},
    {"decompress", decompress, METH_VARARGS, "decompress(frame) -> bytes"},
    {"zstd_version", zstd_version, METH_NOARGS, "the libzstd version number, e.g. 10504"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zstd", NULL, -1, methods};

PyMODINIT_FUNC PyInit__zstd(void) { return PyModule_Create(&module); }
