"""Parameters every entry point shares, checked once where a caller hands them in.

Thread counts: ``threads`` is an integer from 0 to MAX_THREADS; 0 means every core in this
process's affinity mask (``usable_cores()``). A count is checked (``check_threads``) by the public
function that receives it, before any work, and turned into a core count (``resolve_threads``) only
where a number of threads is actually started or reported. The native core refuses more than
MAX_THREADS in its one argument converter; torch and OpenBLAS do not refuse, they crash (a
``pthread_create`` failure), so the model paths must be checked here first.

Integers: ``check_int`` takes a whole number (a Python int or a numpy integer, never a bool) within
bounds and returns it as int; the message says the bounds and what was given. ``expected_int``
gives the same bounds without a parameter name, for interfaces that name their options differently
(the command line says ``--k``, not ``k``).
"""
from __future__ import annotations

import numbers
from typing import Optional

from ._core import MAX_THREADS as _CORE_MAX_THREADS
from ._core import usable_cores as _core_usable_cores

__all__ = ["DEFAULT_CODEC", "DEFAULT_LEVEL", "MAX_THREADS", "INT32_MAX", "INT64_MAX", "usable_cores", "range_words", "check_int", "expected_int",
           "check_threads",
           "resolve_threads", "threads_range", "torch_threads"]

# The most threads one call may ask for; the core's own limit (kMaxThreads in csrc/parallel.h).
MAX_THREADS: int = int(_CORE_MAX_THREADS)
# The compressor every NCD-based call uses unless told otherwise: ZIP-FIT's published setting
# (gzip at level 9), exact against CPython's gzip module.
DEFAULT_CODEC = "gzip"
DEFAULT_LEVEL = 9
# The largest value a native `int` parameter (a codec level, a window size) holds.
INT32_MAX = 2 ** 31 - 1
# The largest value a native 64-bit size parameter (a dictionary's bytes) holds.
INT64_MAX = 2 ** 63 - 1


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), 1 to MAX_THREADS: what ``threads=0`` means."""
    return int(_core_usable_cores())


def _as_int(value) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def range_words(minimum: Optional[int] = None, maximum: Optional[int] = None) -> str:
    """The bounds as every message says them: ``">= 1"``, ``">= 0 and at most 1024"``, ``"<= 9"``."""
    words = ([f">= {minimum}"] if minimum is not None else []) + (
        [("at most " if minimum is not None else "<= ") + str(maximum)] if maximum is not None else [])
    return " and ".join(words)


def expected_int(value, minimum: Optional[int] = None, maximum: Optional[int] = None) -> Optional[str]:
    """None if ``value`` is a whole number in [minimum, maximum] (either end may be open), else the
    bounds it must keep, e.g. ``">= 1"`` (``""`` when there are none and it is not a whole number)."""
    number = _as_int(value)
    if number is None:
        return range_words(minimum, maximum)
    if (minimum is None or number >= minimum) and (maximum is None or number <= maximum):
        return None
    return range_words(minimum, maximum)


def check_int(value, name: str, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """``value`` as an int if it is a whole number in [minimum, maximum]; else ValueError naming
    ``name``, the bounds and the value given (``"k must be an integer >= 1, got 0"``). A bool or a
    float (even 3.0) is refused."""
    problem = expected_int(value, minimum, maximum)
    if problem is not None:
        raise ValueError(f"{name} must be an integer{' ' + problem if problem else ''}, got {value!r}")
    return int(value)


def threads_range() -> str:
    """The words every thread-count message uses for what is allowed (the native converter's too)."""
    return f">= 0 and at most {MAX_THREADS}, an integer (0 = every core this process may use, {usable_cores()} here)"


def check_threads(threads, name: str = "threads") -> int:
    """``threads`` as an int (0 kept: it means every usable core), or ValueError saying what to pass.
    Call it where a public function receives the count, before any work."""
    if expected_int(threads, 0, MAX_THREADS) is not None:
        raise ValueError(f"{name} must be {threads_range()}, got {threads!r}")
    return int(threads)


def resolve_threads(threads, name: str = "threads") -> int:
    """The number of threads ``threads`` asks for: checked as ``check_threads``, then 0 -> ``usable_cores()``."""
    threads = check_threads(threads, name)
    return threads or usable_cores()


class torch_threads:
    """torch's intra-op thread count (process-wide) set to ``threads`` for a block and restored after.

    ``threads`` is checked when the block is made (0 = every usable core), so a bad count fails
    before torch (and the BLAS under it) tries to start that many threads."""

    def __init__(self, threads: int):
        self.threads = resolve_threads(threads)

    def __enter__(self) -> int:
        import torch

        self._previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        return self.threads

    def __exit__(self, *exc) -> None:
        import torch

        torch.set_num_threads(self._previous)
