"""`zipsift select gain` end to end: output, scores equal to the library, the report, the reference
forms, and errors."""
from __future__ import annotations

import json

import pytest

import zipsift
from zipsift import CompressionGain
from zipsift.cli import main
from zipsift.io import read_texts

pytestmark = pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without libzstd headers")


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def gain_args(quickstart, out, *extra):
    return ["select", "gain", "--target", str(quickstart / "targets.jsonl"), "--source",
            str(quickstart / "pool.jsonl"), "--out", str(out), "--progress", "never", *extra]


def test_select_gain_writes_best_records_with_scores_equal_to_the_library(quickstart, tmp_path, capsys):
    out, report = tmp_path / "gain.jsonl", tmp_path / "report.json"
    assert main(gain_args(quickstart, out, "--k", "20", "--report", str(report), "--batch-size", "7")) == 0
    assert "zipsift select gain: kept 20 of 200 records" in capsys.readouterr().err
    rows = read_jsonl(out)
    pool = read_jsonl(quickstart / "pool.jsonl")
    expected = CompressionGain(read_texts(quickstart / "targets.jsonl")).select(pool, k=20)
    assert rows == [{**s.record, "gain_score": s.score} for s in expected]
    # The targets are Python functions; the pool is 40% Python (17 of 20 per byte, 15 with the
    # default length prior, which prefers the longer records at a count limit).
    assert sum(r["domain"] == "python" for r in rows) >= 14
    rep = json.loads(report.read_text())
    assert rep["command"] == "select gain" and rep["records_read"] == 200 and rep["records_selected"] == 20
    assert rep["params"]["form"] == "plain" and rep["params"]["reference"] is None
    assert rep["params"]["level"] == 3 and rep["params"]["combine"] == "mean"
    assert rep["params"]["target_dictionary_bytes"] == [sum(len(t.encode()) for t in
                                                            read_texts(quickstart / "targets.jsonl"))]
    assert "fit" not in rep and rep["bytes_selected"] == sum(len(r["text"].encode()) for r in rows)


def test_select_gain_reference_sample_fits_on_a_seeded_random_sample(quickstart, tmp_path):
    out, report = tmp_path / "gain.jsonl", tmp_path / "report.json"
    assert main(gain_args(quickstart, out, "--budget-bytes", "8000", "--reference-sample", "50",
                          "--report", str(report))) == 0
    pool = read_jsonl(quickstart / "pool.jsonl")
    from zipsift.sample import seeded_sample

    sample = seeded_sample(pool, 50, seed=0)  # random, not the first 50: a sorted pool is no trap
    assert sample != pool[:50]
    scorer = CompressionGain(read_texts(quickstart / "targets.jsonl"), reference=[r["text"] for r in sample])
    expected = scorer.select(pool, budget_bytes=8000)
    assert [r["gain_score"] for r in read_jsonl(out)] == [s.score for s in expected]
    rep = json.loads(report.read_text())
    assert rep["params"]["form"] == "moore_lewis"
    assert rep["params"]["reference"] == {"random_source_records": 50, "seed": 0, "records": 50}
    # the first pass read the whole pool to draw the sample
    assert rep["fit"]["records"] == 200 and rep["bytes_selected"] <= 8000


def test_select_gain_reference_file(quickstart, tmp_path):
    ref = tmp_path / "ref.jsonl"
    pool = read_jsonl(quickstart / "pool.jsonl")
    ref.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in pool[100:160]))
    out, report = tmp_path / "gain.jsonl", tmp_path / "report.json"
    assert main(gain_args(quickstart, out, "--k", "5", "--reference", str(ref), "--report", str(report),
                          "--dict-bytes", "4096", "--combine", "min", "--level", "5")) == 0
    scorer = CompressionGain(read_texts(quickstart / "targets.jsonl"), reference=read_texts(ref), level=5,
                             dict_bytes=4096, combine="min")
    assert [r["gain_score"] for r in read_jsonl(out)] == [s.score for s in scorer.select(pool, k=5)]
    rep = json.loads(report.read_text())
    assert rep["params"]["reference"]["records"] == 60 and len(rep["params"]["reference_dictionary_bytes"]) > 1


def test_select_gain_refuses_both_reference_options_and_bad_level(quickstart, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(gain_args(quickstart, tmp_path / "o.jsonl", "--k", "3", "--reference", "x", "--reference-sample", "3"))
    assert main(gain_args(quickstart, tmp_path / "o.jsonl", "--k", "3", "--level", "40")) == 1
    assert "zstd level must be" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_select_gain_bad_record_names_file_and_line(quickstart, tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "def f(): pass"}\n{"text": 7}\n')
    args = ["select", "gain", "--target", str(quickstart / "targets.jsonl"), "--source", str(src),
            "--k", "1", "--out", str(tmp_path / "o.jsonl"), "--progress", "never"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 2" in err
    assert main(args + ["--on-error", "skip", "--report", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["records_skipped"] == {"not_a_string": 1}


def test_empty_documents_are_skipped_and_counted_not_an_error(quickstart, tmp_path, capsys):
    # A real pool (stdlib files) holds empty documents such as an empty __init__.py: data, not an error.
    src = tmp_path / "pool.jsonl"
    src.write_text('{"text": "def f(): pass"}\n{"text": ""}\n{"text": "x = 1"}\n')
    (tmp_path / "pool.txt").write_text("def f(): pass\n\nx = 1\n")
    for source in ("pool.jsonl", "pool.txt"):
        args = ["select", "gain", "--target", str(quickstart / "targets.jsonl"), "--source", str(tmp_path / source),
                "--k", "1", "--out", str(tmp_path / "o.jsonl"), "--progress", "never", "--report",
                str(tmp_path / "r.json")]
        assert main(args) == 0
        assert "skipped 1 empty texts" in capsys.readouterr().err
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["sources"]["empty_texts"] == 1 and report["records_read"] == 2 and not report["records_skipped"]


def test_select_gain_length_prior_zero_is_plain_bits_per_byte(quickstart, tmp_path):
    out = tmp_path / "gain.jsonl"
    assert main(gain_args(quickstart, out, "--k", "10", "--length-prior", "0")) == 0
    pool = read_jsonl(quickstart / "pool.jsonl")
    scorer = CompressionGain(read_texts(quickstart / "targets.jsonl"), length_prior=0)
    rows = read_jsonl(out)
    assert [r["gain_score"] for r in rows] == scorer.parts([r["text"] for r in rows]).gain.tolist()
    assert rows == [{**s.record, "gain_score": s.score} for s in scorer.select(pool, k=10)]
