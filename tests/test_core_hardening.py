"""The native core's hardening: thread counts, memory per worker, Ctrl-C inside long work, and
what the sanitizer and race checks found."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import zipsift
from sigint import interrupt_script
from zipsift import _core
from zipsift.ngram import HashedNgrams


def run_script(body: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True, text=True,
                          timeout=timeout)


TEXTS = ["abc", "def ghi", ""]
W = np.zeros(16)
# Every batched entry point, called with a given `threads`.
ENTRY_POINTS = {
    "compressed_sizes": lambda t: zipsift.compressed_sizes(TEXTS, threads=t),
    "ncd_matrix": lambda t: zipsift.ncd_matrix(TEXTS, TEXTS, threads=t),
    "alignment": lambda t: zipsift.alignment(TEXTS, ["abc"], threads=t),
    "TargetSet": lambda t: _core.TargetSet(["abc"], "gzip", 9, t),
    "TargetSet.alignment": lambda t: _core.TargetSet(["abc"]).alignment(TEXTS, t),
    "HashedNgrams.counts": lambda t: HashedNgrams(2, 16).counts(TEXTS, t),
    "HashedNgrams.dot": lambda t: HashedNgrams(2, 16).dot(TEXTS, W, t),
    "HashedNgrams.csr": lambda t: HashedNgrams(2, 16)._core.csr(TEXTS, t),
    "ByteNgramLM.fit": lambda t: _core.ByteNgramLM(3, 10, 1.0).fit(TEXTS, t),
    "ByteNgramLM.bits": lambda t: _core.ByteNgramLM(3, 10, 1.0).bits(TEXTS, t),
    "dense_kernel": lambda t: _core.dense_kernel(np.eye(3, dtype=np.float32), None, "cosine", 1.0, t),
    "knn_kernel": lambda t: _core.knn_kernel(np.eye(3, dtype=np.float32), None, 1, "cosine", 1.0, t),
    "scan_values": lambda t: _core.scan_values(np.eye(3, dtype=np.float32), t),
    "transpose": lambda t: _core.transpose(np.eye(3, dtype=np.float32), t),
    "ConditionalCompressor": lambda t: _core.ConditionalCompressor(["abcdefghij"], 3, -1, t),
    "compression_gain": lambda t: _core.compression_gain(["abc"], _core.ConditionalCompressor(["abcdefghij"]),
                                                         threads=t),
    "compression_utility_kernel": lambda t: _core.compression_utility_kernel(["ab", "cd"], ["ef", "gh"], 3, True, t),
    "conditional_sizes": lambda t: _core.conditional_sizes(["abc"], _core.ConditionalCompressor(["abcdefghij"]), t),
}


# --- thread counts --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("threads", [_core.MAX_THREADS + 1, 40000, 2 ** 31, 2 ** 40, -(2 ** 40), 2.5, True, "2"])
def test_threads_out_of_range_or_not_an_int_is_a_plain_value_error(name, threads):
    with pytest.raises(ValueError, match=r"threads must be >= 0 and at most 1024"):
        ENTRY_POINTS[name](threads)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_the_maximum_thread_count_and_numpy_integers_are_accepted(name):
    ENTRY_POINTS[name](_core.MAX_THREADS)
    ENTRY_POINTS[name](np.int64(2))


def test_forty_thousand_threads_on_a_large_batch_is_an_error_not_an_abort():
    # A thread the system refuses to start once ended the process with "terminate called without an
    # active exception" (exit 134): it must be an error the caller can catch.
    r = run_script("""
        import zipsift
        try:
            zipsift.compressed_sizes(['abc'] * 1280000, threads=40000)
        except ValueError as e:
            print("ValueError:", e)
    """)
    assert r.returncode == 0, r.stderr
    assert "ValueError: threads must be >= 0 and at most 1024" in r.stdout


@pytest.mark.memory_bound  # limits the address space, which ASan reserves by terabytes
def test_thread_start_failure_joins_the_started_workers_and_raises():
    # Address space too small for 1000 thread stacks: the system refuses a thread part-way. The
    # workers already started must be joined and a Python exception raised (it was an abort).
    r = run_script("""
        import resource
        import zipsift
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))
        try:
            zipsift.compressed_sizes([b"abc"] * 200_000, threads=1000)
        except RuntimeError as e:
            print("RuntimeError:", e)
        print(zipsift.compressed_sizes([b"abc"] * 1000, threads=2)[0])  # the process still works
    """)
    assert r.returncode == 0, r.stderr
    assert "RuntimeError: could not start worker thread" in r.stdout
    assert "pass a smaller threads=" in r.stdout
    assert r.stdout.strip().endswith("23")


# --- no more workers (and per-worker memory) than there is work for -------------------------------

@pytest.mark.memory_bound
def test_compat_counts_of_one_short_text_with_256_threads_stays_small():
    # Each worker of the compat scheme memoises n-gram -> bucket in a ~12 MB table; one text is one
    # chunk, so one worker and one table, not 256 (3.1 GB before).
    r = run_script("""
        from zipsift.ngram import HashedNgrams

        def peak_kb():  # VmHWM: this image's peak (ru_maxrss would carry pytest's over the fork)
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))

        h = HashedNgrams(2, 10000, "compat")
        h.counts(["warm up"], 1)
        before = peak_kb()
        assert h.counts(['one short text'], 256).sum() == 5
        print((peak_kb() - before) // 1024)
    """)
    assert r.returncode == 0, r.stderr
    grown_mb = int(r.stdout.strip())
    assert grown_mb < 100, f"peak memory grew by {grown_mb} MB for one short text"


def test_a_small_batch_gives_the_same_result_with_1_and_1024_threads():
    texts = ["one short text", "two", ""]
    for scheme in ("fast", "compat"):
        h = HashedNgrams(2, 1000, scheme)
        assert np.array_equal(h.counts(texts, 1), h.counts(texts, 1024))
    lm1, lm2 = _core.ByteNgramLM(4, 12, 1.0), _core.ByteNgramLM(4, 12, 1.0)
    lm1.fit(texts, 1)
    lm2.fit(texts, 1024)
    assert np.array_equal(lm1.bits(texts, 1), lm2.bits(texts, 1024))


# --- what the sanitizer and race checks found -----------------------------------------------------

@pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without zstd")
def test_zstd_alignment_of_an_empty_candidate_matches_the_zstandard_package():
    # An empty text's data pointer was passed to memcpy as null (UBSan, csrc/zstd_meter.cpp); the
    # sanitizer job runs this test with halt_on_error=1.
    import zstandard

    def c(s: bytes) -> int:
        return len(zstandard.ZstdCompressor(level=9, write_content_size=True).compress(s))

    # A batch of one empty text has no bytes at all (a null buffer), which the core must accept.
    alone = zipsift.alignment([""], ["abc"], codec="zstd", level=9)
    assert alone[0] == pytest.approx(1 - (c(b"abc") - c(b"")) / c(b"abc"), abs=1e-12)
    got = zipsift.alignment([b"", "abc"], ["abc", b""], codec="zstd", level=9)
    for i, x in enumerate([b"", b"abc"]):
        ncds = [(c(x + y) - min(c(x), c(y))) / max(c(x), c(y)) for y in [b"abc", b""]]
        assert got[i] == pytest.approx(1 - sum(ncds) / 2, abs=1e-12)


def test_concurrent_fits_on_one_byte_lm_equal_sequential_fits():
    # Two Python threads fitting one model raced on its byte total (TSan). A fit now holds the model:
    # the totals add up, fitted_bytes never shows part of a fit, and the model equals a sequential one.
    text = bytes(range(256)) * 4
    rounds = 300
    shared = _core.ByteNgramLM(3, 12, 1.0)
    seen = []
    stop = threading.Event()

    def fitter():
        for _ in range(rounds):
            shared.fit([text], 2)

    def reader():
        while not stop.is_set():
            seen.append(shared.fitted_bytes)

    workers = [threading.Thread(target=fitter) for _ in range(2)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    watcher.join()
    assert shared.fitted_bytes == 2 * rounds * len(text)
    assert all(v % len(text) == 0 for v in seen), "fitted_bytes showed part of a fit"
    sequential = _core.ByteNgramLM(3, 12, 1.0)
    sequential.fit([text] * (2 * rounds), 1)
    probe = [text, b"hello world", b""]
    assert np.array_equal(shared.bits(probe, 2), sequential.bits(probe, 2))


# --- Ctrl-C inside long work ----------------------------------------------------------------------

def test_ctrl_c_stops_byte_lm_fit_inside_one_long_text(tmp_path):
    # One ~24 MB text is one chunk; it took ~15 s here and could not be interrupted. Now the
    # workers poll every 64 KiB: the fit stops with part of the text counted.
    out = interrupt_script(tmp_path, """
        import os, sys
        from zipsift import _core
        text = os.urandom(12_000_000).hex().encode()
        lm = _core.ByteNgramLM(6, 22, 32.0)
        print("ready", flush=True)
        try:
            lm.fit([text], 2)
        except KeyboardInterrupt:
            lm.fit([b"x"], 1)  # fitted_bytes is then the bytes counted so far, plus 1
            print("interrupted", lm.fitted_bytes - 1 < len(text), flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted True"


def test_ctrl_c_stops_byte_lm_bits_inside_one_long_text(tmp_path):
    out = interrupt_script(tmp_path, """
        import os, sys
        from zipsift import _core
        text = os.urandom(12_000_000).hex().encode()
        lm = _core.ByteNgramLM(6, 22, 32.0)
        lm.fit([text[:100_000]], 1)
        print("ready", flush=True)
        try:
            lm.bits([text], 2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_ctrl_c_stops_the_eval_zstd_proxy_before_the_held_out_set_is_compressed(tmp_path):
    # The zstd proxy digested its dictionary in one long C call, then compressed 1/threads of the
    # held-out set per task and waited for all of them after Ctrl-C. Now the digest is waited for in
    # short steps and tasks are <= 256 KiB: the number of texts compressed shows it stopped early.
    out = interrupt_script(tmp_path, """
        import os, random, sys, threading
        import zstandard
        from zipsift.evaluate import SelectionEvaluator
        done = [0]
        lock = threading.Lock()

        class Counting(zstandard.ZstdCompressor):
            def compress(self, data):
                with lock:
                    done[0] += 1
                return super().compress(data)

        zstandard.ZstdCompressor = Counting
        rng = random.Random(0)
        words = [os.urandom(4).hex() for _ in range(5000)]
        heldout = [" ".join(rng.choice(words) for _ in range(2000)) for _ in range(4000)]
        ev = SelectionEvaluator(heldout, proxies=("zstd",), threads=2)
        print("ready", flush=True)
        try:
            ev.evaluate(heldout[:3])  # a small dictionary: digested at once
        except KeyboardInterrupt:
            print("interrupted", done[0] < len(heldout), flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted True"


def test_ctrl_c_stops_compat_counts_inside_one_long_text(tmp_path):
    out = interrupt_script(tmp_path, """
        import os, sys
        from zipsift.ngram import HashedNgrams
        h = HashedNgrams(2, 10000, "compat")
        hexed = os.urandom(20_000_000).hex()
        text = " ".join(hexed[i:i + 6] for i in range(0, len(hexed), 6))
        print("ready", flush=True)
        try:
            h.counts([text, text], threads=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_ctrl_c_stops_a_compat_dsir_fit_on_one_large_batch(tmp_path):
    out = interrupt_script(tmp_path, """
        import os, sys
        from zipsift.dsir import DSIR
        hexed = os.urandom(30_000_000).hex()
        words = " ".join(hexed[i:i + 6] for i in range(0, len(hexed), 6))
        raw = [words[i:i + 20_000] for i in range(0, len(words), 20_000)]
        d = DSIR(["a target text"], scheme="compat", threads=2)
        print("ready", flush=True)
        try:
            d.fit(raw, batch_size=len(raw))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_work_chunks_are_bounded_in_bytes_whatever_the_input_size():
    # Chunk boundaries depend on the data only: runs of whole texts of at most 1 MiB (a longer text
    # alone), never a fraction of the input, so a chunk is short in time on any input size.
    texts = [b"x" * 100_000] * 100 + [b"y" * 3_000_000] + [b""] * 5 + [b"z"] * 10_000
    starts = _core._tape_chunks(texts)
    assert starts[0] == 0 and starts[-1] == len(texts)
    sizes = [len(t) for t in texts]
    for a, b in zip(starts, starts[1:]):
        assert b > a
        assert b - a == 1 or sum(sizes[a:b]) <= 1 << 20
        assert b - a <= 4096
    assert _core._tape_chunks([]) == [0]
