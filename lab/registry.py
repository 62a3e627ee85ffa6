"""Every student's runs on this server: the one place a run lives.

A student (an owner id, lab.identity) has, per lesson, groups of runs: the runs trained side by side
by one click on Train. The first group is the one on screen; the ones after it are the student's
earlier runs of the lesson (newest first, at most KEEP_GROUPS in all), which the lesson can overlay.
The Runner trains them (worker processes). A run that ends is written to disk (rnnviz.run_store), and
so is every run when the server shuts down: after a restart a student's lesson reads its runs back the
first time it is asked for. An earlier group that has ended keeps in memory only what Compare draws
(Run.lighten). Runs that ended leave memory (not the disk) when nobody looked at them for IDLE_S, or,
least recently seen first, while all kept runs hold more than MEMORY_MB: a classroom of text runs
would otherwise hold ~90 MB per run until the server runs out of memory. This is looked at when a run
ends and when a page asks for runs (at most every SWEEP_S): a server nobody uses keeps what it holds
until the next visit. The disk is shared too: past
STUDENT_RUNS_MB of a student's runs on disk, their oldest earlier groups are deleted (run_store.trim);
past STUDENTS_RUNS_MB of all students' runs, no new run starts.

One Registry per server process, made by `get()` (st.cache_resource: it also survives Streamlit
re-importing the app's modules when a source file changes).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from pathlib import Path

import streamlit as st

from rnnviz import run_store
from rnnviz.limits import bytes_under, env_limit
from rnnviz.run import Run
from rnnviz.runner import Runner

log = logging.getLogger("rnnviz.lab")
KEEP_GROUPS = 6       # groups of runs kept per student and lesson (the oldest go: save a checkpoint to keep one)
IDLE_S = 30 * 60      # ended runs nobody looked at for this long leave memory (not the disk)
SWEEP_S = 60          # ...looked for at most this often as pages ask for runs (and at each run's end)
MEMORY_MB = env_limit("RNNVIZ_RUNS_MEMORY_MB", 2000)   # ended runs kept in memory, all students together
RECENT_S = 60         # ...but never those looked at this recently (they would be read back at once)
STUDENT_RUNS_MB = env_limit("RNNVIZ_STUDENT_RUNS_MB", 1000)   # a student's runs on disk (the oldest go first)
STUDENTS_RUNS_MB = env_limit("RNNVIZ_STUDENTS_RUNS_MB", 20000)   # all students' runs: past it no new run starts
MEASURE_S = 10        # all students' runs on disk are measured at most this often
WORKERS = env_limit("RNNVIZ_WORKERS", os.cpu_count() or 1)
SLOTS = env_limit("RNNVIZ_MAX_JOBS", 8 * WORKERS)
PER_STUDENT = env_limit("RNNVIZ_RUNS_PER_STUDENT", 3)


def root() -> Path:
    """Where runs are kept: ./runs next to app.py, or env RNNVIZ_RUNS."""
    return Path(os.environ.get("RNNVIZ_RUNS") or Path(__file__).resolve().parents[1] / "runs")


class RunsFull(Exception):
    """All students' runs on disk take STUDENTS_RUNS_MB: no new run starts (a browser without a cookie
    is a new student, so the budget of one student alone does not bound the disk)."""


class Registry:
    def __init__(self, runner: Runner, where: Path):
        self.runner, self.root = runner, where
        runner.on_end = self._ended
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], list[dict[str, Run]]] = {}   # (owner, lesson) -> groups
        self._measured = (-1e9, 0)    # (when, bytes) of all students' runs on disk
        self._measuring = threading.Lock()
        self._swept = time.monotonic()

    # ---- reading ----------------------------------------------------------------------------------
    def groups(self, owner: str, lesson: str) -> list[dict[str, Run]]:
        """The student's groups of the lesson, the one on screen first; read from disk the first time."""
        key = (owner, lesson)
        with self._lock:
            found = self._groups.get(key)
        if found is None:
            loaded: dict[str, dict[str, Run]] = {}
            for run in run_store.load_lesson(self.root, owner, lesson):
                loaded.setdefault(run.group, {})[run.name] = run
            found = list(loaded.values())[:KEEP_GROUPS]
            if found and next(iter(found[0].values())).group <= run_store.shelved(self.root, owner, lesson):
                found.insert(0, {})     # Reset took it off screen, and nothing newer is on disk
            _lighten(_each(found[1:]))
        with self._lock:    # touched under the lock: a sweep between the lookup and the touch would drop them
            found = self._groups.setdefault(key, found)
            for run in _each(found):
                run.touch()
        if time.monotonic() - self._swept > SWEEP_S:   # after the touch: this lesson stays
            self.sweep()
        return list(found)

    def current(self, owner: str, lesson: str) -> dict[str, Run]:
        groups = self.groups(owner, lesson)
        return dict(groups[0]) if groups else {}

    def runs_of(self, owner: str) -> dict[str, Run]:
        """The student's runs by id (nobody reads another student's run)."""
        with self._lock:
            return {r.id: r for (who, _), groups in self._groups.items() if who == owner for r in _each(groups)}

    def active(self, owner: str) -> list[Run]:
        """The student's runs that train or wait to, in the order they were placed."""
        return sorted((r for r in self.runs_of(owner).values() if r.active), key=lambda r: r.group)

    # ---- changing ----------------------------------------------------------------------------------
    def place(self, owner: str, lesson: str, runs: dict[str, Run], why: str = "an opened checkpoint replaced it"):
        """Make `runs` the lesson's group on screen; the one before becomes an earlier group (its runs
        that still train stop: a student trains one group per lesson at a time)."""
        # a name that sorts as groups were placed, to the millisecond (two clicks in one second)
        now = time.time()
        group = time.strftime("%Y%m%d-%H%M%S-", time.localtime(now)) + f"{int(now * 1000) % 1000:03x}" + \
            f"{os.urandom(1)[0] % 16:x}"
        for name, run in runs.items():
            run.owner, run.lesson, run.group, run.name = owner, lesson, group, name
        self._stop(self.current(owner, lesson).values(), f"stopped: {why}")
        with self._lock:
            groups = [dict(runs), *(g for g in self._groups.get((owner, lesson), []) if g)]
            self._groups[(owner, lesson)] = groups[:KEEP_GROUPS]
            _lighten(_each(groups[1:KEEP_GROUPS]))
        dropped = _each(groups[KEEP_GROUPS:])
        self._stop(dropped, "stopped: too many newer runs")
        for run in dropped:
            run_store.forget(self.root, run)

    def start(self, owner: str, lesson: str, runs: dict[str, Run]) -> dict[str, Run]:
        """Place `runs` on screen and train them (RunsFull: the disk has no room for more)."""
        with self._measuring:      # one walk of the disk at a time, however many click Train at once
            if time.monotonic() - self._measured[0] > MEASURE_S:
                self._measured = (time.monotonic(), bytes_under(self.root))
            used = self._measured[1]
        if used > STUDENTS_RUNS_MB * 2**20:
            raise RunsFull(f"the students' runs take {used / 2**20:,.0f} MB on disk, all the "
                           f"server gives them (RNNVIZ_STUDENTS_RUNS_MB, {STUDENTS_RUNS_MB:,} MB): ask the "
                           "teacher to make room; your runs so far are kept")
        self.place(owner, lesson, runs, "a new run replaced it")
        for run in runs.values():
            self.runner.submit(run)
        return runs

    def shelve(self, owner: str, lesson: str) -> None:
        """Take the group on screen off it (Reset): its runs stop and stay among the earlier runs."""
        groups = self.groups(owner, lesson)
        if groups and groups[0]:
            self._stop(groups[0].values(), "reset by the user")
            try:
                run_store.shelve(self.root, owner, lesson, next(iter(groups[0].values())).group)
            except OSError as e:      # the screen is cleared all the same; a restart would show it again
                log.warning("could not note the Reset of %s/%s: %s", owner, lesson, e)
            with self._lock:
                self._groups[(owner, lesson)].insert(0, {})
                _lighten(groups[0].values())

    def forget(self, owner: str, lesson: str, index: int) -> None:
        """Delete an earlier group (memory and disk): the student asked to."""
        with self._lock:
            groups = self._groups.get((owner, lesson), [])
            group = groups.pop(index) if 0 < index < len(groups) else {}
        self._stop(group.values(), "deleted by the user")
        for run in group.values():
            run_store.forget(self.root, run)

    def _holds(self, run: Run, locked: bool = False) -> bool:
        """Whether the run is among its student's groups of its lesson (`locked`: the caller has the lock)."""
        if not locked:
            with self._lock:
                return self._holds(run, locked=True)
        return any(r is run for r in _each(self._groups.get((run.owner, run.lesson), [])))

    def _stop(self, runs, reason: str) -> None:
        for run in runs:
            if run.active:
                self.runner.stop(run, reason)

    def _ended(self, run: Run) -> None:
        """The runner's on_end: write the run down (it replaces its own earlier copy); off screen, it
        keeps only what Compare draws."""
        if self._holds(run) and run.resume is not None:
            run_store.save(run, self.root)
            with self._lock:
                kept = self._holds(run, locked=True)
                if kept:
                    run.saved = time.time()
            if not kept:     # deleted by the student (or past KEEP_GROUPS) while it was written
                run_store.forget(self.root, run)
                return
            with self._lock:
                shown = {r.group for (owner, _), groups in self._groups.items() if owner == run.owner and groups
                         for r in groups[0].values()}
            gone = run_store.trim(self.root, run.owner, STUDENT_RUNS_MB * 2**20, shown | {run.group})
            with self._lock:     # forget the groups whose copies on disk were deleted
                for (owner, lesson), groups in self._groups.items():
                    if owner == run.owner:
                        groups[:] = [g for g in groups if not any((lesson, r.group) in gone for r in g.values())]
        with self._lock:
            on_screen = any(r is run for r in (self._groups.get((run.owner, run.lesson)) or [{}])[0].values())
        if not on_screen:
            _lighten([run])
        self.sweep()

    def sweep(self, now: float | None = None) -> None:
        """Let ended runs leave memory (a later look reads them back from disk): those nobody looked at
        for IDLE_S, then, least recently seen first, while all kept runs hold more than MEMORY_MB. Only
        a student's lesson whose runs have all ended leaves: when idle, if each is on disk or was
        opened from a checkpoint; over the budget, if each is on disk (the lesson reads back as it
        was) and none was looked at in the last RECENT_S. Done at each run's end, and by `groups`
        at most every SWEEP_S."""
        now = now or time.time()
        self._swept = time.monotonic()
        with self._lock:
            lessons = sorted(((key, _each(groups)) for key, groups in self._groups.items()),
                             key=lambda kr: _last_seen(kr[1]))
            held = sum(r.nbytes for _, runs in lessons for r in runs)
            for key, runs in lessons:
                if any(r.active for r in runs):
                    continue
                seen = _last_seen(runs)
                on_disk = all(r.saved or r.resume is None for r in runs)
                if (all(map(_kept_elsewhere, runs)) and now - seen > IDLE_S) or \
                        (on_disk and held > MEMORY_MB * 2**20 and now - seen > RECENT_S):
                    del self._groups[key]
                    held -= sum(r.nbytes for r in runs)


def _each(groups: list[dict[str, Run]]) -> list[Run]:
    """The runs of these groups."""
    return [r for g in groups for r in g.values()]


def _kept_elsewhere(r: Run) -> bool:
    """Its state is on disk, or it has none to write, or it is an opened checkpoint's."""
    return bool(r.saved) or r.resume is None or r.state == "loaded"


def _last_seen(runs: list[Run]) -> float:
    return max((r.seen for r in runs), default=0.0)


def _lighten(runs) -> None:
    """Run.lighten each run off screen that has ended and is kept elsewhere: the probes of one whose end
    is being written now are still written (the runner's thread lightens it in _ended, once written),
    and memory stays the only copy of one whose write failed."""
    for r in runs:
        if not r.active and _kept_elsewhere(r):
            r.lighten()


@st.cache_resource(show_spinner=False)
def get() -> Registry:
    """The server's registry (made once; its worker processes start now)."""
    registry = Registry(Runner(WORKERS, SLOTS, PER_STUDENT), root())
    atexit.register(registry.runner.close)   # stops every run and writes it down (app.py's lifespan too)
    return registry
