"""Property tests (hypothesis) for the readers and writers: arbitrary records round-trip through
every format; arbitrary and damaged bytes raise nothing but BadRecord naming the file and a line;
skip-mode counts add up to the lines read."""
from __future__ import annotations

import gzip
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import zstandard

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zipsift.io import BadRecord, ReadStats, iter_records, write_jsonl  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSONL_FORMATS = (".jsonl", ".ndjson", ".jsonl.gz", ".jsonl.zst")

# JSON values Python round-trips exactly: no NaN/Infinity (not JSON), text without lone surrogates
# (the default alphabet of st.text), integers far below Python's 4,300-digit limit.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10 ** 30), 10 ** 30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
records = st.dictionaries(st.text(max_size=8).filter(lambda k: k != "text"), json_values, max_size=4).flatmap(
    lambda rest: st.text(min_size=1, max_size=60).map(lambda t: {"text": t, **rest}))


def read_all(path, on_error="raise"):
    stats = ReadStats()
    return list(iter_records(path, on_error=on_error, stats=stats)), stats


@SETTINGS
@given(rows=st.lists(records, max_size=12), suffix=st.sampled_from(JSONL_FORMATS))
def test_any_records_round_trip_through_every_writer_and_reader(rows, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"r{suffix}"
        assert write_jsonl(path, rows) == len(rows)
        back, stats = read_all(path)
        assert back == rows and stats.records == len(rows) and not stats.skipped


# A .txt line is one document: any text without line breaks (a leading BOM is not part of it).
txt_lines = st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1,
                    max_size=40).filter(lambda t: not t.startswith("\ufeff"))


@SETTINGS
@given(lines=st.lists(txt_lines, max_size=12))
def test_any_text_lines_round_trip_through_txt(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
        assert [r["text"] for r in read_all(path)[0]] == lines


@SETTINGS
@given(rows=st.lists(records, min_size=1, max_size=8))
def test_any_records_read_from_parquet_as_written(rows):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table_rows = [{"text": r["text"], "n": i} for i, r in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(pa.Table.from_pylist(table_rows), Path(tmp) / "p.parquet")
        assert read_all(Path(tmp) / "p.parquet")[0] == table_rows


def check_only_bad_records(path: Path) -> None:
    """Reading ``path`` in either mode yields records or raises BadRecord naming it, nothing else."""
    for on_error in ("raise", "skip"):
        try:
            got, stats = read_all(path, on_error)
        except BadRecord as err:
            assert err.path == str(path) and err.line >= 1 and str(path) in str(err)
            assert on_error == "raise" or not err.skippable
        else:
            assert all(isinstance(r, dict) and isinstance(r["text"], str) and r["text"] for r in got)
            assert stats.records == len(got)


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from(JSONL_FORMATS + (".txt",)))
def test_arbitrary_bytes_raise_only_bad_record_naming_file_and_line(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(data)
        check_only_bad_records(path)


def compress(suffix: str, data: bytes) -> bytes:
    if suffix.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if suffix.endswith(".zst"):
        return zstandard.ZstdCompressor(write_checksum=True).compress(data)
    return data


damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("insert"), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8))),
)


def apply(blob: bytes, how) -> bytes:
    kind, arg = how
    if kind == "truncate":
        return blob[: int(arg * len(blob))]
    if kind == "flip":
        out = bytearray(blob)
        for at, mask in arg:
            if out:
                out[min(int(at * len(out)), len(out) - 1)] ^= mask
        return bytes(out)
    at, extra = arg
    cut = int(at * len(blob))
    return blob[:cut] + extra + blob[cut:]


@SETTINGS
@given(rows=st.lists(records, min_size=1, max_size=10), suffix=st.sampled_from(JSONL_FORMATS), how=damage)
def test_damaged_files_raise_only_bad_record_and_keep_what_was_read_intact(rows, suffix, how):
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"d{suffix}"
        path.write_bytes(apply(compress(suffix, text), how))
        check_only_bad_records(path)
        if how[0] == "truncate" and suffix != ".jsonl" and suffix != ".ndjson":
            # a cut compressed file: what comes out is a prefix of the records, the tail counted
            try:
                got, stats = read_all(path, "skip")
            except BadRecord:
                return
            assert got == rows[: len(got)]
            assert len(got) == len(rows) or stats.skipped["unreadable_tail"] == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(records, min_size=1, max_size=6), how=damage)
def test_damaged_parquet_raises_only_bad_record(rows, how):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.parquet"
        pq.write_table(pa.Table.from_pylist([{"text": r["text"]} for r in rows]), good)
        path = Path(tmp) / "d.parquet"
        path.write_bytes(apply(good.read_bytes(), how))
        check_only_bad_records(path)


# Lines of known kind: (line, reason or None for a good record, or "blank").
GOOD = records.map(lambda r: (json.dumps(r, ensure_ascii=False), None))
BAD = st.sampled_from([
    ('{"text": "a"', "malformed_json"),
    ("[1, 2]", "not_an_object"),
    ('{"body": "a"}', "missing_field"),
    ('{"text": 3}', "not_a_string"),
    ('{"text": ""}', "empty_text"),
    ('{"text": "a", "x": NaN}', "non_finite_number"),
    ('{"text": "a\\udc00"}', "invalid_utf8"),
    ("[" * 5000 + "]" * 5000, "unsupported_json"),
])
BLANK = st.sampled_from([("", "blank"), ("   ", "blank"), ("\t", "blank")])


@SETTINGS
@given(lines=st.lists(st.one_of(GOOD, BAD, BLANK), max_size=20), suffix=st.sampled_from(JSONL_FORMATS))
def test_skip_mode_counts_add_up_to_the_lines_read(lines, suffix):
    data = "".join(line + "\n" for line, _ in lines).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"s{suffix}"
        path.write_bytes(compress(suffix, data))
        got, stats = read_all(path, "skip")
        expected = Counter(kind for _, kind in lines if kind not in (None, "blank", "empty_text"))
        assert stats.skipped == expected
        assert stats.blank_lines == sum(kind == "blank" for _, kind in lines)
        assert stats.empty_texts == sum(kind == "empty_text" for _, kind in lines)
        assert got == [json.loads(line) for line, kind in lines if kind is None]
        assert stats.records + sum(stats.skipped.values()) + stats.blank_lines + stats.empty_texts == len(lines)
        first_bad = next((i for i, (_, kind) in enumerate(lines) if kind not in (None, "blank", "empty_text")), None)
        if first_bad is not None:
            with pytest.raises(BadRecord) as err:
                read_all(path, "raise")
            assert err.value.line == first_bad + 1 and err.value.reason == lines[first_bad][1]
