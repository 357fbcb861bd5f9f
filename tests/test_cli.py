"""The `zipsift` command end to end, run as a user runs it."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import zipsift
from zipsift.cli import main


def zipsift_cmd(*args, **kwargs):
    exe = shutil.which("zipsift") or sys.executable
    prefix = [exe] if exe.endswith("zipsift") else [exe, "-m", "zipsift"]
    return subprocess.run(prefix + list(args), capture_output=True, text=True, **kwargs)


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_quickstart_command_selects_in_domain_records(quickstart, tmp_path):
    out, report = tmp_path / "selected.jsonl", tmp_path / "report.json"
    proc = zipsift_cmd("select", "zipfit", "--target", str(quickstart / "targets.jsonl"),
                       "--source", str(quickstart / "pool.jsonl"), "--k", "20", "--out", str(out),
                       "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert "kept 20 of 200 records" in proc.stderr
    rows = read_jsonl(out)
    assert len(rows) == 20
    scores = [r["zipfit_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    # The targets are Python functions; the pool mixes Python, license prose and C headers.
    assert sum(r["domain"] == "python" for r in rows) >= 18

    # Output lines are the source records unchanged, plus the score.
    source = {r["id"]: r for r in read_jsonl(quickstart / "pool.jsonl")}
    for row in rows:
        score = row.pop("zipfit_score")
        assert row == source[row["id"]] and list(row) == list(source[row["id"]])
        assert 0 < score < 1

    rep = json.loads(report.read_text())
    assert rep["records_read"] == 200 and rep["records_selected"] == 20 and rep["records_skipped"] == {}
    assert rep["params"] == {"codec": "gzip", "level": 9} and rep["zipsift_version"] == zipsift.__version__
    assert rep["threads"] >= 1 and rep["seconds"] >= 0 and rep["build"]["libraries"]["zlib"]["runtime"]


def test_cli_scores_equal_the_library(quickstart, tmp_path):
    out = tmp_path / "o.jsonl"
    assert main(["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                 str(quickstart / "pool.jsonl"), "--k", "5", "--out", str(out), "--threads", "1"]) == 0
    targets = [r["text"] for r in read_jsonl(quickstart / "targets.jsonl")]
    rows = read_jsonl(out)
    expected = zipsift.alignment([r["text"] for r in rows], targets)
    assert [r["zipfit_score"] for r in rows] == expected.tolist()


def test_skip_mode_counts_bad_records_in_the_report(quickstart, tmp_path):
    pool = tmp_path / "pool.jsonl"
    lines = (quickstart / "pool.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    lines[3] = '{"text": broken'
    lines[7] = '{"body": "no text field"}'
    pool.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, report = tmp_path / "o.jsonl", tmp_path / "r.json"
    code = main(["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source", str(pool),
                 "--budget-bytes", "3000", "--out", str(out), "--on-error", "skip", "--report", str(report)])
    assert code == 0
    rep = json.loads(report.read_text())
    assert rep["records_read"] == 28
    assert rep["records_skipped"] == {"malformed_json": 1, "missing_field": 1}
    assert rep["bytes_selected"] <= 3000 and rep["records_selected"] == len(read_jsonl(out))


def test_a_bad_record_stops_with_file_and_line_and_writes_nothing(quickstart, tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "def f(): pass"}\n{"text": "x", oops}\n', encoding="utf-8")
    out = tmp_path / "o.jsonl"
    proc = zipsift_cmd("select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source", str(pool),
                       "--k", "1", "--out", str(out))
    assert proc.returncode == 1
    assert f"{pool}, line 2: malformed JSON" in proc.stderr and "--on-error skip" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [pool]


def test_a_record_that_already_has_the_score_field_is_refused(quickstart, tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "a", "zipfit_score": 3}\n', encoding="utf-8")
    proc = zipsift_cmd("select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source", str(pool),
                       "--k", "1", "--out", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 1 and "already has a field 'zipfit_score'" in proc.stderr


def test_level_zero_is_refused_on_the_command_line(quickstart, tmp_path):
    proc = zipsift_cmd("select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                       str(quickstart / "pool.jsonl"), "--k", "1", "--out", str(tmp_path / "o.jsonl"), "--level", "0")
    assert proc.returncode == 1 and "level 0 is refused" in proc.stderr


def test_k_and_budget_are_mutually_exclusive_and_one_is_required(quickstart, tmp_path):
    base = ["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
            str(quickstart / "pool.jsonl"), "--out", str(tmp_path / "o.jsonl")]
    assert zipsift_cmd(*base).returncode == 2
    proc = zipsift_cmd(*base, "--k", "1", "--budget-bytes", "9")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr
    assert zipsift_cmd(*base, "--k", "-3").returncode == 2


def test_version_and_help_at_every_level():
    proc = zipsift_cmd("--version")
    assert proc.returncode == 0 and proc.stdout.startswith(f"zipsift {zipsift.__version__} (zlib ")
    for args, expected in ((["--help"], "select"), (["select", "--help"], "zipfit"),
                           (["select", "zipfit", "--help"], "--budget-bytes")):
        proc = zipsift_cmd(*args)
        assert proc.returncode == 0 and expected in proc.stdout
    proc = zipsift_cmd("codecs")
    assert proc.returncode == 0 and json.loads(proc.stdout)["codecs"][:2] == ["gzip", "zlib"]


def test_progress_is_shown_when_asked(quickstart, tmp_path):
    proc = zipsift_cmd("select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                       str(quickstart / "pool.jsonl"), "--k", "3", "--out", str(tmp_path / "o.jsonl"),
                       "--progress", "always")
    assert proc.returncode == 0 and "docs/s" in proc.stderr


def test_ctrl_c_leaves_no_output_under_the_final_name(tmp_path):
    pool = tmp_path / "pool.jsonl"
    with open(pool, "w") as fh:
        for i in range(200_000):
            fh.write(json.dumps({"text": f"def f{i}(x):\n    return x * {i} + {i % 7}\n" * 3}) + "\n")
    targets = tmp_path / "t.jsonl"
    targets.write_text("".join(json.dumps({"text": f"def g{i}(y): return y - {i}"}) + "\n" for i in range(40)))
    out = tmp_path / "o.jsonl"
    exe = shutil.which("zipsift")
    cmd = [exe] if exe else [sys.executable, "-m", "zipsift"]
    proc = subprocess.Popen(cmd + ["select", "zipfit", "--target", str(targets), "--source", str(pool),
                                   "--k", "10", "--out", str(out)], stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.jsonl", "t.jsonl"]
