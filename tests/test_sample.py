"""A seeded uniform sample of a stream: random, reproducible, in input order, and the same when
drawn piece by piece (as the Ray engine draws it)."""
from __future__ import annotations

import numpy as np
import pytest

from zipsift.sample import sample_keys, seeded_sample, top_positions


def test_seeded_sample_is_the_n_largest_keys_in_input_order():
    records = [f"r{i}" for i in range(1000)]
    got = seeded_sample(records, 50, seed=3, batch_size=64)
    keys = sample_keys(3, 0, 1000)
    assert got == [records[i] for i in sorted(np.argsort(-keys)[:50])]
    assert seeded_sample(records, 50, seed=3, batch_size=7) == got  # batching does not matter
    assert seeded_sample(records, 50, seed=4) != got and got != records[:50]  # random, not the first N
    assert seeded_sample(records[:10], 50) == records[:10]


def test_a_sample_drawn_piece_by_piece_equals_the_whole():
    keys = sample_keys(1, 0, 500)
    positions = np.arange(500)
    pieces = [top_positions(keys[a:a + 120], positions[a:a + 120], 40) + a for a in range(0, 500, 120)]
    union = np.concatenate(pieces)
    merged = union[top_positions(keys[union], positions[union], 40)]
    assert merged.tolist() == [int(i) for i in seeded_sample(list(range(500)), 40, seed=1)]


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_seeded_sample_refuses_a_bad_size(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        seeded_sample(["a"], n)
