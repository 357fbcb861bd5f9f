"""Run a script that starts a long native call, send it Ctrl-C, and return what it printed."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest


def interrupt_script(tmp_path, body: str, timeout: float = 30.0) -> str:
    """``body`` prints "ready" right before its long call and handles KeyboardInterrupt itself.
    SIGINT is sent one second after "ready"; the bound is generous (shared, noisy machines): the
    point is that the native call is cancelled at all, not how fast."""
    script = tmp_path / "long_call.py"
    script.write_text(textwrap.dedent(body))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the native call ignored Ctrl-C for {timeout:.0f} s")
    assert time.monotonic() - sent < timeout
    assert proc.returncode == 0
    return out.strip()
