"""Train in other processes: a Pool of worker processes runs Trainers and streams their records back.

A server that trains in threads shares one GIL between every training loop and everything else it
does (building figures, answering browsers): a torch op releases the GIL and must win it back, so a
busy server makes training several times slower, and a busy trainer makes the pages stutter. Here each
run trains in a worker process (spawned, so it is safe to start from a threaded parent); the parent
holds a RemoteRun with the Trainer's fields mirrored (status, step, done, ...), and callbacks that run
in the parent when a record arrives (a Recorder filling a History, say).

Parent -> worker: ("run", id, Spec), ("stop", id, reason), ("pause", id), ("resume", id),
("lr", id, lr), ("live", id, pace, auto_stop), ("quit", ""). Worker -> parent, in batches (lists):
("ready", ""), ("status", id, progress), ("record", id, progress, record, weights or None),
("end", id, progress, engine). Messages are pickles that our own processes made (never anything a
user uploaded).
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Iterable

import torch

from .callbacks import ConvergenceStop, Recorder
from .trainer import Callback, Trainer, make_engine

AUTO_STOP = dict(patience=20, min_rel=0.02)   # converged: less than 2% better than the best in 20 records
WEIGHT_EVERY_S = 0.05  # at full speed, weights travel with a record at most 20 times a second (a copy
WEIGHT_RATE = 50e6     # and two pickles cost ~0.1 ms: at every record a run was 7-13% slower); with every
                       # record of a paced run; less often when that would send more than WEIGHT_RATE
                       # bytes/s; always with the last record and with one at which a pause is asked for
BATCH_S = 0.05       # seconds the sender lets messages gather before it sends them (see _sender)
SPARE_AFTER_S = 15.0  # seconds after a worker process is ready before the next one starts (see Pool)


@dataclass
class Spec:
    """Everything a worker needs to train one run (pickled into the worker)."""
    task: Any
    mcfg: Any
    tcfg: Any
    engine: Any = None          # None: the trainer builds one from the configs
    probe_every: int = 1
    spectral: bool = False
    pace: float = 0.0           # at most this many record points per second (0: full speed)
    auto_stop: bool = False
    paused: bool = False        # paused while it waited for a worker: it starts paused
    lr: float | None = None     # a learning rate asked for while it waited (the engine has tcfg's)


def _progress(t: Trainer) -> dict:
    return {"status": t.status, "reason": t.reason, "step": t.step, "epoch": t.epoch, "done": t.done,
            "steps_per_second": t.steps_per_second}


# ---- the worker process ---------------------------------------------------------------------------
class _Reporter(Recorder):
    """Worker side of one run: asks for probes as a Recorder would, but sends each record, pause and
    resume to the parent instead of keeping them; applies the speed limit and the auto-stop."""

    def __init__(self, run_id: str, spec: Spec, send):
        super().__init__(None, spec.probe_every, spec.spectral)
        self.id, self.send = run_id, send
        self.pace, self.auto_stop = spec.pace, spec.auto_stop
        self.converged = ConvergenceStop(**AUTO_STOP)
        self.stopping, self.last, self.weights_sent = False, 0.0, -1e9
        self.weight_bytes: int | None = None

    def on_start(self, trainer: Trainer) -> None:   # "running": the parent stops showing it as waiting
        self.send(("status", self.id, _progress(trainer)))

    def on_status(self, trainer: Trainer) -> None:
        self.send(("status", self.id, _progress(trainer)))

    def on_record(self, trainer: Trainer, rec) -> None:
        self._count += 1
        if self.auto_stop:
            self.converged.on_record(trainer, rec)
        now = time.perf_counter()
        # the last record, and one at which a stop or a pause is asked for, always bring the weights
        always = trainer.done + 1 >= trainer.total or self.stopping or trainer.pausing
        weights = None
        if self.weight_bytes is None:
            self.weight_bytes = sum(v.numel() * v.element_size() for v in trainer.engine.state_dict().values())
        # a paced run (at most 60 records a second) has time to spare, and a pause asked for while it
        # waits below must find this record's weights sent
        every = self.weight_bytes / WEIGHT_RATE
        if self.pace == 0:
            every = max(every, WEIGHT_EVERY_S)
        if always or now - self.weights_sent >= every:
            # copies (the parent keeps them for generating at this record), as numpy arrays: a torch
            # tensor pickles through torch.save, slow on both sides
            weights = {k: v.numpy() for k, v in trainer.engine.state_dict().items()}
            self.weights_sent = now
        self.send(("record", self.id, _progress(trainer), rec, weights))
        if self.pace > 0:  # at most `pace` record points per second: slow enough to watch
            # (a stop or a pause ends the wait: at 2 records a second a Pause took half a second to show)
            until = self.last + 1.0 / self.pace
            while time.perf_counter() < until and not self.stopping and not trainer.pausing:
                time.sleep(0.005)
        self.last = time.perf_counter()


def _train(run_id: str, trainers: dict, reporters: dict, send) -> None:
    trainer = trainers[run_id]
    try:
        trainer.run()
    except Exception:  # the trainer set status "error" and its reason; the parent hears it below
        pass
    send(("end", run_id, _progress(trainer), trainer.engine))
    trainers.pop(run_id, None)
    reporters.pop(run_id, None)


def _sender(conn, outbox: queue.SimpleQueue) -> None:
    """Send what the runs put in the outbox, everything waiting at once as one message: training never
    waits for a busy parent to read, and the parent reads (and takes its GIL) once per batch. After the
    first message of a batch it waits BATCH_S for more: woken for every record (hundreds a second) this
    thread took the GIL from the training thread at every record, and a worker trained 10-25% slower
    than the same Trainer in one thread; batched, it trains as fast."""
    while True:
        batch = [outbox.get()]
        time.sleep(BATCH_S)
        while True:
            try:
                batch.append(outbox.get_nowait())
            except queue.Empty:
                break
        try:
            conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:   # the parent is gone; the main loop notices and ends
            return


def _serve(conn, process: bool = True) -> None:
    """The worker's main loop: start runs in threads, apply control messages, until the parent goes.
    process=False: a worker thread inside the parent, which has set up torch already."""
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    send = outbox.put
    trainers: dict[str, Trainer] = {}
    reporters: dict[str, _Reporter] = {}
    threading.Thread(target=_sender, args=(conn, outbox), name="rnnviz-worker-sender", daemon=True).start()
    if process:
        torch.set_num_threads(1)   # small models run faster single-threaded; processes share the cores
        warm_up()
    send(("ready", ""))
    while True:
        try:
            msg = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):   # the parent is gone: stop everything and leave
            break
        kind, run_id, *args = msg
        if kind == "quit":
            break
        if kind == "run":
            spec: Spec = args[0]
            rep = reporters[run_id] = _Reporter(run_id, spec, send)
            try:
                trainers[run_id] = Trainer(spec.task, spec.mcfg, spec.tcfg, [rep], engine=spec.engine)
                if spec.paused:   # it waits before its first step (and says "paused")
                    trainers[run_id].pause()
                if spec.lr is not None:
                    trainers[run_id].set_lr(spec.lr)
            except Exception as e:   # noqa: BLE001 - a bad spec ends the run with a reason, not the worker
                reporters.pop(run_id, None)
                send(("end", run_id, {"status": "error", "reason": f"{type(e).__name__}: {e}"}, spec.engine))
                continue
            threading.Thread(target=_train, args=(run_id, trainers, reporters, send), daemon=True).start()
            continue
        trainer, rep = trainers.get(run_id), reporters.get(run_id)
        if trainer is None:
            continue
        if kind == "stop":
            rep.stopping = True
            trainer.stop(args[0])
        elif kind == "pause":
            trainer.pause()
        elif kind == "resume":
            trainer.resume()
        elif kind == "lr":
            trainer.set_lr(args[0])
        elif kind == "live":
            rep.pace, rep.auto_stop = args
    for trainer in list(trainers.values()):
        trainer.stop("the server is shutting down")
    time.sleep(0.2)


def warm_up() -> list:
    """Train two epochs of hihell once, so the first real run does not pay for torch's lazy parts (a
    worker does it before it is ready; the app's server too, for its stand-in thread). Returns the
    records (the server also warms the figures with them)."""
    from .tasks import make_task
    task, rec = make_task("hihell"), Recorder()
    mcfg, tcfg = task.suggested()
    Trainer(task, mcfg, dataclasses.replace(tcfg, epochs=2), [rec]).run()
    return rec.history.records


def _main(fd: int) -> None:
    try:
        _serve(Connection(fd))
    finally:
        os._exit(0)   # do not wait for training threads that may sit inside torch


if __name__ == "__main__":   # python -m rnnviz.worker FD: run as the module itself, not a __main__ copy
    from rnnviz.worker import _main as main
    main(int(sys.argv[1]))


# ---- the parent's side ----------------------------------------------------------------------------
class RemoteRun:
    """A run as the parent sees it: the Trainer's fields, mirrored from the worker's messages, and its
    controls. `callbacks` get on_start(run) at start, on_record(run, rec) for each record and
    on_end(run), all in the parent; `weights` holds the weights sent with the latest record, or None
    when that record came without them (see WEIGHT_EVERY_S)."""

    def __init__(self, task, mcfg, tcfg, engine=None, callbacks: Iterable[Callback] = (),
                 probe_every: int = 1, spectral: bool = False):
        mcfg.validate()
        tcfg.validate()
        self.id = os.urandom(6).hex()
        self.task, self.mcfg, self.tcfg = task, mcfg, tcfg
        self.engine = engine if engine is not None else make_engine(task, mcfg, tcfg)   # until the worker's returns
        self.callbacks = list(callbacks)
        self.probe_every, self.spectral = probe_every, spectral
        self.unit = "step" if tcfg.steps > 0 else "epoch"
        self.total = tcfg.steps if self.unit == "step" else tcfg.epochs
        self.status, self.reason = "idle", ""
        self.step = self.epoch = self.done = 0
        self.steps_per_second = 0.0
        self.weights = None
        self.pace, self.auto_stop = 0.0, False
        self.held = False        # paused by the user (and not resumed), whether or not the worker has it yet
        self.ended = threading.Event()
        self._worker: _Worker | None = None
        self._sent = False       # the worker has the run: controls go to it; before, they go with its Spec
        self._lr: float | None = None
        self._lock = threading.Lock()

    # controls (any thread). Before the run reaches a worker (waiting for a trainer), pause, learning
    # rate and speed limit are kept and travel with its Spec: a run paused while it waited starts paused.
    # A stop then is dropped: lab.jobs.Job cancels a waiting run itself
    def stop(self, reason: str = "stopped by user") -> None:
        with self._lock:
            self._tell("stop", reason)

    def pause(self) -> None:
        with self._lock:
            self.held = True
            self._tell("pause")

    def resume(self) -> None:
        with self._lock:
            self.held = False
            self._tell("resume")

    def set_lr(self, lr: float) -> None:
        if not (0 < lr <= 10):
            raise ValueError(f"learning rate must be in (0, 10], got {lr}")
        with self._lock:
            self._lr = lr
            self._tell("lr", lr)

    def set_live(self, pace: float, auto_stop: bool) -> None:
        """Speed limit (record points per second, 0 = none) and auto-stop on convergence, while it runs."""
        if (pace, auto_stop) == (self.pace, self.auto_stop):   # (every redraw of the page asks)
            return
        with self._lock:
            if (pace, auto_stop) != (self.pace, self.auto_stop):
                self.pace, self.auto_stop = pace, auto_stop
                self._tell("live", pace, auto_stop)

    def wait(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)

    def _tell(self, kind: str, *args) -> None:
        if self._sent and not self.ended.is_set():
            self._worker.send((kind, self.id, *args))

    def _start(self) -> None:
        """Send the run to its worker with the controls given so far; controls given from now on go to
        the worker (one lock: none falls between the two)."""
        with self._lock:
            self._worker.send(("run", self.id, Spec(self.task, self.mcfg, self.tcfg, self.engine, self.probe_every,
                                                    self.spectral, self.pace, self.auto_stop, self.held, self._lr)))
            self._sent = True

    # messages from the worker (its reader thread)
    def _update(self, progress: dict) -> None:
        for k, v in progress.items():
            setattr(self, k, v)

    def _receive(self, kind: str, progress: dict, *args) -> None:
        if kind == "record":
            rec, weights = args
            self.weights = None if weights is None else {k: torch.from_numpy(v) for k, v in weights.items()}
            self._update(progress)
            for cb in self.callbacks:
                cb.on_record(self, rec)
        elif kind == "status":
            self._update(progress)
        elif kind == "end":
            self.engine = args[0] if args[0] is not None else self.engine   # the worker's, as it ended
            self._update(progress)
            for cb in self.callbacks:
                cb.on_end(self)
            self.ended.set()

    def _lost(self, why: str) -> None:
        self._receive("end", {"status": "error", "reason": why}, self.engine)


class _Worker:
    """One worker process (or, local=True, a worker thread in this process), a socket to it and the
    thread that reads what it sends. `ready` once it has started up and warmed up."""

    def __init__(self, local: bool = False, on_ready=None):
        self.on_ready = on_ready
        ours, theirs = socket.socketpair()
        if local:
            self.process = None
            threading.Thread(target=_serve, args=(Connection(theirs.detach()), False), name="rnnviz-local-worker",
                             daemon=True).start()
        else:
            root = str(Path(__file__).resolve().parent.parent)    # where `rnnviz` is importable from
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
            self.process = subprocess.Popen([sys.executable, "-m", "rnnviz.worker", str(theirs.fileno())],
                                            pass_fds=(theirs.fileno(),), env=env, cwd=root)
            theirs.close()
        self.conn = Connection(ours.detach())
        self.runs: dict[str, RemoteRun] = {}
        self.lock = threading.Lock()
        self.alive, self.ready = True, False
        threading.Thread(target=self._read, name="rnnviz-worker-reader", daemon=True).start()

    def send(self, msg) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.conn.send_bytes(data)

    def _read(self) -> None:
        while True:
            try:
                batch = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                break
            for kind, run_id, *args in batch:
                if kind == "ready":
                    self.ready = True
                    if self.on_ready is not None:
                        self.on_ready()
                elif (run := self.runs.get(run_id)) is not None:
                    run._receive(kind, *args)
                    if kind == "end":
                        self.runs.pop(run_id, None)
        self.alive = False
        try:
            code = self.process.wait(1) if self.process is not None else "none: a thread"
        except subprocess.TimeoutExpired:
            code = "unknown"
        for run in list(self.runs.values()):
            run._lost(f"the training process ended unexpectedly (exit code {code})")
        self.runs.clear()


class Pool:
    """`workers` processes (default: the CPU cores); a run goes to the ready one with the fewest runs.
    A process takes seconds to start (importing torch); a run submitted before any is ready trains in
    a worker thread of this process instead (one run at a time), so the first run need not wait.
    The processes start one at a time: the next one `spare_after` seconds after the last is ready, or at
    once when a run comes and every ready process already has one."""

    def __init__(self, workers: int | None = None, spare_after: float = SPARE_AFTER_S):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.spare_after = spare_after
        self._workers: list[_Worker] = []
        self._local: _Worker | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def start(self) -> "Pool":
        """Start a process now, unless there are `size` or one is still starting: each takes seconds of
        CPU to import torch, and starting them all at once would slow the page and the first run."""
        with self._lock:
            self._workers = [w for w in self._workers if w.alive]
            if len(self._workers) < self.size and all(w.ready for w in self._workers):
                self._workers.append(_Worker(on_ready=self._on_ready))
        return self

    def _on_ready(self) -> None:
        # not at once: a Train click just after the page loaded should not share the cores with the next
        # process importing torch (that made the first chart come seconds late)
        with self._lock:
            self._timer = threading.Timer(self.spare_after, self.start)
            self._timer.daemon = True
            self._timer.start()

    def submit(self, run: RemoteRun) -> RemoteRun:
        with self._lock:
            ready = [w for w in self._workers if w.alive and w.ready]
            spare = not ready or all(w.runs for w in ready)
        if spare:
            self.start()
        with self._lock:
            ready = [w for w in self._workers if w.alive and w.ready]
            local = self._local if self._local is not None and self._local.alive else None
            if ready:
                worker = min(ready, key=lambda w: len(w.runs))
            elif local is None or not local.runs:   # one run at a time: in here it shares our GIL
                worker = self._local = local or _Worker(local=True)
            else:                                   # it starts once that process is ready
                worker = min(self._workers, key=lambda w: len(w.runs))
            worker.runs[run.id] = run
        run._worker = worker
        for cb in run.callbacks:
            cb.on_start(run)
        try:
            run._start()
        except (OSError, ValueError) as e:
            worker.runs.pop(run.id, None)
            run._lost(f"could not reach the training process: {e}")
        return run

    def close(self) -> None:
        with self._lock:   # (a later submit starts the processes again)
            if self._timer is not None:
                self._timer.cancel()
            workers, self._workers = self._workers, []
            local, self._local = self._local, None
        for w in workers + ([local] if local else []):
            try:
                w.send(("quit", ""))
            except OSError:
                pass
        for w in workers:
            try:
                w.process.wait(2)
            except subprocess.TimeoutExpired:
                w.process.kill()
