"""lab.throttle: figures are rebuilt when what they show changes, at a rate the server can afford."""
import time

import pytest

from lab import throttle
from lab import panel
from lab.throttle import BUDGET, BUSY_WAIT, MAX_WAIT, SHARE, WINDOW, Memo


@pytest.fixture(autouse=True)
def quiet_server(monkeypatch):
    monkeypatch.setattr(throttle, "_load", throttle._Load())


def counting():
    calls = []

    def build():
        calls.append(1)
        time.sleep(0.02)
        return len(calls)
    return build, calls


def test_same_view_is_not_rebuilt_and_a_new_choice_is():
    memo, (build, calls) = Memo(), counting()
    assert memo.get("slot", ("epoch", 1), build) == 1
    assert memo.get("slot", ("epoch", 1), build, live=True) == 1 and len(calls) == 1
    assert memo.get("slot", ("epoch", 2), build) == 2          # not live: exactly what was asked, at once


def test_a_live_view_waits_its_share_then_follows():
    memo, (build, calls) = Memo(), counting()
    memo.get("slot", 1, build, live=True)
    assert memo.get("slot", 2, build, live=True) == 1            # within cost / SHARE: the last figure
    time.sleep(min(0.02 / SHARE, MAX_WAIT) + 0.05)
    assert memo.get("slot", 2, build, live=True) == 2            # then the newest state


def test_a_busy_server_stretches_every_live_wait():
    memo = Memo()
    now = time.perf_counter()
    assert memo._wait(0.5, now) == MAX_WAIT                      # a slow first build: capped when quiet
    throttle._load.add(now, 2 * BUDGET * WINDOW)                 # live builds took twice the budget
    assert memo._wait(0.01, now) == pytest.approx(BUSY_WAIT * 2)
    assert memo._wait(0.5, now) == pytest.approx(0.5 / SHARE * 2)   # no cap when busy
    assert memo._wait(0.01, now + WINDOW + 0.1) == pytest.approx(0.01 / SHARE)   # load is forgotten


def test_a_cheap_live_view_is_rebuilt_at_every_tick_of_its_fragment():
    """The views' fragment asks once a second; a floor of 1 s after each build (which ends a little
    after the tick) made every other tick return the old figure: live views moved every 2 s."""
    memo, now = Memo(), time.perf_counter()
    for cost in (0.005, 0.03, 0.1):
        assert cost + memo._wait(cost, now) < panel.VIEWS_S, cost
