"""Inline SVG charts for the report page: bars, a histogram with a cut-off, a scatter with a cut-off,
and value ranges. Pure functions of numbers to an ``<svg>`` string; no scripts, no network, text
escaped. Colours are fixed so a screenshot test can look for them."""
from __future__ import annotations

import html
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["PALETTE", "CUTOFF", "bars", "histogram", "scatter", "ranges"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
CUTOFF = "#d62728"  # the selection's cut-off line (red)
WIDTH, HEIGHT, PAD = 640, 260, 48


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{what}: no values to draw")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: values must be finite numbers (found NaN or infinity)")
    return array


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _svg(body: List[str], title: str, height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_esc(title)}" '
            f'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>")


def _axis_labels(x: str, y: str, height: int = HEIGHT) -> List[str]:
    return [f'<text x="{WIDTH / 2}" y="{height - 6}" text-anchor="middle">{_esc(x)}</text>',
            f'<text x="12" y="{height / 2}" text-anchor="middle" transform="rotate(-90 12 {height / 2})">'
            f'{_esc(y)}</text>']


def _ticks(lo: float, hi: float, to_px, vertical: bool, height: int = HEIGHT) -> List[str]:
    out = []
    for v in np.linspace(lo, hi, 5):
        p = to_px(v)
        label = f"{v:.3g}"
        if vertical:
            out.append(f'<text x="{PAD - 4}" y="{p + 4:.1f}" text-anchor="end">{label}</text>')
        else:
            out.append(f'<text x="{p:.1f}" y="{height - PAD + 14}" text-anchor="middle">{label}</text>')
    return out


def bars(labels: Sequence[str], values: Sequence[float], title: str, unit: str = "") -> str:
    """Horizontal bars, one per label (at most 30, the largest), each labelled with its value."""
    vals = _finite(values, title)
    if len(labels) != len(vals):
        raise ValueError(f"{title}: {len(labels)} labels for {len(vals)} values")
    order = np.argsort(-vals, kind="stable")[:30]
    row = 20
    height = PAD + row * len(order) + 10
    top = max(float(vals.max()), 1e-12)
    left = 170
    body = [f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    for k, i in enumerate(order):
        y = PAD - 20 + k * row
        w = max(1.0, (WIDTH - left - 90) * max(vals[i], 0) / top)
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{_esc(str(labels[i])[:28])}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 4}" fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}">{vals[i]:.3g}{_esc(unit)}</text>')
    return _svg(body, title, height)


def histogram(values: Sequence[float], title: str, cutoff: Optional[float] = None, bins: int = 40,
              xlabel: str = "score", background: Optional[Sequence[float]] = None) -> str:
    """A histogram of ``values`` (blue); ``background`` (grey, e.g. the whole pool) drawn behind it;
    ``cutoff`` as a red vertical line."""
    vals = _finite(values, title)
    bg = _finite(background, title) if background is not None and len(background) else None
    every = vals if bg is None else np.concatenate([vals, bg])
    lo, hi = float(every.min()), float(every.max())
    if cutoff is not None:
        lo, hi = min(lo, cutoff), max(hi, cutoff)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.histogram(vals, edges)[0]
    bg_counts = np.histogram(bg, edges)[0] if bg is not None else np.zeros(bins, int)
    top = max(int(counts.max()), int(bg_counts.max()), 1)
    x = _scale(lo, hi, PAD, WIDTH - 12)
    y = _scale(0, top, HEIGHT - PAD, 24)
    body = [f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    for layer, colour in ((bg_counts, "#bbbbbb"), (counts, PALETTE[0])):
        for k in range(bins):
            if layer[k]:
                body.append(f'<rect x="{x(edges[k]):.1f}" y="{y(layer[k]):.1f}" '
                            f'width="{max(x(edges[k + 1]) - x(edges[k]) - 1, 1):.1f}" '
                            f'height="{y(0) - y(layer[k]):.1f}" fill="{colour}"/>')
    if cutoff is not None:
        body.append(f'<line x1="{x(cutoff):.1f}" x2="{x(cutoff):.1f}" y1="20" y2="{HEIGHT - PAD}" '
                    f'stroke="{CUTOFF}" stroke-width="3"/>')
        body.append(f'<text x="{x(cutoff) + 4:.1f}" y="30" fill="{CUTOFF}">cut-off {cutoff:.4g}</text>')
    body += _ticks(lo, hi, x, vertical=False) + _ticks(0, top, y, vertical=True)
    body += _axis_labels(xlabel, "records")
    return _svg(body, title)


def scatter(lengths: Sequence[float], scores: Sequence[float], title: str, cutoff: Optional[float] = None,
            colours: Optional[Sequence[int]] = None, legend: Sequence[str] = (), log_x: bool = True,
            max_points: int = 4000, background: Optional[Tuple[Sequence[float], Sequence[float]]] = None) -> str:
    """Score (y) against length in bytes (x, log scale by default); ``colours`` index ``PALETTE``
    per point (e.g. by source, named in ``legend``); ``cutoff`` as a red horizontal line. At most
    ``max_points`` points are drawn (an even subsample) to keep the page small. ``background`` =
    (lengths, scores) of other records (e.g. the pool), drawn first in grey."""
    xs = _finite(lengths, title)
    ys = _finite(scores, title)
    bx = _finite(background[0], title) if background is not None else np.zeros(0)
    by = _finite(background[1], title) if background is not None else np.zeros(0)
    if len(xs) != len(ys) or len(bx) != len(by):
        raise ValueError(f"{title}: as many lengths as scores are needed")
    if log_x:
        if (xs <= 0).any() or (bx <= 0).any():
            raise ValueError(f"{title}: lengths must be > 0 on a log axis")
        xs, bx = np.log10(xs), np.log10(bx) if len(bx) else bx
    idx = np.linspace(0, len(xs) - 1, min(len(xs), max_points)).astype(int)
    all_x, all_y = np.concatenate([xs, bx]), np.concatenate([ys, by])
    lo_x, hi_x = float(all_x.min()), float(all_x.max())
    lo_y, hi_y = float(all_y.min()), float(all_y.max())
    if cutoff is not None:
        lo_y, hi_y = min(lo_y, cutoff), max(hi_y, cutoff)
    x = _scale(lo_x, hi_x, PAD, WIDTH - 12)
    y = _scale(lo_y, hi_y, HEIGHT - PAD, 24)
    body = [f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    cols = np.zeros(len(xs), int) if colours is None else np.asarray(colours, int)
    for i in (np.linspace(0, len(bx) - 1, min(len(bx), max_points)).astype(int) if len(bx) else []):
        body.append(f'<circle cx="{x(bx[i]):.1f}" cy="{y(by[i]):.1f}" r="2" fill="#bbbbbb"/>')
    for i in idx:
        body.append(f'<circle cx="{x(xs[i]):.1f}" cy="{y(ys[i]):.1f}" r="2.5" '
                    f'fill="{PALETTE[cols[i] % len(PALETTE)]}" fill-opacity="0.7"/>')
    if cutoff is not None:
        body.append(f'<line x1="{PAD}" x2="{WIDTH - 12}" y1="{y(cutoff):.1f}" y2="{y(cutoff):.1f}" '
                    f'stroke="{CUTOFF}" stroke-width="3"/>')
    for k, name in enumerate(legend[:len(PALETTE)]):
        body.append(f'<rect x="{WIDTH - 150}" y="{26 + 14 * k}" width="10" height="10" fill="{PALETTE[k]}"/>'
                    f'<text x="{WIDTH - 136}" y="{35 + 14 * k}">{_esc(str(name)[:20])}</text>')
    ticks_x = [(v, f"{10 ** v:.3g}" if log_x else f"{v:.3g}") for v in np.linspace(lo_x, hi_x, 5)]
    body += [f'<text x="{x(v):.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">{t}</text>' for v, t in ticks_x]
    body += _ticks(lo_y, hi_y, y, vertical=True)
    body += _axis_labels("length, bytes" + (" (log)" if log_x else ""), "score")
    return _svg(body, title)


def ranges(labels: Sequence[str], means: Sequence[float], lows: Sequence[float], highs: Sequence[float],
           title: str, reference: Optional[Tuple[str, float]] = None, unit: str = "") -> str:
    """One row per label: a dot at the mean and a bar from low to high (e.g. over seeds);
    ``reference`` = (name, value) as a grey dashed vertical line (e.g. the untrained model)."""
    m, lo, hi = (_finite(v, title) for v in (means, lows, highs))
    if not (len(labels) == len(m) == len(lo) == len(hi)):
        raise ValueError(f"{title}: labels, means, lows and highs must have the same length")
    if (lo > m + 1e-12).any() or (hi < m - 1e-12).any():
        raise ValueError(f"{title}: every low must be <= its mean <= its high")
    row, left = 22, 170
    height = PAD + row * len(m) + 24
    values = np.concatenate([lo, hi] + ([np.array([reference[1]])] if reference else []))
    a, b = float(values.min()), float(values.max())
    pad = (b - a) * 0.08 or 0.01
    x = _scale(a - pad, b + pad, left, WIDTH - 60)
    body = [f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}</text>']
    for k in range(len(m)):
        yy = PAD - 14 + k * row
        body.append(f'<text x="{left - 6}" y="{yy + 4}" text-anchor="end">{_esc(str(labels[k])[:28])}</text>')
        body.append(f'<line x1="{x(lo[k]):.1f}" x2="{max(x(hi[k]), x(lo[k]) + 2):.1f}" y1="{yy}" y2="{yy}" '
                    f'stroke="{PALETTE[k % len(PALETTE)]}" stroke-width="6"/>')
        body.append(f'<circle cx="{x(m[k]):.1f}" cy="{yy}" r="5" fill="#000000"/>')
        body.append(f'<text x="{WIDTH - 56}" y="{yy + 4}">{m[k]:.4f}{_esc(unit)}</text>')
    if reference is not None:
        rx = x(reference[1])
        body.append(f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="24" y2="{height - 28}" stroke="#888888" '
                    f'stroke-dasharray="4 3"/><text x="{rx:.1f}" y="{height - 16}" text-anchor="middle" '
                    f'fill="#555555">{_esc(reference[0])} {reference[1]:.4f}</text>')
    for v in np.linspace(a, b, 4):
        body.append(f'<text x="{x(v):.1f}" y="{height - 30}" text-anchor="middle" fill="#555555">{v:.3g}</text>')
    return _svg(body, title, height)
