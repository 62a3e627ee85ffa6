"""Rebuild expensive things (figures, samples) only as often as the server can afford.

Training runs in worker processes, but every browser session's page is built in the server's one
Python process: while runs train, each lesson polls several times a second, and with a classroom of
sessions rebuilding every figure on every poll would take all of the server's time and freeze every
page. A Memo keeps the latest value per slot (a view of a run) with what it shows (epoch, options)
and its build cost, and
  - returns it while what it shows is unchanged (a poll without a new record costs nothing);
  - while a run trains (`live`), keeps returning it until cost / SHARE seconds have passed since it was
    built (at most MAX_WAIT), so one view's building takes at most about SHARE of the server's time;
    how often a live view asks is its fragment's clock (lab.panel: once a second), and a cheap view is
    rebuilt at every tick; when all live builds together take more than BUDGET of the server (many
    sessions), every live view waits at least BUSY_WAIT, longer in proportion, so the pages stay
    responsive and each refreshes a little less often;
  - otherwise builds, so a finished, paused or scrubbed run always shows exactly what was asked.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable

SHARE = 0.2      # of the server's time, at most, for the builds of one live view
MAX_WAIT = 1.0   # seconds: however costly a build was (the first one pays for cold imports), rebuild at least this often...
BUDGET = 0.5     # ...unless live builds of all sessions together already take this share of the server's time:
BUSY_WAIT = 1.0  # then every live view waits at least this long, times how far over the budget they are
WINDOW = 2.0     # seconds over which that share is measured


@dataclass
class _Entry:
    what: Hashable
    value: Any
    built: float
    cost: float


class _Load:
    """Seconds spent on live builds over the last WINDOW seconds, shared by every Memo of the server."""

    def __init__(self):
        self._builds: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def add(self, at: float, cost: float) -> None:
        with self._lock:
            self._builds.append((at, cost))

    def share(self, now: float) -> float:
        with self._lock:
            while self._builds and now - self._builds[0][0] > WINDOW:
                self._builds.popleft()
            return sum(c for _, c in self._builds) / WINDOW


_load = _Load()


class Memo:
    def __init__(self, size: int = 256, share: float = SHARE):
        self.size, self.share = size, share
        self._slots: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _wait(self, cost: float, now: float) -> float:
        busy = _load.share(now)
        if busy > BUDGET:
            return max(cost / self.share, BUSY_WAIT) * busy / BUDGET
        return min(cost / self.share, MAX_WAIT)

    def get(self, slot: Hashable, what: Hashable, build: Callable[[], Any], live: bool = False) -> Any:
        now = time.perf_counter()
        with self._lock:
            hit = self._slots.get(slot)
        if hit is not None and (hit.what == what or (live and now - hit.built < self._wait(hit.cost, now))):
            with self._lock:
                if slot in self._slots:
                    self._slots.move_to_end(slot)
            return hit.value
        value = build()
        done = time.perf_counter()
        if live:
            _load.add(done, done - now)
        with self._lock:
            self._slots[slot] = _Entry(what, value, done, done - now)
            self._slots.move_to_end(slot)
            while len(self._slots) > self.size:
                self._slots.popitem(last=False)
        return value
