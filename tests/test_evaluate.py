"""Selection-quality proxies: the byte n-gram model is a proper, smoothed, deterministic
distribution; the zstd proxy is what its docstring says; and both rank an in-domain selection above
a random one and above an out-of-domain one on real text."""
from __future__ import annotations

import glob
import random

import numpy as np
import pytest
import zstandard

from zipsift import SelectionEvaluator, _core
from zipsift.evaluate import ngram_bpb, zstd_bpb


def test_byte_lm_next_byte_distribution_sums_to_one():
    lm = _core.ByteNgramLM(4, 20, 2.0)
    lm.fit([b"the cat sat on the mat", b"the dog sat on the log", b"\x00\xff binary"], 1)
    for context in (b"", b"th", b"the c", b"zz", b"sat on the "):
        base = lm.bits([context], 1)[0]
        probs = [2.0 ** -(lm.bits([context + bytes([b])], 1)[0] - base) for b in range(256)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert min(probs) > 0  # smoothed: no byte is impossible


def test_byte_lm_learns_what_it_saw_and_is_thread_independent(stdlib_functions):
    texts = [t.encode() for t in stdlib_functions[:400]]
    one, many = _core.ByteNgramLM(5, 22, 32.0), _core.ByteNgramLM(5, 22, 32.0)
    one.fit(texts, 1)
    many.fit(texts, 4)
    probe = [t.encode() for t in stdlib_functions[400:450]]
    assert np.array_equal(one.bits(probe, 1), many.bits(probe, 3))
    assert one.fitted_bytes == sum(len(t) for t in texts)
    # Seen text is cheaper than unseen text; an empty model costs 8 bits per byte.
    assert one.bits(texts[:20], 1).sum() / sum(map(len, texts[:20])) < one.bits(probe, 1).sum() / sum(map(len, probe))
    empty = _core.ByteNgramLM(3, 10, 1.0)
    assert empty.bits([b"abcd"], 1)[0] == pytest.approx(32.0)


def test_zstd_proxy_is_dictionary_frame_bits_per_byte():
    selection, heldout = ["def f(x):\n    return x + 1\n"] * 3, ["def g(y):\n    return y + 1\n", "plain"]
    d = zstandard.ZstdCompressionDict("\n".join(selection).encode() + b"\n",
                                      dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    c = zstandard.ZstdCompressor(level=19, dict_data=d, write_checksum=False, write_content_size=False,
                                 write_dict_id=False)
    frames = sum(len(c.compress(h.encode())) for h in heldout)
    assert zstd_bpb(selection, heldout, threads=2) == pytest.approx(8 * frames / sum(map(len, heldout)))


def test_evaluate_row_counts_docs_and_bytes():
    ev = SelectionEvaluator(["held out text"], threads=1)
    row = ev.evaluate([{"text": "ab"}, {"text": "ü"}])
    assert row["docs"] == 2 and row["bytes"] == 4
    assert set(row) == {"docs", "bytes", "zstd_bpb", "ngram_bpb"}
    assert set(SelectionEvaluator(["x"], proxies=["ngram"]).evaluate(["y"])) == {"docs", "bytes", "ngram_bpb"}


def _chunks(paths, limit):
    out, total = [], 0
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        for i in range(0, len(text), 2000):
            out.append(text[i:i + 2000])
            total += len(out[-1])
            if total >= limit:
                return out
    return out


@pytest.fixture(scope="module")
def domains(stdlib_functions):
    size = 150_000
    heldout = stdlib_functions[-150:]
    python, total = [], 0
    for f in stdlib_functions[:-150]:
        python.append(f)
        total += len(f)
        if total >= size:
            break
    headers = _chunks(sorted(glob.glob("/usr/include/**/*.h", recursive=True))[::7], size)
    licenses = _chunks(sorted(glob.glob("/usr/share/common-licenses/*")), size)
    other = headers if len("".join(headers)) >= size // 2 else licenses
    if len("".join(other)) < size // 2:
        pytest.skip("no C headers or license texts on this machine to build an out-of-domain pool")
    pool = python + headers + licenses
    rng = random.Random(0)
    rng.shuffle(pool)
    rand, total = [], 0
    for t in pool:
        rand.append(t)
        total += len(t)
        if total >= size:
            break
    return {"heldout": heldout, "in_domain": python, "random": rand, "out_of_domain": other}


@pytest.mark.parametrize("proxy", ["zstd", "ngram"])
def test_proxy_ranks_in_domain_above_random_above_out_of_domain(domains, proxy):
    ev = SelectionEvaluator(domains["heldout"], proxies=[proxy])
    bpb = {name: ev.evaluate(domains[name])[f"{proxy}_bpb"] for name in ("in_domain", "random", "out_of_domain")}
    assert bpb["in_domain"] < bpb["random"] < bpb["out_of_domain"], bpb


def test_functional_forms_agree_with_the_evaluator(domains):
    sel, held = domains["in_domain"][:50], domains["heldout"][:30]
    row = SelectionEvaluator(held, threads=1).evaluate(sel)
    assert zstd_bpb(sel, held) == pytest.approx(row["zstd_bpb"])
    assert ngram_bpb(sel, held, threads=2) == row["ngram_bpb"]


@pytest.mark.parametrize("kwargs, match", [
    ({"proxies": ["gzip"]}, "proxies must be a non-empty subset"),
    ({"proxies": []}, "proxies must be a non-empty subset"),
    ({"zstd_level": 0}, r"zstd_level must be an integer in \[1, 22\]"),
    ({"max_dict_bytes": 0}, r"max_dict_bytes must be in \[1, 8388608\]"),
    ({"max_dict_bytes": 9 << 20}, "max_dict_bytes must be in"),
    ({"ngram_order": 0}, "order must be between 1 and 16"),
    ({"table_bits": 40}, "table_bits must be between 10 and 30"),
    ({"ngram_beta": 0.0}, "beta .* must be > 0"),
    ({"threads": -1}, "threads must be >= 0"),
])
def test_bad_evaluator_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SelectionEvaluator(["held out"], **kwargs)


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="heldout is empty"):
        SelectionEvaluator([])
    with pytest.raises(ValueError, match="held-out texts are all empty"):
        SelectionEvaluator([""])
    with pytest.raises(ValueError, match="selection is empty"):
        SelectionEvaluator(["x"]).evaluate([])
    with pytest.raises(ValueError, match="record 0 has no field 'text'"):
        SelectionEvaluator(["x"]).evaluate([{"body": "y"}])
