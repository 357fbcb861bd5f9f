"""atheris harness: compressed sizes, NCD matrices and alignment on arbitrary bytes.

Checks gzip sizes against CPython's gzip (exact), NCD/alignment against their formula, and that
results do not depend on the thread count. Run: python fuzz/fuzz_ncd.py -max_total_time=3600
"""
import gzip
import sys

import atheris

import zipsift  # native code: coverage comes from the inputs' shapes, not instrumentation


def split(fdp: atheris.FuzzedDataProvider, n: int) -> list:
    return [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200)) for _ in range(n)]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    codec = fdp.PickValueInList(zipsift._core.codecs())  # the native codecs (lz4/brotli/lzma are Python calls)
    level = fdp.ConsumeIntInRange(1, 9)
    threads = fdp.ConsumeIntInRange(1, 4)
    a, b = split(fdp, fdp.ConsumeIntInRange(0, 4)), split(fdp, fdp.ConsumeIntInRange(1, 4))
    sizes = zipsift.compressed_sizes(a, codec, level, threads)
    if codec == "gzip":
        assert sizes.tolist() == [len(gzip.compress(x, level, mtime=0)) for x in a]
    m = zipsift.ncd_matrix(a, b, codec, level, threads)
    assert (m == zipsift.ncd_matrix(a, b, codec, level, 1)).all()
    al = zipsift.alignment(a, b, codec, level, threads)
    assert abs(al - (1 - m.mean(axis=1) if len(a) else al)).max(initial=0) < 1e-9


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
