"""The Ray engine against the local engine on one large JSONL file, on this machine.

Builds the mixed corpus of bench/corpus.py (chunks of at most ~2 KB), repeated with new ids into
ONE JSONL file of about --pool-mb, starts a local Ray (ray.init, --cpus CPUs; its start-up is not
timed), and times, per method (gain, dsir, optionally zipfit):

  local     CompressionGain/DSIR/ZipFit .select over iter_records in this process, 1 native thread
  ray N     zipsift.engine.ray.select with N actors of 1 thread, the file split into --split-mb
            ranges (the same selection; checked equal, record by record)

and, without Ray, the per-document engine cost: read_split (read the range, split lines, decode
the text field) in µs per document, with orjson and with the exact json path, against the local
reader (iter_records: full records). Reported per Ray run: the stages (fit, score, fetch of the
winners), the summed actor time spent scoring vs. reading, rank rows and bytes sent to the
driver, records per actor. Each configuration runs --rounds times; the median is reported.

Run: python bench/ray_scaling.py [--pool-mb 300] [--k 1000] [--cpus 2] [--rounds 1]
     [--split-mb 64] [--methods gain,dsir]
Needs pip install "zipsift[ray]".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402


def build_pool(work: Path, pool_mb: float) -> Path:
    """One JSONL file of about pool_mb MB: the corpus repeated with new ids."""
    corpus.build(str(work), pool_mb=min(pool_mb, 25.0), functions=80)
    lines = (work / "pool.jsonl").read_text().splitlines()
    path = work / "one.jsonl"
    size = 0
    with open(path, "w", encoding="utf-8") as out:
        copy = 0
        while size < pool_mb * 1e6:
            for line in lines:
                record = json.loads(line)
                record["id"] = f"{copy}-{record.get('path', '')}"
                text = json.dumps(record, ensure_ascii=False) + "\n"
                out.write(text)
                size += len(text.encode())
            copy += 1
    return path


def engine_cost(path: Path, docs: int) -> dict:
    """µs per document of reading without scoring: the lines of the range alone (read and split),
    read_split (lines + text decode: orjson, then the exact json path) over the whole file as one
    range, and the local reader (iter_records, full records)."""
    from zipsift import io as zio

    out = {}
    split = zio.plan_splits([path], 1 << 62)[0]
    start = time.perf_counter()
    n = sum(1 for _ in zio._split_lines(split, ".jsonl"))
    out["split_lines_us_per_doc"] = round((time.perf_counter() - start) / n * 1e6, 2)
    for name in ("orjson", "json"):
        saved = zio._orjson
        if name == "json":
            zio._orjson = None
        try:
            start = time.perf_counter()
            n = sum(1 for _ in zio.read_split(split))
            out[f"read_split_{name}_us_per_doc"] = round((time.perf_counter() - start) / n * 1e6, 2)
        finally:
            zio._orjson = saved
    start = time.perf_counter()
    n = sum(1 for _ in zio.iter_records(path))
    out["iter_records_us_per_doc"] = round((time.perf_counter() - start) / n * 1e6, 2)
    assert n == docs
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool-mb", type=float, default=300.0)
    parser.add_argument("--targets", type=int, default=40)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--split-mb", type=float, default=64)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--methods", default="gain,dsir", help="comma-separated: gain, dsir, zipfit")
    parser.add_argument("--actors", default="1,2")
    parser.add_argument("--pool", type=Path, help="an existing pool file built by this script (its folder holds "
                                                   "target.jsonl); default: build one in a temporary folder")
    args = parser.parse_args()

    import ray

    from zipsift import DSIR, CompressionGain, ZipFit
    from zipsift.engine.ray import select
    from zipsift.io import iter_records, read_texts

    if args.pool is not None:
        work, pool = args.pool.parent, args.pool
    else:
        work = Path(tempfile.mkdtemp(prefix="zipsift-ray-bench-"))
        pool = build_pool(work, args.pool_mb)
    targets = read_texts(work / "target.jsonl")[:args.targets]
    n_docs = sum(1 for _ in open(pool, "rb"))
    n_bytes = pool.stat().st_size
    print(json.dumps({"docs": n_docs, "bytes": n_bytes, "targets": len(targets), "k": args.k,
                      "split_bytes": int(args.split_mb * (1 << 20)), "load": os.getloadavg()}), flush=True)
    print(json.dumps({"engine_cost": engine_cost(pool, n_docs), "load": os.getloadavg()}), flush=True)

    started = time.perf_counter()
    ray.init(num_cpus=args.cpus, object_store_memory=200 * 1024 * 1024, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    print(json.dumps({"ray_init_seconds": round(time.perf_counter() - started, 2)}), flush=True)
    makers = {"zipfit": lambda: ZipFit(targets, threads=1), "dsir": lambda: DSIR(targets, threads=1),
              "gain": lambda: CompressionGain(targets, threads=1)}
    for method in args.methods.split(","):
        make = makers[method]

        def local_run():
            sel = make()
            if method == "dsir":
                sel.fit(iter_records(pool), batch_size=args.batch_size)
            return sel.select(iter_records(pool), k=args.k, batch_size=args.batch_size)

        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            expected = local_run()
            times.append(time.perf_counter() - start)
        local = statistics.median(times)
        print(json.dumps({"method": method, "engine": "local, 1 thread", "seconds": round(local, 2),
                          "docs_per_s": round(n_docs / local), "load": os.getloadavg()}), flush=True)
        for actors in map(int, args.actors.split(",")):
            times, got = [], None
            for _ in range(args.rounds):
                start = time.perf_counter()
                got = select(str(pool), make, k=args.k, actors=actors, batch_size=args.batch_size,
                             split_bytes=int(args.split_mb * (1 << 20)))
                times.append(time.perf_counter() - start)
                assert [(r.record, r.score, r.index) for r in got.kept] == \
                    [(r.record, r.score, r.index) for r in expected], "the Ray selection differs"
            seconds = statistics.median(times)
            print(json.dumps({"method": method, "engine": f"ray, {actors} actor(s)", "seconds": round(seconds, 2),
                              "ratio_to_local": round(seconds / local, 2), "stages": got.seconds,
                              "actor_scoring_seconds": got.scoring_seconds,
                              "actor_busy_seconds": got.busy_seconds,
                              "engine_us_per_doc": round((got.busy_seconds - got.scoring_seconds) / n_docs * 1e6, 2),
                              "scoring_us_per_doc": round(got.scoring_seconds / n_docs * 1e6, 2),
                              "splits": got.splits, "records_per_actor": got.records_per_actor,
                              "rank_rows_to_driver": got.rank_rows, "rank_bytes_to_driver": got.rank_bytes,
                              "load": os.getloadavg()}), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
