// Similarity kernels for submodular selection: dense (n x m, row-major float32) and sparse top-t
// per row (kNN, CSR), built from embeddings with a blocked, multithreaded product.
//
//   cosine     s_ij = <x_i, y_j> / (|x_i| |y_j|)            in [-1, 1]
//   dot        s_ij = <x_i, y_j>
//   rbf        s_ij = exp(-gamma |x_i - y_j|^2)             in (0, 1]
//   euclidean  s_ij = 1 / (1 + |x_i - y_j|)                 in (0, 1]
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "../ncd.h"  // KeepGoing, Cancelled

namespace zipsift::submodular {

enum class Metric { cosine, dot, rbf, euclidean };

// Throws std::invalid_argument naming the accepted metrics.
Metric parse_metric(const std::string& name);

// Embeddings: `rows` vectors of `dim` float32, row-major, contiguous.
struct Embeddings {
    const float* data;
    std::size_t rows;
    std::size_t dim;
};

// Non-finite count and minimum of a float32 buffer (for validating user kernels).
struct Scan {
    std::size_t non_finite = 0;
    std::size_t first_non_finite = 0;
    float min = 0;
    float max = 0;
};
// out[i * y.rows + j] = s(x_i, y_j). When `symmetric` (y is x itself), only the upper triangle is
// computed, and mirrored tile by tile, so the result is exactly symmetric. Deterministic whatever the thread count.
// Returns the statistics of the values written (what scan_values would find), at no extra pass.
Scan dense_kernel(const Embeddings& x, const Embeddings& y, bool symmetric, Metric metric, double gamma,
                  int threads, const KeepGoing& keep_going, float* out);

// For every x_i, the t most similar y_j (ties: lower j first), sorted by similarity descending:
// out_index[i * t + r], out_value[i * t + r]. Requires t <= y.rows. Memory: the inputs and the
// output only; the n x m products are made tile by tile and never stored.
void knn_kernel(const Embeddings& x, const Embeddings& y, std::size_t t, Metric metric, double gamma,
                int threads, const KeepGoing& keep_going, std::int32_t* out_index, float* out_value);

Scan scan_values(const float* data, std::size_t count, int threads, const KeepGoing& keep_going);

// out = in^T for a row-major rows x cols float32 matrix (cache-blocked, multithreaded).
void transpose(const float* in, std::size_t rows, std::size_t cols, int threads, const KeepGoing& keep_going,
               float* out);

// CSR (rows x cols) -> CSC, i.e. the CSR of the transpose. Within each column, rows ascend.
// out_ptr has cols + 1 entries; out_index / out_value have nnz entries.
void csr_transpose(std::size_t rows, std::size_t cols, const std::int64_t* ptr, const std::int32_t* index,
                   const float* value, std::int64_t* out_ptr, std::int32_t* out_index, float* out_value);

}  // namespace zipsift::submodular
