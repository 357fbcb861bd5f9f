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
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

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
        super().__init__(f"{self.path}, line {line}: {detail}.{hint}")


@dataclass
class ReadStats:
    """What a reader saw: records yielded, records skipped by reason, files and blank lines."""

    records: int = 0
    skipped: Counter = field(default_factory=Counter)
    files: int = 0
    blank_lines: int = 0
    # Decompressed bytes of the lines read (.jsonl, .txt): how far a command's progress line has got.
    bytes_read: int = 0

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


class _Unreadable(Exception):
    """Raised inside a decompressor; turned into a BadRecord naming file and line by _lines."""


class _ZstdFrames(io.RawIOBase):
    """The decompressed bytes of every zstd frame in a file, one after another. Unlike a plain
    stream reader it notices a file that ends inside a frame (a cut at a block boundary included),
    and checks each frame's checksum when the frame has one."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")
        self._frame = None  # the decompressor of the frame being read; None between frames
        self._pending = b""  # compressed bytes after the end of the last frame
        self._out = memoryview(b"")  # decompressed bytes not yet handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._out):
            chunk, self._pending = self._pending or self._file.read(1 << 20), b""
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

    def close(self) -> None:
        self._file.close()
        super().close()


_ZSTD = zstandard.ZstdDecompressor()


def _open_binary(path: Path, suffix: str):
    if suffix.endswith(".gz"):
        return gzip.open(path, "rb")
    if suffix.endswith(".zst"):
        return io.BufferedReader(_ZstdFrames(path), buffer_size=1 << 20)
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
            raise BadRecord(path, 1, MALFORMED_JSON,
                            f"the file is {name}-compressed but its name ends in {suffix}; rename it to end "
                            f"in {suffix}{ext}", skippable=False)


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
    """_lines of an open binary file (decompressed); ``path`` names it in errors (zipsift.ray
    parses files it read as bytes with this)."""
    number = 0
    try:
        for number, raw in enumerate(fh, start=1):
            if raw.endswith(b"\n"):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the first record
            yield number, raw
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
                      stats: ReadStats, lines: Optional[Iterator[Tuple[int, bytes]]] = None) -> Iterator[Parsed]:
    # ``lines``: the file's numbered lines when they do not come from disk (zipsift.ray reads bytes).
    for number, raw in (_lines(path, suffix) if lines is None else lines):
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


def _records_in_txt(path: Path, text_field: str,
                    lines: Optional[Iterator[Tuple[int, bytes]]] = None,
                    stats: Optional[ReadStats] = None) -> Iterator[Parsed]:
    for number, raw in (_lines(path, ".txt") if lines is None else lines):
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


def _records_in_parquet(path: Path, text_field: str, reserved: Sequence[str], source: Any = None) -> Iterator[Parsed]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"{path}: reading .parquet needs pyarrow: pip install \"zipsift[parquet]\"") from None
    import pyarrow

    if source is None:  # source: the file's bytes as an open file (zipsift.ray reads them)
        with open(path, "rb") as fh:
            head = fh.read(4)
    else:
        head = source.read(4)
        source.seek(0)
    if head != b"PAR1":
        raise BadRecord(path, 1, UNREADABLE_TAIL, "not a Parquet file (it does not start with PAR1)",
                        hint=" Check the file, or pass on_error='skip' (--on-error skip) to count it and go on.")
    number = 0
    try:
        parquet = pq.ParquetFile(path if source is None else source)
        names = parquet.schema_arrow.names
    except (OSError, ValueError, UnicodeDecodeError, pyarrow.ArrowException) as err:
        raise BadRecord(path, 1, UNREADABLE_TAIL, f"not a readable Parquet file ({type(err).__name__}: {err})",
                        hint=" Re-create or re-download it, or pass on_error='skip' (--on-error skip) to count "
                             "it and go on.") from None
    if text_field is not None and text_field not in names:  # no row can be used: not skippable
        raise BadRecord(path, 1, MISSING_FIELD, f"no column {text_field!r} (columns: {', '.join(names)}); "
                                                f"name the text column with text_field= (--text-field)", skippable=False)
    batches = parquet.iter_batches(batch_size=8192)
    while True:
        try:
            batch = next(batches, None)
            rows = None if batch is None else batch.to_pylist()
        except (OSError, ValueError, UnicodeDecodeError, pyarrow.ArrowException) as err:
            raise BadRecord(path, number + 1, UNREADABLE_TAIL,
                            f"the Parquet file is corrupt from this row on ({type(err).__name__}: {err})",
                            hint=" Re-create or re-download it, or pass on_error='skip' (--on-error skip) to "
                                 "keep the rows before it and count the lost tail.") from None
        if rows is None:
            return
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
