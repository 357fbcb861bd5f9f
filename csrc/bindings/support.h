// What every binding needs: texts in, the GIL out while native code runs, Ctrl-C back in.
#pragma once

#include <pybind11/pybind11.h>

#include <utility>

#include "../parallel.h"
#include "../tape.h"

namespace zipsift::py_support {

namespace py = pybind11;

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
