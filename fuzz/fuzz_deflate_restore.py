"""Property run: exact C(x ⊕ y) from restored deflate states, on many random pairs of real text.

For random candidates and targets cut from real text (CPython's stdlib and the text files under
/usr/share/doc), at random levels 1-9, checks that NCD from the native core equals NCD from
CPython's own compressor (the gzip size is zlib.compress(s, level, wbits=-15) plus gzip's 18
wrapper bytes, as gzip.compress writes; spot-checked against gzip.compress itself), and that the
candidate's state after each target equals a deep copy (a few candidates per batch).

Lengths are mostly short (the records ZIP-FIT scores) with a tail to 80 KB, beyond the window.
A share of the batches (--low-entropy) maps the text onto a 4-letter alphabet or repeats one of its
lines: hash chains then outlast zlib's chain budgets, and matches run to MAX_MATCH and across the
candidate's end, which is where the replayed parse (deflate_suffix.h) has to stop as zlib stops.

    python fuzz/fuzz_deflate_restore.py --pairs 1000000 [--seed 0] [--report-every 50000]
"""
from __future__ import annotations

import argparse
import gzip
import sys
import sysconfig
import time
import zlib
from pathlib import Path

import numpy as np

import zipsift
from zipsift import _core


def corpus() -> bytes:
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    docs = sorted(p for p in Path("/usr/share/doc").rglob("*") if p.is_file() and p.suffix in {"", ".txt", ".md"}
                  and not p.is_symlink())
    parts = [p.read_bytes() for p in stdlib]
    for p in docs[:3000]:
        try:
            parts.append(p.read_bytes())
        except OSError:
            pass
    return b"\n".join(parts)


def random_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.random(n)
    short = np.exp(rng.uniform(0, np.log(2048), n))          # 1 B .. 2 KB, log-uniform
    medium = rng.uniform(2048, 20000, n)
    long = rng.uniform(20000, 80000, n)
    return np.where(kind < 0.80, short, np.where(kind < 0.97, medium, long)).astype(np.int64)


def low_entropy(rng: np.random.Generator, text: bytes) -> bytes:
    if rng.random() < 0.5:
        return bytes(b"acgt"[b & 3] for b in text)
    line = text[:int(rng.integers(1, 120))] or b"\n"
    return (line * (len(text) // len(line) + 1))[:len(text)]


def gzip_size(s: bytes, level: int) -> int:
    return len(zlib.compress(s, level, -15)) + 18


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report-every", type=int, default=50_000)
    ap.add_argument("--low-entropy", type=float, default=0.2, help="share of batches of low-entropy text")
    args = ap.parse_args()
    blob = corpus()
    rng = np.random.default_rng(args.seed)
    done = checked_states = 0
    next_report = args.report_every
    t0 = time.time()
    while done < args.pairs:
        level = int(rng.integers(1, 10))
        # Batches of 8 candidates or more replay the pairs from target indexes; smaller ones take
        # the undo log (ncd.cpp): both are drawn.
        n_x, n_y = int(rng.integers(1, 24)), int(rng.integers(1, 48))
        cut = lambda n: [blob[s:s + int(k)] for s, k in  # noqa: E731
                         zip(rng.integers(0, len(blob) - 80_001, n), random_lengths(rng, n))]
        xs, ys = cut(n_x), cut(n_y)
        if rng.random() < args.low_entropy:
            xs, ys = [low_entropy(rng, x) for x in xs], [low_entropy(rng, y) for y in ys]
        got = zipsift.ncd_matrix(xs, ys, "gzip", level, threads=int(rng.integers(1, 3)))
        cx = [gzip_size(x, level) for x in xs]
        cy = [gzip_size(y, level) for y in ys]
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                lo, hi = min(cx[i], cy[j]), max(cx[i], cy[j])
                if got[i, j] != (gzip_size(x + y, level) - lo) / hi:
                    print(f"MISMATCH level={level} seed={args.seed} len(x)={len(x)} len(y)={len(y)}", flush=True)
                    Path(f"crash-deflate-{args.seed}-{done}.bin").write_bytes(
                        len(x).to_bytes(8, "little") + x + y)
                    return 1
        if rng.random() < 0.02:
            s = xs[0] + ys[0]
            assert gzip_size(s, level) == len(gzip.compress(s, level, mtime=0))
        if rng.random() < 0.2:
            assert _core._deflate_restore_mismatches(xs[0], ys, "gzip", level) == 0, (level, len(xs[0]))
            checked_states += len(ys)
        done += n_x * n_y
        if done >= next_report:
            print(f"{done:,} pairs, {checked_states:,} restored states compared, {time.time() - t0:.0f} s, "
                  f"{_core._deflate_restore_counts()}", flush=True)
            next_report += args.report_every
    print(f"OK {done:,} pairs, {checked_states:,} restored states compared with deep copies, "
          f"{time.time() - t0:.0f} s, {_core._deflate_restore_counts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
