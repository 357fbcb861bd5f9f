"""atheris harness: kernels and the greedy optimizers on arbitrary small matrices (any float32
bit pattern: NaN, inf, negatives, denormals). A bad matrix must raise ValueError, never crash;
a good one gives the same selection whatever the thread count.
Run: python fuzz/fuzz_submodular.py -max_total_time=3600
"""
import sys

import atheris
import numpy as np

with atheris.instrument_imports():
    from zipsift import _core
    from zipsift import submodular as sm

OBJECTIVES = ["facility_location", "graph_cut", "disparity_min", "log_determinant"]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n = fdp.ConsumeIntInRange(1, 8)
    raw = fdp.ConsumeBytes(4 * n * n).ljust(4 * n * n, b"\0")
    S = np.frombuffer(raw, dtype=np.float32).reshape(n, n).copy()
    k = fdp.ConsumeIntInRange(1, n)
    name = fdp.PickValueInList(OBJECTIVES)
    threads = fdp.ConsumeIntInRange(1, 3)
    try:
        a = getattr(sm, name)(S, k, threads=threads)
    except ValueError:
        return
    b = getattr(sm, name)(S, k, threads=1)
    assert list(a.indices) == list(b.indices)
    X = np.nan_to_num(S, nan=0.0, posinf=1.0, neginf=-1.0)
    try:
        _core.dense_kernel(X, None, "dot", 1.0, threads)
        _core.knn_kernel(X, None, 1, "dot", 1.0, threads)
    except ValueError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
