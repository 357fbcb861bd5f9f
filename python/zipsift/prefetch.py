"""Read ahead on a background thread while native code scores: the reader (JSON parsing, GIL-bound)
runs while a scorer that released the GIL works on the previous batch.

Items arrive in the source's order; an exception raised by the source (a bad record naming its file
and line, say) is re-raised in the consumer at the same position, after the items before it.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a daemon thread, at most ``depth`` items ahead of the consumer.

    Closing the generator early (break, an exception in the consumer, Ctrl-C) stops the thread at
    its next item; the source is then left unfinished, as with an ordinary early break."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    buffer: "queue.Queue" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(_Raised(error))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="zipsift-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            # A timeout keeps the main thread responsive to Ctrl-C while it waits.
            try:
                item = buffer.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
