// Bindings of the submodular core: kernels from embeddings, validation scans, and the greedy family.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

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
    sm::Scan s;
    const float* data = a.data();
    const std::size_t count = static_cast<std::size_t>(a.size());
    run_without_gil([&] { s = sm::scan_values(data, count, threads, keep_going); });
    return py::make_tuple(s.non_finite, s.first_non_finite, s.min, s.max);
}

py::array_t<float> py_transpose(const py::array_t<float, py::array::c_style>& a, Threads threads) {
    if (a.ndim() != 2) throw py::value_error("transpose needs a 2-d array");
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

// A kernel's arrays as the core reads them, kept alive for as long as an objective uses them.
// Validated (shapes, finiteness, signs) by zipsift.submodular before it gets here; this checks
// only that the arrays are as large as the views read.
struct NativeKernel {
    bool dense = true;
    sm::DenseKernel dk{};
    sm::SparseKernel sk{};
    std::vector<py::object> keep;
};

void check_size(py::ssize_t got, std::size_t want, const char* what) {
    if (static_cast<std::size_t>(got) != want)
        throw py::value_error(std::string(what) + " has " + std::to_string(got) + " entries, expected " +
                              std::to_string(want));
}

NativeKernel dense_native(const carray<float>& rows, const OptionalFloats& cols, std::size_t n) {
    check_size(rows.size(), n * n, "rows");
    if (cols) check_size(cols->size(), n * n, "cols");
    NativeKernel k;
    k.dk = {rows.data(), cols ? cols->data() : rows.data(), n};
    k.keep = {rows};
    if (cols) k.keep.push_back(*cols);
    return k;
}

NativeKernel sparse_native(const py::tuple& csr, const py::tuple& csc, std::size_t n) {
    NativeKernel k;
    k.dense = false;
    for (const py::tuple* t : {&csr, &csc}) {
        if (t->size() != 3) throw py::value_error("csr and csc are (indptr, indices, data) tuples");
        check_size(py::len((*t)[0]), n + 1, "indptr");
    }
    auto take = [&](const py::tuple& t, std::size_t i, auto tag) {
        using T = decltype(tag);
        auto a = carray<T>::ensure(t[i]);
        if (!a) throw py::value_error("sparse kernel arrays have the wrong type");
        k.keep.push_back(a);
        return a.data();
    };
    k.sk = {n, take(csr, 0, std::int64_t{}), take(csr, 1, std::int32_t{}), take(csr, 2, float{}),
            take(csc, 0, std::int64_t{}), take(csc, 1, std::int32_t{}), take(csc, 2, float{})};
    for (const std::int64_t* ptr : {k.sk.row_ptr, k.sk.col_ptr}) {
        const std::size_t nnz = static_cast<std::size_t>(ptr[n]);
        check_size(py::len(csr[1]), nnz, "indices");
        check_size(py::len(csc[1]), nnz, "indices");
    }
    return k;
}

// An objective over a NativeKernel (which the Python object keeps alive), with the arrays it reads.
struct NativeObjective {
    std::unique_ptr<sm::Objective> f;
    std::vector<py::object> keep;
};

NativeObjective make_facility_location(const NativeKernel& k, const OptionalFloats& floor, const OptionalFloats& cap,
                                       Threads threads) {
    const std::size_t n = k.dense ? k.dk.n : k.sk.n;
    if (floor) check_size(floor->size(), n, "floor");
    if (cap) check_size(cap->size(), n, "cap");
    NativeObjective o;
    const float* fl = floor ? floor->data() : nullptr;
    const float* cp = cap ? cap->data() : nullptr;
    if (floor) o.keep.push_back(*floor);
    if (cap) o.keep.push_back(*cap);
    if (k.dense) run_without_gil([&] { o.f = sm::facility_location(k.dk, fl, cp, threads, keep_going); });
    else o.f = sm::facility_location(k.sk, fl, cp);
    return o;
}

py::tuple py_maximize(NativeObjective& objective, std::size_t budget, const std::string& optimizer, double epsilon,
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
    sm::Progress report;
    if (progress) {
        report = [&progress](std::size_t picks) {
            py::gil_scoped_acquire gil;
            (*progress)(picks);
        };
    }
    sm::GreedyResult r;
    run_without_gil([&] { r = sm::maximize(*objective.f, o, keep_going, report); });
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
    // Kernels and objectives are made from Python (zipsift.submodular.objectives picks which), then
    // maximised; an objective keeps its kernel alive.
    py::class_<NativeKernel>(m, "NativeKernel")
        .def_static("dense", &dense_native, py::arg("rows"), py::arg("cols") = py::none(), py::arg("n"))
        .def_static("sparse", &sparse_native, py::arg("csr"), py::arg("csc"), py::arg("n"));
    py::class_<NativeObjective>(m, "NativeObjective");
    m.def("facility_location_objective", &make_facility_location, py::arg("kernel"), py::arg("floor") = py::none(),
          py::arg("cap") = py::none(), py::arg("threads") = 0, py::keep_alive<0, 1>());
    m.def("graph_cut_objective", [](const NativeKernel& k, double lambda) {
        return NativeObjective{k.dense ? sm::graph_cut(k.dk, lambda) : sm::graph_cut(k.sk, lambda), {}};
    }, py::arg("kernel"), py::arg("lambda_"), py::keep_alive<0, 1>());
    m.def("disparity_sum_objective", [](const NativeKernel& k) {
        return NativeObjective{k.dense ? sm::disparity_sum(k.dk) : sm::disparity_sum(k.sk), {}};
    }, py::arg("kernel"), py::keep_alive<0, 1>());
    m.def("disparity_min_objective", [](const NativeKernel& k) {
        return NativeObjective{k.dense ? sm::disparity_min(k.dk) : sm::disparity_min(k.sk), {}};
    }, py::arg("kernel"), py::keep_alive<0, 1>());
    m.def("log_determinant_objective", [](const NativeKernel& k, double regularizer, std::size_t max_picks) {
        if (!k.dense) throw py::value_error("log_determinant needs a dense kernel");
        return NativeObjective{sm::log_determinant(k.dk, regularizer, max_picks), {}};
    }, py::arg("kernel"), py::arg("regularizer"), py::arg("max_picks"), py::keep_alive<0, 1>());
    m.def("maximize", &py_maximize, py::arg("objective"), py::arg("budget"), py::arg("optimizer"),
          py::arg("epsilon") = 0.1, py::arg("seed") = 0, py::arg("stop_if_zero_gain") = false,
          py::arg("stop_if_negative_gain") = false, py::arg("threads") = 0, py::arg("progress") = py::none());
}

}  // namespace zipsift
