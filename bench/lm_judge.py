"""Cost and sensitivity of the fine-tuning judge (`zipsift eval --proxy lm`), run by hand (not in CI).

    python bench/lm_judge.py [--threads 2] [--tokens 4096] [--seeds 3] [--convert]

Prints one JSON line per measurement, as it goes:
  * convert: first GGUF -> safetensors conversion into an empty cache (with --convert), and a cached load;
  * step: seconds per optimiser step at block 256 (batch 1 and the default batch), float32 and bf16;
  * heldout: held-out cross-entropy throughput (tokens/s);
  * judge: held-out CE of two selections from tests/data/quickstart/pool.jsonl (its Python functions,
    and everything else: C headers and licence prose) under several training-order seeds, against the
    12 quickstart targets; the spread across seeds is the judge's noise, the gap between the two
    selections an effect it should see.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import zipsift.lm as zlm  # first: sets OMP_WAIT_POLICY before torch loads

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "quickstart"


def emit(**row):
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--convert", action="store_true", help="also time a first conversion into an empty cache")
    parser.add_argument("--skip-steps", action="store_true")
    args = parser.parse_args()

    import torch

    if args.convert:
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            zlm.converted_folder(zlm.default_model_path(), cache=cache)
            emit(what="convert", seconds=round(time.perf_counter() - start, 1))
    loaded = zlm.load_model(threads=args.threads)
    emit(what="cached_load", seconds=round(loaded.seconds, 2), converted=loaded.converted,
         threads=torch.get_num_threads())

    model = loaded.model
    if not args.skip_steps:
        base = {k: v.clone() for k, v in model.state_dict().items()}
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        model.train()
        for batch in (1, zlm.DEFAULTS["batch_size"]):
            for bf16 in (False, True):
                x = torch.randint(0, model.config.vocab_size, (batch, 256), generator=torch.Generator().manual_seed(0))
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        loss = model(input_ids=x, labels=x, use_cache=False).loss
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    times.append(time.perf_counter() - start)
                best = min(times)
                emit(what="step", block=256, batch=batch, bf16=bf16, seconds_best=round(best, 2),
                     seconds_all=[round(t, 2) for t in times], seconds_per_10k_tokens=round(best * 10_000 / (256 * batch)))
        model.eval()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(base[k])
        del optimizer, base

    heldout = [json.loads(line)["text"] for line in (DATA / "targets.jsonl").read_text().splitlines()]
    pool = [json.loads(line) for line in (DATA / "pool.jsonl").read_text().splitlines()]
    selections = {"python": [r["text"] for r in pool if r["domain"] == "python"],
                  "other": [r["text"] for r in pool if r["domain"] != "python"]}
    judge = zlm.FineTuneJudge(loaded, tokens=args.tokens, threads=args.threads)
    start = time.perf_counter()
    base = judge.baseline(heldout)
    seconds = time.perf_counter() - start
    emit(what="heldout", tokens=base["tokens"], seconds=round(seconds, 1), tokens_per_s=round(base["tokens"] / seconds),
         baseline_ce=round(base["ce_nats_per_token"], 5), baseline_bpb=round(base["bits_per_byte"], 5))
    for seed in range(args.seeds):
        for name, texts in selections.items():
            judge.seed = seed
            row = judge.evaluate(texts, heldout, label=f"{name} seed {seed}")
            emit(what="judge", selection=name, seed=seed, ce=round(row["ce_nats_per_token"], 5),
                 bpb=round(row["bits_per_byte"], 5), steps=row["steps"], train_tokens=row["train_tokens"],
                 seconds_train=row["seconds_train"], seconds_heldout=row["seconds_heldout"], short=row["short"])


if __name__ == "__main__":
    sys.exit(main())
