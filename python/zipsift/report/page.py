"""One self-contained HTML page: a title, sections of text, tables and inline SVG. No scripts, no
stylesheets or fonts from elsewhere: it renders the same offline."""
from __future__ import annotations

import html
from typing import List, Sequence

__all__ = ["Section", "page", "table"]

STYLE = """body{font-family:sans-serif;margin:24px;max-width:980px;color:#222;background:#ffffff}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:13px}
figure{margin:10px 0}"""


class Section:
    """A titled part of the page: paragraphs (escaped text), tables and SVG figures in order."""

    def __init__(self, title: str):
        self.title = title
        self.parts: List[str] = []

    def text(self, paragraph: str, note: bool = False) -> "Section":
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(paragraph)}</p>")
        return self

    def figure(self, svg: str) -> "Section":
        if not svg.startswith("<svg"):
            raise ValueError("a figure must be an inline <svg> element")
        self.parts.append(f"<figure>{svg}</figure>")
        return self

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> "Section":
        self.parts.append(table(header, rows))
        return self

    def html(self) -> str:
        return f"<section><h2>{html.escape(self.title)}</h2>{''.join(self.parts)}</section>"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table with escaped cells; every row must have as many cells as the header."""
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"table row {i} has {len(row)} cells, the header {len(header)}")
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, sections: Sequence[Section], footer: str = "") -> str:
    """The whole document as a string (UTF-8, no external resources)."""
    if not sections:
        raise ValueError("a report needs at least one section")
    foot = f'<p class="note">{html.escape(footer)}</p>' if footer else ""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>" + "".join(s.html() for s in sections) + foot + "</body></html>")
