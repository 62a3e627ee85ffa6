"""Training jobs: a Trainer running in a worker process, kept in one registry for the whole server.

Streamlit reruns a page script on every click, so a training loop must never run inside it, nor in a
thread of the server: the server's GIL would slow both the training and the pages (rnnviz.worker).
A Job owns a RemoteRun (the Trainer in a worker process, mirrored here), the Recorder that fills its
History (what every figure reads) from the records the worker sends, and copies of its weights at
the record points (for generating text at any recorded epoch). Jobs live in one
registry per server process (`_S`, kept by st.cache_resource so that it also survives Streamlit
re-importing every module of the app when a source file changes); they outlive reruns and page
switches, and a browser session keeps only their ids.

There are WORKERS processes (default the CPU cores, env RNNVIZ_WORKERS); a run goes to the least busy.
At most MAX_TRAINING jobs train at the same time (a semaphore; default 8 per worker: a lesson's runs are
mostly paced to be watchable, so several share a core well; env RNNVIZ_MAX_JOBS); the others wait for
a free trainer and say so. Finished jobs nobody looked at
for IDLE_TTL seconds are dropped; runs nobody has watched for ORPHAN_TTL seconds (the server pushes an
open page its runs several times a second, a hidden browser tab every 30 s) are stopped. A janitor
thread sweeps every SWEEP_S seconds, so this happens even when no page is open.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from types import SimpleNamespace

import streamlit as st
import torch

from rnnviz.callbacks import Recorder
from rnnviz.recorder import EpochRecord, History
from rnnviz.trainer import Callback, make_engine
from rnnviz.worker import Pool, RemoteRun

torch.set_num_threads(1)  # once per process: the server's own torch work (sampling) is small

WORKERS = max(1, int(os.environ.get("RNNVIZ_WORKERS") or os.cpu_count() or 1))
MAX_TRAINING = max(1, int(os.environ.get("RNNVIZ_MAX_JOBS") or 8 * WORKERS))
IDLE_TTL = 60 * 60        # seconds a finished job stays after it was last looked at
ORPHAN_TTL = 3 * 60       # seconds a running job may go unwatched (browser closed) before it is stopped
MAX_KEPT = 64             # jobs kept at most; the least recently seen finished ones go first
WEIGHT_BYTES = 24 * 2**20  # per job: copies of the weights at record points
SWEEP_S = 30              # how often the janitor sweeps

ACTIVE = ("queued", "running", "paused")
FIRST_RECORD_S = 0.5      # the Train click's own redraw waits this long at most for the runs' first records
ACK_S = 0.3               # a Pause, Resume or Stop click's redraw waits this long at most for the workers
log = logging.getLogger("rnnviz.lab")


class Shift(Callback):
    """Continue a History: a run's records count on from its last record (epochs, steps, seconds)."""

    def __init__(self, history: History):
        last = history.last
        self.epoch0, self.step0, self.seconds0 = (last.epoch, last.step, last.seconds) if last else (0, 0, 0.0)

    def on_record(self, run: RemoteRun, rec: EpochRecord) -> None:
        rec.epoch += self.epoch0
        rec.step += self.step0
        rec.seconds += self.seconds0


class WeightKeeper(Callback):
    """Copies of the weights at record points within a byte budget (older ones thinned, first and last
    kept), so generation can be replayed at any recorded epoch (the nearest kept one). Filled from the
    worker's messages (weights come with every record of a paced run, at full speed at most 20 times a
    second, always with the last one: see rnnviz.worker.WEIGHT_EVERY_S), read by the UI."""

    def __init__(self, max_bytes: int = WEIGHT_BYTES):
        self.max_bytes = max_bytes
        self.kept: dict[int, dict[str, torch.Tensor]] = {}
        self.lock = threading.Lock()
        self._last = None

    def keep(self, epoch: int, state: dict[str, torch.Tensor]) -> None:
        size = sum(v.numel() * v.element_size() for v in state.values())
        with self.lock:
            self.kept[epoch] = state
            epochs = sorted(self.kept)
            while len(epochs) > 2 and size * len(epochs) > self.max_bytes:
                for e in epochs[1:-1:2]:
                    del self.kept[e]
                epochs = sorted(self.kept)

    def on_record(self, run: RemoteRun, rec: EpochRecord) -> None:
        self._last = rec.epoch
        if run.weights is not None:       # torch tensors from either engine
            self.keep(rec.epoch, run.weights)

    def on_end(self, run: RemoteRun) -> None:
        # a finished run ends at a record point, a diverged one went back to its last good record
        if run.status in ("finished", "diverged") and self._last is not None:
            self.keep(self._last, run.engine.state_dict())

    def at(self, epoch: int) -> tuple[int, dict[str, torch.Tensor]] | None:
        """(kept epoch, weights) of the latest kept epoch <= epoch (or the earliest kept one)."""
        with self.lock:
            if not self.kept:
                return None
            below = [e for e in self.kept if e <= epoch]
            e = max(below) if below else min(self.kept)
            return e, self.kept[e]

    @property
    def epochs(self) -> list[int]:
        with self.lock:
            return sorted(self.kept)


class Heard(Callback):
    """Sets an event at a run's first record (or its end): the page that started it can wait for it."""

    def __init__(self):
        self.event = threading.Event()

    def on_record(self, run: RemoteRun, rec: EpochRecord) -> None:
        self.event.set()

    def on_end(self, run: RemoteRun) -> None:
        self.event.set()


class Job:
    """One training run of a lesson. Building it validates the configs (ValueError) and builds the
    model; `start()` registers it and trains it in a worker process (rnnviz.worker) once a trainer slot
    is free. `trainer` is the run as this process sees it: the worker's Trainer, mirrored."""

    def __init__(self, lesson: str, name: str, task, mcfg, tcfg, *, engine=None, history: History | None = None,
                 weights: WeightKeeper | None = None, origin: str = ""):
        self.id = uuid.uuid4().hex[:10]
        self.lesson, self.name, self.task, self.mcfg, self.tcfg = lesson, name, task, mcfg, tcfg
        self.origin = origin                  # where its weights came from ("" = fresh)
        self.history = history if history is not None else History()
        self.shift = Shift(self.history)
        self.weights = weights if weights is not None else WeightKeeper()
        self.lr_asked = tcfg.lr
        self.stopping = False
        self._queued = self._cancelled = False
        # shift the record's epoch, keep its weights, then let the pages see it: a view that reads the
        # newest record (free-running a sine, sampling text) must find its weights
        self.heard = Heard()
        callbacks = [self.shift, self.weights, Recorder(self.history), self.heard]
        self.trainer = RemoteRun(task, mcfg, tcfg, engine, callbacks, spectral=True)
        self.thread: threading.Thread | None = None
        self.seen = time.time()

    @classmethod
    def successor(cls, old: "Job", tcfg, bugs: tuple[str, ...] | None = None) -> "Job":
        """Train on from `old`'s weights with new training settings (on the engine tcfg names; `bugs`
        for a NumPy engine, None = old's); the history continues."""
        if old.state == "error":   # its worker's weights are lost (or broken): do not pretend to go on
            raise ValueError(f"the run failed ({old.reason}); press Train to start a new one")
        engine = make_engine(old.task, old.mcfg, tcfg, state_dict=old.trainer.engine.state_dict(),
                             bugs=old.bugs if bugs is None else bugs)
        return cls(old.lesson, old.name, old.task, old.mcfg, tcfg, engine=engine, history=old.history,
                   weights=old.weights, origin=old.origin or "continued")

    # ---- life cycle ----------------------------------------------------------------------------
    def start(self) -> "Job":
        with _S.lock:
            _S.jobs[self.id] = self
        self._queued = True
        self.thread = threading.Thread(target=self._work, name=f"rnnviz-{self.lesson}-{self.id}", daemon=True)
        self.thread.start()
        return self

    def wait_first_record(self, timeout: float) -> bool:
        """Wait (at most timeout s) until the run has recorded once or ended."""
        return self.heard.event.wait(timeout)

    def _work(self) -> None:
        """Wait for a free trainer slot (unless stopped meanwhile), hand the run to a worker process and
        hold the slot until it ends."""
        while not _S.slots.acquire(timeout=0.1):
            if self.stopping:
                self._queued, self._cancelled = False, True
                return
        try:
            _S.pool.submit(self.trainer)
            self._queued = False
            if self.stopping:               # stopped while it was being handed over
                self.trainer.stop()
            self.trainer.wait()
        finally:
            _S.slots.release()

    def stop(self, reason: str = "stopped by user") -> None:
        self.stopping = True
        self.trainer.stop(reason)

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def set_lr(self, lr: float) -> None:
        if lr != self.lr_asked:
            self.trainer.set_lr(lr)
            self.lr_asked = lr

    @property
    def pace(self) -> float:
        """At most this many record points per second (0: full speed); applies at once to a running job."""
        return self.trainer.pace

    @pace.setter
    def pace(self, value: float) -> None:
        self.trainer.set_live(value, self.trainer.auto_stop)

    @property
    def auto_stop(self) -> bool:
        """Stop when the loss has converged (rnnviz.worker.AUTO_STOP)."""
        return self.trainer.auto_stop

    @auto_stop.setter
    def auto_stop(self, value: bool) -> None:
        self.trainer.set_live(self.trainer.pace, value)

    # ---- what the page shows -------------------------------------------------------------------
    @property
    def state(self) -> str:
        """new | loaded | queued | running | paused | finished | stopped | diverged | error"""
        if self.thread is None:
            return "loaded" if self.origin else "new"
        if self._cancelled:
            return "stopped"
        status = self.trainer.status
        return "queued" if self._queued or status == "idle" else status

    @property
    def held(self) -> bool:
        """Paused by the user and not resumed: a run waiting for a trainer then starts paused."""
        return self.trainer.held

    @property
    def bugs(self) -> tuple[str, ...]:
        """The slips injected into its engine's backward (NumPy engine only)."""
        return tuple(getattr(self.trainer.engine, "bugs", ()))

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def reason(self) -> str:
        if self._cancelled:
            return "stopped before a trainer was free"
        return self.trainer.reason

    @property
    def final_epoch(self) -> int:
        """The epoch (or step) number this run ends at, counting on from a continued history."""
        last = self.history.last
        if self.thread is None:
            return last.epoch if last else 0
        return self.shift.epoch0 + self.trainer.total

    def touch(self) -> "Job":
        self.seen = time.time()
        return self


# ---- the registry ---------------------------------------------------------------------------------
def get(job_id: str) -> Job | None:
    with _S.lock:
        return _S.jobs.get(job_id)


def keep(job: Job) -> Job:
    """Register a job that is not trained (loaded from a checkpoint) so the session can find it."""
    with _S.lock:
        _S.jobs[job.id] = job
    return job


def drop(job_id: str) -> None:
    with _S.lock:
        job = _S.jobs.pop(job_id, None)
    if job is not None and job.active:
        job.stop("run replaced")


def busy() -> tuple[int, int, int]:
    """(training now, waiting for a trainer, trainer slots)."""
    with _S.lock:
        states = [j.state for j in _S.jobs.values()]
    return sum(s in ("running", "paused") for s in states), states.count("queued"), _S.size


def sweep(now: float | None = None) -> None:
    """Stop runs nobody watches, drop finished jobs nobody looked at, bound the number of jobs."""
    now = now or time.time()
    with _S.lock:
        jobs = list(_S.jobs.values())
    for job in jobs:
        idle = now - job.seen
        if job.active and idle > ORPHAN_TTL:
            job.stop(f"stopped: nobody watched it for {ORPHAN_TTL // 60} minutes")
        elif not job.active and idle > IDLE_TTL:
            drop(job.id)
    with _S.lock:
        extra = len(_S.jobs) - MAX_KEPT
        if extra > 0:
            for job in sorted((j for j in _S.jobs.values() if not j.active), key=lambda j: j.seen)[:extra]:
                _S.jobs.pop(job.id, None)


def stop_all(timeout: float = 5.0) -> None:
    """Stop every job, wait for them to end and close the worker processes (at exit)."""
    with _S.lock:
        everyone = list(_S.jobs.values())
    for job in everyone:
        if job.active:
            job.stop("the server is shutting down")
    for job in everyone:
        if job.thread is not None:
            job.thread.join(timeout)
    _S.pool.close()


def _janitor() -> None:
    while True:
        time.sleep(SWEEP_S)
        try:
            sweep()
        except Exception:  # never let the janitor die
            log.exception("sweep failed")


@st.cache_resource(show_spinner=False)
def _shared() -> SimpleNamespace:
    """The process-wide state, made once: the jobs by id, their lock, the trainer slots and the worker
    processes (started now: each takes seconds to import torch, which the first Train click should not)."""
    atexit.register(stop_all)
    threading.Thread(target=_janitor, name="rnnviz-janitor", daemon=True).start()
    return SimpleNamespace(jobs={}, lock=threading.Lock(), size=MAX_TRAINING,
                           slots=threading.BoundedSemaphore(MAX_TRAINING), pool=Pool(WORKERS).start())


_S = _shared()
