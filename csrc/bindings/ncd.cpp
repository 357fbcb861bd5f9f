// Bindings of the NCD core: compressed sizes, NCD matrices, ZIP-FIT alignment.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../codec.h"
#include "../deflate_meter.h"
#include "../ncd.h"
#include "../parallel.h"
#include "support.h"

namespace py = pybind11;

namespace zipsift {

using py_support::keep_going;
using py_support::run_without_gil;
using py_support::Threads;
using py_support::tape_from_texts;

namespace {

py::array_t<std::int64_t> py_compressed_sizes(py::handle texts, const std::string& codec, int level, Threads threads) {
    CodecSpec spec = make_codec_spec(codec, level);
    Tape tape = tape_from_texts(texts, "texts");
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(tape.size()));
    std::int64_t* dst = out.mutable_data();
    run_without_gil([&] { compressed_sizes(tape, spec, threads, keep_going, dst); });
    return out;
}

py::array_t<double> py_ncd_matrix(py::handle a, py::handle b, const std::string& codec, int level, Threads threads) {
    CodecSpec spec = make_codec_spec(codec, level);
    Tape ta = tape_from_texts(a, "a"), tb = tape_from_texts(b, "b");
    py::array_t<double> out({static_cast<py::ssize_t>(ta.size()), static_cast<py::ssize_t>(tb.size())});
    double* dst = out.mutable_data();
    run_without_gil([&] { ncd_matrix(ta, tb, spec, threads, keep_going, dst); });
    return out;
}

std::unique_ptr<TargetSet> make_target_set(py::handle targets, const std::string& codec, int level, Threads threads) {
    CodecSpec spec = make_codec_spec(codec, level);
    Tape tape = tape_from_texts(targets, "targets");
    if (tape.size() == 0)
        throw py::value_error("targets is empty: alignment is a mean over the targets, so give at least one");
    std::unique_ptr<TargetSet> set;
    run_without_gil([&] { set = std::make_unique<TargetSet>(std::move(tape), spec, threads, keep_going); });
    return set;
}

py::array_t<double> py_alignment(const TargetSet& set, py::handle candidates, Threads threads) {
    Tape tape = tape_from_texts(candidates, "candidates");
    py::array_t<double> out(static_cast<py::ssize_t>(tape.size()));
    double* dst = out.mutable_data();
    run_without_gil([&] { set.alignment(tape, threads, keep_going, dst); });
    return out;
}

}  // namespace

void bind_ncd(py::module_& m) {
    m.def("codecs", &available_codecs, "Names of the codecs compiled into this build.");
    m.attr("MAX_THREADS") = kMaxThreads;
    m.def("_tape_chunks", [](py::handle texts) { return tape_chunks(tape_from_texts(texts, "texts")); },
          "Chunk boundaries the core splits a batch of texts into (for tests): bounded in bytes.");
    m.def("usable_cores", &usable_cores, "Cores in this process's affinity mask (what threads=0 uses).");
    m.def("codec_library_versions", [] {
        py::dict out;
        for (const auto& lib : codec_library_versions()) {
            py::dict entry;
            entry["compiled"] = lib.compiled;
            entry["runtime"] = lib.runtime;
            entry["linkage"] = lib.linkage;
            entry["path"] = lib.path;
            out[py::str(lib.library)] = entry;
        }
        return out;
    });
    m.def("_deflate_restore_counts", [] {
        DeflateRestoreCounts c = deflate_restore_counts();
        return py::dict(py::arg("replayed") = c.replayed, py::arg("undone") = c.undone, py::arg("copied") = c.copied);
    }, "Pairs since the process started: replayed from the target's index, finished on the candidate's deflate "
       "state and restored by the undo log, or finished on a full copy (the target could slide the window).");
    m.def("_deflate_restore_mismatches", [](py::bytes x, py::handle ys, const std::string& codec, int level) {
        CodecSpec spec = make_codec_spec(codec, level);
        if (spec.kind == CodecKind::zstd) throw py::value_error("gzip or zlib only");
        std::string xb = x;
        Tape tape = tape_from_texts(ys, "ys");
        std::uint64_t n = 0;
        run_without_gil([&] { n = deflate_restore_mismatches(spec, reinterpret_cast<const std::uint8_t*>(xb.data()), xb.size(), tape); });
        return n;
    }, py::arg("x"), py::arg("ys"), py::arg("codec") = "gzip", py::arg("level") = 9,
       "For tests: pairs (x, y) after which the restored deflate state differs from a deep copy.");
    m.def("_deflate_cost_split", [](py::handle xs, py::handle ys, int level) {
        CodecSpec spec = make_codec_spec("gzip", level);
        Tape tx = tape_from_texts(xs, "xs"), ty = tape_from_texts(ys, "ys");
        DeflateCostSplit c{};
        run_without_gil([&] { c = deflate_cost_split(spec, tx, ty); });
        return py::dict(py::arg("index_seconds") = c.index_seconds, py::arg("candidate_seconds") = c.candidate_seconds,
                        py::arg("replay_seconds") = c.replay_seconds, py::arg("restore_seconds") = c.restore_seconds,
                        py::arg("suffix_seconds") = c.suffix_seconds, py::arg("copy_seconds") = c.copy_seconds,
                        py::arg("pairs") = c.pairs, py::arg("replayed") = c.replayed, py::arg("copied") = c.copied);
    }, py::arg("xs"), py::arg("ys"), py::arg("level") = 9,
       "For benchmarks: one thread, every x against every y; seconds spent per stage.");
    m.def("compressed_sizes", &py_compressed_sizes, py::arg("texts"), py::arg("codec") = "gzip",
          py::arg("level") = 9, py::arg("threads") = 0);
    m.def("ncd_matrix", &py_ncd_matrix, py::arg("a"), py::arg("b"), py::arg("codec") = "gzip", py::arg("level") = 9,
          py::arg("threads") = 0);
    py::class_<TargetSet>(m, "TargetSet")
        .def(py::init(&make_target_set), py::arg("targets"), py::arg("codec") = "gzip", py::arg("level") = 9,
             py::arg("threads") = 0)
        .def("alignment", &py_alignment, py::arg("candidates"), py::arg("threads") = 0)
        .def("__len__", &TargetSet::size)
        .def_property_readonly("codec", [](const TargetSet& s) { return s.codec().name(); })
        .def_property_readonly("level", [](const TargetSet& s) { return s.codec().level; });
}

}  // namespace zipsift
