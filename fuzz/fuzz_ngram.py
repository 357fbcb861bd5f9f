"""atheris harness: hashed n-grams (fast and compat schemes) and the byte n-gram LM on arbitrary
bytes and text. Checks counts/dot/csr agree, results do not depend on threads, bits are finite.
Run: python fuzz/fuzz_ngram.py -max_total_time=3600
"""
import sys

import atheris
import numpy as np

with atheris.instrument_imports():
    from zipsift import _core
    from zipsift.ngram import HashedNgrams

HASHERS = {s: HashedNgrams(3, 97, s) for s in ("fast", "compat")}


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    threads = fdp.ConsumeIntInRange(1, 4)
    scheme = fdp.PickValueInList(["fast", "compat"])
    n = fdp.ConsumeIntInRange(0, 4)
    if scheme == "compat":
        texts = [fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 100)) for _ in range(n)]
    else:
        texts = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 100)) for _ in range(n)]
    h = HASHERS[scheme]
    counts = h.counts(texts, threads)
    assert (counts == h.counts(texts, 1)).all()
    scores, totals = h.dot(texts, np.ones(97), threads)
    assert totals.sum() == counts.sum() and np.allclose(scores, totals)
    lm = _core.ByteNgramLM(fdp.ConsumeIntInRange(1, 8), 10, 1.0)
    raw = [t.encode() if isinstance(t, str) else t for t in texts]
    lm.fit(raw, threads)
    bits = lm.bits(raw, threads)
    assert np.isfinite(bits).all() and (bits >= 0).all()


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
