"""Streaming readers and the atomic writer: every format, every bad record, nothing lost."""
from __future__ import annotations

import gzip
import json
import os
import re

import pytest
import zstandard

from zipsift.io import (AtomicWriter, BadRecord, ReadStats, expand_paths, iter_batches, iter_located_records, iter_records, read_texts,
                        write_jsonl)

RECORDS = [{"id": i, "text": f"document {i} ✓", "n": i * 1.5} for i in range(10)]


def jsonl_bytes(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


@pytest.fixture
def formats(tmp_path):
    data = jsonl_bytes(RECORDS)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "d.txt").write_text("".join(r["text"] + "\n" for r in RECORDS), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", ["a.jsonl", "b.jsonl.gz", "c.jsonl.zst"])
def test_jsonl_formats_round_trip_records_unchanged(formats, name):
    assert list(iter_records(formats / name)) == RECORDS


def test_txt_gives_one_record_per_line(formats):
    assert [r["text"] for r in iter_records(formats / "d.txt")] == [r["text"] for r in RECORDS]
    assert list(iter_records(formats / "d.txt", text_field="body"))[0] == {"body": RECORDS[0]["text"]}


def test_parquet_rows_are_records(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "p.parquet")
    assert list(iter_records(tmp_path / "p.parquet")) == RECORDS
    with pytest.raises(ValueError, match="no column 'body'.*--text-field"):
        list(iter_records(tmp_path / "p.parquet", text_field="body"))


def test_parquet_null_text_is_a_bad_record_with_its_row(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"text": "a"}, {"text": None}]), tmp_path / "p.parquet")
    with pytest.raises(BadRecord, match=r"p.parquet, line 2: field 'text' is null"):
        list(iter_records(tmp_path / "p.parquet"))


def test_directories_and_globs_expand_sorted(formats):
    files = [p.name for p in expand_paths(formats)]
    assert files == ["a.jsonl", "b.jsonl.gz", "c.jsonl.zst", "d.txt"]
    assert [p.name for p in expand_paths(str(formats / "*.jsonl*"))] == ["a.jsonl", "b.jsonl.gz", "c.jsonl.zst"]
    assert len(list(iter_records(formats))) == 40


@pytest.mark.parametrize("spec, error, message", [
    ("missing.jsonl", FileNotFoundError, "no such file"),
    ("*.nothing", FileNotFoundError, "matches no files"),
])
def test_paths_that_match_nothing_are_errors(tmp_path, spec, error, message):
    with pytest.raises(error, match=message):
        expand_paths(str(tmp_path / spec))


def test_unsupported_file_type_is_an_error(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unsupported file type.*jsonl"):
        expand_paths(tmp_path / "x.csv")


BAD_LINES = [
    (b'{"text": "ok"}\n{"text": "broken\n', "malformed_json", "line 2: malformed JSON"),
    (b'{"text": "ok"}\n{"text": "caf\xe9"}\n', "invalid_utf8", "line 2: invalid UTF-8"),
    (b'{"text": "ok"}\n["a list"]\n', "not_an_object", "line 2: expected a JSON object"),
    (b'{"text": "ok"}\n{"body": "x"}\n', "missing_field", "line 2: no field 'text'"),
    (b'{"text": "ok"}\n{"text": 42}\n', "not_a_string", "line 2: field 'text' is int"),
]


@pytest.mark.parametrize("content, reason, message", BAD_LINES)
def test_a_bad_record_raises_naming_file_and_line(tmp_path, content, reason, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(BadRecord, match=f"bad.jsonl, {message}") as info:
        list(iter_records(path))
    assert info.value.reason == reason and info.value.line == 2 and "--on-error skip" in str(info.value)


@pytest.mark.parametrize("content, reason, message", BAD_LINES)
def test_skip_mode_skips_and_counts_each_bad_record_by_reason(tmp_path, content, reason, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content + b'{"text": "after"}\n')
    stats = ReadStats()
    assert [r["text"] for r in iter_records(path, on_error="skip", stats=stats)] == ["ok", "after"]
    assert stats.skipped == {reason: 1} and stats.records == 2


def test_blank_lines_crlf_and_bom_are_handled(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\r\n\r\n{"text": "b"}\r\n')
    stats = ReadStats()
    assert [r["text"] for r in iter_records(path, stats=stats)] == ["a", "b"]
    assert stats.blank_lines == 1


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_empty_texts_are_skipped_and_counted_in_every_format(tmp_path, on_error):
    # An empty document (an empty __init__.py in a code pool) is data with nothing to select, not an
    # error: every format skips it and counts it, in either mode.
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    records = [{"text": "one"}, {"text": ""}, {"text": "three"}]
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(records))
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records)))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl_bytes(records)))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d.parquet")
    (tmp_path / "e.txt").write_text("one\n\nthree\n")
    stats = ReadStats()
    texts = [r["text"] for r in iter_records(tmp_path, on_error=on_error, stats=stats)]
    assert texts == ["one", "three"] * 5
    assert stats.empty_texts == 5 and stats.records == 10 and not stats.skipped
    assert stats.as_dict()["empty_texts"] == 5


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    data = gzip.compress(jsonl_bytes(RECORDS * 50))
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t.jsonl.gz, line \d+: the file is corrupt or truncated"):
        list(iter_records(tmp_path / "t.jsonl.gz"))


def test_reserved_output_field_is_always_an_error(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"text": "a", "zipfit_score": 1}\n')
    with pytest.raises(BadRecord, match="already has a field 'zipfit_score'"):
        list(iter_records(tmp_path / "r.jsonl", on_error="skip", reserved_fields=("zipfit_score",)))


def test_iter_batches_and_read_texts(formats):
    batches = list(iter_batches(formats / "a.jsonl", batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert read_texts(formats / "a.jsonl") == [r["text"] for r in RECORDS]
    with pytest.raises(ValueError, match="on_error"):
        list(iter_records(formats / "a.jsonl", on_error="ignore"))


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz", "out.jsonl.zst"])
def test_write_jsonl_round_trips_through_the_readers(tmp_path, name):
    assert write_jsonl(tmp_path / name, RECORDS) == len(RECORDS)
    assert list(iter_records(tmp_path / name)) == RECORDS
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path):
    target = tmp_path / "out.jsonl"

    def records():
        yield RECORDS[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, records())
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_survives_a_failed_rewrite(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, RECORDS[:2])
    with pytest.raises(RuntimeError):
        with AtomicWriter(target) as out:
            out.write("partial\n")
            raise RuntimeError("boom")
    assert list(iter_records(target)) == RECORDS[:2]


def test_atomic_writer_needs_an_existing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_jsonl(tmp_path / "nope" / "out.jsonl", RECORDS)


def test_output_gets_normal_file_permissions(tmp_path):
    write_jsonl(tmp_path / "o.jsonl", RECORDS)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o666 & ~umask


def test_located_records_name_their_file_and_line(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_bytes(b'{"text": "a"}\n\n{"broken\n{"text": "c", "n": 1}\n')
    located = list(iter_located_records(path, on_error="skip"))
    assert [(loc.path.name, loc.line, loc.record["text"]) for loc in located] == [("l.jsonl", 1, "a"), ("l.jsonl", 4, "c")]
    assert [loc.line for loc in iter_located_records(path, text_field=None, on_error="skip")] == [1, 4]


def test_a_dangling_symlink_names_its_target(tmp_path):
    from zipsift.atomic import OutputError, resolve_output

    (tmp_path / "pool.jsonl").symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(FileNotFoundError, match=r"pool.jsonl: a symbolic link to .*gone.jsonl, which does not exist"):
        expand_paths(tmp_path / "pool.jsonl")
    (tmp_path / "out.jsonl").symlink_to(tmp_path / "nodir" / "x.jsonl")
    with pytest.raises(OutputError, match=r"out.jsonl: a symbolic link to .*x.jsonl, whose directory .*nodir does not"):
        resolve_output(str(tmp_path / "out.jsonl"))


@pytest.mark.parametrize("name, compress, advice", [
    ("a.txt", gzip.compress, "decompress it (gunzip), or, if it holds JSON lines, rename it to end in .jsonl.gz"),
    ("a.txt", zstandard.ZstdCompressor().compress, "decompress it (zstd -d)"),
    ("a.jsonl", gzip.compress, "rename it to end in .jsonl.gz"),
])
def test_a_compressed_file_with_a_plain_name_gets_advice_that_works(tmp_path, name, compress, advice):
    (tmp_path / name).write_bytes(compress(b'{"text": "a"}\n'))
    with pytest.raises(BadRecord, match=re.escape(advice)):
        list(iter_records(tmp_path / name, on_error="skip"))
    if name.endswith(".jsonl"):  # the advice leads to a file zipsift reads
        (tmp_path / name).rename(tmp_path / (name + ".gz"))
        assert list(iter_records(tmp_path / (name + ".gz"))) == [{"text": "a"}]
