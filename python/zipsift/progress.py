"""One way for a long call to say how far it is, and to be stopped.

A long call (scoring a pool, fitting, embedding, building a kernel, maximising an objective,
fine-tuning) takes ``on_progress(done, total)``:

- ``done``: units finished so far in this call (cumulative, never decreasing);
- ``total``: the units of the whole call, or None where the call cannot know it (a stream);
- return False to stop the call: it raises ``Cancelled`` at the next report, and returns nothing.
  Any other return value (True, None) lets it go on, so a plain ``print`` works as a callback.

The unit is the call's own (records, texts, passes, picks, tokens) and its docstring names it. How
progress is shown is the caller's business: the command line draws a line on stderr
(``zipsift.cli.progress``), a notebook may draw a bar, a service may log.
"""
from __future__ import annotations

from typing import Callable, Optional

__all__ = ["OnProgress", "Cancelled", "Meter", "report"]

OnProgress = Callable[[int, Optional[int]], Optional[bool]]


class Cancelled(Exception):
    """A long call stopped because its ``on_progress`` returned False; it returned nothing."""


def report(on_progress: Optional[OnProgress], done: int, total: Optional[int] = None) -> None:
    """Tell ``on_progress`` (if any) ``done`` of ``total``; raise Cancelled if it answers False."""
    if on_progress is not None and on_progress(done, total) is False:
        raise Cancelled(f"stopped by on_progress after {done:,}" + (f" of {total:,}" if total is not None else ""))


class Meter:
    """Counts the units of one call and reports the running count: ``meter.add(n)`` after each batch.

    ``total`` is the call's size if known (None otherwise). Raises Cancelled from ``add`` when the
    callback returns False."""

    def __init__(self, on_progress: Optional[OnProgress], total: Optional[int] = None):
        self.on_progress = on_progress
        self.total = total
        self.done = 0

    def add(self, n: int) -> None:
        self.done += n
        report(self.on_progress, self.done, self.total)

    def part(self) -> OnProgress:
        """``on_progress`` for a sub-call that does the next units of this call: its ``done`` is
        counted on from where this meter stands now (its own total is ignored)."""
        first = self.done

        def on_progress(done: int, _total: Optional[int] = None) -> bool:
            self.add(first + done - self.done)
            return True

        return on_progress
