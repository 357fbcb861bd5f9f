"""`zipsift mixture|synth|augment` end to end: real files in, atomic outputs, errors naming file and line."""
import csv
import json

import numpy as np
import pytest

from zipsift.cli import main
from zipsift.io import iter_records

from fake_openai import FakeServer, reverse

DATA = __import__("pathlib").Path(__file__).parent / "data" / "datatools"


def test_mixture_plan_then_fit_recovers_the_planted_optimum(tmp_path, capsys):
    pytest.importorskip("scipy")
    from test_mixture import DOMAINS, N0, true_losses, true_optimum

    plan = tmp_path / "runs.csv"
    assert main(["mixture", "plan", "--domains", *DOMAINS, "--base-tokens", "1e7", "--out", str(plan)]) == 0
    rows = list(csv.DictReader(plan.open()))
    assert len(rows) == 13 and rows[0]["loss_code"] == "" and rows[1]["tokens_code"] == "3333333"
    for row in rows:  # "train" each run: fill in its losses from the planted law
        losses = true_losses({d: float(row[f"tokens_{d}"]) for d in DOMAINS})
        row.update({f"loss_{d}": f"{v:.6f}" for d, v in losses.items()})
    with plan.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "mixture.json"
    assert main(["mixture", "fit", str(plan), "--tokens", str(N0), "--grid", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "code" in printed and "grid baseline (21 mixtures)" in printed
    report = json.loads(out.read_text())
    w = np.array([report["weights"][d] for d in DOMAINS])
    w_true, _ = true_optimum(true_losses, N0)
    assert abs(w.sum() - 1) < 1e-9 and np.max(np.abs(w - w_true)) <= 0.02
    assert report["law"] == "MixtureLaw" and set(report["params"]["math"]) == {"C", "k", "alpha", "beta", "E"}
    assert report["total_loss"] <= report["grid_baseline"]["total_loss"]


def test_mixture_fit_with_data_mixing_law(capsys, tmp_path):
    pytest.importorskip("scipy")
    out = tmp_path / "m.json"
    assert main(["mixture", "fit", str(DATA / "runs.csv"), "--tokens", "3e7", "--law", "ye", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["law"] == "DataMixingLaw"


@pytest.mark.parametrize("edit, match", [
    (lambda lines: lines[:3] + [lines[3].rsplit(",", 1)[0] + ","] + lines[4:], r"runs.csv, line 4: column 'loss_chat' is empty"),
    (lambda lines: lines[:1] + [lines[1].replace("2.22424", "abc")] + lines[2:], r"line 2: column 'loss_code' is 'abc'"),
    (lambda lines: [lines[0].replace("loss_math", "loss_maths")] + lines[1:], "line 1: expected columns"),
    (lambda lines: lines[:5] + [lines[5].replace("10000000,", "-10000000,", 1)] + lines[6:],
     r"run 4 \(.*runs.csv, line 6\): tokens\['math'\] = -10000000"),
    (lambda lines: lines[:4], "needs at least"),
])
def test_mixture_fit_errors_name_file_and_line(tmp_path, capsys, edit, match):
    pytest.importorskip("scipy")
    lines = (DATA / "runs.csv").read_text().splitlines()
    bad = tmp_path / "runs.csv"
    bad.write_text("\n".join(edit(lines)) + "\n")
    assert main(["mixture", "fit", str(bad), "--tokens", "3e7"]) != 0
    err = capsys.readouterr().err
    assert __import__("re").search(match, err), err


def test_synth_report_side_by_side(capsys, tmp_path):
    out = tmp_path / "synth.json"
    args = ["synth", "report", str(DATA / "samples.jsonl"), "--gold", str(DATA / "gold.jsonl"),
            "--params", "gemma-27b=27e9", "--params", "gemma-9b=9e9", "--json", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "gemma-27b" in printed and "coverage@k" in printed and "FPR (Wilson 95%)" in printed
    rep = json.loads(out.read_text())
    strong, weak = rep["models"]
    assert (strong["model"], strong["k"], weak["k"]) == ("gemma-27b", 1, 3)
    assert strong["coverage"] == 0.75 and weak["coverage"] == 1.0  # gold q3 is the JSON number 10
    assert weak["kept"] == 7 and weak["fpr"]["n_judged"] == 7 and weak["fpr"]["rate"] == pytest.approx(2 / 7)


def test_synth_report_errors_name_file_and_line(tmp_path, capsys):
    lines = (DATA / "samples.jsonl").read_text().splitlines()
    bad = tmp_path / "samples.jsonl"
    bad.write_text("\n".join(lines[:2] + [""] + [lines[2].replace('"q3"', '"q9"')] + lines[3:]) + "\n")
    assert main(["synth", "report", str(bad), "--gold", str(DATA / "gold.jsonl"),
                 "--params", "gemma-27b=27e9", "--params", "gemma-9b=9e9"]) == 1
    assert "samples.jsonl, line 4: question 'q9' is not in" in capsys.readouterr().err
    assert main(["synth", "report", str(DATA / "samples.jsonl"), "--gold", str(DATA / "gold.jsonl"),
                 "--params", "gemma-27b=27e9"]) == 1
    assert "line 5: model 'gemma-9b' is not given a cost" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "report", str(DATA / "samples.jsonl"), "--gold", str(DATA / "gold.jsonl"),
              "--params", "gemma-27b"])


def test_synth_plan_prints_matched_samples(capsys):
    assert main(["synth", "plan", "--params-strong", "27e9", "--params-weak", "9e9"]) == 0
    assert capsys.readouterr().out.strip() == "3"
    assert main(["synth", "plan", "--price-strong", "1", "--price-weak", "0.25", "--samples-strong", "2"]) == 0
    assert capsys.readouterr().out.strip() == "8"


def test_augment_dataset_split_and_local_against_a_live_server(tmp_path, capsys):
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert main(["augment", "dataset", "reversal", "--n", "4", "--seed", "3", "--train", str(train),
                 "--test", str(test)]) == 0
    docs = [json.loads(line) for line in train.read_text().splitlines()]
    assert len(docs) == 4 and len(test.read_text().splitlines()) == 4

    server = FakeServer()
    try:
        out, report = tmp_path / "aug.jsonl", tmp_path / "report.json"
        assert main(["augment", "local", "--in", str(train), "--out", str(out), "--endpoint", server.url,
                     "--model", "tiny", "--concurrency", "2", "--report", str(report)]) == 0
    finally:
        server.close()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [{"id": f"{d['id']}:local:0", "text": reverse(d["text"]), "source_id": d["id"],
                        "strategy": "local"} for d in docs]
    counts = json.loads(report.read_text())["counts"]
    assert counts["prompts"] == 4 and counts["records"] == 4
    assert {r["body"]["model"] for r in server.requests} == {"tiny"}

    split = tmp_path / "split.jsonl"
    assert main(["augment", "split", "--in", str(tmp_path / "aug.jsonl"), "--out", str(split)]) == 0
    assert len(split.read_text().splitlines()) == 4


def test_augment_failure_leaves_no_output(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "femp are bigger than glon."}\n')
    server = FakeServer()
    server.status = 401
    out = tmp_path / "aug.jsonl"
    try:
        code = main(["augment", "local", "--in", str(docs), "--out", str(out), "--endpoint", server.url,
                     "--model", "m"])
    finally:
        server.close()
    assert code == 1 and "HTTP 401" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [docs]


def test_augment_bad_input_names_file_and_line(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "ok."}\n{"id": "b"}\n')
    assert main(["augment", "split", "--in", str(docs), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "docs.jsonl, line 2: no field 'text'" in capsys.readouterr().err


def test_iter_records_without_text_field_accepts_any_object(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"question_id": 1, "answer": 42}\n\n{"question_id": 2}\n')
    assert list(iter_records(path, text_field=None)) == [{"question_id": 1, "answer": 42}, {"question_id": 2}]
    path.write_text('{"question_id": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        list(iter_records(path, text_field=None))
