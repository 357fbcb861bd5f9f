"""Throughput of `zipsift.ray` against the number of scoring actors, on this machine.

Builds the mixed corpus of bench/corpus.py (--pool-mb of 2 KB chunks, split into 8 JSONL files),
starts a local Ray (ray.init, --cpus CPUs, small object store), and times, per method:

  local   ZipFit/DSIR .select in this process, 1 native thread (the per-core rate)
  ray N   zipsift.ray.select with N actors of 1 thread (the same selection; checked equal)

Each configuration runs --rounds times; the fastest round is reported (shared machines only add
time). Also reported: peak RSS of a scoring actor, and the rows the top-k merge sends to the driver.

Run: python bench/ray_scaling.py [--pool-mb 4] [--targets 40] [--k 1000] [--cpus 2] [--rounds 2]
     [--batch-size 512] [--methods zipfit,dsir]
Needs pip install "zipsift[ray]".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402


def _actor_rss(stop: threading.Event, peak: dict) -> None:
    """Peak resident memory of processes titled ...ScoreActor..., sampled every 0.2 s."""
    while not stop.is_set():
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if b"ScoreActor" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            peak["kb"] = max(peak.get("kb", 0), int(line.split()[1]))
            except OSError:
                pass
        stop.wait(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool-mb", type=float, default=4.0)
    parser.add_argument("--targets", type=int, default=40)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--methods", default="zipfit,dsir", help="comma-separated: zipfit, dsir")
    args = parser.parse_args()

    import ray

    from zipsift import DSIR, ZipFit
    from zipsift.io import iter_records, read_texts
    from zipsift.ray import select

    work = Path(tempfile.mkdtemp(prefix="zipsift-ray-bench-"))
    corpus.build(str(work), pool_mb=args.pool_mb, functions=2 * args.targets)
    lines = (work / "pool.jsonl").read_text().splitlines(keepends=True)
    (work / "pool.jsonl").unlink()
    shards = work / "pool"
    shards.mkdir()
    for i in range(8):
        (shards / f"{i}.jsonl").write_text("".join(lines[i::8]))
    n_docs, n_bytes = len(lines), sum(len(line) for line in lines)
    targets = read_texts(work / "target.jsonl")[:args.targets]

    ray.init(num_cpus=args.cpus, object_store_memory=200 * 1024 * 1024, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    makers = {"zipfit": lambda: ZipFit(targets, threads=1), "dsir": lambda: DSIR(targets, threads=1)}
    rows = []
    for method, make in ((m, makers[m]) for m in args.methods.split(",")):
        def local_run():
            sel = make()
            if method == "dsir":
                sel.fit(iter_records(shards))
            return sel.select(iter_records(shards), k=args.k, batch_size=args.batch_size)

        best, expected = float("inf"), None
        for _ in range(args.rounds):
            start = time.perf_counter()
            expected = local_run()
            best = min(best, time.perf_counter() - start)
        rows.append((method, "local, 1 thread", best))
        for actors in (1, 2):
            best, peak, received = float("inf"), {}, 0
            for _ in range(args.rounds):
                stop = threading.Event()
                sampler = threading.Thread(target=_actor_rss, args=(stop, peak), daemon=True)
                sampler.start()
                start = time.perf_counter()
                got = select(str(shards), make, k=args.k, actors=actors, batch_size=args.batch_size)
                best = min(best, time.perf_counter() - start)
                stop.set()
                sampler.join()
                assert [(r.record, r.score) for r in got.kept] == [(r.record, r.score) for r in expected]
                received = got.candidates_received
            rows.append((method, f"ray, {actors} actor{'s' if actors > 1 else ''}", best, peak.get("kb", 0), received))
    batches = -(-n_docs // args.batch_size)
    print(json.dumps({"docs": n_docs, "bytes": n_bytes, "targets": len(targets), "k": args.k,
                      "batch_size": args.batch_size, "batches": batches,
                      "rows_to_driver_without_actor_state": batches * min(args.k, args.batch_size)}))
    print(f"{'method':8} {'engine':18} {'seconds':>8} {'docs/s':>9} {'actor RSS':>10} {'rows to driver':>15}")
    for row in rows:
        rss = f"{row[3] / 1024:.0f} MB" if len(row) > 3 and row[3] else ""
        sent = f"{row[4]:,}" if len(row) > 4 else ""
        print(f"{row[0]:8} {row[1]:18} {row[2]:8.2f} {n_docs / row[2]:9,.0f} {rss:>10} {sent:>15}")
    ray.shutdown()


if __name__ == "__main__":
    main()
