"""Train Runs in worker processes and mirror what they report.

A server that trains in threads shares one GIL between every training loop and everything else it
does (building figures, answering browsers): a busy server makes training several times slower, and a
busy trainer makes pages stutter. So each run trains in a worker process (multiprocessing),
in a thread of its own there (several runs share a worker: most are paced to be watchable).

The Runner keeps the runs waiting for a trainer (at most `slots` train at once, and at most
`per_owner` of one student's), hands each to the worker with the fewest runs, and forwards the
student's controls. Parent -> worker, on the worker's command queue: ("start", id, Start),
("stop", id, reason), ("pause", id), ("resume", id), ("set_lr", id, lr) (the Trainer's methods of
those names), ("live", id, pace, auto_stop), ("quit",). Worker -> parent, on one queue for all:
("status", id, progress), ("records", id, progress, [(record, weights or None), ...]), ("ended", id,
progress, Resume or None). These pickles go between our own processes only; nothing a user uploaded
is ever unpickled.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import torch

from .engines import Resume
from .processes import without_main
from .run import Run
from .worker import Start, serve

log = logging.getLogger("rnnviz.runner")
POLL_S = 0.5     # how often the reader looks whether the worker processes are alive


def _context():
    """Worker processes fork from a fork server that has imported the worker's modules (torch) once: a
    new worker is ready in a fraction of a second and shares those pages. Where there is no fork
    server (Windows) they are spawned."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["rnnviz.worker"])
    return ctx


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    commands: mp.queues.Queue


class Runner:
    def __init__(self, workers: int | None = None, slots: int | None = None, per_owner: int = 3,
                 on_end: Callable[[Run], None] | None = None):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.slots = max(1, slots or 8 * self.size)
        self.per_owner = max(1, per_owner)
        self.on_end = on_end
        self._ctx = _context()
        self._events = self._ctx.Queue()
        self._lock = threading.Lock()
        self._waiting: deque[Run] = deque()
        self._training: dict[str, tuple[Run, _Worker]] = {}
        self._closed = False
        self._workers = [self._spawn() for _ in range(self.size)]
        self._reader = threading.Thread(target=self._read, name="rnnviz-runner", daemon=True)
        self._reader.start()

    def _spawn(self) -> _Worker:
        commands = self._ctx.Queue()
        process = self._ctx.Process(target=serve, args=(commands, self._events), name="rnnviz-worker", daemon=True)
        with without_main():
            process.start()
        return _Worker(process, commands)

    # ---- what the pages call ---------------------------------------------------------------------
    def submit(self, run: Run) -> Run:
        """Queue a run; it trains as soon as a trainer (and its owner's share) is free."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the lab is shutting down")
            run.state, run.reason = "waiting", "waiting for a free trainer"
            run.ended.clear()
            self._waiting.append(run)
            self._dispatch()
        return run

    def stop(self, run: Run, reason: str = "stopped by the user") -> None:
        with self._lock:
            if run in self._waiting:      # never started: it ends here and now
                self._waiting.remove(run)
                run.state, run.reason = "stopped", "stopped before it started"
                run.ended.set()
                return
        self._tell(run, "stop", reason)

    def pause(self, run: Run) -> None:
        run.held = True
        self._tell(run, "pause")

    def resume(self, run: Run) -> None:
        run.held = False
        self._tell(run, "resume")

    def set_lr(self, run: Run, lr: float) -> None:
        if lr != (run.lr or run.tcfg.lr):
            run.lr = lr
            self._tell(run, "set_lr", lr)

    def set_live(self, run: Run, pace: float, auto_stop: bool) -> None:
        """Speed limit (record points per second, 0 = none) and auto-stop, at once, also while it trains."""
        if (pace, auto_stop) != (run.pace, run.auto_stop):
            run.pace, run.auto_stop = pace, auto_stop
            self._tell(run, "live", pace, auto_stop)

    def load(self) -> tuple[int, int, int]:
        """(runs training, runs waiting, trainer slots)."""
        with self._lock:
            return len(self._training), len(self._waiting), self.slots

    def close(self, timeout: float = 10.0) -> None:
        """Stop every run, wait (at most `timeout` s) until each has ended and been handed to on_end,
        then end the worker processes. For the server's shutdown."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiting, self._waiting = list(self._waiting), deque()
            training = [run for run, _ in self._training.values()]
        for run in waiting:
            run.state, run.reason = "stopped", "the server shut down before it started"
            run.ended.set()
        for run in training:
            self._tell(run, "stop", "the server is shutting down")
        deadline = time.monotonic() + timeout
        for run in training:
            run.ended.wait(max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            w.commands.put(("quit",))
        for w in self._workers:
            w.process.join(max(0.5, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.terminate()
        # the queues go now, and their semaphores with them (unlinked as they are collected): uvicorn ends
        # the process by the signal it caught, which runs no atexit, and the resource tracker would warn
        # of "leaked semaphore objects"
        with self._lock:
            workers, self._workers = self._workers, []    # nothing is sent now; the reader ends at its next poll
        for w in workers:
            w.commands.close()        # its feeder thread, which holds two of its semaphores, ends
            w.commands.join_thread()
        self._reader.join(4 * POLL_S)
        del self._events

    # ---- placing runs ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Start waiting runs while slots are free (under the lock), oldest first, skipping runs
        whose owner already trains per_owner runs."""
        for run in list(self._waiting):
            if len(self._training) >= self.slots:
                for r in self._waiting:
                    r.reason = f"waiting for a free trainer ({len(self._training)} of {self.slots} busy)"
                return
            mine = sum(r.owner == run.owner for r, _ in self._training.values()) if run.owner else 0
            if mine >= self.per_owner:
                run.reason = f"waiting: {mine} of your runs train already (at most {self.per_owner} at a time)"
                continue
            worker = min(self._workers, key=lambda w: sum(p is w for _, p in self._training.values()))
            self._waiting.remove(run)
            self._training[run.id] = (run, worker)
            run.reason = "starting"
            worker.commands.put(("start", run.id, Start(run.task, run.mcfg, run.tcfg, run.resume, run.bugs,
                                                        run.held, run.pace, run.auto_stop, run.lr)))

    def _tell(self, run: Run, *msg) -> None:
        with self._lock:
            placed = self._training.get(run.id)
            # a waiting run takes its controls along when it starts; after close() no queue is open
            if placed is not None and placed[1] in self._workers:
                placed[1].commands.put((msg[0], run.id, *msg[1:]))

    # ---- what the workers report (one reader thread) -----------------------------------------------
    def _read(self) -> None:
        checked = time.monotonic()
        while self._workers:      # until close() has ended them
            try:
                kind, run_id, progress, *rest = self._events.get(timeout=POLL_S)
            except queue.Empty:
                kind = None
            except (EOFError, OSError):   # the queue closed: the server is going
                return
            if kind is not None:
                with self._lock:
                    placed = self._training.get(run_id)
                if placed is not None:
                    try:
                        self._receive(placed[0], kind, progress, *rest)
                    except Exception:  # noqa: BLE001 - a bug here must not stop the reader for every run
                        log.exception("handling %s of run %s failed", kind, run_id)
            if time.monotonic() - checked > POLL_S:
                checked = time.monotonic()
                self._check_workers()

    def _receive(self, run: Run, kind: str, progress: dict, *rest) -> None:
        if kind == "records":
            for rec, weights in rest[0]:
                if weights is not None:   # before the record: a view of the newest record finds them
                    run.weights.keep(rec.epoch, {k: torch.from_numpy(v) for k, v in weights.items()})
                run.history.add(rec)
        run.step, run.done = progress["step"], progress["done"]
        run.steps_per_second, run.records_per_second = progress["steps_per_second"], progress["records_per_second"]
        run.history.unit = run.unit
        if kind == "ended":
            self._end(run, progress["status"], progress["reason"], rest[0])
        elif progress["status"] in ("running", "paused"):
            run.state, run.reason = progress["status"], ""

    def _end(self, run: Run, state: str, reason: str, resume: Resume | None) -> None:
        if resume is not None:
            run.resume = resume
            run.weights.keep(run.last_epoch, resume.weights)
        run.state, run.reason = state, reason
        with self._lock:
            self._training.pop(run.id, None)
            if not self._closed:
                self._dispatch()
        if self.on_end is not None:
            try:
                self.on_end(run)
            except Exception:  # noqa: BLE001 - saving failed: the run still ends, the log says why
                log.exception("on_end of run %s failed", run.id)
        run.ended.set()

    def _check_workers(self) -> None:
        with self._lock:
            if self._closed:
                return
            dead = [w for w in self._workers if not w.process.is_alive()]
            for w in dead:
                self._workers[self._workers.index(w)] = self._spawn()
            lost = [(run, w) for run, w in self._training.values() if w in dead]
        for run, w in lost:
            self._end(run, "error", f"the training process ended unexpectedly (exit code {w.process.exitcode})",
                      None)
