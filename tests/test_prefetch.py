"""Reading ahead on a background thread keeps order, errors and Ctrl-C behaviour of a plain loop."""
from __future__ import annotations

import threading
import time

import pytest

from sigint import interrupt_script
from zipsift.prefetch import prefetch


def test_prefetch_yields_every_item_in_order():
    assert list(prefetch(range(1000), depth=3)) == list(range(1000))
    assert list(prefetch([])) == []


def test_error_of_the_source_is_raised_after_the_items_before_it():
    def source():
        yield from range(5)
        raise ValueError("pool.jsonl line 6: not JSON")

    got = []
    with pytest.raises(ValueError, match="line 6"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def _readers(before):
    return [t for t in set(threading.enumerate()) - before if t.name == "zipsift-prefetch"]


def _wait_until(condition, seconds: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (a liveness wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _all_stopped(threads, seconds: float = 30.0) -> bool:
    for t in threads:
        t.join(seconds)
    return not any(t.is_alive() for t in threads)


def test_reader_stays_at_most_depth_items_ahead_and_stops_when_closed():
    produced = []
    before = set(threading.enumerate())

    def source():
        for i in range(10_000):
            produced.append(i)
            yield i

    it = prefetch(source(), depth=2)
    assert next(it) == 0
    # The reader does read ahead (a stalled one never gets here): the item handed out, `depth`
    # queued, and one more read and waiting for room ...
    assert _wait_until(lambda: len(produced) >= 4)
    readers = _readers(before)
    assert len(readers) == 1
    time.sleep(0.3)
    assert len(produced) == 4  # ... and no further
    it.close()
    assert _all_stopped(readers)  # closing stops the thread
    assert len(produced) == 4


def test_a_failing_selection_stops_its_reader_thread_at_once():
    import zipsift

    before = set(threading.enumerate())
    scorer = zipsift.CompressionGain(["def f(x):\n    return x\n"])
    records = ({"text": "x = %d" % i} if i != 3 else {"body": "no text"} for i in range(100_000))
    with pytest.raises(ValueError, match="record 3 has no field"):
        scorer.select(records, k=1, batch_size=2)
    assert _all_stopped(_readers(before), seconds=5.0) and not _readers(before)


def test_bad_depth_is_refused():
    with pytest.raises(ValueError, match="depth must be >= 1"):
        list(prefetch([1], depth=0))


def test_ctrl_c_stops_a_streamed_selection(tmp_path):
    out = interrupt_script(tmp_path, """
        import sys, itertools, zipsift
        def pool():
            for i in itertools.count():   # endless: only Ctrl-C ends it
                yield {"text": "def f%d(x):\\n    return x * %d + 1\\n" % (i, i) * 20}
        scorer = zipsift.CompressionGain(["def g(y):\\n    return y - 1\\n" * 10])
        print("ready", flush=True)
        try:
            scorer.select(pool(), k=10)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"


def test_ctrl_c_cancels_a_long_native_gain_call(tmp_path):
    out = interrupt_script(tmp_path, """
        import sys, zipsift
        texts = [("def f%d(x):\\n    return x * %d + 1\\n" % (i, i)) * 40 for i in range(20000)]
        # ~700 dictionaries: 14 million compressions, minutes of work
        scorer = zipsift.CompressionGain(texts[:2000], dict_bytes=4096, threads=2)
        print("ready", flush=True)
        try:
            scorer.scores(texts)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    assert out == "interrupted"
