"""Bad input to the NCD core gives errors that say what was wrong and what to do."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import zipsift
from sigint import interrupt_script


@pytest.mark.parametrize("codec", ["gzip", "zlib"])
def test_level_zero_is_refused_because_stored_blocks_ignore_content(codec):
    with pytest.raises(ValueError, match="stored .*blocks.*ignore"):
        zipsift.compressed_sizes(["abc"], codec=codec, level=0)
    with pytest.raises(ValueError, match="level 0"):
        zipsift.ZipFit(["abc"], codec=codec, level=0)


@pytest.mark.parametrize("level", [-1, 10, 100])
def test_out_of_range_deflate_level_is_refused(level):
    with pytest.raises(ValueError, match="from 1 to 9"):
        zipsift.ncd_matrix(["a"], ["b"], level=level)


def test_unknown_codec_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown codec 'snappy'.*gzip, zlib"):
        zipsift.alignment(["a"], ["b"], codec="snappy")


def test_codecs_lists_what_is_compiled_in():
    assert zipsift.codecs()[:2] == ["gzip", "zlib"]
    info = zipsift.build_info()
    assert set(info["libraries"]) >= {"zlib"}
    for codec in info["codecs"]:
        assert codec in ("gzip", "zlib", "zstd", "lz4", "brotli", "lzma")
    if "zstd" in info["codecs"]:
        assert info["libraries"]["zstd"]["runtime"].count(".") == 2


def test_negative_threads_are_refused():
    with pytest.raises(ValueError, match="threads must be >= 0"):
        zipsift.compressed_sizes(["abc"], threads=-1)


def test_a_single_string_is_refused_rather_than_split_into_characters():
    with pytest.raises(TypeError, match="single str.*wrap"):
        zipsift.compressed_sizes("abc")
    with pytest.raises(TypeError, match="single bytes"):
        zipsift.alignment(b"abc", ["x"])


def test_a_non_text_item_is_named_by_its_index():
    with pytest.raises(TypeError, match=r"texts\[2\] is int; expected str or bytes"):
        zipsift.compressed_sizes(["a", b"b", 3])
    with pytest.raises(TypeError, match=r"b\[0\] is NoneType"):
        zipsift.ncd_matrix(["a"], [None])


def test_a_lone_surrogate_is_reported_not_mangled():
    with pytest.raises(ValueError, match=r"texts\[1\] cannot be encoded as UTF-8"):
        zipsift.compressed_sizes(["ok", "bad \udcff"])


def test_empty_targets_are_refused():
    with pytest.raises(ValueError, match="targets is empty"):
        zipsift.alignment(["a"], [])
    with pytest.raises(ValueError, match="targets is empty"):
        zipsift.ZipFit([])


def test_generators_are_accepted_as_inputs():
    assert zipsift.compressed_sizes(t for t in ["a", "bb"]).shape == (2,)


def test_ctrl_c_stops_a_long_native_call_promptly(tmp_path):
    out = interrupt_script(tmp_path, """
        import sys, zipsift
        texts = [("def f%d(x):\\n    return x * %d + 1\\n" % (i, i)) * 40 for i in range(3000)]
        print("ready", flush=True)
        try:
            zipsift.ncd_matrix(texts, texts, threads=2)   # 9 million pairs: many minutes
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_threads_zero_follows_the_affinity_mask():
    # Run in a child pinned to one CPU: threads=0 must mean the cores the process may use,
    # not the machine's core count.
    code = ("import os, zipsift; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "print(zipsift.build_info()['usable_cores'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert zipsift.build_info()["usable_cores"] == len(os.sched_getaffinity(0))
