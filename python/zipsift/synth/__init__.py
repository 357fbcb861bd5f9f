"""Compute-matched synthetic data (Bansal et al. 2024, "Smaller, Weaker, Yet Better").

Plan how many samples a weaker-but-cheaper model may draw for the cost of a stronger one
(``compute_matched_samples``, ``price_matched_samples``), keep the samples with the gold final answer
(``extract_answer``, ``filter_correct``), and measure them: ``coverage_at_k``, ``diversity_at_k``,
``false_positive_rate`` (with a Wilson interval, over judgements from ``judge_sample``), or all of
them side by side with ``matched_report``.
"""
from .answers import answers_match, extract_answer, filter_correct, is_correct, normalize_answer
from .budget import compute_matched_samples, price_matched_samples
from .metrics import FalsePositiveRate, coverage_at_k, diversity_at_k, false_positive_rate, judge_sample
from .report import matched_report

__all__ = ["compute_matched_samples", "price_matched_samples", "extract_answer", "normalize_answer",
           "answers_match", "is_correct", "filter_correct", "coverage_at_k", "diversity_at_k",
           "false_positive_rate", "FalsePositiveRate", "judge_sample", "matched_report"]
