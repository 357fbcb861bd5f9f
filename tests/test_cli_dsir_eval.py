"""`zipsift select dsir` and `zipsift eval` end to end: the shared select pipeline (two passes,
report, errors), and the eval table and JSON."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from zipsift import DSIR
from zipsift.cli import main
from zipsift.io import read_texts


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def dsir_args(quickstart, out, *extra):
    return ["select", "dsir", "--target", str(quickstart / "targets.jsonl"), "--source",
            str(quickstart / "pool.jsonl"), "--out", str(out), "--progress", "never", *extra]


def test_select_dsir_keeps_in_domain_records_and_reports_both_passes(quickstart, tmp_path, capsys):
    out, report = tmp_path / "dsir.jsonl", tmp_path / "report.json"
    assert main(dsir_args(quickstart, out, "--k", "20", "--report", str(report))) == 0
    assert "zipsift select dsir: kept 20 of 200 records" in capsys.readouterr().err
    rows = read_jsonl(out)
    # 40% of the pool is Python; DSIR fitted on 12 Python targets keeps mostly Python.
    assert len(rows) == 20 and sum(r["domain"] == "python" for r in rows) >= 14
    rep = json.loads(report.read_text())
    assert rep["command"] == "select dsir" and rep["records_read"] == 200 and rep["fit"]["records"] == 200
    assert rep["params"] == {"method": "gumbel", "seed": 0, "scheme": "fast", "ngrams": 2, "buckets": 10000,
                             "fit_sample": None, "min_example_length": 100, "normalize": "per_token",
                             "chunk_tokens": 128}


def test_select_dsir_scores_equal_the_library(quickstart, tmp_path):
    out = tmp_path / "dsir.jsonl"
    assert main(dsir_args(quickstart, out, "--k", "15", "--method", "topk", "--scheme", "compat",
                          "--ngrams", "3", "--buckets", "5000", "--batch-size", "7")) == 0
    pool = read_texts(quickstart / "pool.jsonl")
    d = DSIR(read_texts(quickstart / "targets.jsonl"), ngrams=3, buckets=5000, scheme="compat").fit(pool)
    expected = d.select(pool, k=15, method="topk")
    rows = read_jsonl(out)
    assert [r["text"] for r in rows] == [s.record for s in expected]
    np.testing.assert_array_equal([r["dsir_score"] for r in rows], [s.score for s in expected])


def test_select_dsir_min_example_length_leaves_out_short_records(quickstart, tmp_path):
    out = tmp_path / "o.jsonl"
    assert main(dsir_args(quickstart, out, "--k", "200", "--min-example-length", "100")) == 0
    rows = read_jsonl(out)
    assert 0 < len(rows) < 200
    assert all(len(re.findall(r"\w+|[^\w\s]+", r["text"].lower())) >= 100 for r in rows)


def test_select_dsir_fit_sample_and_seed(quickstart, tmp_path):
    a, b, c = (tmp_path / f"{n}.jsonl" for n in "abc")
    report = tmp_path / "r.json"
    assert main(dsir_args(quickstart, a, "--k", "30", "--seed", "1", "--fit-sample", "50",
                          "--report", str(report))) == 0
    assert json.loads(report.read_text())["fit"]["records"] >= 50
    assert main(dsir_args(quickstart, b, "--k", "30", "--seed", "1", "--fit-sample", "50")) == 0
    assert main(dsir_args(quickstart, c, "--k", "30", "--seed", "1")) == 0
    assert read_jsonl(a) == read_jsonl(b)
    pool = read_texts(quickstart / "pool.jsonl")
    d = DSIR(read_texts(quickstart / "targets.jsonl")).fit(pool[:50])
    assert [r["text"] for r in read_jsonl(a)] == [s.record for s in d.select(pool, k=30, seed=1)]
    assert [r["dsir_score"] for r in read_jsonl(a)] != [r["dsir_score"] for r in read_jsonl(c)]


@pytest.mark.parametrize("extra, message", [
    (["--k", "5", "--method", "sample"], "invalid choice: 'sample'"),
    (["--k", "5", "--scheme", "sha"], "invalid choice: 'sha'"),
    (["--k", "5", "--fit-sample", "0"], "expected a number >= 1"),
    (["--k", "5", "--buckets", "0"], "expected a number >= 1"),
    (["--k", "5", "--min-example-length", "-1"], "expected a number >= 0"),
    ([], "one of the arguments --k --budget-bytes is required"),
])
def test_select_dsir_bad_options_exit_2(quickstart, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        main(dsir_args(quickstart, tmp_path / "o.jsonl", *extra))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_select_dsir_bad_record_names_file_and_line(quickstart, tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    lines = (quickstart / "pool.jsonl").read_text().splitlines()
    lines[4] = '{"text": 5}'
    pool.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    code = main(["select", "dsir", "--target", str(quickstart / "targets.jsonl"), "--source", str(pool),
                 "--k", "3", "--out", str(out)])
    assert code == 1
    assert f"{pool}, line 5: field 'text' is int" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture
def selections(quickstart, tmp_path):
    pool = read_jsonl(quickstart / "pool.jsonl")
    python = [r for r in pool if r["domain"] == "python"]
    other = [r for r in pool if r["domain"] != "python"]
    paths = {}
    for name, rows in (("python", python[:40]), ("other", other[:40])):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join(json.dumps(r) + "\n" for r in python[40:]))
    return paths, heldout


def test_eval_prints_a_table_and_writes_rows(selections, tmp_path, capsys):
    paths, heldout = selections
    out = tmp_path / "eval.json"
    assert main(["eval", "--heldout", str(heldout), str(paths["python"]), str(paths["other"]),
                 "--json", str(out), "--threads", "2"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].split() == ["selection", "docs", "bytes", "zstd_bpb", "ngram_bpb"]
    assert len(lines) == 3 and lines[1].startswith(str(paths["python"]))
    rows = json.loads(out.read_text())["rows"]
    assert [r["selection"] for r in rows] == [str(paths["python"]), str(paths["other"])]
    assert set(rows[0]) == {"selection", "docs", "bytes", "zstd_bpb", "ngram_bpb"}
    assert rows[0]["docs"] == 40
    # Python held-out text is predicted better by the Python selection.
    assert rows[0]["zstd_bpb"] < rows[1]["zstd_bpb"] and rows[0]["ngram_bpb"] < rows[1]["ngram_bpb"]
    assert f"{rows[0]['zstd_bpb']:.4f}" in lines[1]


def test_eval_one_proxy(selections, capsys):
    paths, heldout = selections
    assert main(["eval", "--heldout", str(heldout), str(paths["python"]), "--proxies", "ngram"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["selection", "docs", "bytes", "ngram_bpb"]


def test_eval_errors(selections, tmp_path, capsys):
    paths, heldout = selections
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", "--heldout", str(heldout), str(empty)]) == 2
    assert f"{empty}: the selection is empty" in capsys.readouterr().err
    assert main(["eval", "--heldout", str(tmp_path / "missing.jsonl"), str(paths["python"])]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["eval", "--heldout", str(heldout), str(paths["python"]), "--max-dict-bytes", "99999999"]) == 1
    assert "max_dict_bytes must be in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(paths["python"])])
    assert exc.value.code == 2


@pytest.mark.parametrize("flags", [["--proxy", "zstd", "--proxy", "ngram"], ["--proxies", "ngram", "zstd"],
                                   ["--proxy", "ngram", "--proxies", "zstd", "ngram"]])
def test_eval_repeated_proxy_flags_add_up(selections, tmp_path, capsys, flags):
    paths, heldout = selections
    out = tmp_path / "eval.json"
    assert main(["eval", "--heldout", str(heldout), str(paths["python"]), "--json", str(out), *flags]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["selection", "docs", "bytes", "zstd_bpb", "ngram_bpb"]
    assert json.loads(out.read_text())["params"]["proxies"] == ["zstd", "ngram"]


def test_eval_proxy_default_and_bad_name(selections, capsys):
    paths, heldout = selections
    assert main(["eval", "--heldout", str(heldout), str(paths["python"]), "--proxy", "zstd"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["selection", "docs", "bytes", "zstd_bpb"]
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--heldout", str(heldout), str(paths["python"]), "--proxy", "gzip"])
    assert exc.value.code == 2 and "invalid choice: 'gzip'" in capsys.readouterr().err
