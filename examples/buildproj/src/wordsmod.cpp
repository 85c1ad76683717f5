// mwdemo._words: word counting with the C++ standard library (std::map, std::string,
// exceptions), so the extension needs libstdc++.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

std::vector<std::pair<std::string, long>> count(const std::string &text) {
    std::map<std::string, long> counts;
    std::string word;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!word.empty()) {
            ++counts[word];
            word.clear();
        }
    }
    if (counts.empty()) throw std::invalid_argument("no words");
    std::vector<std::pair<std::string, long>> out(counts.begin(), counts.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    return out;
}

PyObject *word_counts(PyObject *, PyObject *args) {
    const char *text;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "s#", &text, &len)) return nullptr;
    try {
        auto counts = count(std::string(text, static_cast<size_t>(len)));
        PyObject *list = PyList_New(static_cast<Py_ssize_t>(counts.size()));
        if (!list) return nullptr;
        for (size_t i = 0; i < counts.size(); ++i) {
            PyObject *item = Py_BuildValue("(s#l)", counts[i].first.data(),
                                           static_cast<Py_ssize_t>(counts[i].first.size()),
                                           counts[i].second);
            if (!item) { Py_DECREF(list); return nullptr; }
            PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item);
        }
        return list;
    } catch (const std::exception &e) {
        PyErr_SetString(PyExc_ValueError, e.what());
        return nullptr;
    }
}

PyMethodDef methods[] = {
    {"word_counts", word_counts, METH_VARARGS,
     "word_counts(text) -> [(word, count)], most frequent first (ties alphabetical)"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_words", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__words(void) { return PyModule_Create(&module); }
