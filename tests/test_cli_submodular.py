"""`zipsift select submodular` end to end."""
import json

import numpy as np
import pytest

from zipsift import submodular as sm
from zipsift.cli import main


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
