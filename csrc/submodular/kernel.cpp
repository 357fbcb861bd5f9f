#include "kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "../parallel.h"

#include "simd.h"

namespace zipsift::submodular {

namespace {

constexpr std::size_t kRowTile = 4;     // rows per register tile
constexpr std::size_t kColTile = 32;    // columns per register tile (2 vectors of 16 at most)
constexpr std::size_t kRowBlock = 64;   // rows per work item
constexpr std::size_t kColBlock = 512;  // columns per cache block (dim x 512 floats of y stay in L2)

void check_cancel(bool finished) {
    if (!finished) throw Cancelled{};
}

// x rows packed (zero-padded to a multiple of kRowTile), y packed transposed (dim x m_pad, zero-
// padded columns), squared norms kept for the distance metrics; cosine normalises while packing.
struct Packed {
    std::vector<float> x;   // rows_pad x dim
    std::vector<float> yt;  // dim x cols_pad
    std::vector<float> x_sq, y_sq;
    std::size_t rows = 0, cols = 0, rows_pad = 0, cols_pad = 0, dim = 0;
};

std::vector<float> squared_norms(const Embeddings& e) {
    std::vector<float> out(e.rows);
    for (std::size_t i = 0; i < e.rows; ++i) {
        double s = 0;
        const float* v = e.data + i * e.dim;
        for (std::size_t k = 0; k < e.dim; ++k) s += static_cast<double>(v[k]) * v[k];
        out[i] = static_cast<float>(s);
    }
    return out;
}

Packed pack(const Embeddings& x, const Embeddings& y, Metric metric) {
    if (x.dim != y.dim)
        throw std::invalid_argument("x and y have different dimensions (" + std::to_string(x.dim) + " and " +
                                    std::to_string(y.dim) + ")");
    Packed p;
    p.rows = x.rows;
    p.cols = y.rows;
    p.dim = x.dim;
    p.rows_pad = (x.rows + kRowTile - 1) / kRowTile * kRowTile;
    p.cols_pad = (y.rows + kColTile - 1) / kColTile * kColTile;
    p.x_sq = squared_norms(x);
    p.y_sq = squared_norms(y);
    std::vector<float> x_scale(x.rows, 1.0f), y_scale(y.rows, 1.0f);
    if (metric == Metric::cosine) {
        for (std::size_t i = 0; i < x.rows; ++i) {
            if (!(p.x_sq[i] > 0))
                throw std::invalid_argument("cosine similarity is undefined for a zero vector: row " +
                                            std::to_string(i) + " of the embeddings has norm 0; drop it or "
                                            "use metric='dot'");
            x_scale[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.x_sq[i])));
        }
        for (std::size_t j = 0; j < y.rows; ++j) {
            if (!(p.y_sq[j] > 0))
                throw std::invalid_argument("cosine similarity is undefined for a zero vector: row " +
                                            std::to_string(j) + " of the second embeddings has norm 0");
            y_scale[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.y_sq[j])));
        }
    }
    p.x.assign(p.rows_pad * p.dim, 0.0f);
    for (std::size_t i = 0; i < x.rows; ++i)
        for (std::size_t k = 0; k < p.dim; ++k) p.x[i * p.dim + k] = x.data[i * x.dim + k] * x_scale[i];
    p.yt.assign(p.dim * p.cols_pad, 0.0f);
    for (std::size_t j = 0; j < y.rows; ++j)
        for (std::size_t k = 0; k < p.dim; ++k) p.yt[k * p.cols_pad + j] = y.data[j * y.dim + k] * y_scale[j];
    return p;
}

// tile[(i - r0) * ld + (c - c0)] = <x_i, y_c> for i in [r0, r1), c in [c0, c1); r0, r1, c0, c1 are
// multiples of the register tile. A register tile is 4 rows x 2 vectors of W floats (8 independent
// accumulators hide the FMA latency). Every entry is one sequential sum over k, so its value does not
// depend on where the tile starts or on the thread that computes it.
template <int W>
ZS_INLINE void tile_product_body(const float* x, const float* yt, std::size_t dim, std::size_t ldy, std::size_t r0,
                                 std::size_t r1, std::size_t c0, std::size_t c1, float* tile, std::size_t ld) {
    typedef float vec __attribute__((vector_size(sizeof(float) * W)));
    for (std::size_t i = r0; i < r1; i += kRowTile) {
        const float* x0 = x + i * dim;
        for (std::size_t c = c0; c < c1; c += kColTile) {
            for (std::size_t h = 0; h < kColTile; h += 2 * W) {
                vec a00{}, a01{}, a10{}, a11{}, a20{}, a21{}, a30{}, a31{};
                for (std::size_t k = 0; k < dim; ++k) {
                    vec y0, y1;
                    __builtin_memcpy(&y0, yt + k * ldy + c + h, sizeof(vec));
                    __builtin_memcpy(&y1, yt + k * ldy + c + h + W, sizeof(vec));
                    const float v0 = x0[k], v1 = x0[dim + k], v2 = x0[2 * dim + k], v3 = x0[3 * dim + k];
                    a00 += v0 * y0; a01 += v0 * y1;
                    a10 += v1 * y0; a11 += v1 * y1;
                    a20 += v2 * y0; a21 += v2 * y1;
                    a30 += v3 * y0; a31 += v3 * y1;
                }
                float* t = tile + (i - r0) * ld + (c - c0) + h;
                __builtin_memcpy(t, &a00, sizeof(vec)); __builtin_memcpy(t + W, &a01, sizeof(vec)); t += ld;
                __builtin_memcpy(t, &a10, sizeof(vec)); __builtin_memcpy(t + W, &a11, sizeof(vec)); t += ld;
                __builtin_memcpy(t, &a20, sizeof(vec)); __builtin_memcpy(t + W, &a21, sizeof(vec)); t += ld;
                __builtin_memcpy(t, &a30, sizeof(vec)); __builtin_memcpy(t + W, &a31, sizeof(vec));
            }
        }
    }
}

#define ZS_TILE_ARGS const float* x, const float* yt, std::size_t dim, std::size_t ldy, std::size_t r0, \
                     std::size_t r1, std::size_t c0, std::size_t c1, float* tile, std::size_t ld
void tile_product_baseline(ZS_TILE_ARGS) { tile_product_body<4>(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld); }
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 void tile_product_avx2(ZS_TILE_ARGS) { tile_product_body<8>(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld); }
ZS_TARGET_AVX512 void tile_product_avx512(ZS_TILE_ARGS) {
    tile_product_body<16>(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld);
}
#endif

void tile_product(ZS_TILE_ARGS) {
#if ZS_X86_DISPATCH
    switch (simd::level()) {
        case simd::Level::avx512: return tile_product_avx512(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld);
        case simd::Level::avx2: return tile_product_avx2(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld);
        default: break;
    }
#endif
    tile_product_baseline(x, yt, dim, ldy, r0, r1, c0, c1, tile, ld);
}
#undef ZS_TILE_ARGS

// Similarity from the dot product g and the squared norms.
inline float similarity(Metric metric, double gamma, float g, float x_sq, float y_sq) {
    switch (metric) {
        case Metric::cosine:
        case Metric::dot:
            return g;
        case Metric::rbf: {
            const float d2 = std::max(0.0f, x_sq + y_sq - 2.0f * g);
            return static_cast<float>(std::exp(-gamma * d2));
        }
        case Metric::euclidean: {
            const float d2 = std::max(0.0f, x_sq + y_sq - 2.0f * g);
            return 1.0f / (1.0f + std::sqrt(d2));
        }
    }
    return g;
}

}  // namespace

Metric parse_metric(const std::string& name) {
    if (name == "cosine") return Metric::cosine;
    if (name == "dot") return Metric::dot;
    if (name == "rbf") return Metric::rbf;
    if (name == "euclidean") return Metric::euclidean;
    throw std::invalid_argument("unknown metric '" + name + "'; expected one of cosine, dot, rbf, euclidean");
}

namespace {

// dst[0, count) = src[0, count) (src may be dst), folding the values into lo, hi and the count of
// non-finite ones, W floats at a time.
template <int W>
ZS_INLINE void copy_scan_body(const float* src, float* dst, std::size_t count, float& lo, float& hi,
                              std::size_t& bad) {
    typedef float vec __attribute__((vector_size(sizeof(float) * W)));
    typedef int ivec __attribute__((vector_size(sizeof(int) * W)));
    vec vlo = vec{} + lo, vhi = vec{} + hi;  // (subscripts do not work on a dependent vector type)
    ivec vbad{};
    std::size_t k = 0;
    for (; k + W <= count; k += W) {
        vec a;
        __builtin_memcpy(&a, src + k, sizeof(vec));
        __builtin_memcpy(dst + k, &a, sizeof(vec));
        vlo = a < vlo ? a : vlo;
        vhi = a > vhi ? a : vhi;
        const vec z = a - a;  // 0 when finite, NaN for inf and NaN
        vbad -= (z != z);
    }
    float los[W], his[W];
    int bads[W];
    __builtin_memcpy(los, &vlo, sizeof(vec));
    __builtin_memcpy(his, &vhi, sizeof(vec));
    __builtin_memcpy(bads, &vbad, sizeof(ivec));
    for (int l = 0; l < W; ++l) {
        bad += static_cast<std::size_t>(bads[l]);
        lo = los[l] < lo ? los[l] : lo;
        hi = his[l] > hi ? his[l] : hi;
    }
    for (; k < count; ++k) {
        const float a = src[k];
        dst[k] = a;
        bad += !std::isfinite(a);
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
}

#define ZS_CS_ARGS const float *src, float *dst, std::size_t count, float &lo, float &hi, std::size_t &bad
void copy_scan_baseline(ZS_CS_ARGS) { copy_scan_body<4>(src, dst, count, lo, hi, bad); }
#if ZS_X86_DISPATCH
ZS_TARGET_AVX2 void copy_scan_avx2(ZS_CS_ARGS) { copy_scan_body<8>(src, dst, count, lo, hi, bad); }
ZS_TARGET_AVX512 void copy_scan_avx512(ZS_CS_ARGS) { copy_scan_body<16>(src, dst, count, lo, hi, bad); }
#endif
#undef ZS_CS_ARGS

using CopyScan = void (*)(const float*, float*, std::size_t, float&, float&, std::size_t&);
CopyScan pick_copy_scan() {
#if ZS_X86_DISPATCH
    if (simd::level() == simd::Level::avx512) return copy_scan_avx512;
    if (simd::level() == simd::Level::avx2) return copy_scan_avx2;
#endif
    return copy_scan_baseline;
}

// dst[0, count) = src[0, count), folded into a Scan; `offset` is dst's flat index in the kernel.
void copy_scan(Scan& s, const float* src, float* dst, std::size_t count, std::size_t offset) {
    static const CopyScan impl = pick_copy_scan();
    std::size_t bad = 0;
    impl(src, dst, count, s.min, s.max, bad);
    if (bad) {
        for (std::size_t q = 0; q < count; ++q)
            if (!std::isfinite(dst[q])) {
                if (!s.non_finite || offset + q < s.first_non_finite) s.first_non_finite = offset + q;
                break;
            }
    }
    s.non_finite += bad;
}

Scan empty_scan() {
    Scan s;
    s.min = std::numeric_limits<float>::infinity();
    s.max = -std::numeric_limits<float>::infinity();
    return s;
}

}  // namespace

Scan dense_kernel(const Embeddings& x, const Embeddings& y, bool symmetric, Metric metric, double gamma,
                  int threads, const KeepGoing& keep_going, float* out) {
    const Packed p = pack(x, y, metric);
    const std::size_t n = p.rows, m = p.cols;
    const std::size_t row_blocks = (p.rows_pad + kRowBlock - 1) / kRowBlock;
    const int workers = parallel_workers(row_blocks, threads);  // per-worker tiles: no more than used
    std::vector<std::vector<float>> tiles(workers, std::vector<float>(kRowBlock * kColBlock));
    const bool by_distance = metric == Metric::rbf || metric == Metric::euclidean;
    // Every value is computed here once (the mirrored ones are copies), so its statistics come free.
    std::vector<Scan> scans(workers, empty_scan());
    check_cancel(parallel_for(row_blocks, 1, threads, [&](int w, std::size_t b0, std::size_t b1) {
        float* tile = tiles[w].data();
        for (std::size_t b = b0; b < b1; ++b) {
            const std::size_t r0 = b * kRowBlock, r1 = std::min(p.rows_pad, r0 + kRowBlock);
            // Symmetric: only blocks that reach the diagonal or beyond; the rest is their mirror image.
            std::size_t c_start = symmetric ? r0 / kColTile * kColTile : 0;
            for (std::size_t c0 = c_start; c0 < p.cols_pad; c0 += kColBlock) {
                const std::size_t c1 = std::min(p.cols_pad, c0 + kColBlock);
                tile_product(p.x.data(), p.yt.data(), p.dim, p.cols_pad, r0, r1, c0, c1, tile, kColBlock);
                const std::size_t c_end = std::min(c1, m);
                for (std::size_t i = r0; i < std::min(r1, n); ++i) {
                    const float* src = tile + (i - r0) * kColBlock;
                    float* dst = out + i * m;
                    // Symmetric: this worker writes the upper triangle (j >= i) of its rows here and,
                    // below, the lower triangle of its columns: every entry once, by one worker.
                    const std::size_t j0 = symmetric ? std::max(c0, i) : c0;
                    if (j0 >= c_end) continue;
                    const float* from = src + (j0 - c0);
                    if (by_distance) {
                        for (std::size_t j = j0; j < c_end; ++j)
                            dst[j] = similarity(metric, gamma, src[j - c0], p.x_sq[i], p.y_sq[j]);
                        if (symmetric && i >= c0 && i < c1) dst[i] = 1.0f;  // exact zero distance to itself
                        from = dst + j0;
                    }
                    {
                        const std::size_t before = scans[w].non_finite;
                        copy_scan(scans[w], from, dst + j0, c_end - j0, i * m + j0);
                        // Off the diagonal, each value also stands for its mirror image.
                        if (symmetric)
                            scans[w].non_finite += scans[w].non_finite - before - (j0 == i && !std::isfinite(dst[i]));
                    }
                }
                if (symmetric) {
                    // The mirror image of this tile, s_ji = s_ij, while the tile is still in cache.
                    const std::size_t i_end = std::min(r1, n);
                    for (std::size_t j = c0; j < c_end; ++j) {
                        float* dst = out + j * m;
                        for (std::size_t i = r0; i < std::min(i_end, j); ++i) dst[i] = out[i * m + j];
                    }
                }
            }
        }
    }, keep_going));
    Scan total = empty_scan();
    for (const Scan& sc : scans) {
        if (sc.non_finite && (!total.non_finite || sc.first_non_finite < total.first_non_finite))
            total.first_non_finite = sc.first_non_finite;
        total.non_finite += sc.non_finite;
        total.min = std::min(total.min, sc.min);
        total.max = std::max(total.max, sc.max);
    }
    return total;
}

void knn_kernel(const Embeddings& x, const Embeddings& y, std::size_t t, Metric metric, double gamma,
                int threads, const KeepGoing& keep_going, std::int32_t* out_index, float* out_value) {
    if (t == 0 || t > y.rows)
        throw std::invalid_argument("knn must be in [1, " + std::to_string(y.rows) + "] (the number of columns), got " +
                                    std::to_string(t));
    if (y.rows > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::invalid_argument("a kNN kernel holds at most 2^31 - 1 columns");
    const Packed p = pack(x, y, metric);
    const std::size_t n = p.rows, m = p.cols;
    const bool by_distance = metric == Metric::rbf || metric == Metric::euclidean;
    const std::size_t row_blocks = (p.rows_pad + kRowBlock - 1) / kRowBlock;
    const int workers = parallel_workers(row_blocks, threads);  // per-worker tiles: no more than used
    std::vector<std::vector<float>> tiles(workers, std::vector<float>(kRowBlock * kColBlock));

    check_cancel(parallel_for(row_blocks, 1, threads, [&](int w, std::size_t b0, std::size_t b1) {
        float* tile = tiles[w].data();
        std::vector<float> heap_v(kRowBlock * t);
        std::vector<std::int32_t> heap_i(kRowBlock * t);
        std::vector<std::size_t> fill(kRowBlock);
        for (std::size_t b = b0; b < b1; ++b) {
            const std::size_t r0 = b * kRowBlock, r1 = std::min(p.rows_pad, r0 + kRowBlock);
            std::fill(fill.begin(), fill.end(), 0);
            for (std::size_t c0 = 0; c0 < p.cols_pad; c0 += kColBlock) {
                const std::size_t c1 = std::min(p.cols_pad, c0 + kColBlock);
                tile_product(p.x.data(), p.yt.data(), p.dim, p.cols_pad, r0, r1, c0, c1, tile, kColBlock);
                const std::size_t c_end = std::min(c1, m);
                for (std::size_t i = r0; i < std::min(r1, n); ++i) {
                    float* key = tile + (i - r0) * kColBlock;
                    // Ranking key: the dot product, or 2<x,y> - |y|^2 (= |x|^2 - distance^2) for the
                    // distance metrics, so the nearest come first without computing exp/sqrt n*m times.
                    if (by_distance)
                        for (std::size_t j = c0; j < c_end; ++j) key[j - c0] = 2.0f * key[j - c0] - p.y_sq[j];
                    float* hv = heap_v.data() + (i - r0) * t;
                    std::int32_t* hi = heap_i.data() + (i - r0) * t;
                    std::size_t& size = fill[i - r0];
                    // Min-heap on (value, -index): the root is the worst kept neighbour. Columns arrive in
                    // ascending order, so a newcomer equal to the root loses the tie and is skipped.
                    auto worse = [&](std::size_t a, std::size_t c) {
                        return hv[a] < hv[c] || (hv[a] == hv[c] && hi[a] > hi[c]);
                    };
                    auto sift_down = [&](std::size_t pos) {
                        for (;;) {
                            std::size_t l = 2 * pos + 1, r = l + 1, s = pos;
                            if (l < size && worse(l, s)) s = l;
                            if (r < size && worse(r, s)) s = r;
                            if (s == pos) return;
                            std::swap(hv[s], hv[pos]);
                            std::swap(hi[s], hi[pos]);
                            pos = s;
                        }
                    };
                    std::size_t j = c0;
                    for (; j < c_end && size < t; ++j) {  // fill the heap
                        std::size_t pos = size++;
                        hv[pos] = key[j - c0];
                        hi[pos] = static_cast<std::int32_t>(j);
                        while (pos > 0 && worse(pos, (pos - 1) / 2)) {
                            std::size_t parent = (pos - 1) / 2;
                            std::swap(hv[parent], hv[pos]);
                            std::swap(hi[parent], hi[pos]);
                            pos = parent;
                        }
                    }
                    float threshold = hv[0];
                    for (; j < c_end; ++j) {
                        const float v = key[j - c0];
                        if (v > threshold) {
                            hv[0] = v;
                            hi[0] = static_cast<std::int32_t>(j);
                            sift_down(0);
                            threshold = hv[0];
                        }
                    }
                }
            }
            // Emit each row best first, converting ranking keys to similarities.
            std::vector<std::size_t> order(t);
            for (std::size_t i = r0; i < std::min(r1, n); ++i) {
                const float* hv = heap_v.data() + (i - r0) * t;
                const std::int32_t* hi = heap_i.data() + (i - r0) * t;
                for (std::size_t r = 0; r < t; ++r) order[r] = r;
                std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t c) {
                    return hv[a] > hv[c] || (hv[a] == hv[c] && hi[a] < hi[c]);
                });
                for (std::size_t r = 0; r < t; ++r) {
                    const std::size_t s = order[r];
                    const std::int32_t j = hi[s];
                    float value = hv[s];
                    if (by_distance) {
                        // The ranking key loses precision to cancellation for near neighbours, so the
                        // t kept distances are recomputed directly (t * dim per row, not m * dim).
                        double d2 = 0;
                        for (std::size_t k = 0; k < p.dim; ++k) {
                            const double diff = static_cast<double>(p.x[i * p.dim + k]) - p.yt[k * p.cols_pad + j];
                            d2 += diff * diff;
                        }
                        value = metric == Metric::rbf ? static_cast<float>(std::exp(-gamma * d2))
                                                      : static_cast<float>(1.0 / (1.0 + std::sqrt(d2)));
                    }
                    out_index[i * t + r] = j;
                    out_value[i * t + r] = value;
                }
            }
        }
    }, keep_going));
}

Scan scan_values(const float* data, std::size_t count, int threads, const KeepGoing& keep_going) {
    const int workers = resolve_threads(threads);
    constexpr std::size_t kGrain = 1 << 20;
    const std::size_t chunks = (count + kGrain - 1) / kGrain;
    std::vector<Scan> partial(chunks);
    check_cancel(parallel_for(chunks, 1, workers, [&](int, std::size_t c0, std::size_t c1) {
        for (std::size_t c = c0; c < c1; ++c) {
            Scan s;
            s.min = std::numeric_limits<float>::infinity();
            s.max = -std::numeric_limits<float>::infinity();
            const std::size_t b = c * kGrain, e = std::min(count, b + kGrain);
            float lo = s.min, hi = s.max;
            std::size_t bad = 0;
            for (std::size_t k = b; k < e; ++k) {
                const float v = data[k];
                bad += !std::isfinite(v);
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
            if (bad)
                for (std::size_t k = b; k < e; ++k)
                    if (!std::isfinite(data[k])) {
                        s.first_non_finite = k;
                        break;
                    }
            s.non_finite = bad;
            s.min = lo;
            s.max = hi;
            partial[c] = s;
        }
    }, keep_going));
    Scan total;
    total.min = std::numeric_limits<float>::infinity();
    total.max = -std::numeric_limits<float>::infinity();
    for (const Scan& s : partial) {  // chunk order: the first bad entry is the lowest one
        if (s.non_finite && !total.non_finite) total.first_non_finite = s.first_non_finite;
        total.non_finite += s.non_finite;
        total.min = std::min(total.min, s.min);
        total.max = std::max(total.max, s.max);
    }
    return total;
}

void transpose(const float* in, std::size_t rows, std::size_t cols, int threads, const KeepGoing& keep_going,
               float* out) {
    constexpr std::size_t kB = 64;
    const std::size_t blocks = (rows + kB - 1) / kB;
    check_cancel(parallel_for(blocks, 1, threads, [&](int, std::size_t b0, std::size_t b1) {
        for (std::size_t b = b0; b < b1; ++b) {
            const std::size_t i0 = b * kB, i1 = std::min(rows, i0 + kB);
            for (std::size_t j0 = 0; j0 < cols; j0 += kB) {
                const std::size_t j1 = std::min(cols, j0 + kB);
                for (std::size_t i = i0; i < i1; ++i)
                    for (std::size_t j = j0; j < j1; ++j) out[j * rows + i] = in[i * cols + j];
            }
        }
    }, keep_going));
}

void csr_transpose(std::size_t rows, std::size_t cols, const std::int64_t* ptr, const std::int32_t* index,
                   const float* value, std::int64_t* out_ptr, std::int32_t* out_index, float* out_value) {
    std::fill(out_ptr, out_ptr + cols + 1, 0);
    const std::int64_t nnz = ptr[rows];
    for (std::int64_t k = 0; k < nnz; ++k) {
        const std::int32_t j = index[k];
        if (j < 0 || static_cast<std::size_t>(j) >= cols)
            throw std::invalid_argument("a neighbour index is out of range: " + std::to_string(j) + " not in [0, " +
                                        std::to_string(cols) + ")");
        ++out_ptr[j + 1];
    }
    for (std::size_t j = 0; j < cols; ++j) out_ptr[j + 1] += out_ptr[j];
    std::vector<std::int64_t> next(out_ptr, out_ptr + cols);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::int64_t k = ptr[i]; k < ptr[i + 1]; ++k) {
            const std::int64_t dst = next[index[k]]++;
            out_index[dst] = static_cast<std::int32_t>(i);
            out_value[dst] = value[k];
        }
}

}  // namespace zipsift::submodular
