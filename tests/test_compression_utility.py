"""zipsift.submodular.delift.compression_utility_kernel: the zstd analogue of DELIFT's utility kernel equals a
direct, unbatched computation with libzstd through ctypes, byte count for byte count."""
import ast
import ctypes
import ctypes.util
import sys

import numpy as np
import pytest

import zipsift
from zipsift.submodular import delift

pytestmark = pytest.mark.skipif("zstd" not in zipsift.codecs(), reason="built without libzstd headers")

ZSTD_c_compressionLevel = 100
ZSTD_e_flush, ZSTD_e_end = 1, 2


class InBuffer(ctypes.Structure):
    _fields_ = [("src", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


class OutBuffer(ctypes.Structure):
    _fields_ = [("dst", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


@pytest.fixture(scope="module")
def libzstd():
    """The system libzstd, when it is the one the core runs with (frames differ across versions)."""
    name = ctypes.util.find_library("zstd")
    if not name:
        pytest.skip("no system libzstd to compare with")
    lib = ctypes.CDLL(name)
    lib.ZSTD_versionString.restype = ctypes.c_char_p
    if lib.ZSTD_versionString().decode() != zipsift.build_info()["libraries"]["zstd"]["runtime"]:
        pytest.skip("the system libzstd is not the one the core runs with")
    lib.ZSTD_createCCtx.restype = ctypes.c_void_p
    lib.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
    lib.ZSTD_CCtx_setParameter.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.ZSTD_CCtx_setParameter.restype = ctypes.c_size_t
    lib.ZSTD_CCtx_setPledgedSrcSize.argtypes = [ctypes.c_void_p, ctypes.c_ulonglong]
    lib.ZSTD_CCtx_setPledgedSrcSize.restype = ctypes.c_size_t
    lib.ZSTD_createCDict.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    lib.ZSTD_createCDict.restype = ctypes.c_void_p
    lib.ZSTD_freeCDict.argtypes = [ctypes.c_void_p]
    lib.ZSTD_CCtx_refCDict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.ZSTD_CCtx_refCDict.restype = ctypes.c_size_t
    lib.ZSTD_compressStream2.argtypes = [ctypes.c_void_p, ctypes.POINTER(OutBuffer), ctypes.POINTER(InBuffer),
                                         ctypes.c_int]
    lib.ZSTD_compressStream2.restype = ctypes.c_size_t
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    return lib


def conditional_cost(lib, p: bytes, s: bytes, y: bytes, level: int) -> int:
    """C(y | p ⊕ s) as the docstring defines it, on a fresh context and dictionary per frame."""
    cctx = lib.ZSTD_createCCtx()
    cdict = lib.ZSTD_createCDict(p, len(p), level) if p is not None else None
    try:
        assert not lib.ZSTD_isError(lib.ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))
        assert not lib.ZSTD_isError(lib.ZSTD_CCtx_setPledgedSrcSize(cctx, len(s) + len(y)))
        if cdict:
            assert not lib.ZSTD_isError(lib.ZSTD_CCtx_refCDict(cctx, cdict))
        out = ctypes.create_string_buffer(2 * (len(s) + len(y)) + 1024)
        ob = OutBuffer(ctypes.cast(out, ctypes.c_void_p), len(out), 0)
        written = []
        for data, mode in ((s, ZSTD_e_flush), (y, ZSTD_e_end)):
            keep = ctypes.create_string_buffer(data, len(data))
            ib = InBuffer(ctypes.cast(keep, ctypes.c_void_p), len(data), 0)
            while True:
                rc = lib.ZSTD_compressStream2(cctx, ctypes.byref(ob), ctypes.byref(ib), mode)
                assert not lib.ZSTD_isError(rc)
                if rc == 0:
                    break
            written.append(ob.pos)
        return written[1] - written[0]
    finally:
        if cdict:
            lib.ZSTD_freeCDict(cdict)
        lib.ZSTD_freeCCtx(cctx)


def direct_kernel(lib, pairs, level, diagonal=True):
    n = len(pairs)
    U = np.zeros((n, n))
    for i, (x, y) in enumerate(pairs):
        base = conditional_cost(lib, None, x, y, level)
        for j, (xj, yj) in enumerate(pairs):
            if j != i or diagonal:
                U[i, j] = (base - conditional_cost(lib, xj + yj, x, y, level)) / len(y)
    return U


@pytest.fixture(scope="module")
def instruction_pairs():
    """Real instruction/response pairs: stdlib functions split into signature + docstring (the
    instruction) and body (the response), from two modules so that some pairs help each other."""
    import sysconfig
    from pathlib import Path

    pairs = []
    for module in ("textwrap.py", "shlex.py"):
        source = (Path(sysconfig.get_paths()["stdlib"]) / module).read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) and len(node.body) > 1:
                head = "".join(lines[node.lineno - 1:node.body[1].lineno - 1])
                body = "".join(lines[node.body[1].lineno - 1:node.end_lineno])
                pairs.append((head.encode(), body.encode()))
    return pairs[:12]


@pytest.mark.parametrize("level", [1, 3, 19])
def test_compression_utility_kernel_equals_direct_libzstd_computation(libzstd, instruction_pairs, level):
    U = delift.compression_utility_kernel(instruction_pairs, level=level, threads=2)
    expected = direct_kernel(libzstd, instruction_pairs, level)
    assert U.dtype == np.float64 and U.shape == (len(instruction_pairs),) * 2
    np.testing.assert_array_equal(U, expected)
    assert (U - np.diag(np.diag(U)) > 0).sum() > 0  # some functions of one module help zstd encode another's body
    # Its own pair in the window: the answer is a match, the largest utility of the row.
    assert np.all(np.diag(U) == U.max(axis=1))
    Z = delift.compression_utility_kernel(instruction_pairs, level=level, diagonal="zero")
    np.testing.assert_array_equal(Z, direct_kernel(libzstd, instruction_pairs, level, diagonal=False))


def test_str_pairs_are_measured_as_utf8_and_float32_is_the_float64_result_rounded(instruction_pairs):
    texts = [(x.decode(), y.decode()) for x, y in instruction_pairs]
    U64 = delift.compression_utility_kernel(instruction_pairs)
    assert np.array_equal(delift.compression_utility_kernel(texts), U64)
    U32 = delift.compression_utility_kernel(texts, dtype=np.float32)
    assert U32.dtype == np.float32 and np.array_equal(U32, U64.astype(np.float32))


def test_an_example_that_holds_the_answer_has_the_largest_utility():
    answer = b"    total = 0\n    for item in items:\n        total += item.weight * item.count\n    return total\n"
    pairs = [(b"def weigh(items):\n", answer),
             (b"def weigh_all(items):\n", answer),
             (b"def greet(name):\n", b"    print('hello, ' + name.title() + '!')\n")]
    U = delift.compression_utility_kernel(pairs)
    assert U[0, 1] > 0.5 and U[1, 0] > 0.5  # the other pair holds the same body: most of it is a match
    assert U[0, 1] > U[0, 2] and U[1, 0] > U[1, 2]


def test_results_do_not_depend_on_the_thread_count(stdlib_functions):
    pairs = [(f[: len(f) // 3], f[len(f) // 3:]) for f in stdlib_functions[:80] if len(f) > 30]
    one = delift.compression_utility_kernel(pairs, threads=1)
    assert np.array_equal(one, delift.compression_utility_kernel(pairs, threads=2))
    assert np.array_equal(one, delift.compression_utility_kernel(pairs, threads=5))


def test_compression_kernel_feeds_delift_select(instruction_pairs):
    U = delift.compression_utility_kernel(instruction_pairs)
    sel = delift.select(U, stage="instruction", budget=0.5)
    (S,) = delift.min_max_scale(U)
    assert sel.indices.tolist() == zipsift.submodular.facility_location(S, 6).indices.tolist()


@pytest.mark.parametrize("samples, message", [
    ([("x", "")], "empty response"),
    ([], "at least one"),
    ("text", "not one string"),
    ([("only one",)], "pair"),
    ([("x", 3)], "str or bytes"),
])
def test_bad_samples_raise_value_errors_that_say_what_to_do(samples, message):
    with pytest.raises(ValueError, match=message):
        delift.compression_utility_kernel(samples)


def test_bad_parameters_raise_value_errors():
    pairs = [("a", "b"), ("c", "d")]
    with pytest.raises(ValueError, match="codec must be 'zstd'"):
        delift.compression_utility_kernel(pairs, codec="gzip")
    with pytest.raises(ValueError, match="zstd level must be"):
        delift.compression_utility_kernel(pairs, level=99)
    with pytest.raises(ValueError, match="threads must be >= 0"):
        delift.compression_utility_kernel(pairs, threads=-1)
    with pytest.raises(ValueError, match="dtype"):
        delift.compression_utility_kernel(pairs, dtype=np.int32)
    with pytest.raises(ValueError, match="diagonal must be"):
        delift.compression_utility_kernel(pairs, diagonal="skip")


def test_ctrl_c_stops_a_long_kernel(tmp_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from sigint import interrupt_script

    out = interrupt_script(tmp_path, """
        import sys
        from zipsift.submodular import delift
        pairs = [(("def f%d(x):\\n" % i) * 20, ("    return x * %d\\n" % i) * 20) for i in range(6000)]
        print("ready", flush=True)
        try:
            delift.compression_utility_kernel(pairs, threads=1)   # 3.6e7 zstd frames: minutes
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def _write_pairs(path, pairs, prompt="instruction", response="output"):
    import json

    with open(path, "w", encoding="utf-8") as fh:
        for k, (x, y) in enumerate(pairs):
            fh.write(json.dumps({"id": k, prompt: x.decode(), response: y.decode()}) + "\n")


def test_cli_utility_compression_selects_what_delift_select_picks(tmp_path, instruction_pairs):
    import json

    from zipsift.cli import main

    src, out, report = tmp_path / "pairs.jsonl", tmp_path / "sel.jsonl", tmp_path / "report.json"
    _write_pairs(src, instruction_pairs)
    assert main(["select", "submodular", "--utility", "compression", "--source", str(src),
                 "--prompt-field", "instruction", "--response-field", "output", "--budget", "0.3",
                 "--utility-level", "3", "--out", str(out), "--report", str(report)]) == 0
    U = delift.compression_utility_kernel(instruction_pairs, level=3, dtype=np.float32)
    expect = delift.select(U, stage="instruction", budget=0.3)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == expect.indices.tolist()  # the chosen records, in pick order
    rep = json.loads(report.read_text())
    assert rep["kernel_source"]["kind"] == "compression-utility" and rep["kernel_source"]["level"] == 3
    assert rep["kernel"]["metric"] == "compression-utility" and rep["kernel"]["shape"] == [12, 12]
    assert rep["dimensions"] is None


def test_cli_utility_compression_names_the_line_of_a_bad_pair(tmp_path, capsys):
    from zipsift.cli import main

    src = tmp_path / "pairs.jsonl"
    src.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": ""}\n')
    assert main(["select", "submodular", "--utility", "compression", "--source", str(src), "--budget", "1",
                 "--out", str(tmp_path / "o.jsonl")]) == 1  # bad data (a usage error is 2)
    err = capsys.readouterr().err
    assert "pairs.jsonl, line 2: field 'response' (the response) is empty" in err
    assert main(["select", "submodular", "--utility", "compression", "--source", str(src), "--budget", "1",
                 "--objective", "graphcut", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "use --objective fl" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
