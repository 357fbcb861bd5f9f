"""What a report says: a selection's composition, its scores against length with the cut-off, and
an eval's cross-entropy per selection with the range over seeds. Inputs are the files zipsift writes
(`select ... --out`, `eval --json`), read as plain data; the output is one HTML string."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import charts
from .page import Section, page

__all__ = ["selection_section", "eval_section", "build_report", "find_score_field"]

SCORE_FIELDS = ("zipfit_score", "gain_score", "dsir_score", "submodular_score", "score")


def find_score_field(records: Sequence[Dict[str, Any]], name: Optional[str] = None) -> Optional[str]:
    """``name`` when given (it must be in every record), else the first of zipsift's score fields
    that every record holds, else None."""
    if name is not None:
        for i, r in enumerate(records):
            if name not in r:
                raise ValueError(f"record {i} has no score field {name!r}; name the field the selection wrote "
                                 f"(e.g. dsir_score) with --score-field")
        return name
    for field in SCORE_FIELDS:
        if records and all(isinstance(r.get(field), (int, float)) for r in records):
            return field
    return None


def _size(record: Dict[str, Any], text_field: str, i: int) -> int:
    text = record.get(text_field)
    if not isinstance(text, str):
        raise ValueError(f"record {i} has no text field {text_field!r} (name it with --text-field)")
    return len(text.encode("utf-8", "surrogatepass"))


def _composition(records: Sequence[Dict[str, Any]], by: str, sizes: Sequence[int]) -> "OrderedDict[str, List[int]]":
    groups: "OrderedDict[str, List[int]]" = OrderedDict()
    for r, size in zip(records, sizes):
        key = str(r.get(by, "(none)"))
        entry = groups.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += size
    return groups


def selection_section(name: str, records: Sequence[Dict[str, Any]], by: Optional[str] = None,
                      score_field: Optional[str] = None, text_field: str = "text",
                      pool: Optional[Sequence[Dict[str, Any]]] = None) -> Section:
    """Composition of a selection by the field ``by`` (bytes and records; beside the pool's when
    ``pool`` is given), its score distribution and score against length with the cut-off (the
    lowest kept score) marked. With ``pool`` records that carry the same score field (a ranking of
    the whole pool), their scores are drawn behind the selection's."""
    if not records:
        raise ValueError(f"{name}: the selection is empty")
    section = Section(f"Selection: {name}")
    sizes = [_size(r, text_field, i) for i, r in enumerate(records)]
    total = sum(sizes)
    section.text(f"{len(records):,} records, {total:,} bytes of text.")
    if by is not None:
        groups = _composition(records, by, sizes)
        labels = list(groups)
        section.figure(charts.bars(labels, [100.0 * groups[k][1] / total for k in labels],
                                   f"share of the selection's bytes by {by}", unit="%"))
        pool_groups: Dict[str, List[int]] = {}
        pool_total = 0
        if pool is not None:
            pool_sizes = [_size(r, text_field, i) for i, r in enumerate(pool)]
            pool_total = sum(pool_sizes)
            pool_groups = _composition(pool, by, pool_sizes)
        keys = labels + [k for k in pool_groups if k not in groups]
        rows = []
        for k in keys:
            n, b = groups.get(k, [0, 0])
            row = [k, f"{n:,}", f"{b:,}", f"{100.0 * b / total:.1f}%"]
            if pool is not None:
                pb = pool_groups.get(k, [0, 0])[1]
                row.append(f"{100.0 * pb / pool_total:.1f}%" if pool_total else "")
            rows.append(row)
        header = [by, "records", "bytes", "share of bytes"] + (["share of the pool"] if pool is not None else [])
        section.table(header, rows)
    field = find_score_field(records, score_field)
    if field is None:
        section.text("No score field in the records (zipfit_score, gain_score, dsir_score...): no score plots.",
                     note=True)
        return section
    scores = np.array([float(r[field]) for r in records])
    finite = np.isfinite(scores)
    if not finite.all():
        section.text(f"{int((~finite).sum())} records have a non-finite {field}; they are left out of the plots.",
                     note=True)
    cutoff = float(scores[finite].min()) if finite.any() else None
    background = points = None
    if pool is not None and all(isinstance(r.get(field), (int, float)) for r in pool):
        kept = [(float(r[field]), _size(r, text_field, i)) for i, r in enumerate(pool) if np.isfinite(float(r[field]))]
        background = [s for s, _ in kept]
        points = ([n for _, n in kept], background)
    if finite.any():
        section.figure(charts.histogram(scores[finite], f"{field} of the kept records"
                                        + (" (grey: the pool)" if background else ""), cutoff=cutoff,
                                        xlabel=field, background=background))
        colours, legend = None, ()
        if by is not None:
            legend = list(_composition(records, by, sizes))
            colours = [legend.index(str(r.get(by, "(none)"))) for r in records]
            colours = [c for c, ok in zip(colours, finite) if ok]
        section.figure(charts.scatter(np.array(sizes)[finite], scores[finite], f"{field} against length"
                                      + (" (grey: the pool)" if points else ""), cutoff=cutoff, colours=colours,
                                      legend=legend, background=points))
        section.text(f"Cut-off (lowest kept {field}): {cutoff:.6g}. Red lines mark it.", note=True)
    return section


def eval_section(evals: Sequence[Dict[str, Any]], names: Sequence[str]) -> Section:
    """Per selection, the mean over the eval files (e.g. one per --lm-seed) of each reported metric,
    with its range; the LM's untrained baseline as a dashed line. Compression proxies are labelled
    as proxies."""
    section = Section("Evaluation")
    metrics = OrderedDict()
    for ev, name in zip(evals, names):
        if not isinstance(ev, dict) or not isinstance(ev.get("rows"), list):
            raise ValueError(f"{name}: not a `zipsift eval --json` file (no \"rows\" list)")
        for row in ev["rows"]:
            for metric in ("lm_ce", "lm_bpb", "zstd_bpb", "ngram_bpb"):
                if isinstance(row.get(metric), (int, float)):
                    metrics.setdefault(metric, OrderedDict()).setdefault(str(row["selection"]), []).append(
                        float(row[metric]))
    if not metrics:
        raise ValueError("the eval files hold no lm_ce, lm_bpb, zstd_bpb or ngram_bpb figures")
    baseline = next((ev["lm"]["baseline"] for ev in evals if isinstance(ev.get("lm"), dict)
                     and isinstance(ev["lm"].get("baseline"), dict)), None)
    seeds = sorted({ev["lm"]["hyperparameters"].get("seed") for ev in evals
                    if isinstance(ev.get("lm"), dict) and isinstance(ev["lm"].get("hyperparameters"), dict)},
                   key=str)
    section.text(f"{len(evals)} eval file(s)" + (f", LM training-order seeds {seeds}" if seeds else "")
                 + "; bars span the range over the files, dots are the means. Lower is better.")
    titles = {"lm_ce": "LM judge: held-out cross-entropy, nats/token (the referee)",
              "lm_bpb": "LM judge: held-out bits per byte",
              "zstd_bpb": "zstd proxy: held-out bits per byte (a proxy, not a model)",
              "ngram_bpb": "n-gram proxy: held-out bits per byte (a proxy, not a model)"}
    rows = []
    for metric, by_sel in metrics.items():
        labels = list(by_sel)
        values = [by_sel[k] for k in labels]
        ref = None
        if baseline is not None and metric in ("lm_ce", "lm_bpb"):
            ref = ("untrained", float(baseline["ce_nats_per_token" if metric == "lm_ce" else "bits_per_byte"]))
        section.figure(charts.ranges(labels, [np.mean(v) for v in values], [min(v) for v in values],
                                     [max(v) for v in values], titles[metric], reference=ref))
        rows += [[metric, k, len(v), f"{np.mean(v):.4f}", f"{min(v):.4f}–{max(v):.4f}"]
                 for k, v in zip(labels, values)]
    section.table(["metric", "selection", "runs", "mean", "range"], rows)
    return section


def build_report(title: str, sections: Sequence[Section], footer: str = "") -> str:
    return page(title, sections, footer)
