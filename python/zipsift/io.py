"""Streaming readers and an atomic writer for document collections.

Readers take files, directories (searched recursively) and glob patterns, in these formats:

=============================  ==========================================================
``.jsonl`` ``.ndjson``         one JSON object per line
``.jsonl.gz`` ``.jsonl.zst``   the same, compressed (gzip; zstd via the ``zstandard`` package)
``.parquet``                   one record per row (needs ``pip install "zipsift[parquet]"``)
``.txt``                       one document per line, read as ``{text_field: line}``
=============================  ==========================================================

A user's data is never silently dropped or altered. A bad record (malformed JSON, invalid UTF-8,
not an object, missing text field, text not a string) raises :class:`BadRecord`, naming the file
and line, unless ``on_error="skip"``: then it is skipped and counted by reason in :class:`ReadStats`.
An empty text (``{"text": ""}``, an empty line of a .txt file) is ordinary data with nothing to
select: it is skipped and counted (``ReadStats.empty_texts``) in either mode. Blank lines in JSONL
files are not records; they are counted, not reported.

Both engines read through these functions: the local one with :func:`iter_records`, the Ray one
with :func:`plan_splits` (pieces of files that workers read on their own), :func:`read_split`
(texts and where they are) and :func:`records_at` (the winners' records, a second small read).
"""
from __future__ import annotations

import datetime
import decimal
import glob
import gzip
import io
import json
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import zstandard

from .atomic import AtomicWriter, OutputError

__all__ = [
    "BadRecord",
    "ReadStats",
    "SUPPORTED_SUFFIXES",
    "expand_paths",
    "iter_records",
    "iter_located_records",
    "Located",
    "iter_batches",
    "read_texts",
    "Split",
    "SplitCounts",
    "SplitItem",
    "plan_splits",
    "read_split",
    "records_at",
    "DEFAULT_SPLIT_BYTES",
    "AtomicWriter",
    "OutputError",
    "write_jsonl",
]

PathLike = Union[str, os.PathLike]
SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst", ".parquet", ".txt")
ON_ERROR = ("raise", "skip")

# Reasons a record is refused; the keys of ReadStats.skipped.
MALFORMED_JSON = "malformed_json"
INVALID_UTF8 = "invalid_utf8"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
NOT_A_STRING = "not_a_string"
EMPTY_TEXT = "empty_text"
RESERVED_FIELD = "reserved_field"
UNSUPPORTED_JSON = "unsupported_json"  # valid JSON Python cannot hold faithfully (depth, huge integers)
NON_FINITE = "non_finite_number"  # NaN / Infinity: not JSON, an output could not hold them
# A compressed stream or Parquet file that is corrupt or cut short: the rest of the file is lost.
# In skip mode it is counted once per file (the number of records lost is unknown).
UNREADABLE_TAIL = "unreadable_tail"
# A Parquet row group that cannot be decoded: row groups stand alone, so the rows of the others are
# still read; in skip mode it is counted once per row group.
CORRUPT_ROW_GROUP = "corrupt_row_group"

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A JSON escape of a UTF-16 surrogate (\ud800-\udfff): the only way a JSON line yields a str that
# no UTF-8 text can hold. Lines containing one are checked record by record.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Nesting deeper than this is refused before Python's parser sees it: the parser recurses once per
# level, and near the interpreter's recursion limit any garbage collection that runs a finalizer
# fails too ("Exception ignored in ..."), far from the line that caused it.
MAX_JSON_DEPTH = 500
_JSON_NESTING_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # a string (skipped whole) or a bracket


def _nested_too_deeply(raw: bytes) -> bool:
    """Whether the JSON text ``raw`` opens more than MAX_JSON_DEPTH arrays/objects at once."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:  # the common case: two passes in C
        return False
    depth = 0
    for token in _JSON_NESTING_TOKEN.finditer(raw):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


class BadRecord(ValueError):
    """A record that cannot be used, with where it is and what to do about it."""

    def __init__(self, path: PathLike, line: int, reason: str, detail: str, skippable: bool = True,
                 hint: Optional[str] = None):
        self.path = str(path)
        self.line = line
        self.reason = reason
        self.detail = detail
        self.skippable = skippable
        if hint is None:
            hint = (" Fix the record, or pass on_error='skip' (--on-error skip) to skip and count such records."
                    if skippable else "")
        self.hint = hint
        super().__init__(f"{self.path}, line {line}: {detail}.{hint}")

    def at_line(self, line: int) -> "BadRecord":
        """The same error at another line number (a split's line made the file's)."""
        return BadRecord(self.path, line, self.reason, self.detail, self.skippable, self.hint)


@dataclass
class ReadStats:
    """What a reader saw: records yielded, records skipped by reason, files and blank lines."""

    records: int = 0
    skipped: Counter = field(default_factory=Counter)
    files: int = 0
    blank_lines: int = 0
    empty_texts: int = 0
    # Decompressed bytes of the lines read (.jsonl, .txt): how far a command's progress line has got.
    bytes_read: int = 0

    def as_dict(self) -> Dict[str, Any]:
        return {"records": self.records, "skipped": dict(sorted(self.skipped.items())),
                "skipped_total": sum(self.skipped.values()), "files": self.files, "blank_lines": self.blank_lines,
                "empty_texts": self.empty_texts}


def _suffix(path: Path) -> Optional[str]:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def expand_paths(specs: Union[PathLike, Sequence[PathLike]]) -> List[Path]:
    """Files named by ``specs``: files as given, directories searched recursively for supported
    files (sorted), glob patterns expanded (sorted). Raises FileNotFoundError / ValueError when a
    spec matches nothing or names an unsupported file."""
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    files: List[Path] = []
    for spec in specs:
        text = os.fspath(spec)
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _suffix(p))
            if not found:
                raise FileNotFoundError(f"{text}: directory has no files of a supported type "
                                        f"({', '.join(SUPPORTED_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            if not _suffix(path):
                raise ValueError(f"{text}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}")
            files.append(path)
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file() and _suffix(Path(p)))
            if not found:
                raise FileNotFoundError(f"{text}: pattern matches no files of a supported type")
            files.extend(found)
        elif path.is_symlink():
            raise FileNotFoundError(f"{text}: a symbolic link to {os.readlink(text)}, which does not exist; "
                                    f"fix the link or name the file itself")
        else:
            raise FileNotFoundError(f"{text}: no such file or directory")
    return files


class _Unreadable(Exception):
    """Raised inside a decompressor; turned into a BadRecord naming file and line by _lines."""


class _ZstdFrames(io.RawIOBase):
    """The decompressed bytes of every zstd frame in a file, one after another. Unlike a plain
    stream reader it notices a file that ends inside a frame (a cut at a block boundary included),
    and checks each frame's checksum when the frame has one."""

    def __init__(self, path: Path, start: int = 0, end: Optional[int] = None):
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = None if end is None else end - start  # compressed bytes of the range not yet read
        self._frame = None  # the decompressor of the frame being read; None between frames
        self._pending = b""  # compressed bytes after the end of the last frame
        self._out = memoryview(b"")  # decompressed bytes not yet handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._out):
            chunk, self._pending = self._pending or self._read_compressed(), b""
            if not chunk:
                if self._frame is not None:
                    raise _Unreadable("the file ends inside a zstd frame (it was cut short)")
                return 0
            if self._frame is None:
                self._frame = _ZSTD.decompressobj()
            try:
                self._out = memoryview(self._frame.decompress(chunk))
            except zstandard.ZstdError as err:
                raise _Unreadable(f"zstd: {err}") from None
            if self._frame.eof:
                self._pending = self._frame.unused_data
                self._frame = None
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _read_compressed(self) -> bytes:
        if self._left is None:
            return self._file.read(1 << 20)
        chunk = self._file.read(min(1 << 20, self._left))
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._file.close()
        super().close()


_ZSTD = zstandard.ZstdDecompressor()


def _open_binary(path: Path, suffix: str, start: int = 0, end: Optional[int] = None):
    if suffix.endswith(".gz"):
        return gzip.open(path, "rb")
    if suffix.endswith(".zst"):
        return io.BufferedReader(_ZstdFrames(path, start, end), buffer_size=1 << 20)
    return open(path, "rb", buffering=1 << 20)


def _check_magic(path: Path, suffix: str) -> None:
    """A compressed file must not be empty; a plain one must not be compressed."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    compression = {GZIP_MAGIC: "gzip", ZSTD_MAGIC: "zstd"}
    if suffix.endswith((".gz", ".zst")):
        if not head:
            raise BadRecord(path, 1, UNREADABLE_TAIL,
                            f"the file is empty, which is not a valid {suffix[-3:].lstrip('.')} file (an "
                            f"empty dataset compressed is still some bytes)", skippable=True,
                            hint=" Re-create or re-download it, or pass on_error='skip' (--on-error skip) "
                                 "to count it and go on.")
        return
    for magic, name in ((head[:2], "gzip"), (head[:4], "zstd")):
        if magic in compression and compression[magic] == name:
            ext = ".gz" if name == "gzip" else ".zst"
            if suffix == ".txt":  # compressed text files are not a format zipsift reads
                fix = (f"decompress it ({'gunzip' if name == 'gzip' else 'zstd -d'}), or, if it holds JSON lines, "
                       f"rename it to end in .jsonl{ext}")
            else:
                fix = f"rename it to end in {suffix}{ext}"
            raise BadRecord(path, 1, MALFORMED_JSON,
                            f"the file is {name}-compressed but its name ends in {suffix}; {fix}", skippable=False)


def _lines(path: Path, suffix: str) -> Iterator[Tuple[int, bytes]]:
    """(1-based line number, line without its end of line). A corrupt or truncated file raises
    BadRecord(reason=UNREADABLE_TAIL) naming the first line that could not be read."""
    _check_magic(path, suffix)
    try:
        fh = _open_binary(path, suffix)
    except (_Unreadable, OSError, EOFError, zlib.error, zstandard.ZstdError) as err:
        raise _unreadable_from(path, 0, err) from None
    with fh:
        yield from _numbered_lines(fh, path)


def _numbered_lines(fh, path: Path) -> Iterator[Tuple[int, bytes]]:
    """_lines of an open binary file (decompressed); ``path`` names it in errors."""
    for number, _, _, raw in _located_lines(fh, path, True):
        yield number, raw


def _located_lines(fh, path: Path, first: bool) -> Iterator[Tuple[int, int, int, bytes]]:
    """(1-based line number, offset of the line in the stream, its length with end of line, the
    line without its end of line) of an open binary stream; ``first``: the stream starts the file
    (a byte order mark there is not part of the first record)."""
    number = 0
    offset = 0
    try:
        for number, raw in enumerate(fh, start=1):
            length = len(raw)
            if raw.endswith(b"\n"):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if number == 1 and first and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the first record
            yield number, offset, length, raw
            offset += length
    except (_Unreadable, OSError, EOFError, zlib.error, zstandard.ZstdError) as err:
        raise _unreadable_from(path, number, err) from None


def _unreadable_from(path: Path, number: int, err: BaseException) -> BaseException:
    """The error to raise when reading stops after line ``number``: the OS error itself when the
    file cannot be opened at all (it names the file), else a BadRecord for the lost tail."""
    if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile) and err.filename is not None:
        return err
    return BadRecord(path, number + 1, UNREADABLE_TAIL,
                     f"the file is corrupt or truncated here; every record from this line on is lost ({err})",
                     hint=" Re-create or re-download it, or pass on_error='skip' (--on-error skip) to keep "
                          "the records before this line and count the lost tail.")


def _check_text(record: Any, text_field: str, path: Path, number: int,
                reserved: Sequence[str]) -> Optional[BadRecord]:
    """The reason ``record`` cannot be used, or None."""
    if not isinstance(record, dict):
        return BadRecord(path, number, NOT_AN_OBJECT, f"expected a JSON object, got {type(record).__name__}")
    if text_field is None:  # the caller checks the fields itself
        pass
    elif text_field not in record:
        fields = ", ".join(list(record)[:8]) or "none"
        return BadRecord(path, number, MISSING_FIELD,
                         f"no field {text_field!r} (fields: {fields}); name the text field with text_field= "
                         f"(--text-field)")
    else:
        text = record[text_field]
        if not isinstance(text, str):
            kind = "null" if text is None else type(text).__name__
            return BadRecord(path, number, NOT_A_STRING, f"field {text_field!r} is {kind}, expected a string")
        if not text:
            return BadRecord(path, number, EMPTY_TEXT, f"field {text_field!r} is empty")
    for name in reserved:
        if name in record:
            return BadRecord(path, number, RESERVED_FIELD,
                             f"the record already has a field {name!r}, which the output would overwrite; "
                             f"choose another output field name (--score-field)", skippable=False)
    return None


# The per-format readers yield (line, record, None) or (line, None, BadRecord): a generator that
# raised could not go on to the next record, and skip mode must.
Parsed = Tuple[int, Optional[Dict[str, Any]], Optional[BadRecord]]


def _decode(raw: bytes, path: Path, number: int) -> Tuple[Optional[str], Optional[BadRecord]]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, BadRecord(path, number, INVALID_UTF8,
                               f"invalid UTF-8 at byte {err.start} of the line ({raw[err.start:err.start + 4]!r})")


def _non_standard_constant(name: str):
    raise _NonFinite(name)


class _NonFinite(ValueError):
    pass


# One decoder for every line (json.loads with a keyword builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_non_standard_constant)


def _lone_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a str with an unpaired UTF-16 surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _parse_json(line: str, raw: bytes, path: Path, number: int) -> Tuple[Any, Optional[BadRecord]]:
    """One JSON value, or why it cannot be used. Python's parser accepts NaN/Infinity, lone
    surrogate escapes and any depth and integer length up to its own limits; a record must be
    standard JSON that an output can hold unchanged."""
    if _nested_too_deeply(raw):
        return None, BadRecord(path, number, UNSUPPORTED_JSON,
                               f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels of arrays/objects)")
    try:
        record = _DECODER.decode(line)
    except json.JSONDecodeError as err:
        return None, BadRecord(path, number, MALFORMED_JSON, f"malformed JSON: {err.msg} at column {err.colno}")
    except _NonFinite as err:
        return None, BadRecord(path, number, NON_FINITE,
                               f"the number {err} is not JSON (JSON has no NaN or Infinity); write null or a string")
    except RecursionError:
        return None, BadRecord(path, number, UNSUPPORTED_JSON,
                               "JSON nested too deeply for Python's parser (thousands of levels)")
    except ValueError as err:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        return None, BadRecord(path, number, UNSUPPORTED_JSON, f"JSON value Python cannot read: {err}")
    if _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(record):
        return None, BadRecord(path, number, INVALID_UTF8,
                               "a string holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is "
                               "not a character and cannot be written as UTF-8")
    return record, None


def _records_in_jsonl(path: Path, suffix: str, text_field: str, reserved: Sequence[str],
                      stats: ReadStats) -> Iterator[Parsed]:
    for number, raw in _lines(path, suffix):
        stats.bytes_read += len(raw) + 1
        if not raw.strip():
            stats.blank_lines += 1
            continue
        line, bad = _decode(raw, path, number)
        if bad:
            yield number, None, bad
            continue
        record, bad = _parse_json(line, raw, path, number)
        if bad is None:
            bad = _check_text(record, text_field, path, number, reserved)
        yield (number, None, bad) if bad else (number, record, None)


def _records_in_txt(path: Path, text_field: str, stats: Optional[ReadStats] = None) -> Iterator[Parsed]:
    for number, raw in _lines(path, ".txt"):
        if stats is not None:
            stats.bytes_read += len(raw) + 1
        text, bad = _decode(raw, path, number)
        if bad:
            yield number, None, bad
        elif not text:
            yield number, None, BadRecord(path, number, EMPTY_TEXT,
                                          "empty line (each line of a .txt file is one document)")
        else:
            yield number, {text_field: text}, None


def _records_in_parquet(path: Path, text_field: str, reserved: Sequence[str],
                        row_groups: Optional[Sequence[int]] = None) -> Iterator[Parsed]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"{path}: reading .parquet needs pyarrow: pip install \"zipsift[parquet]\"") from None
    import pyarrow

    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PAR1":
        raise BadRecord(path, 1, UNREADABLE_TAIL, "not a Parquet file (it does not start with PAR1)",
                        hint=" Check the file, or pass on_error='skip' (--on-error skip) to count it and go on.")
    number = 0
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except (OSError, ValueError, UnicodeDecodeError, pyarrow.ArrowException) as err:
        raise BadRecord(path, 1, UNREADABLE_TAIL, f"not a readable Parquet file ({type(err).__name__}: {err})",
                        hint=" Re-create or re-download it, or pass on_error='skip' (--on-error skip) to count "
                             "it and go on.") from None
    if text_field is not None and text_field not in names:  # no row can be used: not skippable
        raise BadRecord(path, 1, MISSING_FIELD, f"no column {text_field!r} (columns: {', '.join(names)}); "
                                                f"name the text column with text_field= (--text-field)", skippable=False)
    meta = parquet.metadata
    groups = range(meta.num_row_groups) if row_groups is None else row_groups
    # One row group at a time (a batch never spans two), so a corrupt group is named and the rows of
    # the others are read, whichever engine reads the file and however it splits it.
    for group in groups:
        end = number + meta.row_group(group).num_rows
        batches = parquet.iter_batches(batch_size=8192, row_groups=[group])
        while True:
            try:
                batch = next(batches, None)
                rows = None if batch is None else batch.to_pylist()
            except (OSError, ValueError, UnicodeDecodeError, pyarrow.ArrowException) as err:
                detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
                detail = "".join(c if c.isprintable() else "?" for c in detail)
                yield number + 1, None, BadRecord(
                    path, number + 1, CORRUPT_ROW_GROUP,
                    f"row group {group} is corrupt from this row on ({type(err).__name__}: {detail}); "
                    f"its {end - number:,} rows from here cannot be read",
                    hint=" Re-create or re-download the file, or pass on_error='skip' (--on-error skip) to skip "
                         "them, count the row group and go on with the others.")
                number = end
                break
            if rows is None:
                break
            for record in rows:
                number += 1
                bad = _check_text(record, text_field, path, number, reserved)
                if bad is None and _has_non_finite(record):
                    bad = BadRecord(path, number, NON_FINITE, "a value is NaN or Infinity, which JSON output cannot "
                                                              "hold; fill it in or drop the column")
                yield (number, None, bad) if bad else (number, record, None)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    return False


class Located(NamedTuple):
    """A record with where it came from: its file and 1-based line (row, for parquet)."""

    path: Path
    line: int
    record: Dict[str, Any]


def iter_located_records(specs: Union[PathLike, Sequence[PathLike]], text_field: Optional[str] = "text",
                         on_error: str = "raise", stats: Optional[ReadStats] = None,
                         reserved_fields: Sequence[str] = ()) -> Iterator[Located]:
    """Like :func:`iter_records`, each record as ``Located(path, line, record)``, for callers that
    check fields of their own and must name the line of a bad record."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    stats = stats if stats is not None else ReadStats()
    for path in expand_paths(specs):
        stats.files += 1
        suffix = _suffix(path)
        if suffix == ".parquet":
            parsed = _records_in_parquet(path, text_field, reserved_fields)
        elif suffix == ".txt":
            if text_field is None:
                raise ValueError(f"{path}: a .txt file holds only texts; this input needs JSON records (.jsonl)")
            parsed = _records_in_txt(path, text_field, stats=stats)
        else:
            parsed = _records_in_jsonl(path, suffix, text_field, reserved_fields, stats)
        try:
            for number, record, bad in parsed:
                if bad is not None:
                    if bad.reason == EMPTY_TEXT:
                        stats.empty_texts += 1
                        continue
                    if on_error == "raise" or not bad.skippable:
                        raise bad
                    stats.skipped[bad.reason] += 1
                    continue
                stats.records += 1
                yield Located(path, number, record)
        except BadRecord as bad:  # the file cannot be read on: its tail is lost
            if bad.reason != UNREADABLE_TAIL or on_error == "raise":
                raise
            stats.skipped[UNREADABLE_TAIL] += 1


def iter_records(specs: Union[PathLike, Sequence[PathLike]], text_field: Optional[str] = "text",
                 on_error: str = "raise", stats: Optional[ReadStats] = None,
                 reserved_fields: Sequence[str] = ()) -> Iterator[Dict[str, Any]]:
    """Stream the records of every file in ``specs``, in order, as dicts whose ``text_field`` holds
    a non-empty string (records with an empty text are skipped and counted in
    ``stats.empty_texts``). Nothing is held beyond the current record.

    on_error: ``"raise"`` (default) raises :class:`BadRecord` at the first bad record; ``"skip"``
    skips it and counts it in ``stats.skipped[reason]``. ``reserved_fields`` are output field names
    a record must not already have (a selection would overwrite them): always an error.
    ``text_field=None`` accepts any JSON object, for records without a text (gold answers, say)
    whose fields the caller checks.
    """
    for located in iter_located_records(specs, text_field, on_error, stats, reserved_fields):
        yield located.record


def iter_batches(specs: Union[PathLike, Sequence[PathLike]], batch_size: int = 4096, **kwargs) -> Iterator[List[Dict[str, Any]]]:
    """Like :func:`iter_records`, in lists of up to ``batch_size`` records."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: List[Dict[str, Any]] = []
    for record in iter_records(specs, **kwargs):
        batch.append(record)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_texts(specs: Union[PathLike, Sequence[PathLike]], text_field: str = "text", on_error: str = "raise",
               stats: Optional[ReadStats] = None) -> List[str]:
    """All texts of ``specs`` in a list (for small sets such as targets)."""
    return [r[text_field] for r in iter_records(specs, text_field=text_field, on_error=on_error, stats=stats)]


# ---- Pieces of files read on their own (the Ray engine's reader) ----------------------------------

try:  # a fast JSON parser for the text field; every line it does not accept goes the exact way
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson comes with the ray extra
    _orjson = None

DEFAULT_SPLIT_BYTES = 128 << 20
_PLAIN = (".jsonl", ".ndjson", ".txt")
# Integers longer than this many digits are refused by Python's parser (sys.int_info); a line that
# could hold one takes the exact path, which refuses it as the local reader does.
_LONG_DIGITS = re.compile(rb"[0-9]{4300}")


class Split(NamedTuple):
    """A piece of one input file that a worker reads on its own.

    ``kind``: ``"range"`` — the lines of a plain .jsonl/.txt file whose first byte lies in bytes
    [start, end) (a line belongs to the range holding its first byte, so none is lost or read
    twice); ``"frames"`` — the lines of the whole zstd frames in compressed bytes [start, end);
    ``"row_groups"`` — Parquet row groups [start, end); ``"file"`` — the whole file (gzip and
    one-frame zstd cannot be split). ``file``: index of the file in the sources; ``piece``: index of
    the split within its file (0 for the first)."""

    file: int
    path: str
    kind: str
    start: int
    end: int
    piece: int
    before: int = -1  # "frames": where the frame before ``start`` begins (its last byte says whether a line ends there)


@dataclass
class SplitCounts:
    """What :func:`read_split` saw besides records: lines (rows, for Parquet), blank lines of JSONL
    files, empty texts (skipped and counted, never an error)."""

    lines: int = 0
    blank_lines: int = 0
    empty_texts: int = 0


class SplitItem(NamedTuple):
    """One record of a split: its 1-based line (row) number within the split, where its line is
    (``offset`` and ``length`` in bytes, in the file for ``"range"`` splits, in the split's
    decompressed stream for the others; the row number in the file for Parquet), and either its
    text or the BadRecord that refuses it (line numbers in BadRecords are within the split too)."""

    line: int
    offset: int
    length: int
    text: Optional[str]
    bad: Optional[BadRecord]


def plan_splits(paths: Sequence[PathLike], split_bytes: int = DEFAULT_SPLIT_BYTES) -> List[Split]:
    """The splits of ``paths`` (files, as :func:`expand_paths` gives them) in input order: plain
    .jsonl/.txt files in byte ranges of ``split_bytes``, multi-frame .zst files in groups of whole
    frames of about ``split_bytes`` compressed bytes, Parquet files by row group (groups of about
    ``split_bytes``), everything else whole. Reads only sizes, frame headers and Parquet footers;
    a file whose structure cannot be read is one split, and reading it reports the error."""
    if isinstance(split_bytes, bool) or not isinstance(split_bytes, int) or split_bytes < 1:
        raise ValueError(f"split_bytes must be a positive whole number of bytes, got {split_bytes!r}")
    splits: List[Split] = []
    for index, name in enumerate(paths):
        path = Path(name)
        suffix = _suffix(path)
        size = os.path.getsize(path)
        kind, bounds = "file", [(0, size)]
        if suffix in _PLAIN and size > split_bytes:
            kind, bounds = "range", [(a, min(a + split_bytes, size)) for a in range(0, size, split_bytes)]
        elif suffix in _PLAIN:
            kind = "range"
        elif suffix and suffix.endswith(".zst") and size > split_bytes:
            groups = _group(_zstd_frame_starts(path, size), size, split_bytes)
            if len(groups) > 1:
                kind, bounds = "frames", groups
        elif suffix == ".parquet":
            groups = _parquet_groups(path, split_bytes)
            if groups:
                kind, bounds = "row_groups", groups
        splits.extend(Split(index, str(path), kind, a, b, n) for n, (a, b) in enumerate(bounds))
        if kind == "frames":
            starts = _zstd_frame_starts(path, size)
            for n in range(1, len(bounds)):
                previous = starts[starts.index(bounds[n][0]) - 1]
                splits[len(splits) - len(bounds) + n] = splits[len(splits) - len(bounds) + n]._replace(before=previous)
    return splits


def _group(starts: List[int], size: int, split_bytes: int) -> List[Tuple[int, int]]:
    """Consecutive frames [starts[i], starts[i+1]) grouped into ranges of about split_bytes."""
    groups: List[Tuple[int, int]] = []
    begin = 0
    for start in starts[1:]:
        if start - begin >= split_bytes:
            groups.append((begin, start))
            begin = start
    groups.append((begin, size))
    return groups


def _zstd_frame_starts(path: Path, size: int) -> List[int]:
    """Offsets of the zstd frames of a file, found by walking frame and block headers (no
    decompression). Stops at anything it cannot walk: the rest is one piece whose reader reports it."""
    starts = [0]
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(18)
            if len(head) < 8:
                break
            magic = int.from_bytes(head[:4], "little")
            if 0x184D2A50 <= magic <= 0x184D2A5F:  # a skippable frame: magic, size, data
                end = pos + 8 + int.from_bytes(head[4:8], "little")
            elif head[:4] == ZSTD_MAGIC:
                descriptor = head[4]
                single = descriptor >> 5 & 1
                fcs = (1 if single else 0, 2, 4, 8)[descriptor >> 6]
                end = pos + 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3] + fcs
                checksum = 4 if descriptor >> 2 & 1 else 0
                while True:  # blocks: a 3-byte header, then the block's bytes
                    fh.seek(end)
                    block = fh.read(3)
                    if len(block) < 3:
                        return starts
                    header = int.from_bytes(block, "little")
                    end += 3 + (1 if (header >> 1 & 3) == 1 else header >> 3)
                    if header & 1:
                        break
                end += checksum
            else:
                break
            if end > size:
                break
            pos = end
            if pos < size:
                starts.append(pos)
    return starts


def _parquet_groups(path: Path, split_bytes: int) -> Optional[List[Tuple[int, int]]]:
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)]
    except Exception:  # not readable: one piece, whose reader says why as the local reader does
        return None
    if len(sizes) < 2:
        return None
    groups: List[Tuple[int, int]] = []
    begin = total = 0
    for i, group_size in enumerate(sizes):
        total += group_size
        if total >= split_bytes and i + 1 < len(sizes):
            groups.append((begin, i + 1))
            begin, total = i + 1, 0
    groups.append((begin, len(sizes)))
    return groups if len(groups) > 1 else None


def _range_lines(path: Path, start: int, end: int) -> Iterator[Tuple[int, int, int, bytes]]:
    """_located_lines of the lines of a plain file whose first byte is in [start, end); offsets
    are in the file. A line that starts in the range is read to its end, wherever that is."""
    with open(path, "rb") as fh:
        if start == 0:
            buf = fh.read(end)
            base = 0
        else:
            fh.seek(start - 1)
            buf = fh.read(end - start + 1)  # buf[0] is the byte before the range
            cut = buf.find(b"\n", 0, len(buf) - 1)  # a newline before end - 1: a line starts in the range
            if cut < 0:
                return
            base = start + cut
            buf = buf[cut + 1:]
        rest = b""
        if buf and not buf.endswith(b"\n"):  # the last line runs past the range: read it to its end
            tail = []
            while True:
                chunk = fh.read(1 << 20)
                newline = chunk.find(b"\n")
                if newline >= 0:
                    tail.append(chunk[:newline + 1])
                    break
                if not chunk:
                    break
                tail.append(chunk)
            rest = b"".join(tail)  # the rest of that line only: the range itself is not copied again
    pieces = buf.split(b"\n")
    if rest:
        pieces[-1] += rest
        if pieces[-1].endswith(b"\n"):
            pieces[-1] = pieces[-1][:-1]
            pieces.append(b"")
    last = pieces.pop()  # after the final newline: empty, or a last line without one (end of file)
    offset = base
    number = 0
    for number, piece in enumerate(pieces, start=1):
        length = len(piece) + 1
        yield number, offset, length, piece[:-1] if piece.endswith(b"\r") else piece
        offset += length
    if last:
        yield number + 1, offset, len(last), last


def parse_text(raw: bytes, path: PathLike, line: int, text_field: str = "text",
               reserved_fields: Sequence[str] = ()) -> Tuple[Optional[str], Optional[BadRecord]]:
    """(the text of one JSONL line, None), or (None, the BadRecord the local reader would raise for
    it; ``line`` names it). Only the text field is used; it equals ``json.loads(raw)[text_field]``.
    A fast parser (orjson) reads lines it accepts; any line it refuses, or that could hold what
    only Python's parser judges (deep nesting, huge integers), is parsed exactly as
    :func:`iter_records` does, so errors and their messages are the same."""
    if _orjson is not None and not (len(raw) >= 4300 and _LONG_DIGITS.search(raw)):
        try:
            record = _orjson.loads(raw)  # refuses nesting deeper than 1024 itself
        except _orjson.JSONDecodeError:
            record = None
        # A flat record (no object or array among its values, the usual case) or a line with few
        # opening brackets (one per level is needed) cannot nest too deep: no walk.
        if type(record) is dict and (_CONTAINERS.isdisjoint(map(type, record.values()))
                                     or raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH
                                     or not _deeper_than(record, MAX_JSON_DEPTH)):
            text = record.get(text_field)
            if type(text) is str and text and (not reserved_fields or
                                               not any(name in record for name in reserved_fields)):
                return text, None
    path = Path(path)
    decoded, bad = _decode(raw, path, line)
    if bad is None:
        record, bad = _parse_json(decoded, raw, path, line)
    if bad is None:
        bad = _check_text(record, text_field, path, line, reserved_fields)
    return (None, bad) if bad is not None else (record[text_field], None)


_CONTAINERS = frozenset((dict, list))


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests arrays/objects more than ``limit`` deep (the top one is
    level 1): walking the parsed containers costs less than scanning the line's bytes."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if type(value) is dict else value
        stack.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return False


def _split_lines(split: Split, suffix: str) -> Iterator[Tuple[int, int, int, bytes]]:
    path = Path(split.path)
    if split.kind == "range":
        lines = _range_lines(path, split.start, split.end)
        if split.start != 0:
            return lines
        return _without_bom(lines)
    if split.kind == "frames":
        return _frame_lines(path, split)
    try:
        fh = _open_binary(path, suffix)
    except (_Unreadable, OSError, EOFError, zlib.error, zstandard.ZstdError) as err:
        raise _unreadable_from(path, 0, err) from None
    return _located_lines(fh, path, True)


def _frame_lines(path: Path, split: Split) -> Iterator[Tuple[int, int, int, bytes]]:
    """_located_lines of the lines that start in the decompressed data of the frames [start, end):
    a line that began in an earlier frame is the earlier split's, a line that runs on into later
    frames is read to its end. Offsets are in the split's decompressed stream."""
    skip = split.piece > 0 and not _ends_a_line(path, split.before, split.start)
    size = os.path.getsize(path)
    number = offset = 0
    try:
        with io.BufferedReader(_ZstdFrames(path, split.start, split.end), buffer_size=1 << 20) as fh:
            for raw in fh:
                length = len(raw)
                if skip:  # the tail of a line that started before this split
                    skip = False
                    offset += length
                    continue
                if not raw.endswith(b"\n") and split.end < size:
                    with io.BufferedReader(_ZstdFrames(path, split.end), buffer_size=1 << 20) as rest:
                        raw += rest.readline()
                    length = len(raw)
                number += 1
                yield number, offset, length, _strip_eol(raw, number == 1 and split.piece == 0)
                offset += length
    except (_Unreadable, OSError, EOFError, zlib.error, zstandard.ZstdError) as err:
        raise _unreadable_from(path, number, err) from None


def _ends_a_line(path: Path, start: int, end: int) -> bool:
    """Whether the decompressed data of the frames in [start, end) ends with a newline."""
    try:
        with _ZstdFrames(path, start, end) as frames:
            data = frames.readall()
    except (_Unreadable, zstandard.ZstdError):
        return True  # the earlier split reports the broken frame; this one starts fresh
    return data.endswith(b"\n")


def _strip_eol(raw: bytes, first: bool) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw


def _without_bom(lines):
    for number, offset, length, raw in lines:
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        yield number, offset, length, raw


def read_split(split: Split, text_field: str = "text", reserved_fields: Sequence[str] = (),
               counts: Optional[SplitCounts] = None) -> Iterator[SplitItem]:
    """The records of one split (see :func:`plan_splits`) as SplitItems, in order: texts only,
    with where each line is. Bad records are items too (the caller raises or counts them); an
    unreadable tail (corrupt or truncated compressed data) is the last item. Empty texts and blank
    lines are counted in ``counts``, not yielded. Records, errors and counts over all splits of
    a file equal what :func:`iter_located_records` gives for it."""
    counts = counts if counts is not None else SplitCounts()
    path = Path(split.path)
    suffix = _suffix(path)
    if suffix == ".parquet":
        yield from _parquet_split(split, text_field, reserved_fields, counts)
        return
    if split.piece == 0:
        try:
            _check_magic(path, suffix)
        except BadRecord as bad:
            counts.lines = 1
            yield SplitItem(1, 0, 0, None, bad)
            return
    txt = suffix == ".txt"
    lines = _split_lines(split, suffix)
    try:
        for number, offset, length, raw in lines:
            counts.lines = number
            if txt:
                text, bad = _decode(raw, path, number)
                if bad is None and not text:
                    counts.empty_texts += 1
                    continue
            elif not raw.strip():
                counts.blank_lines += 1
                continue
            else:
                text, bad = parse_text(raw, path, number, text_field, reserved_fields)
                if bad is not None and bad.reason == EMPTY_TEXT:
                    counts.empty_texts += 1
                    continue
            yield SplitItem(number, offset, length, text, bad)
    except BadRecord as bad:  # the stream cannot be read on
        counts.lines = bad.line
        yield SplitItem(bad.line, 0, 0, None, bad)


def _parquet_split(split: Split, text_field: str, reserved: Sequence[str], counts: SplitCounts) -> Iterator[SplitItem]:
    path = Path(split.path)
    row_groups = None
    first_row = 0
    if split.kind == "row_groups":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        row_groups = list(range(split.start, split.end))
        first_row = sum(meta.row_group(i).num_rows for i in range(split.start))
    try:
        for number, record, bad in _records_in_parquet(path, text_field, reserved, row_groups=row_groups):
            counts.lines = number
            if bad is not None and bad.reason == EMPTY_TEXT:
                counts.empty_texts += 1
                continue
            yield SplitItem(number, first_row + number - 1, 1, None if bad else record[text_field], bad)
        if row_groups is not None:  # rows of a corrupt row group count as lines of the split too
            counts.lines = sum(meta.row_group(i).num_rows for i in row_groups)
    except BadRecord as bad:
        counts.lines = bad.line
        yield SplitItem(bad.line, 0, 0, None, bad)


def records_at(split: Split, offsets: Sequence[int], text_field: str = "text") -> Dict[int, Dict[str, Any]]:
    """The records (as :func:`iter_records` gives them, parsed exactly) whose lines start at
    ``offsets`` (SplitItem.offset) in ``split``: the second, small read of the winners of a
    selection. Raises ValueError if an offset is not a record of the split (the file changed)."""
    path = Path(split.path)
    suffix = _suffix(path)
    wanted = set(int(o) for o in offsets)
    found: Dict[int, Dict[str, Any]] = {}
    if not wanted:
        return found
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        for group in sorted({int(np.searchsorted(starts, o, side="right")) - 1 for o in wanted}):
            rows = parquet.read_row_group(group).to_pylist()
            for o in wanted:
                if starts[group] <= o < starts[group + 1]:
                    found[o] = rows[o - starts[group]]
    elif split.kind == "range":
        with open(path, "rb") as fh:
            for o in sorted(wanted):
                fh.seek(o)
                raw = fh.readline()
                if raw.endswith(b"\n"):
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                if o == 0 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                found[o] = _exact_record(raw, path, suffix, text_field)
    else:
        for _, offset, _, raw in _split_lines(split, suffix):
            if offset in wanted:
                found[offset] = _exact_record(raw, path, suffix, text_field)
                if len(found) == len(wanted):
                    break
    missing = wanted - set(found)
    if missing:
        raise ValueError(f"{path}: no record starts at byte {min(missing)} any more; the file changed while "
                         f"zipsift read it: run again on files that stay put")
    return found


def _exact_record(raw: bytes, path: Path, suffix: str, text_field: str) -> Dict[str, Any]:
    line, bad = _decode(raw, path, 0)
    if bad is None and suffix == ".txt":
        return {text_field: line}
    if bad is None:
        record, bad = _parse_json(line, raw, path, 0)
    if bad is not None:
        raise ValueError(f"{path}: a selected record no longer reads as it did ({bad.detail}); the file changed "
                         f"while zipsift read it: run again on files that stay put")
    return record


def _json_default(value: Any) -> Any:
    # Values pyarrow gives for parquet columns that JSON has no type for.
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"a record holds a {type(value).__name__}, which JSON cannot represent; "
                    f"convert that column before selecting")


def dumps_record(record: Any) -> str:
    """One JSONL line (without newline): the record's keys in order, non-ASCII kept as is. A NaN or
    Infinity raises ValueError: JSON has no such numbers (the readers refuse records holding them)."""
    try:
        return json.dumps(record, ensure_ascii=False, default=_json_default, allow_nan=False)
    except ValueError as err:
        raise ValueError(f"a record holds NaN or Infinity, which JSON cannot represent ({err}); "
                         f"replace them (e.g. by null) before writing") from None


def write_jsonl(path: PathLike, records: Iterable[Any]) -> int:
    """Write records as JSONL, atomically. Returns the number of lines written."""
    count = 0
    with AtomicWriter(path) as out:
        for record in records:
            out.write(dumps_record(record))
            out.write("\n")
            count += 1
    return count
