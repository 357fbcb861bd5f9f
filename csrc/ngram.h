// Hashed n-gram features (DSIR, Xie et al. 2023): lowercase a text, split it into word and
// punctuation tokens, take its 1..n-grams and hash each into one of B buckets. A text becomes a
// sparse count vector h(x) in N^B; nothing here ever builds a dense N x B matrix: counts are summed
// into one B-vector (fit), dotted with a B-vector as they are produced (importance weights), or
// emitted row by row in CSR form.
//
// Two schemes:
//   fast    ASCII lowercasing; tokens are maximal runs of word bytes ([0-9A-Za-z_] and every byte
//           >= 0x80) or of punctuation bytes (anything else but ASCII whitespace); each token is
//           hashed by our 64-bit hash (fast_hash below), an n-gram folds its tokens' hashes, and the
//           bucket is a multiply-shift range reduction of the mixed 64-bit value.
//   compat  the `data-selection` package exactly: NLTK's WordPunctTokenizer (\w+|[^\w\s]+ on the
//           lowercased text), n-grams joined by one space, bucket = int(sha256(utf-8 n-gram)) mod B.
//           What \w and \s mean depends on the regex engine NLTK uses (`re`, or `regex` in releases
//           that have nltk.redos, such as 3.10), so the caller supplies the class of every code point, and lowercases
//           non-ASCII text with str.lower(); the core lowercases ASCII and does the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parallel.h"
#include "tape.h"

namespace zipsift {

enum class NgramScheme { fast, compat };

// "fast" or "compat"; anything else throws std::invalid_argument.
NgramScheme parse_ngram_scheme(const std::string& name);
const char* ngram_scheme_name(NgramScheme scheme);

// Classes of a code point in the compat tokenizer (Python's re: \w, \s, neither).
enum CharClass : std::uint8_t { kOther = 0, kWord = 1, kSpace = 2 };

// Our 64-bit hash of a byte string (the fast scheme's token hash; also the memo table's key hash).
std::uint64_t fast_hash(const std::uint8_t* data, std::size_t n);

struct NgramMemo;  // per-thread token -> bucket cache of the compat scheme (defined in ngram.cpp)

class NgramHasher {
public:
    // 1 <= n <= 16, 1 <= buckets <= 2^31. unicode_classes: required by compat (ignored by fast),
    // one CharClass per code point 0..0x10FFFF.
    NgramHasher(int n, std::uint64_t buckets, NgramScheme scheme,
                std::shared_ptr<const std::vector<std::uint8_t>> unicode_classes);
    ~NgramHasher();

    int n() const { return n_; }
    std::uint64_t buckets() const { return buckets_; }
    NgramScheme scheme() const { return scheme_; }

    // counts[b] += sum over texts of h(x)_b; counts has buckets() entries.
    void accumulate(const Tape& texts, int threads, const KeepGoing& keep_going, std::int64_t* counts) const;

    // out[i] = sum_b h(x_i)_b * weights[b]; totals[i] = sum_b h(x_i)_b (the number of n-grams) when
    // totals is not null. Each sum runs over x_i's n-grams in one fixed order, so the result does not
    // depend on the thread count.
    void dot(const Tape& texts, const double* weights, int threads, const KeepGoing& keep_going, double* out,
             std::int64_t* totals) const;

    // h(x_i) in CSR form: row i is indices[indptr[i], indptr[i+1]) (ascending) with counts.
    struct Csr {
        std::vector<std::int64_t> indptr;
        std::vector<std::int32_t> indices;
        std::vector<std::int32_t> counts;
    };
    Csr counts_csr(const Tape& texts, int threads, const KeepGoing& keep_going) const;

    // The bucket of every n-gram of one text, unigrams first, then bigrams, ... (for tests).
    std::vector<std::uint32_t> buckets_of(const std::uint8_t* text, std::size_t len) const;

private:
    struct Worker;
    std::unique_ptr<NgramMemo> borrow_memo() const;
    void give_back(std::unique_ptr<NgramMemo> memo) const;
    void featurize(const std::uint8_t* text, std::size_t len, Worker& w) const;
    // Featurizes every text on `threads` workers, each with its own borrowed memo, and calls
    // visit(w, worker, i) with w.out holding text i's buckets. Throws Cancelled on Ctrl-C.
    void for_each_featurized(const Tape& texts, int threads, const KeepGoing& keep_going,
                             const std::function<void(Worker&, int, std::size_t)>& visit) const;

    int n_;
    std::uint64_t buckets_;
    NgramScheme scheme_;
    std::shared_ptr<const std::vector<std::uint8_t>> classes_;
    // Memo tables outlive a call so that a stream scored batch by batch keeps its hit rate.
    mutable std::mutex memo_mu_;
    mutable std::vector<std::unique_ptr<NgramMemo>> memos_;
};

}  // namespace zipsift
