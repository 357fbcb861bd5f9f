"""The command line's picture of progress: one line on stderr, fed by the library's
``on_progress(done, total)`` protocol (zipsift.progress).

The line shows the count and rate, and, where the total is known, the percentage and the time
left. Where the library cannot know the total of a stream, the command may (the sizes of its input
files): ``fraction`` then says how much of the input was read. On a terminal the line is redrawn in
place; elsewhere (a log) a line is written at most every few seconds, and the final state once.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Optional

# How often the line may change: often enough to look alive, rarely enough to cost nothing.
TERMINAL_INTERVAL = 0.1
LOG_INTERVAL = 5.0


def progress_enabled(args: argparse.Namespace) -> Optional[bool]:
    """--progress as ProgressLine's ``enabled``: None (on a terminal only), True or False."""
    return {"auto": None, "always": True, "never": False}[getattr(args, "progress", "auto")]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressLine:
    """``on_progress(done, total)`` drawn as a line: ``label: done [of total] unit, rate, ETA``.

    unit: what is counted (docs, texts, passes, picks, tokens). enabled: None = only when the
    stream is a terminal. fraction: for a stream whose total the library cannot know, a function
    giving the share of the input read so far (0..1), or None when that is not known either.
    Use it as a context manager; the final state is written once when the block ends."""

    def __init__(self, unit: str = "docs", enabled: Optional[bool] = None, stream=None, label: str = "",
                 fraction: Optional[Callable[[], Optional[float]]] = None):
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.terminal if enabled is None else enabled
        self.unit = unit
        self.label = f"{label}: " if label else ""
        self.fraction = fraction
        self.done = 0
        self.total: Optional[int] = None
        self.start = time.perf_counter()
        self._last_draw = float("-inf")
        self._drawn: Optional[tuple] = None  # (done, total) of the last line written
        self._closed = False

    def __call__(self, done: int, total: Optional[int] = None) -> bool:
        self.done = done
        self.total = total
        now = time.perf_counter()
        if self.enabled and now - self._last_draw >= (TERMINAL_INTERVAL if self.terminal else LOG_INTERVAL):
            self._last_draw = now
            self._draw(now)
        return True

    def add(self, n: int) -> None:
        """Count ``n`` more units (for callers that see increments, e.g. records as they are read)."""
        self(self.done + n, self.total)

    def text(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        share = None
        if self.total:
            share = min(self.done / self.total, 1.0)
        elif self.fraction is not None:
            share = self.fraction()
        count = f"{self.done:,}" + (f" of {self.total:,}" if self.total is not None else "")
        parts = [f"{count} {self.unit}", f"{rate:,.0f} {self.unit}/s", _duration(elapsed)]
        if share is not None:
            parts.insert(0, f"{100 * share:.0f}%")
            if 0 < share < 1:
                parts.append(f"ETA {_duration(elapsed * (1 - share) / share)}")
        return self.label + "  ".join(parts)

    def _draw(self, now: float) -> None:
        line = self.text(now)
        if self.terminal:
            self.stream.write(f"\r  {line} ")
        else:
            self.stream.write(f"  {line}\n")
        self.stream.flush()
        self._drawn = (self.done, self.total)

    def close(self) -> None:
        """Write the final state once (not again if it is what the line already shows)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled or self.done == 0 and self._drawn is None and self.total is None:
            return  # never fed: nothing to say
        final = self.text(time.perf_counter())
        if self.terminal:
            self.stream.write(f"\r  {final} \n")
        elif self._drawn != (self.done, self.total):
            self.stream.write(f"  {final}\n")
        self.stream.flush()

    def __enter__(self) -> "ProgressLine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
