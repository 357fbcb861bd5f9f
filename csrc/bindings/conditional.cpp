// Bindings of conditional compression: dictionaries of a text collection and the compression gain.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <tuple>

#include "../codec.h"
#include "../conditional.h"
#include "../parallel.h"
#include "support.h"

namespace py = pybind11;

namespace zipsift {

using py_support::keep_going;
using py_support::run_without_gil;
using py_support::tape_from_texts;
using py_support::Threads;

namespace {

std::unique_ptr<ConditionalCompressor> make_dictionaries(py::handle texts, int level, long long dict_bytes,
                                                         Threads threads) {
    make_codec_spec("zstd", level);  // validates the level, or says zstd is not compiled in
    if (dict_bytes < 0) dict_bytes = static_cast<long long>(zstd_window_bytes(level));
    Tape tape = tape_from_texts(texts, "texts");
    std::unique_ptr<ConditionalCompressor> dicts;
    run_without_gil([&] {
        dicts = std::make_unique<ConditionalCompressor>(tape, level, static_cast<std::size_t>(dict_bytes), threads,
                                                        keep_going);
    });
    return dicts;
}

DictCombine parse_combine(const std::string& combine) {
    if (combine == "min") return DictCombine::min;
    if (combine == "mean") return DictCombine::mean;
    throw py::value_error("combine must be 'min' or 'mean', got '" + combine + "'");
}

py::tuple py_compression_gain(py::handle candidates, const ConditionalCompressor& target,
                              const ConditionalCompressor* reference, const std::string& combine, Threads threads) {
    DictCombine rule = parse_combine(combine);
    if (reference && reference->level() != target.level())
        throw py::value_error("the reference dictionaries were built at level " + std::to_string(reference->level()) +
                              " and the targets' at " + std::to_string(target.level()) + "; use one level");
    Tape tape = tape_from_texts(candidates, "candidates");
    std::vector<GainParts> parts(tape.size());
    run_without_gil([&] { compression_gain(tape, target, reference, rule, threads, keep_going, parts.data()); });
    const auto n = static_cast<py::ssize_t>(parts.size());
    py::array_t<double> gain(n), c_target(n), c_baseline(n);
    double *g = gain.mutable_data(), *t = c_target.mutable_data(), *b = c_baseline.mutable_data();
    for (std::size_t i = 0; i < parts.size(); ++i) {
        g[i] = parts[i].gain;
        t[i] = parts[i].c_target;
        b[i] = parts[i].c_baseline;
    }
    return py::make_tuple(gain, c_target, c_baseline);
}

py::array_t<std::int64_t> py_conditional_sizes(py::handle texts, const ConditionalCompressor& dicts, Threads threads) {
    Tape tape = tape_from_texts(texts, "texts");
    py::array_t<std::int64_t> out({static_cast<py::ssize_t>(tape.size()), static_cast<py::ssize_t>(dicts.dictionaries())});
    std::int64_t* dst = out.mutable_data();
    run_without_gil([&] { conditional_sizes(tape, dicts, threads, keep_going, dst); });
    return out;
}

}  // namespace

void bind_conditional(py::module_& m) {
    m.def("zstd_window_bytes", [](int level) {
        make_codec_spec("zstd", level);
        return zstd_window_bytes(level);
    }, py::arg("level"));
    py::class_<ConditionalCompressor>(m, "ConditionalCompressor")
        .def(py::init(&make_dictionaries), py::arg("texts"), py::arg("level") = 3, py::arg("dict_bytes") = -1,
             py::arg("threads") = 0)
        .def_property_readonly("level", &ConditionalCompressor::level)
        .def_property_readonly("dict_bytes", &ConditionalCompressor::dict_bytes)
        .def_property_readonly("total_bytes", &ConditionalCompressor::total_bytes)
        .def_property_readonly("dictionary_lengths", [](const ConditionalCompressor& d) {
            py::list out;
            for (std::size_t k = 0; k < d.dictionaries(); ++k) out.append(d.chunk_length(k));
            return out;
        })
        .def("__len__", &ConditionalCompressor::dictionaries);
    m.def("compression_gain", &py_compression_gain, py::arg("candidates"), py::arg("target"),
          py::arg("reference") = nullptr, py::arg("combine") = "mean", py::arg("threads") = 0);
    m.def("conditional_sizes", &py_conditional_sizes, py::arg("texts"), py::arg("dicts"), py::arg("threads") = 0);
}

}  // namespace zipsift
