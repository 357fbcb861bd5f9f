"""zipsift.progress (one protocol: on_progress(done, total) -> continue?) and the command line's
line that draws it."""
from __future__ import annotations

import io

import numpy as np
import pytest

from zipsift import ZipFit
from zipsift import submodular as sm
from zipsift.cli.progress import ProgressLine
from zipsift.progress import Cancelled, Meter, report


def test_meter_reports_running_counts_and_its_total_and_parts_continue_it():
    seen = []
    meter = Meter(lambda done, total: seen.append((done, total)), total=10)
    meter.add(3)
    part = meter.part()
    part(2, 99)   # a sub-call's own total is not the call's
    part(5, 99)
    assert seen == [(3, 10), (5, 10), (8, 10)] and meter.done == 8


def test_false_from_on_progress_cancels_and_none_continues():
    report(lambda d, t: None, 1, 2)
    with pytest.raises(Cancelled, match="after 4 of 9"):
        report(lambda d, t: False, 4, 9)


def test_streaming_selection_reports_records_and_stops_when_told(stdlib_functions):
    fit = ZipFit(stdlib_functions[:5])
    records = [{"text": t} for t in stdlib_functions[5:105]]
    seen = []
    fit.select(records, k=3, batch_size=40, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(40, None), (80, None), (100, None)]
    with pytest.raises(Cancelled):
        fit.select(records, k=3, batch_size=40, on_progress=lambda d, t: d < 80)


def test_greedy_reports_picks_of_the_budget_and_stops_when_told():
    X = np.random.default_rng(0).random((300, 8), dtype=np.float32)
    K = sm.kernel(X)
    seen = []
    sm.facility_location(K, 50, on_progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (50, 50) and all(t == 50 for _, t in seen)
    with pytest.raises(Cancelled):
        sm.facility_location(K, 50, on_progress=lambda d, t: False)


class Log(io.StringIO):
    def isatty(self):
        return False


def test_progress_line_shows_total_and_eta_and_writes_the_final_state_once():
    out = Log()
    with ProgressLine(unit="passes", enabled=True, stream=out, label="utility kernel") as line:
        line(5, 20)
        line(20, 20)  # within the log interval: not drawn now, but it is the final state
    text = out.getvalue().splitlines()
    assert text[0].startswith("  utility kernel: 25%  5 of 20 passes") and "ETA" in text[0]
    assert text[1].startswith("  utility kernel: 100%  20 of 20 passes") and len(text) == 2
    out = Log()
    with ProgressLine(enabled=True, stream=out) as line:
        line(7)
    assert len(out.getvalue().splitlines()) == 1  # drawn once; closing does not repeat it


def test_progress_line_uses_the_input_fraction_when_the_stream_has_no_total():
    out = Log()
    with ProgressLine(enabled=True, stream=out, fraction=lambda: 0.5) as line:
        line(100)
    assert "50%" in out.getvalue() and "ETA" in out.getvalue() and "100 docs" in out.getvalue()


def test_a_line_never_fed_writes_nothing():
    out = Log()
    with ProgressLine(enabled=True, stream=out):
        pass
    assert out.getvalue() == ""
