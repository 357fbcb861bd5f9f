// What every binding needs: texts in, the GIL out while native code runs, Ctrl-C back in.
#pragma once

#include <pybind11/pybind11.h>

#include <utility>

#include "../parallel.h"
#include "../tape.h"

namespace zipsift::py_support {

namespace py = pybind11;

// The `threads` argument of every batched entry point: declare it as `Threads threads` (it
// converts to int). Any Python integer is accepted and checked here, so that a bad value (a bool,
// a float, negative, beyond kMaxThreads or beyond a C int) is one plain ValueError saying what to
// pass, never pybind11's "incompatible function arguments" listing nor an abort.
struct Threads {
    int value = 0;
    operator int() const { return value; }
};

// Checks one `threads` value (see Threads); throws py::value_error.
int threads_from_python(py::handle src);

// A sequence (or any iterable) of str (encoded as UTF-8) or bytes-like objects, as one tape.
// `what` names the argument in error messages ("texts[3] is int ...").
Tape tape_from_texts(py::handle texts, const char* what);

// Called on the calling thread while workers run: takes the GIL and asks whether a signal handler
// raised (Ctrl-C); false cancels the call.
bool keep_going();

// Runs f() with the GIL released. A call cancelled by Ctrl-C re-raises KeyboardInterrupt.
template <class F>
void run_without_gil(F&& f) {
    bool cancelled = false;
    {
        py::gil_scoped_release release;
        try {
            std::forward<F>(f)();
        } catch (const Cancelled&) {
            cancelled = true;
        }
    }
    if (cancelled) throw py::error_already_set();
}

}  // namespace zipsift::py_support

namespace pybind11::detail {

template <>
struct type_caster<zipsift::py_support::Threads> {
    PYBIND11_TYPE_CASTER(zipsift::py_support::Threads, const_name("int"));

    bool load(handle src, bool) {
        value.value = zipsift::py_support::threads_from_python(src);
        return true;
    }
    static handle cast(const zipsift::py_support::Threads& t, return_value_policy, handle) {
        return PyLong_FromLong(t.value);
    }
};

}  // namespace pybind11::detail
