"""zipsift.params: thread counts and integers checked once, with one message for each."""
from __future__ import annotations

import numpy as np
import pytest

from zipsift import _core, params


def test_threads_zero_resolves_to_every_core_of_the_affinity_mask():
    import os

    assert params.resolve_threads(0) == len(os.sched_getaffinity(0)) == _core.usable_cores()
    assert params.resolve_threads(3) == 3 and params.check_threads(0) == 0
    assert params.check_threads(np.int64(5)) == 5 and type(params.check_threads(np.int64(5))) is int
    assert params.MAX_THREADS == _core.MAX_THREADS == 1024


@pytest.mark.parametrize("bad", [-1, 1025, 40000, True, 1.5, "2", None])
def test_bad_thread_counts_say_the_range_like_the_native_converter(bad):
    with pytest.raises(ValueError, match=r"threads must be >= 0 and at most 1024, an integer \(0 = every core"):
        params.check_threads(bad)
    # The binding's converter, the only native check, says the same words.
    with pytest.raises(ValueError, match=r"threads must be >= 0 and at most 1024, an integer \(0 = every core"):
        _core.compressed_sizes(["a"], "zstd", 3, bad)


def test_check_int_takes_whole_numbers_within_bounds():
    assert params.check_int(3, "k", 1) == 3 and params.check_int(np.int32(7), "k", 0, 9) == 7
    with pytest.raises(ValueError, match=r"^k must be an integer >= 1, got 0$"):
        params.check_int(0, "k", 1)
    with pytest.raises(ValueError, match=r"^level must be an integer >= -2147483648 and at most 2147483647, "
                                         r"got 2147483648$"):
        params.check_int(2 ** 31, "level", -params.INT32_MAX - 1, params.INT32_MAX)
    for bad in (True, 2.0, "3", None):
        with pytest.raises(ValueError, match="x must be an integer"):
            params.check_int(bad, "x")
    assert params.expected_int(5, 1, 9) is None and params.expected_int(0, 1) == ">= 1"


def test_torch_threads_checks_before_torch_and_restores_the_count():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="threads must be >= 0 and at most 1024"):
        params.torch_threads(40000)  # torch + OpenBLAS would crash trying to start these
    assert torch.get_num_threads() == before
    with params.torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
