"""`zipsift report`: one self-contained HTML page (inline SVG, no scripts, nothing fetched), checked
by structure and by rendering it in a real headless Chromium (Debian's `chromium` package) and
looking at the screenshot's pixels."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from zipsift.cli import main
from zipsift.report import charts, eval_section, selection_section
from zipsift.report.page import Section, page, table

RED = (0xd6, 0x27, 0x28)   # charts.CUTOFF
BLUE = (0x1f, 0x77, 0xb4)  # charts.PALETTE[0]


@pytest.fixture(scope="module")
def selections(tmp_path_factory, quickstart):
    d = tmp_path_factory.mktemp("report")
    common = ["--target", str(quickstart / "targets.jsonl"), "--source", str(quickstart / "pool.jsonl"),
              "--progress", "never"]
    assert main(["select", "dsir", *common, "--k", "20", "--out", str(d / "dsir.jsonl")]) == 0
    assert main(["select", "gain", *common, "--k", "20", "--out", str(d / "gain.jsonl")]) == 0
    assert main(["select", "dsir", *common, "--k", "200", "--min-example-length", "0",
                 "--out", str(d / "ranked.jsonl")]) == 0
    for seed, (a, b) in enumerate(((2.51, 2.80), (2.55, 2.76), (2.49, 2.83))):
        (d / f"eval{seed}.json").write_text(json.dumps({
            "rows": [{"selection": "dsir.jsonl", "lm_ce": a, "zstd_bpb": 2.1},
                     {"selection": "random.jsonl", "lm_ce": b, "zstd_bpb": 2.4}],
            "lm": {"baseline": {"ce_nats_per_token": 2.94, "bits_per_byte": 1.5}, "hyperparameters": {"seed": seed}}}))
    return d


def _report(d: Path, out: Path) -> str:
    assert main(["report", str(d / "dsir.jsonl"), str(d / "gain.jsonl"), "--by", "domain", "--pool",
                 str(d / "ranked.jsonl"), *sum((["--eval", str(d / f"eval{s}.json")] for s in range(3)), []),
                 "--out", str(out), "--title", "quickstart <report>"]) == 0
    return out.read_text(encoding="utf-8")


def test_report_is_one_self_contained_page_with_every_part(selections, tmp_path):
    html = _report(selections, tmp_path / "r.html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower() and not re.search(r'(src|href)\s*=\s*"(https?:|//)', html)
    assert "<title>quickstart &lt;report&gt;</title>" in html  # escaped
    assert html.count("<svg") == 2 * 3 + 2  # per selection: bars, histogram, scatter; eval: lm_ce, zstd_bpb
    assert "Selection: dsir.jsonl" in html and "Selection: gain.jsonl" in html
    assert "cut-off" in html and charts.CUTOFF in html
    assert "(a proxy, not a model)" in html and "(the referee)" in html
    assert "training-order seeds [0, 1, 2]" in html and "untrained 2.9400" in html
    # the eval table: mean and range over the three files
    assert "2.5167" in html and "2.4900–2.5500" in html


def test_report_composition_shares_match_the_selection(selections):
    records = [json.loads(line) for line in (selections / "gain.jsonl").read_text().splitlines()]
    section = selection_section("gain", records, by="domain").html()
    total = sum(len(r["text"].encode()) for r in records)
    python = sum(len(r["text"].encode()) for r in records if r["domain"] == "python")
    assert f"{100 * python / total:.1f}%" in section
    lowest = min(r["gain_score"] for r in records)
    assert f"cut-off {lowest:.4g}" in section


def test_charts_and_page_refuse_bad_input():
    with pytest.raises(ValueError, match="no values"):
        charts.histogram([], "h")
    with pytest.raises(ValueError, match="finite"):
        charts.scatter([1, 2], [0.5, float("nan")], "s")
    with pytest.raises(ValueError, match="lengths must be > 0"):
        charts.scatter([0, 2], [1, 2], "s")
    with pytest.raises(ValueError, match="low must be <= its mean"):
        charts.ranges(["a"], [1.0], [1.5], [2.0], "r")
    with pytest.raises(ValueError, match="2 labels for 1 values"):
        charts.bars(["a", "b"], [1.0], "b")
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        table(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="at least one section"):
        page("t", [])
    with pytest.raises(ValueError, match="inline <svg>"):
        Section("s").figure("<img src='x.png'>")
    with pytest.raises(ValueError, match="no score field 'nope'"):
        selection_section("s", [{"text": "abc"}], score_field="nope")
    with pytest.raises(ValueError, match="not a `zipsift eval --json` file"):
        eval_section([{"x": 1}], ["e.json"])


def test_report_command_errors_name_the_file(selections, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["report", "--eval", str(bad), "--out", str(tmp_path / "r.html")]) == 2
    assert "bad.json: cannot read it as JSON" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path / "r.html")]) == 2
    assert "give at least one selection file" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def _png_pixels(path: Path) -> np.ndarray:
    """RGB pixels of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes), as uint8 (h, w, 3)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:
            for i in range(stride):
                a = cur[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[i] = (line[i] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def _count(pixels: np.ndarray, rgb) -> int:
    return int((np.abs(pixels.astype(int) - np.array(rgb)).sum(axis=2) <= 12).sum())


def test_report_renders_in_headless_chromium(selections, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium); the structural "
                    "tests above still ran")
    out = tmp_path / "r.html"
    _report(selections, out)
    shot = tmp_path / "shot.png"
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,3000",
                           f"--screenshot={shot}", out.as_uri()], capture_output=True, text=True, timeout=180,
                          # The browser is not ours to sanitize: a preloaded ASan runtime stops it starting.
                          env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    assert shot.exists(), f"chromium wrote no screenshot:\n{proc.stderr[-2000:]}"
    pixels = _png_pixels(shot)
    assert pixels.shape[:2] == (3000, 900)
    white = _count(pixels, (255, 255, 255))
    assert 0.3 < white / pixels[:, :, 0].size < 0.98, "the page looks blank or unstyled"
    assert _count(pixels, RED) > 300, "no red cut-off line was drawn"
    assert _count(pixels, BLUE) > 300, "no blue bars or histogram were drawn"
    # Rows of the page with ink: the content reaches well down the page (several charts stacked).
    inked = np.flatnonzero((pixels < 200).any(axis=2).any(axis=1))
    assert inked.max() > 1500
