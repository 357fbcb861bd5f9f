"""Records of one file with their line numbers, for commands that check fields themselves and must
name the line of a bad record."""
from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

from ..io import BadRecord, ReadStats, iter_records


def located_records(path: str, text_field: Optional[str] = None) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """(line, record) for every record of one .jsonl/.jsonl.gz/.jsonl.zst file (1-based lines).

    With on_error="raise" every physical line is either blank or the record just read, so the line
    of the current record is records + blank lines read so far.
    """
    stats = ReadStats()
    for record in iter_records(path, text_field=text_field, stats=stats):
        yield stats.records + stats.blank_lines, record


def bad(path: str, line: int, detail: str) -> BadRecord:
    """An error naming the file and line of a record whose fields are wrong."""
    return BadRecord(path, line, "bad_field", detail, skippable=False)
