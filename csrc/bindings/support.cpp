#include "support.h"

#include <string>

namespace zipsift::py_support {

namespace {

void append_text(Tape& tape, PyObject* item, const char* what, Py_ssize_t index) {
    if (PyUnicode_Check(item)) {
        Py_ssize_t n = 0;
        // Cached UTF-8 of the str; no copy for ASCII strings.
        const char* utf8 = PyUnicode_AsUTF8AndSize(item, &n);
        if (!utf8) {
            PyErr_Clear();
            throw py::value_error(std::string(what) + "[" + std::to_string(index) +
                                  "] cannot be encoded as UTF-8 (it holds a lone surrogate); pass bytes "
                                  "instead, or decode the source with errors='strict'");
        }
        tape.append(utf8, static_cast<std::size_t>(n));
        return;
    }
    if (PyBytes_Check(item)) {
        tape.append(PyBytes_AS_STRING(item), static_cast<std::size_t>(PyBytes_GET_SIZE(item)));
        return;
    }
    if (PyObject_CheckBuffer(item)) {
        Py_buffer view;
        if (PyObject_GetBuffer(item, &view, PyBUF_C_CONTIGUOUS) == 0) {
            tape.append(view.buf, static_cast<std::size_t>(view.len));
            PyBuffer_Release(&view);
            return;
        }
        PyErr_Clear();
    }
    throw py::type_error(std::string(what) + "[" + std::to_string(index) + "] is " + Py_TYPE(item)->tp_name +
                         "; expected str or bytes");
}

}  // namespace

Tape tape_from_texts(py::handle texts, const char* what) {
    if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr()))
        throw py::type_error(std::string(what) + " is a single " + Py_TYPE(texts.ptr())->tp_name +
                             "; expected a sequence of texts (wrap one text in a list: [text])");
    py::object seq = py::reinterpret_steal<py::object>(
        PySequence_Fast(texts.ptr(), (std::string(what) + " must be a sequence or iterable of str/bytes").c_str()));
    if (!seq) throw py::error_already_set();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
    Tape tape;
    tape.offsets.reserve(static_cast<std::size_t>(n) + 1);
    for (Py_ssize_t i = 0; i < n; ++i) append_text(tape, items[i], what, i);
    return tape;
}

int threads_from_python(py::handle src) {
    const std::string expected = "threads must be >= 0 and at most " + std::to_string(kMaxThreads) +
                                 ", an integer (0 = every core this process may use, " +
                                 std::to_string(usable_cores()) + " here)";
    if (PyBool_Check(src.ptr())) throw py::value_error(expected + ", got a bool");
    PyObject* index = PyNumber_Index(src.ptr());  // int, numpy integer, anything with __index__
    if (!index) {
        PyErr_Clear();
        throw py::value_error(expected + ", got " + std::string(py::str(py::repr(src))));
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (overflow != 0 || v < 0 || v > kMaxThreads)
        throw py::value_error(expected + ", got " + std::string(py::str(py::repr(src))));
    return static_cast<int>(v);
}

bool keep_going() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() == 0;
}

}  // namespace zipsift::py_support
