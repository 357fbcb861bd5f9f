"""Streaming readers and an atomic writer for document collections.

Readers take files, directories (searched recursively) and glob patterns, in these formats:

=============================  ==========================================================
``.jsonl`` ``.ndjson``         one JSON object per line
``.jsonl.gz`` ``.jsonl.zst``   the same, compressed (gzip; zstd via the ``zstandard`` package)
``.parquet``                   one record per row (needs ``pip install "zipsift[parquet]"``)
``.txt``                       one document per line, read as ``{text_field: line}``
=============================  ==========================================================

A user's data is never silently dropped or altered. A bad record (malformed JSON, invalid UTF-8,
not an object, missing text field, text not a string, empty text) raises :class:`BadRecord`, naming
the file and line, unless ``on_error="skip"``: then it is skipped and counted by reason in
:class:`ReadStats`. Blank lines in JSONL files are not records; they are counted, not reported.
"""
from __future__ import annotations

import datetime
import decimal
import glob
import gzip
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import zstandard

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
    "AtomicWriter",
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


class BadRecord(ValueError):
    """A record that cannot be used, with where it is and what to do about it."""

    def __init__(self, path: PathLike, line: int, reason: str, detail: str, skippable: bool = True):
        self.path = str(path)
        self.line = line
        self.reason = reason
        self.detail = detail
        self.skippable = skippable
        hint = (" Fix the record, or pass on_error='skip' (--on-error skip) to skip and count such records."
                if skippable else "")
        super().__init__(f"{self.path}, line {line}: {detail}.{hint}")


@dataclass
class ReadStats:
    """What a reader saw: records yielded, records skipped by reason, files and blank lines."""

    records: int = 0
    skipped: Counter = field(default_factory=Counter)
    files: int = 0
    blank_lines: int = 0

    def as_dict(self) -> Dict[str, Any]:
        return {"records": self.records, "skipped": dict(sorted(self.skipped.items())),
                "skipped_total": sum(self.skipped.values()), "files": self.files, "blank_lines": self.blank_lines}


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
        else:
            raise FileNotFoundError(f"{text}: no such file or directory")
    return files


def _open_binary(path: Path, suffix: str):
    if suffix.endswith(".gz"):
        return gzip.open(path, "rb")
    if suffix.endswith(".zst"):
        raw = open(path, "rb")
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)
    return open(path, "rb", buffering=1 << 20)


def _lines(path: Path, suffix: str) -> Iterator[Tuple[int, bytes]]:
    """(1-based line number, line without its end of line). A corrupt or truncated compressed file
    raises ValueError naming the last good line."""
    with _open_binary(path, suffix) as fh:
        yield from _numbered_lines(fh, path)


def _numbered_lines(fh, path: Path) -> Iterator[Tuple[int, bytes]]:
    """_lines of an open binary file (decompressed); ``path`` names it in errors."""
    number = 0
    try:
        for number, raw in enumerate(fh, start=1):
            if raw.endswith(b"\n"):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the first record
            yield number, raw
    except (OSError, EOFError, zstandard.ZstdError) as err:
        raise ValueError(f"{path}: the file is corrupt or truncated after line {number} ({err}); "
                         f"re-create or re-download it") from err


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


def _records_in_jsonl(path: Path, suffix: str, text_field: str, reserved: Sequence[str],
                      stats: ReadStats, lines: Optional[Iterator[Tuple[int, bytes]]] = None) -> Iterator[Parsed]:
    # ``lines``: the file's numbered lines when they do not come from disk (zipsift.ray reads bytes).
    for number, raw in (_lines(path, suffix) if lines is None else lines):
        if not raw.strip():
            stats.blank_lines += 1
            continue
        line, bad = _decode(raw, path, number)
        if bad:
            yield number, None, bad
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, None, BadRecord(path, number, MALFORMED_JSON, f"malformed JSON: {err.msg} at column {err.colno}")
            continue
        bad = _check_text(record, text_field, path, number, reserved)
        yield (number, None, bad) if bad else (number, record, None)


def _records_in_txt(path: Path, text_field: str,
                    lines: Optional[Iterator[Tuple[int, bytes]]] = None) -> Iterator[Parsed]:
    for number, raw in (_lines(path, ".txt") if lines is None else lines):
        text, bad = _decode(raw, path, number)
        if bad:
            yield number, None, bad
        elif not text:
            yield number, None, BadRecord(path, number, EMPTY_TEXT,
                                          "empty line (each line of a .txt file is one document)")
        else:
            yield number, {text_field: text}, None


def _records_in_parquet(path: Path, text_field: str, reserved: Sequence[str], source: Any = None) -> Iterator[Parsed]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"{path}: reading .parquet needs pyarrow: pip install \"zipsift[parquet]\"") from None
    parquet = pq.ParquetFile(path if source is None else source)  # source: an open file, for zipsift.ray
    names = parquet.schema_arrow.names
    if text_field is not None and text_field not in names:
        raise ValueError(f"{path}: no column {text_field!r} (columns: {', '.join(names)}); "
                         f"name the text column with text_field= (--text-field)")
    number = 0
    for batch in parquet.iter_batches(batch_size=8192):
        for record in batch.to_pylist():
            number += 1
            bad = _check_text(record, text_field, path, number, reserved)
            yield (number, None, bad) if bad else (number, record, None)


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
            parsed = _records_in_txt(path, text_field)
        else:
            parsed = _records_in_jsonl(path, suffix, text_field, reserved_fields, stats)
        for number, record, bad in parsed:
            if bad is not None:
                if on_error == "raise" or not bad.skippable:
                    raise bad
                stats.skipped[bad.reason] += 1
                continue
            stats.records += 1
            yield Located(path, number, record)


def iter_records(specs: Union[PathLike, Sequence[PathLike]], text_field: Optional[str] = "text",
                 on_error: str = "raise", stats: Optional[ReadStats] = None,
                 reserved_fields: Sequence[str] = ()) -> Iterator[Dict[str, Any]]:
    """Stream the records of every file in ``specs``, in order, as dicts whose ``text_field`` holds
    a non-empty string. Nothing is held beyond the current record.

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


def _json_default(value: Any) -> Any:
    # Values pyarrow gives for parquet columns that JSON has no type for.
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"a record holds a {type(value).__name__}, which JSON cannot represent; "
                    f"convert that column before selecting")


def dumps_record(record: Any) -> str:
    """One JSONL line (without newline): the record's keys in order, non-ASCII kept as is."""
    return json.dumps(record, ensure_ascii=False, default=_json_default)


class AtomicWriter:
    """Write a file under a temporary name in the same directory and rename it into place on
    success, so the final name only ever holds a complete file. On any exception (Ctrl-C included)
    the temporary file is removed and nothing appears under the final name.

    ``.gz`` and ``.zst`` suffixes compress the output. Use as a context manager; write text.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self._tmp: Optional[Path] = None
        self._raw = None
        self._stream = None
        self._text = None

    def __enter__(self):
        directory = self.path.parent
        if not directory.is_dir():
            raise FileNotFoundError(f"{self.path}: the directory {directory} does not exist; create it first")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        self._tmp = Path(tmp)
        self._raw = os.fdopen(fd, "wb")
        name = self.path.name.lower()
        if name.endswith(".gz"):
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="wb", filename="", mtime=0)
        elif name.endswith(".zst"):
            self._stream = zstandard.ZstdCompressor(level=10).stream_writer(self._raw, closefd=False)
        else:
            self._stream = None
        self._text = io.TextIOWrapper(self._stream or self._raw, encoding="utf-8", newline="\n",
                                      write_through=False)
        return self._text

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._text.flush()
                if self._stream is not None:
                    self._text.detach()
                    self._stream.close()  # writes the gzip trailer / zstd frame end
                else:
                    self._text.detach()
                self._raw.flush()
                os.fsync(self._raw.fileno())
                self._raw.close()
                # mkstemp creates 0600 files; give the output the permissions a normal file gets.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self._tmp, 0o666 & ~umask)
                os.replace(self._tmp, self.path)
                self._tmp = None
        finally:
            if self._tmp is not None:
                for closable in (self._text, self._stream, self._raw):
                    try:
                        if closable is not None:
                            closable.close()
                    except Exception:
                        pass
                try:
                    self._tmp.unlink()
                except FileNotFoundError:
                    pass
        return False


def write_jsonl(path: PathLike, records: Iterable[Any]) -> int:
    """Write records as JSONL, atomically. Returns the number of lines written."""
    count = 0
    with AtomicWriter(path) as out:
        for record in records:
            out.write(dumps_record(record))
            out.write("\n")
            count += 1
    return count
