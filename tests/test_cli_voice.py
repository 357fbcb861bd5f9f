"""The command line speaks one language: flags (never Python keywords), one line per error with
the reason, the same limits and exit code for every bad number, and nothing refused only after
the work (thread counts, memory) that could have been refused before it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zipsift.cli import main

QUICK = Path(__file__).parent / "data" / "quickstart"


def select(method, *extra, source=QUICK / "pool.jsonl", out="o.jsonl"):
    return main(["select", method, "--target", str(QUICK / "targets.jsonl"), "--source", str(source),
                 "--out", str(out), "--progress", "never", *extra])


def refused(capsys, *argv):
    """(exit code, stderr) of a command line argparse refuses."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3"])
def test_k_below_one_says_the_same_bound_whatever_the_value(tmp_path, capsys, value):
    code, err = refused(capsys, "select", "zipfit", "--target", "t", "--source", "s", "--out",
                        str(tmp_path / "o.jsonl"), "--k", value)
    assert code == 2 and f"argument --k: expected a number >= 1, got {value}" in err


@pytest.mark.parametrize("value", ["-1", "5000", "40000", "two"])
def test_bad_thread_counts_exit_2_with_one_message_before_any_work(tmp_path, capsys, value):
    code, err = refused(capsys, "select", "zipfit", "--target", "t", "--source", "s", "--out",
                        str(tmp_path / "o.jsonl"), "--k", "1", "--threads", value)
    assert code == 2 and "argument --threads: expected a number >= 0 and at most 1024" in err


def test_a_command_line_error_is_one_line_without_the_usage_block(tmp_path, capsys):
    code, err = refused(capsys, "select", "zipfit", "--target", "t", "--source", "s", "--out", "o.jsonl",
                        "--k", "x")
    assert code == 2 and err.count("\n") == 1 and "usage:" not in err
    assert err.startswith("zipsift select zipfit: error: argument --k: expected a whole number, got 'x'")
    assert "zipsift select zipfit --help" in err


@pytest.mark.parametrize("argv, flag", [
    (["select", "zipfit", "--level", "2147483648"], "--level"),
    (["select", "gain", "--dict-bytes", "99999999999999999999"], "--dict-bytes"),
    (["select", "submodular", "--utility", "compression", "--utility-level", "-2147483649", "--budget", "2"],
     "--utility-level"),
])
def test_numbers_beyond_the_core_are_refused_in_words_not_pybind_signatures(tmp_path, capsys, argv, flag):
    argv = argv + ["--out", str(tmp_path / "o.jsonl")]
    if argv[1] != "submodular":
        argv += ["--target", str(QUICK / "targets.jsonl"), "--source", str(QUICK / "pool.jsonl"), "--k", "2"]
    else:
        argv += ["--source", str(QUICK / "pool.jsonl")]
    code, err = refused(capsys, *argv)
    assert code == 2 and f"argument {flag}: expected a number" in err
    assert "incompatible function arguments" not in err and "Invoked with" not in err


def test_library_keywords_are_said_as_flags(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "fine"}\n{"text": \n', encoding="utf-8")
    assert select("zipfit", "--k", "1", source=pool, out=tmp_path / "o.jsonl") == 1
    err = capsys.readouterr().err
    assert "--on-error skip" in err and "on_error=" not in err and err.count("--on-error skip") == 1
    assert select("zipfit", "--k", "1", "--text-field", "body", out=tmp_path / "o.jsonl") == 1
    err = capsys.readouterr().err
    assert "--text-field" in err and "text_field=" not in err


def test_no_usable_target_says_why(tmp_path, capsys):
    code = main(["select", "zipfit", "--target", str(QUICK / "targets.jsonl"), "--source", str(QUICK / "pool.jsonl"),
                 "--k", "2", "--text-field", "body", "--on-error", "skip", "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "--target" in err and "skipped: missing_field" in err and "--text-field" in err


def test_length_bins_message_names_the_flag(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"text": f"def f{i}(): return {i}"}) + "\n" for i in range(10)))
    assert select("zipfit", "--k", "2", "--length-fair", "--length-bins", "50", source=pool,
                  out=tmp_path / "o.jsonl") == 1
    err = capsys.readouterr().err
    assert "--length-bins 50" in err and "length_bins=" not in err
    # The default bins fit a pool smaller than 16 records.
    assert select("zipfit", "--k", "2", "--length-fair", source=pool, out=tmp_path / "o.jsonl") == 0


# ---- model paths: the thread limit before any model is loaded --------------------------------

@pytest.fixture
def pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    with open(path, "w") as fh:
        for i in range(600):
            fh.write(json.dumps({"prompt": f"What is {i} + {i}?", "response": f"It is {2 * i}.",
                                 "text": f"{i} plus {i} is {2 * i}"}) + "\n")
    return path


@pytest.fixture
def no_models(monkeypatch):
    """Loading a model, embedding or compressing n^2 frames fails the test: it must not start."""
    import sys

    from zipsift.lm import scoring
    from zipsift.submodular import delift, embed  # noqa: F401  (the module, below; the name is the function)

    embed = sys.modules["zipsift.submodular.embed"]

    def forbidden(*a, **k):
        raise AssertionError("the work started before the check")

    monkeypatch.setattr(scoring.CausalLM, "load", classmethod(forbidden))
    monkeypatch.setattr(embed.SentenceEmbedder, "__init__", forbidden)
    monkeypatch.setattr(delift, "compression_utility_kernel", forbidden)


@pytest.mark.parametrize("kernel", [["--utility-model", "auto"], ["--embed"]])
@pytest.mark.parametrize("threads", ["40000", "3000"])
def test_model_paths_refuse_thread_counts_before_loading(tmp_path, capsys, pairs, no_models, kernel, threads):
    code, err = refused(capsys, "select", "submodular", *kernel, "--source", str(pairs), "--budget", "3",
                        "--out", str(tmp_path / "o.jsonl"), "--threads", threads)
    assert code == 2 and "expected a number >= 0 and at most 1024" in err


def test_library_model_calls_refuse_thread_counts_before_loading(no_models):
    from zipsift.lm import loader
    from zipsift.lm.scoring import CausalLM
    from zipsift.submodular.embed import embed

    with pytest.raises(ValueError, match="threads must be >= 0 and at most 1024"):
        embed(["a text"], threads=40000)
    with pytest.raises(ValueError, match="threads must be >= 0 and at most 1024"):
        loader.set_threads(40000)
    with pytest.raises(ValueError, match="threads must be >= 0 and at most 1024"):
        CausalLM(None, None, threads=3000)


# ---- memory: the model of each kernel source, checked before its work ------------------------

@pytest.mark.parametrize("kernel", [["--utility", "compression"], ["--utility-model", "auto"], ["--embed"]])
def test_kernels_that_cannot_fit_are_refused_before_the_work(tmp_path, capsys, pairs, no_models, monkeypatch,
                                                             kernel):
    from zipsift.submodular import kernels

    monkeypatch.setattr(kernels, "available_memory", lambda: 1 << 20)  # 1 MiB: 600 items do not fit
    code = main(["select", "submodular", *kernel, "--source", str(pairs), "--budget", "3",
                 "--out", str(tmp_path / "o.jsonl"), "--progress", "never"])
    err = capsys.readouterr().err
    assert code in (1, 2) and "needs" in err and "but only 0.00 GiB is available" in err
    assert "Traceback" not in err and not (tmp_path / "o.jsonl").exists()


# ---- progress ---------------------------------------------------------------------------------

def test_progress_shows_the_share_of_the_input_and_the_final_line_once(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_bytes((QUICK / "pool.jsonl").read_bytes() * 20)  # 4,000 records: read well ahead of the end
    assert select("zipfit", "--k", "2", "--batch-size", "50", "--progress", "always", source=pool,
                  out=tmp_path / "o.jsonl") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if " docs/s" in line]
    first, last = lines[0].split(), lines[-1].split()
    assert first[0].endswith("%") and int(first[0][:-1]) < 100 and "ETA" in lines[0]
    assert last[:3] == ["100%", "4,000", "docs"] and len(lines) == len(set(lines))
