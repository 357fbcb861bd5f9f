"""The HTML report of a selection and its evaluation (`zipsift report`): one self-contained page
with inline SVG charts, no scripts and nothing fetched at view time.

``selection_section(name, records, by=None, score_field=None, text_field="text", pool=None)``
    composition by a field, score histogram and score against length with the cut-off marked.
``eval_section(evals, names)``   per-selection metrics of `zipsift eval --json` files with their range.
``build_report(title, sections, footer="") -> str``   the page.
``charts``   the SVG primitives (bars, histogram, scatter, ranges).
"""
from . import charts
from .build import build_report, eval_section, find_score_field, selection_section
from .page import Section, page, table

__all__ = ["charts", "build_report", "eval_section", "find_score_field", "selection_section", "Section", "page",
           "table"]
