#include "ngram.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "mix64.h"
#include "parallel.h"
#include "sha256.h"

namespace zipsift {

namespace {

constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;


inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

inline std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Uniform-ish map of a 64-bit value to [0, m) without division (Lemire's multiply-shift).
inline std::uint64_t range_reduce(std::uint64_t h, std::uint64_t m) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(h) * m) >> 64);
}

// The fast scheme's classes of ASCII bytes: \w = [0-9A-Za-z_]; space = \t \n \v \f \r and ' '.
struct AsciiClasses {
    std::uint8_t cls[128];
    constexpr AsciiClasses() : cls() {
        for (int c = 0; c < 128; ++c) {
            bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
            bool space = (c >= 0x09 && c <= 0x0d) || c == 0x20;
            cls[c] = word ? kWord : space ? kSpace : kOther;
        }
    }
};
constexpr AsciiClasses kAscii{};

// Decodes one UTF-8 sequence at p (valid UTF-8 is a precondition of compat input; a malformed
// byte is taken as one code point of its own value so that scanning always advances).
inline std::uint32_t decode_utf8(const std::uint8_t* p, const std::uint8_t* end, int& len) {
    std::uint8_t b = p[0];
    int need = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
    if (need == 0 || end - p <= need) {
        len = 1;
        return b;
    }
    std::uint32_t cp = b & (0x3F >> need);
    for (int i = 1; i <= need; ++i) {
        if ((p[i] & 0xC0) != 0x80) {
            len = 1;
            return b;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp > 0x10FFFF) {  // not a code point: the table has no entry for it
        len = 1;
        return b;
    }
    len = need + 1;
    return cp;
}

}  // namespace

std::uint64_t fast_hash(const std::uint8_t* data, std::size_t n) {
    std::uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) h = rotl((h ^ load64(data + i)) * kMul, 29);
    if (i < n) {
        std::uint64_t tail = 0;
        std::memcpy(&tail, data + i, n - i);
        h = rotl((h ^ tail) * kMul, 29);
    }
    return fmix64(h);
}

NgramScheme parse_ngram_scheme(const std::string& name) {
    if (name == "fast") return NgramScheme::fast;
    if (name == "compat") return NgramScheme::compat;
    throw std::invalid_argument("scheme must be 'fast' (our hash, the default) or 'compat' (exactly the "
                                "data-selection package: wordpunct tokens, sha256 buckets), got '" + name + "'");
}

const char* ngram_scheme_name(NgramScheme scheme) { return scheme == NgramScheme::fast ? "fast" : "compat"; }

// Open-addressing cache from n-gram bytes to bucket. SHA-256 of every n-gram is the whole cost of
// the compat scheme, and text repeats its n-grams (Zipf), so most lookups hit. The table is
// cleared when it fills: memory stays bounded whatever the size of the pool.
struct NgramMemo {
    static constexpr std::size_t kSlotBits = 19;
    static constexpr std::size_t kSlots = std::size_t(1) << kSlotBits;
    static constexpr std::size_t kMaxEntries = kSlots / 2;
    static constexpr std::size_t kMaxArena = std::size_t(16) << 20;
    static constexpr std::size_t kMaxKey = 256;  // longer n-grams are hashed, not cached

    struct Slot {
        std::uint64_t hash;
        std::uint32_t offset, length, bucket, used;
    };
    std::vector<Slot> slots = std::vector<Slot>(kSlots);
    std::vector<std::uint8_t> arena;
    std::size_t entries = 0;
    std::uint64_t modulus = 0;

    void clear() {
        std::fill(slots.begin(), slots.end(), Slot{0, 0, 0, 0, 0});
        arena.clear();
        entries = 0;
    }

    void use_modulus(std::uint64_t m) {
        if (m != modulus) {
            clear();
            modulus = m;
        }
    }

    void prefetch(std::uint64_t h) const { __builtin_prefetch(&slots[h & (kSlots - 1)]); }

    // The bucket of key (whose fast_hash is h) mod the modulus given to use_modulus.
    std::uint32_t bucket(const std::uint8_t* key, std::size_t n, std::uint64_t h) {
        if (n > kMaxKey) return static_cast<std::uint32_t>(sha256_mod(key, n, modulus));
        std::size_t i = h & (kSlots - 1);
        while (slots[i].used) {
            const Slot& s = slots[i];
            if (s.hash == h && s.length == n && std::memcmp(arena.data() + s.offset, key, n) == 0) return s.bucket;
            i = (i + 1) & (kSlots - 1);
        }
        auto b = static_cast<std::uint32_t>(sha256_mod(key, n, modulus));
        if (entries >= kMaxEntries || arena.size() + n > kMaxArena) {
            clear();
            i = h & (kSlots - 1);
        }
        slots[i] = Slot{h, static_cast<std::uint32_t>(arena.size()), static_cast<std::uint32_t>(n), b, 1};
        arena.insert(arena.end(), key, key + n);
        ++entries;
        return b;
    }
};

struct NgramHasher::Worker {
    std::vector<std::uint8_t> lowered;
    std::vector<std::pair<std::size_t, std::size_t>> tokens;  // (offset, length) in `lowered`
    std::vector<std::uint64_t> token_hash;                    // fast scheme
    std::vector<std::uint8_t> joined;                         // compat scheme: "a b" of every n-gram, n >= 2
    struct Key {
        std::size_t offset, length;
        bool joined;  // in `joined`, else in `lowered`
    };
    std::vector<Key> keys;                                    // compat scheme: every n-gram's bytes
    std::vector<std::uint32_t> out;                           // bucket of every n-gram
    std::unique_ptr<NgramMemo> memo;
    // Dense per-thread counts (B entries) and the buckets touched by the current text.
    std::vector<std::int32_t> dense;
    std::vector<std::uint32_t> touched;

    // Counts `out` per bucket into `dense`, listing each bucket once in `touched`. The caller
    // reads those entries and sets them back to zero.
    void count_buckets(std::uint64_t buckets) {
        if (dense.empty()) dense.assign(buckets, 0);
        touched.clear();
        for (std::uint32_t b : out)
            if (dense[b]++ == 0) touched.push_back(b);
    }
};

NgramHasher::NgramHasher(int n, std::uint64_t buckets, NgramScheme scheme,
                         std::shared_ptr<const std::vector<std::uint8_t>> unicode_classes)
    : n_(n), buckets_(buckets), scheme_(scheme), classes_(std::move(unicode_classes)) {
    if (n < 1 || n > 16)
        throw std::invalid_argument("ngrams must be between 1 and 16 (2 = unigrams and bigrams, DSIR's default), got " +
                                    std::to_string(n));
    if (buckets < 1 || buckets > (std::uint64_t(1) << 31))
        throw std::invalid_argument("buckets must be between 1 and 2^31 (DSIR's default is 10000), got " +
                                    std::to_string(buckets));
    if (scheme == NgramScheme::compat && (!classes_ || classes_->size() != 0x110000))
        throw std::invalid_argument("the compat scheme needs the tokenizer's class (word/space/other) of every code "
                                    "point: 0x110000 entries");
}

NgramHasher::~NgramHasher() = default;

std::unique_ptr<NgramMemo> NgramHasher::borrow_memo() const {
    {
        std::lock_guard<std::mutex> lock(memo_mu_);
        if (!memos_.empty()) {
            auto memo = std::move(memos_.back());
            memos_.pop_back();
            return memo;
        }
    }
    return std::make_unique<NgramMemo>();
}

void NgramHasher::give_back(std::unique_ptr<NgramMemo> memo) const {
    if (!memo) return;
    std::lock_guard<std::mutex> lock(memo_mu_);
    memos_.push_back(std::move(memo));
}

namespace {

// One text can be hundreds of MB: every pass over it checks for cancellation (Ctrl-C) every
// 2^16 steps, since parallel_for only checks between chunks and one text is one chunk.
inline void poll_cancel(std::size_t step, std::size_t mask = 0xFFFF) {
    if ((step & mask) == mask && cancellation_requested()) throw Cancelled{};
}

}  // namespace

void NgramHasher::featurize(const std::uint8_t* text, std::size_t len, Worker& w) const {
    // 1. Lowercase (ASCII; compat callers lowercased any non-ASCII text already, the Python way).
    w.lowered.resize(len);
    for (std::size_t i = 0; i < len; ++i) {
        std::uint8_t c = text[i];
        w.lowered[i] = (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
    }
    // 2. Tokenize: maximal runs of word characters, or of characters that are neither word nor space.
    w.tokens.clear();
    const std::uint8_t* s = w.lowered.data();
    const std::uint8_t* end = s + len;
    const bool compat = scheme_ == NgramScheme::compat;
    const std::uint8_t* table = classes_ ? classes_->data() : nullptr;
    auto class_at = [&](const std::uint8_t* p, int& step) -> std::uint8_t {
        if (!compat) {
            step = 1;
            return *p < 0x80 ? kAscii.cls[*p] : std::uint8_t(kWord);
        }
        if (*p < 0x80) {
            step = 1;
            return table[*p];
        }
        return table[decode_utf8(p, end, step)];
    };
    const std::uint8_t* p = s;
    while (p < end) {
        int step;
        std::uint8_t cls = class_at(p, step);
        if (cls == kSpace) {
            p += step;
            continue;
        }
        poll_cancel(w.tokens.size());
        const std::uint8_t* start = p;
        p += step;
        while (p < end) {
            std::uint8_t c2 = class_at(p, step);
            if (c2 != cls) break;
            p += step;
        }
        w.tokens.emplace_back(static_cast<std::size_t>(start - s), static_cast<std::size_t>(p - start));
    }
    // 3. Hash every 1..n-gram into a bucket.
    const std::size_t m = w.tokens.size();
    w.out.clear();
    if (!compat) {
        w.token_hash.resize(m);
        for (std::size_t i = 0; i < m; ++i) w.token_hash[i] = fast_hash(s + w.tokens[i].first, w.tokens[i].second);
        for (int k = 1; k <= n_; ++k) {
            const std::uint64_t salt = static_cast<std::uint64_t>(k) * 0xD6E8FEB86659FD93ull;
            for (std::size_t i = 0; i + k <= m; ++i) {
                poll_cancel(i);
                std::uint64_t g = w.token_hash[i];
                for (int j = 1; j < k; ++j) g = rotl(g * kMul, 27) ^ w.token_hash[i + j];
                w.out.push_back(static_cast<std::uint32_t>(range_reduce(fmix64(g ^ salt), buckets_)));
            }
        }
        return;
    }
    // Every n-gram's bytes first (unigrams in place, longer n-grams joined by one space), then their
    // hashes, then the memo lookups with the slot of a lookup a few steps ahead prefetched: the
    // table is larger than the caches, and overlapping its misses is most of the compat speed.
    w.keys.clear();
    w.joined.clear();
    for (int k = 1; k <= n_; ++k) {
        for (std::size_t i = 0; i + k <= m; ++i) {
            poll_cancel(i);
            if (k == 1) {
                w.keys.push_back({w.tokens[i].first, w.tokens[i].second, false});
                continue;
            }
            const std::size_t start = w.joined.size();
            for (int j = 0; j < k; ++j) {
                if (j) w.joined.push_back(' ');
                const auto& t = w.tokens[i + j];
                w.joined.insert(w.joined.end(), s + t.first, s + t.first + t.second);
            }
            w.keys.push_back({start, w.joined.size() - start, true});
        }
    }
    const std::size_t nk = w.keys.size();
    auto key_data = [&](const Worker::Key& key) { return (key.joined ? w.joined.data() : s) + key.offset; };
    w.token_hash.resize(nk);
    for (std::size_t i = 0; i < nk; ++i) {
        poll_cancel(i);
        w.token_hash[i] = fast_hash(key_data(w.keys[i]), w.keys[i].length);
    }
    NgramMemo& memo = *w.memo;
    memo.use_modulus(buckets_);
    constexpr std::size_t kAhead = 12;
    for (std::size_t i = 0; i < std::min(kAhead, nk); ++i) memo.prefetch(w.token_hash[i]);
    for (std::size_t i = 0; i < nk; ++i) {
        poll_cancel(i, 0x3FFF);  // every 2^14 lookups: the slow step
        if (i + kAhead < nk) memo.prefetch(w.token_hash[i + kAhead]);
        w.out.push_back(memo.bucket(key_data(w.keys[i]), w.keys[i].length, w.token_hash[i]));
    }
}

void NgramHasher::for_each_featurized(const Tape& texts, int threads, const KeepGoing& keep_going,
                                      const std::function<void(Worker&, int, std::size_t)>& visit) const {
    // Chunks bounded in bytes (Ctrl-C between them), and no more workers, nor memo tables (~12 MB
    // each), than there are chunks: a memo is borrowed on a worker's first text.
    const std::vector<std::size_t> chunks = tape_chunks(texts);
    std::vector<Worker> workers(parallel_workers(chunks.size() - 1, threads));
    bool ok = false;
    try {
        ok = parallel_for_chunks(chunks, threads,
                                 [&](int worker, std::size_t begin, std::size_t end) {
                                     Worker& w = workers[worker];
                                     if (scheme_ == NgramScheme::compat && !w.memo) w.memo = borrow_memo();
                                     for (std::size_t i = begin; i < end; ++i) {
                                         featurize(texts.data(i), texts.length(i), w);
                                         visit(w, worker, i);
                                     }
                                 },
                                 keep_going);
    } catch (...) {
        for (auto& w : workers) give_back(std::move(w.memo));
        throw;
    }
    for (auto& w : workers) give_back(std::move(w.memo));
    if (!ok) throw Cancelled{};
}

void NgramHasher::accumulate(const Tape& texts, int threads, const KeepGoing& keep_going,
                             std::int64_t* counts) const {
    std::vector<std::vector<std::int64_t>> partial(resolve_threads(threads));  // filled lazily
    for_each_featurized(texts, threads, keep_going, [&](Worker& w, int worker, std::size_t) {
        auto& c = partial[worker];
        if (c.empty()) c.assign(buckets_, 0);
        for (std::uint32_t b : w.out) ++c[b];
    });
    // Integer sums: the same whatever the split across threads.
    for (const auto& c : partial)
        for (std::size_t b = 0; b < c.size(); ++b) counts[b] += c[b];
}

void NgramHasher::dot(const Tape& texts, const double* weights, int threads, const KeepGoing& keep_going,
                      double* out, std::int64_t* totals) const {
    for_each_featurized(texts, threads, keep_going, [&](Worker& w, int, std::size_t i) {
        // Count per bucket first, then one product per bucket (as a dot with the count vector
        // does): fewer roundings than one addition per n-gram.
        w.count_buckets(buckets_);
        double sum = 0.0;
        for (std::uint32_t b : w.touched) {
            sum += static_cast<double>(w.dense[b]) * weights[b];
            w.dense[b] = 0;
        }
        out[i] = sum;
        if (totals) totals[i] = static_cast<std::int64_t>(w.out.size());
    });
}

NgramHasher::Csr NgramHasher::counts_csr(const Tape& texts, int threads, const KeepGoing& keep_going) const {
    const std::size_t n = texts.size();
    std::vector<std::vector<std::pair<std::int32_t, std::int32_t>>> rows(n);
    for_each_featurized(texts, threads, keep_going, [&](Worker& w, int, std::size_t i) {
        w.count_buckets(buckets_);
        std::sort(w.touched.begin(), w.touched.end());
        auto& row = rows[i];
        row.reserve(w.touched.size());
        for (std::uint32_t b : w.touched) {
            row.emplace_back(static_cast<std::int32_t>(b), w.dense[b]);
            w.dense[b] = 0;
        }
    });
    Csr csr;
    csr.indptr.resize(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) csr.indptr[i + 1] = csr.indptr[i] + static_cast<std::int64_t>(rows[i].size());
    csr.indices.reserve(static_cast<std::size_t>(csr.indptr[n]));
    csr.counts.reserve(static_cast<std::size_t>(csr.indptr[n]));
    for (auto& row : rows) {
        for (const auto& [b, c] : row) {
            csr.indices.push_back(b);
            csr.counts.push_back(c);
        }
        std::vector<std::pair<std::int32_t, std::int32_t>>().swap(row);
    }
    return csr;
}

std::vector<std::uint32_t> NgramHasher::buckets_of(const std::uint8_t* text, std::size_t len) const {
    Worker w;
    if (scheme_ == NgramScheme::compat) w.memo = borrow_memo();
    featurize(text, len, w);
    give_back(std::move(w.memo));
    return w.out;
}

}  // namespace zipsift
