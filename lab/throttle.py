"""Rebuild expensive things (figures, samples) only as often as the training threads can afford.

Training workers and page scripts share one Python process and its GIL. While a run trains, a lesson
polls several times a second; rebuilding a large figure or sampling a few hundred characters on every
poll would take the GIL from the trainers and slow the very run being watched. A Memo keeps the latest
value per slot (a view of a run) with what it shows (epoch, options) and its build cost, and
  - returns it while what it shows is unchanged (a poll without a new record costs nothing);
  - while a run trains (`live`), keeps returning it until cost / SHARE seconds have passed, so building
    takes at most about SHARE of the time; the next poll after that shows the newest state;
  - otherwise builds, so a finished, paused or scrubbed run always shows exactly what was asked.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable

SHARE = 0.2
MAX_WAIT = 1.0  # seconds: however costly a build was (the first one pays for cold imports), rebuild at least this often


@dataclass
class _Entry:
    what: Hashable
    value: Any
    built: float
    cost: float


class Memo:
    def __init__(self, size: int = 256, share: float = SHARE):
        self.size, self.share = size, share
        self._slots: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slot: Hashable, what: Hashable, build: Callable[[], Any], live: bool = False) -> Any:
        now = time.perf_counter()
        with self._lock:
            hit = self._slots.get(slot)
            wait = min(hit.cost / self.share, MAX_WAIT) if hit is not None else 0.0
            if hit is not None and (hit.what == what or (live and now - hit.built < wait)):
                self._slots.move_to_end(slot)
                return hit.value
        value = build()
        done = time.perf_counter()
        with self._lock:
            self._slots[slot] = _Entry(what, value, done, done - now)
            self._slots.move_to_end(slot)
            while len(self._slots) > self.size:
                self._slots.popitem(last=False)
        return value
