"""A bad model path gives one line naming the path and what to give, never a traceback: folders
with an invalid config.json or without weights, truncated GGUF files, ~user paths with no home,
and empty names (which used to mean the current directory)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from zipsift.cli import main

QUICK = Path(__file__).parent / "data" / "quickstart"


@pytest.fixture
def bad_models(tmp_path, monkeypatch):
    monkeypatch.setenv("ZIPSIFT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "config.json").write_text("{not json")
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text('{"model_type": "llama"}\n')
    (tmp_path / "magic.gguf").write_bytes(b"GGUF")
    # A GGUF header cut inside its tensor count: version 3, then 4 of the 8 count bytes.
    (tmp_path / "cut.gguf").write_bytes(b"GGUF" + struct.pack("<I", 3) + b"\x01\x00\x00\x00")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"say {w}", "response": w}) + "\n" for w in ("hi", "bye", "ok")))
    return tmp_path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zipsift: error: ") and "Traceback" not in err, err
    return lines[0]


def eval_lm(model):
    return main(["eval", "--proxy", "lm", "--lm-model", model, "--lm-tokens", "256",
                 "--heldout", str(QUICK / "targets.jsonl"), str(QUICK / "pool.jsonl")])


def utility(model, pairs):
    return main(["select", "submodular", "--utility-model", model, "--source", str(pairs), "--prompt-field", "prompt",
                 "--response-field", "response", "--budget", "1", "--out", str(pairs.parent / "o.jsonl")])


@pytest.mark.lm
@pytest.mark.parametrize("name, expect", [("badjson", "not a valid JSON"), ("noweights", "no file named model"),
                                          ("magic.gguf", "truncated or corrupt"),
                                          ("cut.gguf", "truncated or corrupt")])
def test_a_bad_lm_model_is_one_line_naming_it(bad_models, capsys, name, expect):
    path = str(bad_models / name)
    assert eval_lm(path) == 1
    line = one_line_error(capsys)
    assert path in line and expect in line and "give a .gguf file or a transformers folder" in line
    assert utility(path, bad_models / "pairs.jsonl") == 1
    assert path in one_line_error(capsys)
    assert not (bad_models / "o.jsonl").exists()
    if name.endswith(".gguf"):  # a failed conversion leaves nothing in the cache
        assert list((bad_models / "cache" / "models").glob("*")) == []


@pytest.mark.parametrize("model", ["~no_such_user_zipsift/x", ""])
def test_lm_and_utility_model_names_that_name_nothing(bad_models, capsys, model):
    code = eval_lm(model)
    line = one_line_error(capsys)
    assert code == (2 if not model else 1)
    assert ("--lm-model is empty" in line) if not model else ("names no home directory" in line)
    code = utility(model, bad_models / "pairs.jsonl")
    line = one_line_error(capsys)
    assert ("--utility-model is empty" in line) if not model else ("names no home directory" in line)


@pytest.mark.embed
@pytest.mark.parametrize("name, expect", [("badjson", "not a valid JSON"), ("noweights", "cannot load this embedding"),
                                          ("~no_such_user_zipsift/x", "no home directory"), ("", "--embed-model is empty")])
def test_a_bad_embed_model_is_one_line_naming_it(bad_models, capsys, name, expect):
    model = str(bad_models / name) if name in ("badjson", "noweights") else name
    code = main(["select", "submodular", "--embed", "--embed-model", model, "--source", str(bad_models / "pairs.jsonl"),
                 "--text-field", "prompt", "--budget", "1", "--out", str(bad_models / "o.jsonl")])
    assert code in (1, 2)
    assert expect in one_line_error(capsys)


def test_resolve_model_refuses_an_empty_name_instead_of_the_current_directory(tmp_path, monkeypatch):
    from zipsift.lm.loader import resolve_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    for name in ("", "  "):
        with pytest.raises(ValueError, match="the model path is empty"):
            resolve_model(name)
    assert resolve_model(str(tmp_path)) == (tmp_path, "folder")
