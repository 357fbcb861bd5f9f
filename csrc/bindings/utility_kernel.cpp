// Binding of the compression utility kernel (DELIFT's kernel, measured with zstd instead of a model).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "../compression_utility.h"
#include "support.h"

namespace py = pybind11;

namespace zipsift {

using py_support::keep_going;
using py_support::run_without_gil;
using py_support::tape_from_texts;
using py_support::Threads;

namespace {

template <class T>
py::array py_kernel(const Tape& x, const Tape& y, int level, bool diagonal, int threads) {
    const auto n = static_cast<py::ssize_t>(x.size());
    py::array_t<T> out({n, n});
    T* dst = out.mutable_data();
    run_without_gil([&] { compression_utility_kernel<T>(x, y, level, diagonal, threads, keep_going, dst); });
    return out;
}

py::array py_compression_utility_kernel(py::handle prompts, py::handle responses, int level, bool diagonal,
                                        Threads threads, const std::string& dtype) {
    if (dtype != "float32" && dtype != "float64")
        throw py::value_error("dtype must be 'float32' or 'float64', got '" + dtype + "'");
    Tape x = tape_from_texts(prompts, "prompts"), y = tape_from_texts(responses, "responses");
    return dtype == "float32" ? py_kernel<float>(x, y, level, diagonal, threads)
                              : py_kernel<double>(x, y, level, diagonal, threads);
}

}  // namespace

void bind_utility_kernel(py::module_& m) {
    m.def("compression_utility_kernel", &py_compression_utility_kernel, py::arg("prompts"), py::arg("responses"),
          py::arg("level"), py::arg("diagonal") = true, py::arg("threads") = 0, py::arg("dtype") = "float64");
}

}  // namespace zipsift
