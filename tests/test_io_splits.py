"""The split reader (what each Ray actor reads) gives, over all splits of a file, exactly what the
local reader gives: the same texts, line numbers, errors and counts — for byte ranges cut anywhere
(inside multi-byte characters, between CR and LF, inside lines longer than a range), zstd frame
groups (zipsift's own multi-frame outputs and frames cut mid-line) and Parquet row groups."""
from __future__ import annotations

import gzip
import json
import random

import pytest
import zstandard

from zipsift.io import (BadRecord, ReadStats, SplitCounts, iter_located_records, plan_splits, read_split,
                        records_at, write_jsonl)


def local_reading(path, on_error):
    """(texts with line numbers, ReadStats) or the BadRecord message, from the local reader."""
    stats = ReadStats()
    try:
        got = [(loc.line, loc.record["text"]) for loc in iter_located_records(path, on_error=on_error, stats=stats)]
    except BadRecord as bad:
        return str(bad)
    return got, (stats.records, dict(stats.skipped), stats.blank_lines, stats.empty_texts)


def split_reading(path, split_bytes, on_error):
    """The same from plan_splits + read_split, line numbers made file-global as the Ray driver does,
    the first bad record in input order raised, and each winner's record read again by offset."""
    splits = plan_splits([path], split_bytes)
    got, bad, blank, empty, before = [], [], 0, 0, 0
    skipped = {}
    for split in splits:
        counts = SplitCounts()
        items = list(read_split(split, counts=counts))
        for item in items:
            if item.bad is not None:
                bad.append((before + item.line, item.bad))
            else:
                got.append((before + item.line, item.text, split, item.offset))
        blank += counts.blank_lines
        empty += counts.empty_texts
        before += counts.lines
    for line, b in bad:
        if on_error == "raise" or not b.skippable:
            return str(b.at_line(line)), splits
        skipped[b.reason] = skipped.get(b.reason, 0) + 1
    for line, text, split, offset in got:
        assert records_at(split, [offset])[offset]["text"] == text
    return ([(line, text) for line, text, _, _ in got], (len(got), skipped, blank, empty)), splits


LINES = ['{"text": "plain ascii"}', '{"text": "ünïcödé ✓ 漢字 🙂"}', "", '{"text": ""}',
         '{"text": "' + "long 🙂 line " * 400 + '"}', '{"id": 1, "text": "x", "meta": {"a": [1, 2]}}',
         '{"text": "escape \\u00e9 \\ud83d\\ude00 \\n"}', "   ", '{"text": "after blanks"}']


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_byte_ranges_cut_anywhere_read_every_line_once(tmp_path, newline, final_newline):
    body = newline.join(LINES * 3) + (newline if final_newline else "")
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    expected = local_reading(path, "raise")
    for split_bytes in (1, 2, 3, 5, 17, 64, 1000, 10 ** 6):
        got, splits = split_reading(path, split_bytes, "raise")
        assert got == expected, split_bytes
        assert len(splits) == max(1, -(-path.stat().st_size // split_bytes))


def test_txt_ranges_count_empty_lines_as_empty_texts(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes("one\n\nzwei ✓\r\n\n\n漢字\nlast".encode())
    expected = local_reading(path, "raise")
    assert expected[1][3] == 3
    for split_bytes in (1, 2, 4, 7, 100):
        assert split_reading(path, split_bytes, "raise")[0] == expected


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_bad_lines_are_found_at_the_same_line_in_any_split(tmp_path, on_error):
    rng = random.Random(0)
    bad = ['{"text": oops}', '[1]', '{"body": "x"}', '{"text": 3}', '{"text": "a", "n": NaN}',
           '{"text": "\\udc00"}', "[" * 600 + "]" * 600, '{"text": "n", "k": ' + "9" * 5000 + "}"]
    lines = [rng.choice(LINES + bad) for _ in range(60)]
    path = tmp_path / "b.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"text": "caf\xe9"}\n')
    expected = local_reading(path, on_error)
    for split_bytes in (3, 50, 999):
        assert split_reading(path, split_bytes, on_error)[0] == expected


def test_multi_frame_zstd_outputs_split_by_frame(tmp_path, monkeypatch):
    from zipsift import atomic

    monkeypatch.setattr(atomic, "ZSTD_FRAME_BYTES", 2000)
    records = [{"id": i, "text": f"record {i} " + "✓" * (i % 50)} for i in range(400)]
    path = tmp_path / "out.jsonl.zst"
    write_jsonl(path, records)
    expected = local_reading(path, "raise")
    got, splits = split_reading(path, 200, "raise")
    assert got == expected and [t for _, t in got[0]] == [r["text"] for r in records]
    assert len(splits) > 3 and {s.kind for s in splits} == {"frames"}


def test_zstd_frames_cut_mid_line_keep_each_line_once(tmp_path):
    # Frames written every 1,000 bytes regardless of line ends (as other tools may write them).
    data = "".join(json.dumps({"text": f"line {i} ✓ " * (1 + i % 7)}) + "\n" for i in range(300)).encode()
    cctx = zstandard.ZstdCompressor()
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(b"".join(cctx.compress(data[i:i + 1000]) for i in range(0, len(data), 1000)))
    expected = local_reading(path, "raise")
    for split_bytes in (100, 700, 5000):
        got, splits = split_reading(path, split_bytes, "raise")
        assert got == expected
    assert len(plan_splits([path], 100)) > 10


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_truncated_multi_frame_zstd_loses_its_tail_as_locally(tmp_path, on_error):
    data = "".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(500)).encode()
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    whole = b"".join(cctx.compress(data[i:i + 2000]) for i in range(0, len(data), 2000))
    path = tmp_path / "t.jsonl.zst"
    path.write_bytes(whole[:-7])
    expected = local_reading(path, on_error)
    got, _ = split_reading(path, 500, on_error)
    assert got == expected


def test_parquet_splits_by_row_group(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"text": f"row {i} ✓" if i % 11 else "", "n": float(i)} for i in range(300)]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=37)
    expected = local_reading(path, "raise")
    got, splits = split_reading(path, 1, "raise")
    assert got == expected and len(splits) == 9 and {s.kind for s in splits} == {"row_groups"}


def test_gzip_stays_one_split_and_reads_as_locally(tmp_path):
    path = tmp_path / "g.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(LINES) + "\n").encode()))
    got, splits = split_reading(path, 10, "raise")
    assert got == local_reading(path, "raise") and [s.kind for s in splits] == ["file"]


def test_plan_splits_refuses_a_bad_split_size(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "a"}\n')
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="split_bytes must be a positive whole number"):
            plan_splits([tmp_path / "a.jsonl"], bad)


def test_parse_text_equals_json_loads_and_gives_the_local_errors():
    from zipsift.io import parse_text

    raw = '{"id": 1, "text": "caf\\u00e9 \\ud83d\\ude00 ✓", "n": 1.5}'.encode()
    assert parse_text(raw, "p.jsonl", 3) == (json.loads(raw)["text"], None)
    for line, reason in ((b'{"text": oops}', "malformed_json"), (b'{"text": "\\udc00"}', "invalid_utf8"),
                         (b'{"text": 1}', "not_a_string"), (b'{"body": "x"}', "missing_field"),
                         (b'{"text": "a", "n": NaN}', "non_finite_number"), (b"[" * 501 + b"]" * 501, "unsupported_json"),
                         (b'{"text": "a", "s": 1}', "reserved_field")):
        text, bad = parse_text(line, "p.jsonl", 3, reserved_fields=("s",))
        assert text is None and bad.reason == reason and str(bad).startswith("p.jsonl, line 3: ")


def test_records_at_refuses_an_offset_that_is_not_a_record(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two"}\n')
    split = plan_splits([path])[0]
    assert records_at(split, [16]) == {16: {"text": "two"}}
    with pytest.raises(ValueError, match="a.jsonl: a selected record no longer reads as it did"):
        records_at(split, [3])


def test_the_split_reader_judges_deep_nesting_as_the_local_reader(tmp_path):
    # parse_text skips its depth walk for flat records and lines with few brackets; nesting at the
    # limit, one level past it inside a value, and brackets inside strings are judged the same.
    from zipsift.io import MAX_JSON_DEPTH

    at_limit = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    past = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": "flat", "s": "%s"}\n' % ("{[" * 600)
                    + '{"text": "at the limit", "n": %s}\n' % at_limit
                    + '{"text": "one past", "n": %s}\n' % past
                    + '{"text": "after"}\n')
    for on_error in ("raise", "skip"):
        assert split_reading(path, 1000, on_error)[0] == local_reading(path, on_error)
    assert "line 3: JSON nested too deeply" in local_reading(path, "raise")
