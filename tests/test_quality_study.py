"""bench/quality.py end to end, as docs/quality.md tells a user to run it: the domain pool built from
Debian's files, selections under one byte budget, the real SmolLM2 judge fine-tuned per selection
(tiny token budget), the table with paired differences, and resuming from quality.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import quality_corpus  # noqa: E402

pytestmark = pytest.mark.skipif(len(quality_corpus.domain_sources()["tcl"]) < 20,
                                reason="needs Tcl's library files (/usr/share/tcltk, Debian's tcl package)")


def _run(out, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), str(out), "--domains", "tcl",
                           "--methods", "random,gain", *args], capture_output=True, text=True, env=env,
                          timeout=900)


def test_recall_only_run_finds_the_domain(tmp_path):
    proc = _run(tmp_path, "--no-lm", "--seeds", "0,1")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "quality.json").read_text())["rows"]
    recall = {(r["method"], r["seed"]): r["recall"] for r in rows}
    assert set(recall) == {("random", 0), ("random", 1), ("gain", 0), ("gain", 1)}
    assert recall[("gain", 0)] > 0.5 > recall[("random", 0)]
    assert all(r["bytes"] <= 40_000 for r in rows)
    assert "| gain |" in proc.stdout


@pytest.mark.lm
def test_the_lm_judge_runs_paired_seeds_and_the_table_resumes(tmp_path):
    proc = _run(tmp_path, "--seeds", "0,1", "--lm-tokens", "256", "--heldout-context", "64", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "quality.json").read_text())
    rows = [r for r in results["rows"] if r["setting"] == "domains"]
    assert {(r["method"], r["seed"]) for r in rows} == {(m, s) for m in ("random", "gain") for s in (0, 1)}
    base = results["lm_baseline"]["tcl"]["ce_nats_per_token"]
    for r in rows:
        assert r["lm_train_tokens"] == 256 and 0 < r["lm_ce"] < 20
        assert len(r["lm_nats"]) == len(r["lm_tokens"]) > 0
    gain = [r["lm_ce"] for r in rows if r["method"] == "gain"]
    assert max(gain) < base  # a fine-tune on the domain's own text lowers its held-out loss
    assert "Δ vs random" in proc.stdout and "| tcl (base" in proc.stdout
    # quality.json resumes: nothing is fine-tuned again, the same table comes back
    again = _run(tmp_path, "--table-only")
    assert again.returncode == 0, again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("| tcl")] == \
           [line for line in proc.stdout.splitlines() if line.startswith("| tcl")]
