"""zipsift.synth: compute/price matching, answer extraction and filtering, coverage, diversity, FPR."""
import itertools
import math

import numpy as np
import pytest

from zipsift.dedup import duplicate_groups, normalize_text, unique_count
from zipsift.synth import (answers_match, compute_matched_samples, coverage_at_k, diversity_at_k,
                           extract_answer, false_positive_rate, filter_correct, judge_sample, matched_report,
                           normalize_answer, price_matched_samples)


# -- planning ---------------------------------------------------------------------------------------

def test_compute_matched_samples_27b_vs_9b_is_three():
    assert compute_matched_samples(27e9, 9e9, 1) == pytest.approx(3.0)
    assert compute_matched_samples(27e9, 9e9, 10) == pytest.approx(30.0)


def test_compute_matched_samples_accounts_for_solution_lengths():
    # the weak model writes twice as long solutions: half as many samples
    assert compute_matched_samples(27e9, 9e9, 1, tokens_strong=300, tokens_weak=600) == pytest.approx(1.5)


def test_price_matched_samples_uses_price_ratio():
    assert price_matched_samples(1.25, 0.25, 2) == pytest.approx(10.0)


@pytest.mark.parametrize("call, match", [
    (lambda: compute_matched_samples(0, 9e9, 1), "params_strong"),
    (lambda: compute_matched_samples(27e9, -1, 1), "params_weak"),
    (lambda: compute_matched_samples(27e9, 9e9, float("nan")), "samples_strong"),
    (lambda: compute_matched_samples(27e9, 9e9, 1, tokens_strong=100), "both"),
    (lambda: price_matched_samples(1, 0, 1), "price_weak"),
])
def test_matching_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- answers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, answer", [
    (r"Thus $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"First \boxed{3}, then correcting: \boxed{\sqrt{x^{2}+1}}", r"\sqrt{x^{2}+1}"),
    (r"The set is \boxed{\{1, 2\}}", r"\{1, 2\}"),
    (r"\boxed{\begin{matrix} 1 \\ 2 \\}", r"\begin{matrix} 1 \\ 2 \\"),
    (r"so \fbox{7} done", "7"),
    (r"answer: \boxed 5", "5"),
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "72"),
    ("step\n#### 1,234\n", "1,234"),
    ("So the answer is 42.", "42"),
    ("Final answer: $3.5$", "$3.5$"),
    ("The answer is: -7", "-7"),
    ("no answer here", None),
    (r"an unclosed \boxed{3 and then #### 4", "4"),
])
def test_extract_answer_handles_common_formats(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize("a, b", [
    ("0.5", r"\dfrac{1}{2}"), ("1/2", r"\frac12"), ("4.0", "4"), ("1,000", "1000"), (r"50\%", "50"),
    ("x = 4", "4"), (r"$\left( 1, 2 \right)$", "(1,2)"), (r"90^\circ", "90"), (r"\text{(B)}", "(B)"),
    ("-3", r"-\frac{6}{2}"), ("2.", "2"),
])
def test_answers_match_after_normalisation(a, b):
    assert answers_match(a, b)


@pytest.mark.parametrize("a, b", [("0.33", "1/3"), ("4", "5"), (r"\sqrt{2}", "2"), (None, "1"), ("(1,2)", "(2,1)")])
def test_different_answers_do_not_match(a, b):
    assert not answers_match(a, b)


def test_normalize_answer_gives_reduced_fractions():
    assert normalize_answer(r"\frac{4}{6}") == "2/3"
    assert normalize_answer("10") == "10" and normalize_answer(10) == "10"


def test_answer_functions_reject_bad_types():
    with pytest.raises(ValueError, match="str"):
        extract_answer(42)
    with pytest.raises(ValueError, match="answer must be"):
        normalize_answer(["1"])


def test_filter_correct_keeps_right_answers_in_order():
    samples = [{"question_id": "q1", "solution": r"... \boxed{4}"},
               {"question_id": "q1", "solution": "... #### 5"},
               {"question_id": "q2", "solution": "The answer is 0.5."},
               {"question_id": "q2", "solution": "I am not sure"}]
    kept = filter_correct(samples, {"q1": "4", "q2": r"\frac{1}{2}"})
    assert kept == [samples[0], samples[2]]


def test_filter_correct_rejects_unknown_questions_and_missing_fields():
    with pytest.raises(ValueError, match="sample 1: question 'q9' has no gold"):
        filter_correct([{"question_id": "q1", "solution": "#### 1"}, {"question_id": "q9", "solution": "x"}],
                       {"q1": "1"})
    with pytest.raises(ValueError, match="sample 0: expected a dict with fields"):
        filter_correct([{"question_id": "q1"}], {"q1": "1"})


# -- coverage ---------------------------------------------------------------------------------------

CORRECT = np.array([[False, False, True, False],
                    [True, False, False, False],
                    [False, False, False, False]])


def test_coverage_empirical_uses_the_first_k_samples():
    assert coverage_at_k(CORRECT, 1) == pytest.approx(1 / 3)
    assert coverage_at_k(CORRECT, 2) == pytest.approx(1 / 3)
    assert coverage_at_k(CORRECT, 3) == pytest.approx(2 / 3)
    assert coverage_at_k(CORRECT, 4) == pytest.approx(2 / 3)


def test_coverage_unbiased_known_values():
    assert coverage_at_k(CORRECT, 1, estimator="unbiased") == pytest.approx((1 / 4 + 1 / 4) / 3)
    # 1 - C(3,2)/C(4,2) = 1/2 for each question with one correct out of four
    assert coverage_at_k(CORRECT, 2, estimator="unbiased") == pytest.approx((0.5 + 0.5) / 3)
    assert coverage_at_k(CORRECT, 4, estimator="unbiased") == pytest.approx(2 / 3)


def test_coverage_unbiased_equals_mean_over_all_k_subsets():
    rng = np.random.default_rng(0)
    correct = rng.random((6, 7)) < 0.3
    for k in range(1, 8):
        brute = np.mean([np.mean([correct[q, list(s)].any() for s in itertools.combinations(range(7), k)])
                         for q in range(6)])
        assert coverage_at_k(correct, k, estimator="unbiased") == pytest.approx(brute, abs=1e-12)


def test_coverage_accepts_ragged_lists_and_0_1_ints():
    assert coverage_at_k([[0, 1], [0, 0, 0, 1]], 2, estimator="unbiased") == pytest.approx((1 + 1 / 2) / 2)
    assert coverage_at_k([[0, 1], [0, 0, 0, 1]], 2) == pytest.approx(0.5)


@pytest.mark.parametrize("correct, k, kwargs, match", [
    (CORRECT, 5, {}, "at least 5 samples per question; question 0 has 4"),
    (CORRECT, 0, {}, "k must be an integer >= 1"),
    (CORRECT, 1, {"estimator": "mle"}, "estimator"),
    (np.array([[0.5, 1.0]]), 1, {}, "must hold bools"),
    ([], 1, {}, "no questions"),
    (np.array([True, False]), 1, {}, "shape"),
])
def test_coverage_rejects_bad_input(correct, k, kwargs, match):
    with pytest.raises(ValueError, match=match):
        coverage_at_k(correct, k, **kwargs)


# -- diversity --------------------------------------------------------------------------------------

SOLUTIONS = [
    ["We get x = 4. #### 4", "We get x = 4. #### 4", "we  GET x = 4.  #### 4", "Wrong. #### 5"],
    ["Subtract 3 from both sides, then divide by 5: n = 4.", "Guess and check: n = 1, 2, 3 fail; n = 4 works.",
     "Subtract 3 from both sides, then divide by five: n = 4.", "n = 4"],
]
SOL_CORRECT = [[True, True, True, False], [True, True, True, True]]


def test_diversity_exact_counts_distinct_strings():
    # q0: 2 distinct correct among 4; q1: 4 distinct
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 4, unique="exact") == pytest.approx((2 + 4) / 2)
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 1, unique="exact") == pytest.approx(1.0)


def test_diversity_normalized_ignores_case_and_whitespace():
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 4, unique="normalized") == pytest.approx((1 + 4) / 2)


def test_diversity_ncd_merges_near_duplicates_only():
    # q1: the "divide by 5"/"divide by five" pair (NCD 0.14) is one solution; the guess-and-check
    # and the bare answer (NCD >= 0.6) are different. q0: the case/spacing variant of a 20-byte text
    # is at NCD 0.30, so it is merged at threshold 0.3 but not at 0.25.
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 4, unique="ncd", threshold=0.25) == pytest.approx((2 + 3) / 2)
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 4, unique="ncd", threshold=0.3) == pytest.approx((1 + 3) / 2)
    # threshold 0 keeps only byte-identical texts together
    assert diversity_at_k(SOLUTIONS, SOL_CORRECT, 4, unique="ncd", threshold=0.0) == pytest.approx((2 + 4) / 2)


def test_diversity_counts_zero_for_questions_without_correct_samples():
    assert diversity_at_k([["a", "b"]], [[False, False]], 2) == 0.0


@pytest.mark.parametrize("solutions, correct, kwargs, match", [
    (SOLUTIONS[:1], SOL_CORRECT, {}, "one list of texts per question"),
    ([SOLUTIONS[0][:3], SOLUTIONS[1]], SOL_CORRECT, {}, r"solutions\[0\] has 3 texts"),
    (SOLUTIONS, SOL_CORRECT, {"unique": "semantic"}, "unique must be one of"),
    (SOLUTIONS, SOL_CORRECT, {"unique": "ncd", "threshold": 1.5}, "threshold"),
])
def test_diversity_rejects_bad_input(solutions, correct, kwargs, match):
    with pytest.raises(ValueError, match=match):
        diversity_at_k(solutions, correct, 4, **kwargs)


def test_duplicate_groups_labels_point_at_first_member_and_ignore_order():
    texts = ["alpha beta gamma delta", "ALPHA  beta gamma delta", "something else entirely, longer text"]
    assert duplicate_groups(texts, "normalized").tolist() == [0, 0, 2]
    fwd = duplicate_groups(texts * 2, "ncd", threshold=0.1)  # the case variant is at 0.19
    assert fwd.tolist() == [0, 1, 2, 0, 1, 2]
    assert unique_count(texts, "exact") == 3 and unique_count([], "ncd") == 0
    assert normalize_text("  A\tb\n C ") == "a b c"


# -- false-positive rate ----------------------------------------------------------------------------

def test_fpr_wilson_interval_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    judgements = [False] * 5 + [True] * 45  # 5 false positives out of 50 judged
    res = false_positive_rate(judgements)
    ci = stats.binomtest(5, 50).proportion_ci(confidence_level=0.95, method="wilson")
    assert res.rate == pytest.approx(0.1) and res.n_false_positives == 5 and res.n_judged == 50
    assert (res.low, res.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert res.interval == "wilson"


def test_fpr_wilson_known_closed_form_at_zero():
    res = false_positive_rate([True] * 50)
    z = 1.959963984540054
    assert res.rate == 0.0 and res.low == 0.0
    assert res.high == pytest.approx(z * z / (50 + z * z))


def test_fpr_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        false_positive_rate([])
    with pytest.raises(ValueError, match="judgement 1 is 'yes'"):
        false_positive_rate([True, "yes"])
    with pytest.raises(ValueError, match="confidence"):
        false_positive_rate([True], confidence=95)


def test_judge_sample_labels_a_reproducible_random_sample():
    kept = [f"solution {i}" for i in range(100)]
    calls = []

    def judge(s):
        calls.append(s)
        return not s.endswith("7")

    idx, js = judge_sample(kept, judge, n=20, seed=3)
    assert len(set(idx)) == 20 and calls == [kept[i] for i in idx]
    assert js == [not kept[i].endswith("7") for i in idx]
    assert judge_sample(kept, judge, n=20, seed=3)[0] == idx
    assert judge_sample(kept, judge, n=20, seed=4)[0] != idx


def test_judge_sample_rejects_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        judge_sample(["a"], lambda s: True, n=2)
    with pytest.raises(ValueError, match="callable"):
        judge_sample(["a"], None, n=1)
    with pytest.raises(ValueError, match="must return True"):
        judge_sample(["a"], lambda s: "ok", n=1)


# -- report -----------------------------------------------------------------------------------------

def _report_samples():
    out = []
    # strong: 1 sample per question; q1 right, q2 wrong
    out += [{"model": "big", "question_id": "q1", "solution": "#### 4", "reasoning_correct": True},
            {"model": "big", "question_id": "q2", "solution": "#### 1"}]
    # weak: 3 samples per question (27B vs 9B); q1 two right (one reasoning wrong), q2 one right
    out += [{"model": "small", "question_id": "q1", "solution": "a. #### 4", "reasoning_correct": False},
            {"model": "small", "question_id": "q1", "solution": "b. #### 4", "reasoning_correct": True},
            {"model": "small", "question_id": "q1", "solution": "#### 3"},
            {"model": "small", "question_id": "q2", "solution": "#### 9"},
            {"model": "small", "question_id": "q2", "solution": "#### 7"},
            {"model": "small", "question_id": "q2", "solution": r"\boxed{8}"},
            {"model": "small", "question_id": "q2", "solution": r"\boxed{9}"}]  # 4th: beyond the budget
    return out


def test_matched_report_compares_models_at_matched_compute():
    rep = matched_report(_report_samples(), {"q1": "4", "q2": "8"}, params={"big": 27e9, "small": 9e9},
                         unique="exact")
    big, small = rep["models"]
    assert rep["strong"] == "big" and big["k"] == 1 and small["k"] == 3
    assert big["coverage"] == 0.5 and small["coverage"] == 1.0
    assert big["diversity"] == 0.5 and small["diversity"] == (2 + 1) / 2
    assert small["kept"] == 3
    assert small["fpr"]["rate"] == 0.5 and small["fpr"]["n_judged"] == 2
    assert big["fpr"]["rate"] == 0.0
    # unbiased coverage@3 for q2 uses all 4 samples: 1 - C(3,3)/C(4,3) = 3/4
    assert small["coverage_unbiased"] == pytest.approx((1 + 0.75) / 2)


def test_matched_report_rejects_bad_input():
    gold = {"q1": "4", "q2": "8"}
    with pytest.raises(ValueError, match="exactly one of params"):
        matched_report(_report_samples(), gold)
    with pytest.raises(ValueError, match="model 'small' has no parameter count"):
        matched_report(_report_samples(), gold, params={"big": 27e9})
    with pytest.raises(ValueError, match="needs 27 samples per question"):
        matched_report(_report_samples(), gold, params={"big": 27e9, "small": 1e9})
    with pytest.raises(ValueError, match="record 2: question 'q2' is not in the gold"):
        matched_report(_report_samples(), {"q1": "4"}, params={"big": 27e9, "small": 9e9})
