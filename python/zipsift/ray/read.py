"""Reading a pool on a Ray cluster: files are read by Ray Data (``read_binary_files``) and parsed in
the workers by the same code as the single-machine readers (``zipsift.io``), so records, errors and
counts are identical.

Why not ``ray.data.read_json``: it infers one Arrow schema for all lines, which alters user data
(``{"n": 1}`` next to ``{"n": 1.5}`` comes back as ``1.0``; a missing key comes back as ``null``),
and a malformed line fails the whole read with a decode error that names neither file nor line.
The selection must give back each record unchanged, so each line's JSON text is carried as is.

A parsed row carries the record's place in the input — ``file`` (index in the expanded source
list) and ``ordinal`` (position among the file's good records) — which is what ties are broken by,
and, with per-file record counts, the global stream position DSIR's noise is seeded by.
"""
from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

import zstandard

from .. import io as zio
from ..io import BadRecord, ReadStats, dumps_record

# kind of a parsed row
RECORD, BAD, BLANK = "record", "bad", "blank"
# reason of a BAD row whose error concerns the whole file (corrupt archive, missing parquet column)
FILE_ERROR = "file_error"


def _open_bytes(data: bytes, suffix: str):
    # Ray's file readers decompress .gz/.zst themselves (compression inferred from the name), so the
    # bytes usually arrive plain; decompress only what still starts with the format's magic number.
    raw = io.BytesIO(data)
    if suffix.endswith(".gz") and data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if suffix.endswith(".zst") and data[:4] == b"\x28\xb5\x2f\xfd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)
    return raw


def parse_file(data: bytes, name: str, file_index: int, text_field: str,
               reserved: Sequence[str]) -> Dict[str, List[Any]]:
    """The rows of one file, as columns: one RECORD row per good record (its text and JSON), one
    BAD row per bad record or per file-level error (with the reason and detail of its BadRecord),
    and one BLANK row counting blank lines. ``name`` names the file in errors."""
    path = Path(name)
    suffix = zio._suffix(path)
    stats = ReadStats()
    if suffix == ".parquet":
        parsed = zio._records_in_parquet(path, text_field, reserved, source=io.BytesIO(data))
    elif suffix == ".txt":
        parsed = zio._records_in_txt(path, text_field, lines=zio._numbered_lines(_open_bytes(data, suffix), path))
    else:
        parsed = zio._records_in_jsonl(path, suffix, text_field, reserved, stats,
                                       lines=zio._numbered_lines(_open_bytes(data, suffix), path))
    cols: Dict[str, List[Any]] = {name: [] for name in
                                  ("kind", "file", "line", "ordinal", "text", "raw", "reason", "detail", "skippable", "count")}

    def row(kind, line=0, ordinal=-1, text="", raw="", reason="", detail="", skippable=False, count=1):
        for key, value in zip(cols, (kind, file_index, line, ordinal, text, raw, reason, detail, skippable, count)):
            cols[key].append(value)

    ordinal = last_line = 0
    try:
        for line, record, bad in parsed:
            last_line = line
            if bad is not None:
                row(BAD, line, reason=bad.reason, detail=bad.detail, skippable=bad.skippable)
                continue
            # The record travels as JSON: json.loads(dumps_record(r)) == r for every record a reader
            # gives, so the driver writes the same bytes as the single-machine CLI.
            row(RECORD, line, ordinal, record[text_field], dumps_record(record))
            ordinal += 1
    except ValueError as err:  # corrupt/truncated archive, parquet without the text column
        # After the lines read so far: an earlier bad record of the file is reported first, as locally.
        row(BAD, last_line + 1, reason=FILE_ERROR, detail=str(err))
    if stats.blank_lines:
        row(BLANK, count=stats.blank_lines)
    return cols


class ParseFiles:
    """Ray Data map_batches function: rows of ``read_binary_files(include_paths=True)`` → parsed rows."""

    def __init__(self, paths: Sequence[str], names: Sequence[str], text_field: str, reserved: Sequence[str]):
        self.index = {p: i for i, p in enumerate(paths)}
        self.names = list(names)
        self.text_field = text_field
        self.reserved = tuple(reserved)

    def __call__(self, batch):
        import pyarrow as pa

        tables = []
        for data, path in zip(batch.column("bytes").to_pylist(), batch.column("path").to_pylist()):
            i = self.index.get(path, self.index.get(os.path.abspath(path)))
            if i is None:
                raise RuntimeError(f"Ray read a file zipsift did not ask for: {path}")
            tables.append(pa.table(parse_file(data, self.names[i], i, self.text_field, self.reserved),
                                   schema=PARSED_SCHEMA()))
        return pa.concat_tables(tables) if tables else PARSED_SCHEMA().empty_table()


def PARSED_SCHEMA():  # noqa: N802  (a constant, built lazily because pyarrow is imported lazily)
    import pyarrow as pa

    return pa.schema([("kind", pa.string()), ("file", pa.int64()), ("line", pa.int64()), ("ordinal", pa.int64()),
                      ("text", pa.large_string()), ("raw", pa.large_string()), ("reason", pa.string()),
                      ("detail", pa.string()), ("skippable", pa.bool_()), ("count", pa.int64())])


def bad_record(names: Sequence[str], file: int, line: int, reason: str, detail: str, skippable: bool) -> Exception:
    """The exception the single-machine reader raises for this BAD row."""
    if reason == FILE_ERROR:
        return ValueError(detail)
    return BadRecord(names[file], line, reason, detail, skippable)
