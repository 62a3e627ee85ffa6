"""The worker process of rnnviz.runner: trains the runs it is given, each in a thread, and reports.

`serve(commands, events)` is the process's main loop: it starts runs, applies the controls that come
on `commands`, and ends when told to, or when its parent has gone. A Reporter (a trainer callback)
sends each run's records, its pauses and its end on `events`, applies the speed limit and the
auto-stop. Records are sent together, at most every BATCH_S seconds at full speed: one message per
record made the queue's feeder thread take the training thread's GIL hundreds of times a second.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch

from .callbacks import ConvergenceStop, Recorder
from .engines import Resume
from .tasks import make_task
from .trainer import Trainer

AUTO_STOP = dict(patience=20, min_rel=0.02)   # converged: less than 2% better than the best in 20 records
BATCH_S = 0.05          # at full speed, records wait at most this long to travel together
WEIGHT_EVERY_S = 0.05   # ...and bring the weights at most this often (always with the last record and
WEIGHT_RATE = 50e6      # with every record of a paced run), and never more than WEIGHT_RATE bytes/s


@dataclass
class Start:
    """What a worker needs to train one run."""
    task: Any
    mcfg: Any
    tcfg: Any
    resume: Resume | None = None
    bugs: tuple[str, ...] = ()
    paused: bool = False            # paused while it waited: it starts paused
    pace: float = 0.0
    auto_stop: bool = False
    lr: float | None = None         # a learning rate asked for while it waited


def progress(t: Trainer) -> dict:
    return {"status": t.status, "reason": t.reason, "step": t.step, "done": t.done,
            "steps_per_second": t.steps_per_second, "records_per_second": t.records_per_second}


class Reporter(Recorder):
    """Asks for a probe at every record point, as the app's views need, and sends each record (with
    the weights when due), pause and resume to the parent instead of keeping them."""

    def __init__(self, run_id: str, start: Start, send):
        super().__init__(None, probe_every=1, spectral=True)
        self.id, self.send = run_id, send
        self.pace, self.auto_stop = start.pace, start.auto_stop
        self.converged = ConvergenceStop(**AUTO_STOP)
        self.stopping = False
        self.pending: list = []
        self.flushed = self.last = 0.0
        self.weights_sent = -1e9
        self.weight_bytes: int | None = None

    def flush(self, trainer: Trainer) -> None:
        if self.pending:
            self.send(("records", self.id, progress(trainer), self.pending))
            self.pending = []
        self.flushed = time.perf_counter()

    def on_start(self, trainer: Trainer) -> None:
        self.send(("status", self.id, progress(trainer)))

    def on_status(self, trainer: Trainer) -> None:   # paused, or running again
        self.flush(trainer)
        self.send(("status", self.id, progress(trainer)))

    def on_record(self, trainer: Trainer, rec) -> None:
        self._count += 1
        if self.auto_stop:
            self.converged.on_record(trainer, rec)
        now = time.perf_counter()
        if self.weight_bytes is None:
            self.weight_bytes = sum(v.numel() * v.element_size() for v in trainer.engine.state_dict().values())
        # the last record, and one at which a stop or pause is asked for, always bring the weights; a
        # paced run's every record (generation at each of its epochs), as far as WEIGHT_RATE allows
        always = trainer.done + 1 >= trainer.total or self.stopping or trainer.pausing
        every = max(self.weight_bytes / WEIGHT_RATE, WEIGHT_EVERY_S if self.pace == 0 else 0.0)
        weights = None
        if always or now - self.weights_sent >= every:
            # numpy arrays: a torch tensor pickles through torch.save, slow on both sides
            weights = {k: v.numpy() for k, v in trainer.engine.state_dict().items()}
            self.weights_sent = now
        self.pending.append((rec, weights))
        if always or self.pace > 0 or now - self.flushed >= BATCH_S:
            self.flush(trainer)
        if self.pace > 0:   # at most `pace` record points per second; a stop or a pause ends the wait
            until = self.last + 1.0 / self.pace
            while time.perf_counter() < until and not self.stopping and not trainer.pausing:
                time.sleep(0.005)
        self.last = time.perf_counter()


def _train(run_id: str, trainer: Trainer, reporter: Reporter, send, runs: dict) -> None:
    try:
        trainer.run()
        resume = trainer.resume_state()
    except Exception:  # noqa: BLE001 - the trainer set status "error" and its reason
        resume = None
    # forget the run before the parent hears of its end: a Continue may bring the same id back at once,
    # and its controls must reach the new trainer, not be dropped with this one
    if runs.get(run_id, (None,))[0] is trainer:
        del runs[run_id]
    reporter.flush(trainer)
    send(("ended", run_id, progress(trainer), resume))


def serve(commands, events) -> None:
    """The worker's main loop (the target of its process)."""
    torch.set_num_threads(1)   # small models run faster single-threaded; the processes share the cores
    warm_up()
    parent = os.getppid()
    runs: dict[str, tuple[Trainer, Reporter]] = {}
    while True:
        try:
            kind, *args = commands.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:   # the server died without telling us
                break
            continue
        if kind == "quit":
            break
        run_id, *args = args
        if kind == "start":
            _start(run_id, args[0], events.put, runs)
            continue
        trainer, reporter = runs.get(run_id, (None, None))
        if trainer is None:
            continue
        if kind == "live":
            reporter.pace, reporter.auto_stop = args
            continue
        reporter.stopping |= kind == "stop"
        getattr(trainer, kind)(*args)     # stop, pause, resume, set_lr: the trainer's controls, by name
    for trainer, _ in list(runs.values()):
        trainer.stop("the server is shutting down")


def _start(run_id: str, start: Start, send, runs: dict) -> None:
    reporter = Reporter(run_id, start, send)
    try:
        trainer = Trainer(start.task, start.mcfg, start.tcfg, [reporter], resume=start.resume, bugs=start.bugs)
        if start.paused:
            trainer.pause()
        if start.lr is not None:
            trainer.set_lr(start.lr)
    except Exception as e:  # noqa: BLE001 - a bad start ends the run with a reason, not the worker
        send(("ended", run_id, {"status": "error", "reason": f"{type(e).__name__}: {e}", "step": 0, "done": 0,
                                "steps_per_second": 0.0, "records_per_second": 0.0}, None))
        return
    runs[run_id] = (trainer, reporter)
    threading.Thread(target=_train, args=(run_id, trainer, reporter, send, runs), daemon=True).start()


def warm_up() -> list:
    """Train two epochs of hihell once, so the first real run does not pay for torch's lazy parts.
    Returns the records (the server also warms the figures with them)."""
    task, rec = make_task("hihell"), Recorder()
    mcfg, tcfg = task.suggested()
    Trainer(task, mcfg, dataclasses.replace(tcfg, epochs=2), [rec]).run()
    return rec.history.records
