"""Corrupt, truncated and hostile inputs: every one raises BadRecord naming file and line, or in skip
mode is counted; nothing is lost silently."""
from __future__ import annotations

import gzip
import json

from pathlib import Path

import pytest
import zstandard

from zipsift.cli import main
from zipsift.io import BadRecord, ReadStats, iter_records, write_jsonl

RECORDS = [{"id": i, "text": f"record number {i} " + "lorem ipsum " * (i % 7)} for i in range(1230)]
DATA = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()


def read(path, on_error="raise"):
    stats = ReadStats()
    return list(iter_records(path, on_error=on_error, stats=stats)), stats


def zst_with_blocks(data: bytes) -> bytes:
    """One zstd frame (with checksum) written in several flushed blocks, like a streaming writer."""
    cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)
    chunker = cctx.chunker(chunk_size=4096)
    out = b""
    for i in range(0, len(data), 8192):
        out += b"".join(chunker.compress(data[i:i + 8192]))
        out += b"".join(chunker.flush())
    return out + b"".join(chunker.finish())


# --- zstd --------------------------------------------------------------------------------------

def test_truncated_zst_is_an_error_naming_the_file_and_line(tmp_path):
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(DATA)
    (tmp_path / "t.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BadRecord, match=r"t.jsonl.zst, line \d+: the file is corrupt or truncated"):
        read(tmp_path / "t.jsonl.zst")


def test_truncated_zst_in_skip_mode_counts_the_lost_tail(tmp_path):
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(DATA)
    (tmp_path / "t.jsonl.zst").write_bytes(blob[: len(blob) - 100])
    records, stats = read(tmp_path / "t.jsonl.zst", on_error="skip")
    assert stats.skipped["unreadable_tail"] == 1
    assert records == RECORDS[: len(records)]  # what was read is intact


def test_zst_cut_at_a_block_boundary_is_an_error(tmp_path):
    blob = zst_with_blocks(DATA)
    # the end of the first flushed block: decompressing up to it yields exactly the first 8192 bytes
    for cut in range(16, len(blob)):
        if len(zstandard.ZstdDecompressor().decompressobj().decompress(blob[:cut])) == 8192:
            break
    (tmp_path / "b.jsonl.zst").write_bytes(blob[:cut])
    with pytest.raises(BadRecord, match=r"b.jsonl.zst, line \d+: .*ends inside a zstd frame"):
        read(tmp_path / "b.jsonl.zst")


def test_flipped_byte_in_a_checksummed_zst_is_detected(tmp_path):
    blob = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(DATA))
    blob[len(blob) // 2] ^= 0x01
    (tmp_path / "f.jsonl.zst").write_bytes(bytes(blob))
    with pytest.raises(BadRecord, match="f.jsonl.zst, line"):
        read(tmp_path / "f.jsonl.zst")


def test_zst_written_by_zipsift_round_trips_and_several_frames_are_read(tmp_path):
    write_jsonl(tmp_path / "w.jsonl.zst", RECORDS[:10])
    assert read(tmp_path / "w.jsonl.zst")[0] == RECORDS[:10]
    c = zstandard.ZstdCompressor()
    (tmp_path / "m.jsonl.zst").write_bytes(c.compress(DATA) + c.compress(DATA))
    assert read(tmp_path / "m.jsonl.zst")[0] == RECORDS + RECORDS


# --- gzip --------------------------------------------------------------------------------------

def test_corrupt_gz_is_a_bad_record_not_a_zlib_traceback(tmp_path):
    blob = bytearray(gzip.compress(DATA))
    for i in range(20, 60):  # garble the start of the deflate stream
        blob[i] ^= 0xA5
    (tmp_path / "c.jsonl.gz").write_bytes(bytes(blob))
    with pytest.raises(BadRecord, match=r"c.jsonl.gz, line 1: the file is corrupt or truncated"):
        read(tmp_path / "c.jsonl.gz")


def test_zero_byte_gz_and_zst_are_errors_or_counted(tmp_path):
    for name in ("e.jsonl.gz", "e.jsonl.zst"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(BadRecord, match=f"{name}, line 1: the file is empty"):
            read(tmp_path / name)
        records, stats = read(tmp_path / name, on_error="skip")
        assert records == [] and stats.skipped["unreadable_tail"] == 1


def test_gzip_of_nothing_is_an_empty_file_not_an_error(tmp_path):
    (tmp_path / "n.jsonl.gz").write_bytes(gzip.compress(b""))
    assert read(tmp_path / "n.jsonl.gz")[0] == []


@pytest.mark.parametrize("name, blob, kind", [
    ("g.jsonl", gzip.compress(DATA), "gzip"),
    ("z.jsonl", zstandard.ZstdCompressor().compress(DATA), "zstd"),
    ("g.txt", gzip.compress(b"a line\n"), "gzip"),
])
def test_compressed_file_with_a_plain_name_says_it_is_compressed(tmp_path, name, blob, kind):
    (tmp_path / name).write_bytes(blob)
    with pytest.raises(BadRecord, match=f"{name}, line 1: the file is {kind}-compressed.*rename it"):
        read(tmp_path / name, on_error="skip")


# --- JSON Python cannot hold --------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ("[" * 100000, "nested too deeply"),
    ('{"text": "a", "n": ' + "9" * 5000 + "}", "Python cannot read"),
    ('{"text": "a\\ud800b"}', "unpaired UTF-16 surrogate"),
    ('{"text": "a", "x": NaN}', "NaN is not JSON"),
    ('{"text": "a", "x": -Infinity}', "-Infinity is not JSON"),
])
def test_json_python_cannot_hold_names_file_and_line_and_is_skippable(tmp_path, line, message):
    path = tmp_path / "h.jsonl"
    path.write_text('{"text": "good"}\n' + line + '\n{"text": "after"}\n')
    with pytest.raises(BadRecord, match=f"h.jsonl, line 2: .*{message}"):
        read(path)
    records, stats = read(path, on_error="skip")
    assert [r["text"] for r in records] == ["good", "after"] and sum(stats.skipped.values()) == 1


def test_json_deeper_than_the_limit_is_refused_before_python_s_parser_recurses(tmp_path):
    # The parser recurses once per level; near the interpreter's limit a garbage collection that
    # runs any finalizer fails as well, so such lines never reach it. Brackets inside strings and
    # nesting up to the limit are fine.
    from zipsift.io import MAX_JSON_DEPTH

    limit = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)  # inside the record's own object
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "n": %s, "s": "%s"}\n' % (limit, "[" * 5000)
                    + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "\n")
    with pytest.raises(BadRecord, match=f"d.jsonl, line 2: JSON nested too deeply \\(more than {MAX_JSON_DEPTH} levels"):
        read(path)
    records, stats = read(path, on_error="skip")
    assert len(records) == 1 and dict(stats.skipped) == {"unsupported_json": 1}


def test_a_surrogate_pair_is_a_character_not_an_error(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"text": "smile \\ud83d\\ude00"}\n')
    assert read(tmp_path / "p.jsonl")[0] == [{"text": "smile \U0001F600"}]


def test_writer_refuses_nan_instead_of_writing_bare_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN or Infinity"):
        write_jsonl(tmp_path / "o.jsonl", [{"text": "a", "x": float("nan")}])
    assert not (tmp_path / "o.jsonl").exists()


# --- Parquet -----------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_corrupt_parquet_errors_name_the_file(tmp_path, damage):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "ok.parquet")
    blob = bytearray((tmp_path / "ok.parquet").read_bytes())
    if damage == "garbage":
        blob = bytearray(b"PAR1" + b"\x00garbage" * 10)
    elif damage == "truncated":
        blob = blob[: len(blob) // 2]
    else:
        for i in range(8, len(blob) - 8, 97):
            blob[i] ^= 0xFF
    (tmp_path / "bad.parquet").write_bytes(bytes(blob))
    with pytest.raises(BadRecord, match=r"bad.parquet, line \d+: "):
        read(tmp_path / "bad.parquet")
    records, stats = read(tmp_path / "bad.parquet", on_error="skip")
    assert sum(stats.skipped.values()) >= 1


def corrupt_row_group(path, group: int, column: int = 1) -> bytes:
    """The bytes of Parquet file ``path`` with the pages of one column chunk of row ``group`` scrambled."""
    import pyarrow.parquet as pq

    chunk = pq.ParquetFile(path).metadata.row_group(group).column(column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    blob = bytearray(Path(path).read_bytes())
    for i in range(start, start + chunk.total_compressed_size):
        blob[i] ^= 0x5A
    return bytes(blob)


def test_a_corrupt_parquet_row_group_is_named_and_the_other_groups_are_read(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"id": i, "text": f"row {i} ✓"} for i in range(3000)]),
                   tmp_path / "ok.parquet", row_group_size=500)
    (tmp_path / "bad.parquet").write_bytes(corrupt_row_group(tmp_path / "ok.parquet", 2))
    # rows 1..1000 (groups 0 and 1) are fine: the error names the third group's first row
    with pytest.raises(BadRecord, match=r"bad.parquet, line 1001: row group 2 is corrupt from this row on "
                                        r"\(.*\); its 500 rows from here cannot be read"):
        read(tmp_path / "bad.parquet")
    records, stats = read(tmp_path / "bad.parquet", on_error="skip")
    assert [r["id"] for r in records] == list(range(1000)) + list(range(1500, 3000))
    assert stats.skipped == {"corrupt_row_group": 1} and stats.records == 2500


def test_parquet_nan_is_a_bad_record(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"text": "a", "x": 1.0}, {"text": "b", "x": float("nan")}]),
                   tmp_path / "n.parquet")
    with pytest.raises(BadRecord, match="n.parquet, line 2: a value is NaN"):
        read(tmp_path / "n.parquet")


# --- the CLI: one line, non-zero exit ------------------------------------------------------------

def test_cli_truncated_zst_source_is_one_line_and_exit_1(tmp_path, capsys, quickstart):
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(DATA)
    (tmp_path / "t.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    code = main(["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                 str(tmp_path / "t.jsonl.zst"), "--k", "3", "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and "t.jsonl.zst, line" in err and "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_skip_mode_reports_the_lost_tail(tmp_path, capsys, quickstart):
    blob = zst_with_blocks(DATA)
    (tmp_path / "t.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    code = main(["select", "zipfit", "--target", str(quickstart / "targets.jsonl"), "--source",
                 str(tmp_path / "t.jsonl.zst"), "--k", "3", "--out", str(tmp_path / "o.jsonl"),
                 "--on-error", "skip", "--report", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["records_skipped"] == {"unreadable_tail": 1}
    assert "skipped 1 bad records" in capsys.readouterr().err
