// Bindings of the submodular core: kernels from embeddings, validation scans, and the greedy family.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "../parallel.h"
#include "../submodular/kernel.h"
#include "../submodular/objective.h"
#include "../submodular/optimizer.h"
#include "support.h"

namespace py = pybind11;

namespace zipsift {

using py_support::keep_going;
using py_support::run_without_gil;
using py_support::Threads;

namespace {

namespace sm = submodular;

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

sm::Embeddings embeddings(const carray<float>& a, const char* what) {
    if (a.ndim() != 2)
        throw py::value_error(std::string(what) + " must be a 2-d array (rows x dimensions), got " +
                              std::to_string(a.ndim()) + " dimensions");
    return {a.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

py::tuple py_dense_kernel(const carray<float>& x, const std::optional<carray<float>>& y, const std::string& metric,
                          double gamma, Threads threads) {
    const sm::Metric m = sm::parse_metric(metric);
    resolve_threads(threads);
    const sm::Embeddings ex = embeddings(x, "X");
    const sm::Embeddings ey = y ? embeddings(*y, "Y") : ex;
    py::array_t<float> out({static_cast<py::ssize_t>(ex.rows), static_cast<py::ssize_t>(ey.rows)});
    float* dst = out.mutable_data();
    sm::Scan scan;
    run_without_gil([&] { scan = sm::dense_kernel(ex, ey, !y, m, gamma, threads, keep_going, dst); });
    return py::make_tuple(out, py::make_tuple(scan.non_finite, scan.first_non_finite, scan.min, scan.max));
}

py::tuple py_knn_kernel(const carray<float>& x, const std::optional<carray<float>>& y, std::size_t t,
                        const std::string& metric, double gamma, Threads threads) {
    const sm::Metric m = sm::parse_metric(metric);
    resolve_threads(threads);
    const sm::Embeddings ex = embeddings(x, "X");
    const sm::Embeddings ey = y ? embeddings(*y, "Y") : ex;
    if (t == 0 || t > ey.rows)
        throw py::value_error("knn must be between 1 and the number of columns (" + std::to_string(ey.rows) +
                              "), got " + std::to_string(t));
    py::array_t<std::int32_t> index({static_cast<py::ssize_t>(ex.rows), static_cast<py::ssize_t>(t)});
    py::array_t<float> value({static_cast<py::ssize_t>(ex.rows), static_cast<py::ssize_t>(t)});
    std::int32_t* di = index.mutable_data();
    float* dv = value.mutable_data();
    run_without_gil([&] { sm::knn_kernel(ex, ey, t, m, gamma, threads, keep_going, di, dv); });
    return py::make_tuple(index, value);
}

py::tuple py_scan_values(const py::array_t<float, py::array::c_style>& a, Threads threads) {
    resolve_threads(threads);
    sm::Scan s;
    const float* data = a.data();
    const std::size_t count = static_cast<std::size_t>(a.size());
    run_without_gil([&] { s = sm::scan_values(data, count, threads, keep_going); });
    return py::make_tuple(s.non_finite, s.first_non_finite, s.min, s.max);
}

py::array_t<float> py_transpose(const py::array_t<float, py::array::c_style>& a, Threads threads) {
    if (a.ndim() != 2) throw py::value_error("transpose needs a 2-d array");
    resolve_threads(threads);
    const std::size_t rows = static_cast<std::size_t>(a.shape(0)), cols = static_cast<std::size_t>(a.shape(1));
    py::array_t<float> out({static_cast<py::ssize_t>(cols), static_cast<py::ssize_t>(rows)});
    const float* src = a.data();
    float* dst = out.mutable_data();
    run_without_gil([&] { sm::transpose(src, rows, cols, threads, keep_going, dst); });
    return out;
}

py::tuple py_csr_transpose(std::size_t rows, std::size_t cols, const carray<std::int64_t>& ptr,
                           const carray<std::int32_t>& index, const carray<float>& value) {
    if (static_cast<std::size_t>(ptr.size()) != rows + 1)
        throw py::value_error("indptr must have rows + 1 entries");
    const std::int64_t nnz = ptr.at(rows);
    if (index.size() != nnz || value.size() != nnz)
        throw py::value_error("indices and data must have indptr[-1] entries");
    py::array_t<std::int64_t> out_ptr(static_cast<py::ssize_t>(cols + 1));
    py::array_t<std::int32_t> out_index(static_cast<py::ssize_t>(nnz));
    py::array_t<float> out_value(static_cast<py::ssize_t>(nnz));
    std::int64_t* op = out_ptr.mutable_data();
    std::int32_t* oi = out_index.mutable_data();
    float* ov = out_value.mutable_data();
    const std::int64_t* p = ptr.data();
    const std::int32_t* i = index.data();
    const float* v = value.data();
    run_without_gil([&] { sm::csr_transpose(rows, cols, p, i, v, op, oi, ov); });
    return py::make_tuple(out_ptr, out_index, out_value);
}

using OptionalFloats = std::optional<carray<float>>;

// Kernel arrays are validated (shapes, finiteness, signs) by zipsift.submodular before they get here.
py::tuple py_maximize(const std::string& objective, std::size_t budget, const std::string& optimizer,
                      const OptionalFloats& rows, const OptionalFloats& cols, const std::optional<py::tuple>& csr,
                      const std::optional<py::tuple>& csc, std::size_t n, const OptionalFloats& floor,
                      const OptionalFloats& cap, double lambda, double regularizer, double epsilon,
                      std::uint64_t seed, bool stop_if_zero_gain, bool stop_if_negative_gain, Threads threads,
                      const std::optional<py::function>& progress) {
    sm::GreedyOptions o;
    o.optimizer = sm::parse_optimizer(optimizer);
    o.budget = budget;
    o.epsilon = epsilon;
    o.seed = seed;
    o.stop_if_zero_gain = stop_if_zero_gain;
    o.stop_if_negative_gain = stop_if_negative_gain;
    o.threads = threads;
    resolve_threads(threads);

    const bool dense = rows.has_value();
    if (dense == csr.has_value()) throw py::value_error("give either a dense kernel (rows) or a sparse one (csr)");
    sm::DenseKernel dk{};
    sm::SparseKernel sk{};
    // Arrays converted from the tuples are kept alive here for the whole call.
    std::vector<py::object> keep;
    auto check_size = [](py::ssize_t got, std::size_t want, const char* what) {
        if (static_cast<std::size_t>(got) != want)
            throw py::value_error(std::string(what) + " has " + std::to_string(got) + " entries, expected " +
                                  std::to_string(want));
    };
    if (floor) check_size(floor->size(), n, "floor");
    if (cap) check_size(cap->size(), n, "cap");
    if (dense) {
        check_size(rows->size(), n * n, "rows");
        if (cols) check_size(cols->size(), n * n, "cols");
        dk = {rows->data(), cols ? cols->data() : rows->data(), n};
    } else {
        if (!csc) throw py::value_error("a sparse kernel needs both csr and csc");
        for (const py::tuple* t : {&*csr, &*csc}) {
            if (t->size() != 3) throw py::value_error("csr and csc are (indptr, indices, data) tuples");
            check_size(py::len((*t)[0]), n + 1, "indptr");
        }
        auto take = [&](const py::tuple& t, std::size_t k, auto tag) {
            using T = decltype(tag);
            auto a = carray<T>::ensure(t[k]);
            if (!a) throw py::value_error("sparse kernel arrays have the wrong type");
            keep.push_back(a);
            return a.data();
        };
        sk = {n, take(*csr, 0, std::int64_t{}), take(*csr, 1, std::int32_t{}), take(*csr, 2, float{}),
              take(*csc, 0, std::int64_t{}), take(*csc, 1, std::int32_t{}), take(*csc, 2, float{})};
        for (const std::int64_t* ptr : {sk.row_ptr, sk.col_ptr}) {
            const py::ssize_t nnz = static_cast<py::ssize_t>(ptr[n]);
            check_size(py::len((*csr)[1]), static_cast<std::size_t>(nnz), "indices");
            check_size(py::len((*csc)[1]), static_cast<std::size_t>(nnz), "indices");
        }
    }
    const float* fl = floor ? floor->data() : nullptr;
    const float* cp = cap ? cap->data() : nullptr;
    std::unique_ptr<sm::Objective> f;
    if (objective == "facility_location") {
        if (dense) run_without_gil([&] { f = sm::facility_location(dk, fl, cp, threads, keep_going); });
        else f = sm::facility_location(sk, fl, cp);
    } else if (objective == "graph_cut") f = dense ? sm::graph_cut(dk, lambda) : sm::graph_cut(sk, lambda);
    else if (objective == "disparity_sum") f = dense ? sm::disparity_sum(dk) : sm::disparity_sum(sk);
    else if (objective == "disparity_min") f = dense ? sm::disparity_min(dk) : sm::disparity_min(sk);
    else if (objective == "log_determinant") {
        if (!dense) throw py::value_error("log_determinant needs a dense kernel");
        f = sm::log_determinant(dk, regularizer, budget);
    } else throw py::value_error("unknown objective '" + objective + "'");

    sm::Progress report;
    if (progress) {
        report = [&progress](std::size_t picks) {
            py::gil_scoped_acquire gil;
            (*progress)(picks);
        };
    }
    sm::GreedyResult r;
    run_without_gil([&] { r = sm::maximize(*f, o, keep_going, report); });
    py::array_t<std::int64_t> indices(static_cast<py::ssize_t>(r.indices.size()));
    std::copy(r.indices.begin(), r.indices.end(), indices.mutable_data());
    py::array_t<double> gains(static_cast<py::ssize_t>(r.gains.size()));
    std::copy(r.gains.begin(), r.gains.end(), gains.mutable_data());
    return py::make_tuple(indices, gains, r.objective, r.evaluations);
}

}  // namespace

void bind_submodular(py::module_& m) {
    m.def("dense_kernel", &py_dense_kernel, py::arg("x"), py::arg("y") = py::none(), py::arg("metric") = "cosine",
          py::arg("gamma") = 1.0, py::arg("threads") = 0);
    m.def("knn_kernel", &py_knn_kernel, py::arg("x"), py::arg("y") = py::none(), py::arg("t") = 10,
          py::arg("metric") = "cosine", py::arg("gamma") = 1.0, py::arg("threads") = 0);
    m.def("scan_values", &py_scan_values, py::arg("a"), py::arg("threads") = 0);
    m.def("transpose", &py_transpose, py::arg("a"), py::arg("threads") = 0);
    m.def("csr_transpose", &py_csr_transpose, py::arg("rows"), py::arg("cols"), py::arg("indptr"),
          py::arg("indices"), py::arg("data"));
    m.def("maximize", &py_maximize, py::arg("objective"), py::arg("budget"), py::arg("optimizer"),
          py::arg("rows") = py::none(), py::arg("cols") = py::none(), py::arg("csr") = py::none(),
          py::arg("csc") = py::none(), py::arg("n") = 0, py::arg("floor") = py::none(), py::arg("cap") = py::none(),
          py::arg("lambda_") = 0.5, py::arg("regularizer") = 1.0, py::arg("epsilon") = 0.1, py::arg("seed") = 0,
          py::arg("stop_if_zero_gain") = false, py::arg("stop_if_negative_gain") = false, py::arg("threads") = 0,
          py::arg("progress") = py::none());
}

}  // namespace zipsift
