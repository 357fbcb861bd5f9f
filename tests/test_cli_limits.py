"""CLI answers that would look like success but are not: zero limits, empty pools, k beyond the
pool, an output suffix zipsift does not write, numbers JSON cannot hold."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zipsift.cli import main

QUICK = Path(__file__).parent / "data" / "quickstart"


def select(method, source, out, *extra):
    return main(["select", method, "--target", str(QUICK / "targets.jsonl"), "--source", str(source),
                 "--out", str(out), *extra])


@pytest.mark.parametrize("option", ["--k", "--budget-bytes"])
def test_zero_limits_are_refused(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        select("zipfit", QUICK / "pool.jsonl", tmp_path / "o.jsonl", option, "0")
    assert exit_.value.code == 2
    assert "expected a number >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("budget", ["0", "0.0"])
def test_submodular_zero_budget_is_refused(tmp_path, capsys, budget):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    with pytest.raises(SystemExit) as exit_:
        main(["select", "submodular", "--embeddings", str(tmp_path / "x.npy"), "--budget", budget,
              "--out", str(tmp_path / "o.jsonl")])
    assert exit_.value.code == 2 and "expected a count >= 1" in capsys.readouterr().err


def test_submodular_fraction_that_picks_nothing_is_refused(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    code = main(["select", "submodular", "--embeddings", str(tmp_path / "x.npy"), "--budget", "0.001",
                 "--out", str(tmp_path / "o.jsonl")])
    assert code == 2 and "picks nothing" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("method", ["zipfit", "dsir"])
def test_empty_source_is_an_error_naming_the_file(tmp_path, capsys, method):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code = select(method, empty, tmp_path / "o.jsonl", "--k", "5")
    err = capsys.readouterr().err
    assert code == 2
    assert f"--source {empty}: it holds no records; there is nothing to select from" in err
    assert "p_R" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_source_of_only_bad_records_in_skip_mode_is_an_error_with_counts(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\nnot json\n')
    code = select("zipfit", bad, tmp_path / "o.jsonl", "--k", "5", "--on-error", "skip")
    assert code == 2 and "malformed_json 1, missing_field 1" in capsys.readouterr().err


def test_k_beyond_the_pool_is_noted_in_output_and_report(tmp_path, capsys):
    n = sum(1 for _ in open(QUICK / "pool.jsonl"))
    code = select("zipfit", QUICK / "pool.jsonl", tmp_path / "o.jsonl", "--k", "5000",
                  "--report", str(tmp_path / "r.json"))
    assert code == 0
    note = f"--k 5,000 is more than the {n:,} usable records of the pool; kept {n:,}"
    assert note in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["notes"] == [note]


def test_k_within_the_pool_has_no_note(tmp_path):
    select("zipfit", QUICK / "pool.jsonl", tmp_path / "o.jsonl", "--k", "3", "--report", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["notes"] == []


@pytest.mark.parametrize("name", ["s.csv", "s.parquet", "s.json", "s"])
def test_output_suffix_zipsift_does_not_write_is_refused(tmp_path, capsys, name):
    code = select("zipfit", QUICK / "pool.jsonl", tmp_path / name, "--k", "3")
    assert code == 2 and f"--out {tmp_path / name}: zipsift writes only .jsonl" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


def test_mixture_plan_out_must_be_csv(tmp_path, capsys):
    code = main(["mixture", "plan", "--domains", "a", "b", "--base-tokens", "1000", "--out", str(tmp_path / "p.jsonl")])
    assert code == 2 and "writes only .csv" in capsys.readouterr().err


def test_nan_in_a_source_record_is_refused_not_written_as_bare_nan(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "def f(): return 1", "w": NaN}\n{"text": "def g(): return 2", "w": 1}\n')
    assert select("zipfit", pool, tmp_path / "o.jsonl", "--k", "2") == 1
    assert "pool.jsonl, line 1: the number NaN is not JSON" in capsys.readouterr().err
    assert select("zipfit", pool, tmp_path / "o.jsonl", "--k", "2", "--on-error", "skip") == 0
    lines = (tmp_path / "o.jsonl").read_text().splitlines()
    assert [json.loads(line)["w"] for line in lines] == [1]  # valid JSON, the bad record counted, not altered


@pytest.mark.parametrize("strategy", ["split", "local"])
def test_augment_on_an_empty_input_is_an_error(tmp_path, capsys, strategy):
    empty = tmp_path / "docs.jsonl"
    empty.write_text("\n")
    extra = [] if strategy == "split" else ["--endpoint", "http://127.0.0.1:9/v1", "--model", "m"]
    code = main(["augment", strategy, "--in", str(empty), "--out", str(tmp_path / "o.jsonl"), *extra])
    assert code == 2 and "it holds no records; there is nothing to augment" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
