// Bindings of the hashed n-gram core (DSIR features, our SHA-256) and of the hashed byte n-gram
// language model (a proxy of `zipsift eval`).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "../byte_lm.h"
#include "../ngram.h"
#include "../parallel.h"
#include "../sha256.h"
#include "support.h"

namespace py = pybind11;

namespace zipsift {

using py_support::keep_going;
using py_support::run_without_gil;
using py_support::Threads;
using py_support::tape_from_texts;

namespace {

// The compat scheme lowercases like str.lower(), which maps some non-ASCII code points to several
// (İ -> i̇): that is done here, in Python, for the texts that need it; ASCII is lowered natively.
py::object compat_lowered(py::handle texts, const char* what) {
    if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr())) return py::reinterpret_borrow<py::object>(texts);
    py::object seq = py::reinterpret_steal<py::object>(
        PySequence_Fast(texts.ptr(), (std::string(what) + " must be a sequence or iterable of str/bytes").c_str()));
    if (!seq) throw py::error_already_set();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
    py::list out;
    bool changed = false;
    for (Py_ssize_t i = 0; i < n; ++i) {
        py::handle item(items[i]);
        if (PyUnicode_Check(item.ptr()) && !PyUnicode_IS_ASCII(item.ptr())) {
            out.append(item.attr("lower")());
            changed = true;
        } else if (PyBytes_Check(item.ptr())) {
            const char* data = PyBytes_AS_STRING(item.ptr());
            Py_ssize_t len = PyBytes_GET_SIZE(item.ptr());
            bool ascii = true;
            for (Py_ssize_t j = 0; j < len && ascii; ++j) ascii = static_cast<unsigned char>(data[j]) < 0x80;
            if (ascii) {
                out.append(item);
                continue;
            }
            PyObject* decoded = PyUnicode_DecodeUTF8(data, len, "strict");
            if (!decoded) {
                PyErr_Clear();
                throw py::value_error(std::string(what) + "[" + std::to_string(i) +
                                      "] is not valid UTF-8; the compat scheme tokenizes text as Python str "
                                      "does, so pass str or valid UTF-8 bytes");
            }
            out.append(py::reinterpret_steal<py::object>(decoded).attr("lower")());
            changed = true;
        } else {
            out.append(item);
        }
    }
    return changed ? py::object(out) : seq;
}

Tape texts_tape(const NgramHasher& h, py::handle texts, const char* what) {
    if (h.scheme() == NgramScheme::compat) return tape_from_texts(compat_lowered(texts, what), what);
    return tape_from_texts(texts, what);
}

std::unique_ptr<NgramHasher> make_hasher(int ngrams, std::int64_t buckets, const std::string& scheme,
                                         py::object classes) {
    NgramScheme s = parse_ngram_scheme(scheme);
    if (buckets < 1) throw py::value_error("buckets must be >= 1 (DSIR's default is 10000), got " + std::to_string(buckets));
    std::shared_ptr<const std::vector<std::uint8_t>> table;
    if (!classes.is_none()) {
        auto arr = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(classes);
        if (!arr || arr.ndim() != 1 || arr.shape(0) != 0x110000)
            throw py::value_error("classes must be a uint8 vector of 0x110000 entries (0 other, 1 word, 2 space)");
        table = std::make_shared<std::vector<std::uint8_t>>(arr.data(), arr.data() + arr.shape(0));
    } else if (s == NgramScheme::compat) {
        throw py::value_error("the compat scheme needs classes= (zipsift.ngram.wordpunct_classes())");
    }
    return std::make_unique<NgramHasher>(ngrams, static_cast<std::uint64_t>(buckets), s, std::move(table));
}

py::array_t<std::int64_t> py_counts(const NgramHasher& h, py::handle texts, Threads threads) {
    Tape tape = texts_tape(h, texts, "texts");
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(h.buckets()));
    std::int64_t* dst = out.mutable_data();
    std::fill(dst, dst + h.buckets(), 0);
    run_without_gil([&] { h.accumulate(tape, threads, keep_going, dst); });
    return out;
}

py::tuple py_dot(const NgramHasher& h, py::handle texts,
                 py::array_t<double, py::array::c_style | py::array::forcecast> weights, Threads threads) {
    if (weights.ndim() != 1 || static_cast<std::uint64_t>(weights.shape(0)) != h.buckets())
        throw py::value_error("weights must be a float64 vector of length buckets (" + std::to_string(h.buckets()) +
                              ")");
    Tape tape = texts_tape(h, texts, "texts");
    const auto n = static_cast<py::ssize_t>(tape.size());
    py::array_t<double> scores(n);
    py::array_t<std::int64_t> totals(n);
    double* s = scores.mutable_data();
    std::int64_t* t = totals.mutable_data();
    const double* w = weights.data();
    run_without_gil([&] { h.dot(tape, w, threads, keep_going, s, t); });
    return py::make_tuple(scores, totals);
}

py::tuple py_csr(const NgramHasher& h, py::handle texts, Threads threads) {
    Tape tape = texts_tape(h, texts, "texts");
    NgramHasher::Csr csr;
    run_without_gil([&] { csr = h.counts_csr(tape, threads, keep_going); });
    auto to_array = [](auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
        std::copy(v.begin(), v.end(), a.mutable_data());
        return a;
    };
    return py::make_tuple(to_array(csr.indptr), to_array(csr.indices), to_array(csr.counts));
}

std::vector<std::uint32_t> py_buckets_of(const NgramHasher& h, py::handle text) {
    py::list one;
    one.append(text);
    Tape tape = texts_tape(h, one, "text");
    return h.buckets_of(tape.data(0), tape.length(0));
}

py::bytes py_sha256(py::bytes data) {
    char* buf;
    Py_ssize_t len;
    PyBytes_AsStringAndSize(data.ptr(), &buf, &len);
    std::uint8_t digest[32];
    sha256(reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(len), digest);
    return py::bytes(reinterpret_cast<const char*>(digest), 32);
}

}  // namespace

static void bind_byte_lm(py::module_& m) {
    py::class_<ByteNgramLM>(m, "ByteNgramLM")
        .def(py::init<int, int, double>(), py::arg("order") = 5, py::arg("table_bits") = 22, py::arg("beta") = 1.0)
        .def("fit", [](ByteNgramLM& lm, py::handle texts, Threads threads) {
            Tape tape = tape_from_texts(texts, "texts");
            run_without_gil([&] { lm.fit(tape, threads, keep_going); });
        }, py::arg("texts"), py::arg("threads") = 0)
        .def("bits", [](const ByteNgramLM& lm, py::handle texts, Threads threads) {
            Tape tape = tape_from_texts(texts, "texts");
            py::array_t<double> out(static_cast<py::ssize_t>(tape.size()));
            double* dst = out.mutable_data();
            run_without_gil([&] { lm.bits(tape, threads, keep_going, dst); });
            return out;
        }, py::arg("texts"), py::arg("threads") = 0)
        .def_property_readonly("order", &ByteNgramLM::order)
        .def_property_readonly("table_bits", &ByteNgramLM::table_bits)
        .def_property_readonly("beta", &ByteNgramLM::beta)
        // Without the GIL: a fit on another Python thread holds the model and needs the GIL to poll Ctrl-C.
        .def_property_readonly("fitted_bytes", [](const ByteNgramLM& lm) {
            py::gil_scoped_release release;
            return lm.fitted_bytes();
        });
}


void bind_ngram(py::module_& m) {
    bind_byte_lm(m);
    m.def("sha256", &py_sha256, py::arg("data"), "SHA-256 digest of bytes (the core's own implementation).");
    m.def("sha256_uses_cpu_extensions", &sha256_uses_cpu_extensions);
    m.def("sha256_mod", [](py::bytes data, std::uint64_t m) {
        if (m == 0) throw py::value_error("m must be >= 1");
        std::string s = data;
        return sha256_mod(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), m);
    }, py::arg("data"), py::arg("m"));
    py::class_<NgramHasher>(m, "NgramHasher")
        .def(py::init(&make_hasher), py::arg("ngrams") = 2, py::arg("buckets") = 10000, py::arg("scheme") = "fast",
             py::arg("classes") = py::none())
        .def("counts", &py_counts, py::arg("texts"), py::arg("threads") = 0)
        .def("dot", &py_dot, py::arg("texts"), py::arg("weights"), py::arg("threads") = 0)
        .def("csr", &py_csr, py::arg("texts"), py::arg("threads") = 0)
        .def("buckets_of", &py_buckets_of, py::arg("text"))
        .def_property_readonly("ngrams", &NgramHasher::n)
        .def_property_readonly("buckets", &NgramHasher::buckets)
        .def_property_readonly("scheme", [](const NgramHasher& h) { return std::string(ngram_scheme_name(h.scheme())); });
}

}  // namespace zipsift
