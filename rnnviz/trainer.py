"""The training loop. It knows nothing about plots or UI: it tells callbacks what happened.

A run has "record points": the end of every epoch (epoch mode) or every `record_every` optimizer
steps (step mode, `TrainConfig.steps > 0`). At each one the trainer measures validation loss and
accuracy, the readable prediction of the task's probe input and, when a callback asks for it, a full
probe (hidden states, gates, ||dL/dh_t||), and hands an EpochRecord to the callbacks.

The loop can be paused, resumed and stopped from another thread between steps, and the learning rate
changed while it runs. A NaN/inf loss or gradient stops the run with a reason, and the weights of the
last good record point are restored.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Iterable

import numpy as np
import torch

from .config import ModelConfig, TrainConfig
from .engine import _fits
from .engines import Resume, make_engine
from .recorder import Deferred, EpochRecord
from .tally import Tally
from .tasks.base import Task
from .truncation import cut_batches

RECORDS_PER_RUN = 200   # step mode: a run of N steps records every N // 200 steps (at least every step)


def steps_per_record(steps: int) -> int:
    """Optimizer steps between two record points of a run of `steps` steps (TrainConfig.steps; 0 =
    epoch mode, where a record point is the end of each epoch: returns 0)."""
    return max(1, steps // RECORDS_PER_RUN) if steps > 0 else 0


def record_words(steps: int) -> tuple[str, str]:
    """A run's record points in words for TrainConfig.steps = `steps`: (their plural name, what one is or
    ""): ("epochs", "") in epoch mode, ("records", "one every 25 optimizer steps") in step mode."""
    n = steps_per_record(steps)
    if not n:
        return "epochs", ""
    return "records", "one every optimizer step" if n == 1 else f"one every {n} optimizer steps"

class Callback:
    def on_start(self, trainer: "Trainer") -> None: ...
    def wants_probe(self, trainer: "Trainer", index: int) -> bool: return False
    def on_step(self, trainer: "Trainer", result) -> None: ...
    def on_record(self, trainer: "Trainer", rec: EpochRecord) -> None: ...
    def on_status(self, trainer: "Trainer") -> None: ...   # paused or running again (trainer.status)
    def on_end(self, trainer: "Trainer") -> None: ...


class Trainer:
    def __init__(self, task: Task, mcfg: ModelConfig | None = None, tcfg: TrainConfig | None = None,
                 callbacks: Iterable[Callback] = (), engine=None, record_every: int = 0, val_every: int = 0,
                 resume: Resume | None = None, bugs: tuple[str, ...] = ()):
        """resume: go on where a run stood (its weights and optimizer, unless `engine` is given, its
        counters and data stream); the run then ends at tcfg's epochs (or steps) in all."""
        sm, st = task.suggested_for(task.options)
        self.task, self.mcfg, self.tcfg = task, mcfg or sm, tcfg or st
        self.mcfg.validate()
        self.tcfg.validate()
        if self.tcfg.tbptt and not task.sequential:
            raise ValueError(f"tbptt cuts the windows of a sequential task (sine, text); {task.name} trains on "
                             "independent sequences: use tbptt = 0")
        if engine is None:
            engine = resume.engine(task, self.mcfg, self.tcfg, bugs) if resume else \
                make_engine(task, self.mcfg, self.tcfg, bugs=bugs)
        self.engine = engine
        self.callbacks = list(callbacks)
        self.unit = "step" if self.tcfg.steps > 0 else "epoch"
        self.total = self.tcfg.steps if self.unit == "step" else self.tcfg.epochs
        self.record_every = record_every or steps_per_record(self.tcfg.steps) or 1
        r = resume or Resume({})
        self.step = r.step       # optimizer steps taken
        self.epoch = r.epoch     # epochs started
        self.done = r.done       # progress in `unit`s
        self._step0, self._seconds0, self._data_rng = r.step, r.seconds, r.data_rng
        self._rng: np.random.Generator | None = None
        self.status = "idle"     # idle | running | paused | finished | stopped | diverged | error
        self.reason = ""
        self.started = 0.0
        self._paused_s = 0.0     # of the time since `started`, what the run spent paused
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._pending_lr: float | None = None
        self._probe_batch = task.probe()
        self._describe = task.describer(self._probe_batch)
        self._val = task.val_batches()  # fixed data: build once, not at every record point
        self.val_every = val_every or self._val_interval()
        self._records = 0
        self._first_record_s = 0.0   # _trained_s at the first record point

    def _val_interval(self, budget: float = 0.05) -> int:
        """Validate every k-th record point so that validation costs about `budget` of the training
        time: a forward pass over the validation tokens costs ~1/3 of a training step over as many
        tokens. Deterministic (from sizes, not timings); the first and last record always validate."""
        if not self._val:
            return 1
        val_tokens = sum(b.size * b.steps for b in self._val)
        batches = list(self.task.train_batches(1, np.random.default_rng(0)))
        per_step = sum(b.size * b.steps for b in batches) / max(len(batches), 1)
        per_record = self.record_every if self.unit == "step" else len(batches)
        ratio = val_tokens / (3 * per_step * per_record)
        return max(1, math.ceil(ratio / budget))

    # ---- control from another thread ---------------------------------------------------------
    def stop(self, reason: str = "stopped by user") -> None:
        if not self._stop.is_set():
            self.reason = reason
        self._stop.set()
        self._go.set()

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def set_lr(self, lr: float) -> None:
        if not (0 < lr <= 10):
            raise ValueError(f"learning rate must be in (0, 10], got {lr}")
        self._pending_lr = lr

    @property
    def pausing(self) -> bool:
        """A pause is asked for (or on): the loop waits before its next step."""
        return not self._go.is_set()

    @property
    def _trained_s(self) -> float:
        """Seconds since `started`, less the time paused (0 before it starts)."""
        return time.perf_counter() - self.started - self._paused_s if self.started else 0.0

    @property
    def steps_per_second(self) -> float:
        dt = self._trained_s
        return (self.step - self._step0) / dt if dt > 0 else 0.0

    @property
    def records_per_second(self) -> float:
        """Record points a second from the first on, which the speed limit spaces (0 before the second)."""
        dt = self._trained_s - self._first_record_s
        return (self._records - 1) / dt if self._records > 1 and dt > 0 else 0.0

    @property
    def seconds(self) -> float:
        """Training time in all, a resumed run's earlier time included, the time it was paused not."""
        return self._seconds0 + self._trained_s

    def resume_state(self) -> Resume:
        """Where the run stands now (call it when the loop has ended): enough to go on exactly.
        A stop within an epoch counts the epoch as not done: the next one starts a new pass."""
        opt = self.engine.optimizer_state() if hasattr(self.engine, "optimizer_state") else None
        epoch = self.done if self.unit == "epoch" else self.epoch
        rng = self._rng.bit_generator.state if self._rng is not None else self._data_rng
        return Resume(self.engine.state_dict(), opt, self.step, epoch, self.done, self.seconds, rng)

    # ---- the loop ------------------------------------------------------------------------------
    def _wait_if_paused(self) -> bool:
        """Block while paused; True when the run should stop."""
        if not self._go.is_set():
            self._set_status("paused")
            t0 = time.perf_counter()
            while not self._go.wait(0.05):
                pass
            self._paused_s += time.perf_counter() - t0
            if not self._stop.is_set():
                self._set_status("running")
        return self._stop.is_set()

    def _set_status(self, status: str) -> None:
        self.status = status
        for cb in self.callbacks:
            cb.on_status(self)

    def _same_as_probe(self, batch) -> bool:
        p = self._probe_batch
        if batch.x is p.x and batch.y is p.y:  # tasks that hand out the very same tensors
            return True
        return batch.x.shape == p.x.shape and torch.equal(batch.x, p.x) and torch.equal(batch.y, p.y)

    def run(self) -> str:
        """Train until done, stopped or diverged; returns the final status."""
        tcfg, task = self.tcfg, self.task
        rng = self._rng = np.random.default_rng(tcfg.seed)
        if self._data_rng is not None:
            rng.bit_generator.state = self._data_rng
        torch.manual_seed(tcfg.seed)  # dropout masks (the weights come from the run's own generator)
        self.status, self.started = "running", time.perf_counter()
        self.engine.mark_good()
        self._spectral = any(getattr(cb, "spectral", False) for cb in self.callbacks)
        for cb in self.callbacks:
            cb.on_start(self)
        carry = tcfg.carry_state and task.sequential
        acc = Tally()
        try:
            while self.done < self.total and not self._stop.is_set():
                self.epoch += 1
                state = None
                batches = list(task.train_batches(self.epoch, rng))
                # tbptt: pieces of tbptt steps, each one optimizer step; a piece continues the one before
                batches, continues = cut_batches(batches, tcfg.tbptt)
                for bi, batch in enumerate(batches):
                    if self._wait_if_paused():
                        break
                    if self._pending_lr is not None:
                        self.engine.set_lr(self._pending_lr)
                        self._pending_lr = None
                    at_record = (bi == len(batches) - 1) if self.unit == "epoch" else \
                        ((self.step + 1) % self.record_every == 0 or self.step + 1 == self.total)
                    index = self.epoch if self.unit == "epoch" else self.step + 1
                    want_probe = at_record and any(cb.wants_probe(self, index) for cb in self.callbacks)
                    # when this batch is the probe input, the step itself is recorded (explicit loop,
                    # h_t keep their gradients): loss, prediction and probe describe the same weights,
                    # as the course prints them, and the probe costs almost nothing extra
                    is_probe = at_record and self._same_as_probe(batch)
                    if not _fits(state, batch):
                        state = None
                    record = want_probe and is_probe
                    rho = self.engine.spectral_radius() if record and self._spectral else {}  # the probe's weights
                    res = self.engine.train_step(batch, state if carry or continues[bi] else None, record=record)
                    if res.probe is not None:
                        res.probe.spectral_radius = rho
                    self.step += 1
                    if not res.finite:
                        self.engine.restore_good()
                        self.status = "diverged"
                        self.reason = (f"the {'loss' if not math.isfinite(res.loss) else 'gradient'} became "
                                       f"{res.loss if not math.isfinite(res.loss) else res.grad_norm} at step "
                                       f"{self.step}; training stopped and the weights of the last good record "
                                       f"were restored (try a lower learning rate or gradient clipping)")
                        return self.status
                    state = res.state
                    acc.add(task, res, batch, at_record)
                    for cb in self.callbacks:
                        cb.on_step(self, res)
                    if self.unit == "step":
                        self.done = self.step
                    if at_record:
                        rec = self._record(index, acc, res if is_probe else None, want_probe)
                        acc = Tally()
                        if not self.engine.mark_good():   # finite loss, but the update left NaN/inf weights
                            self.engine.restore_good()
                            self.status = "diverged"
                            self.reason = (f"the weights became NaN or infinite at step {self.step}; training "
                                           f"stopped and the weights of the last good record were restored")
                            return self.status
                        for cb in self.callbacks:
                            cb.on_record(self, rec)
                        if self.unit == "epoch":   # its last batch: the epoch is done, stopped or not
                            self.done = self.epoch
                    if self.done >= self.total or self._stop.is_set():
                        break
                if not batches:
                    self.done = self.epoch
            self.status = "stopped" if self._stop.is_set() else "finished"
            if self.status == "finished":
                self.reason = f"finished {self.total:,} {self.unit}s"
        except Exception as e:  # a run in a worker must end with a reason, not vanish
            self.status, self.reason = "error", f"{type(e).__name__}: {e}"
            raise
        finally:
            for cb in self.callbacks:
                cb.on_end(self)
        return self.status

    # ---- measurements at a record point ------------------------------------------------------
    def _record(self, index: int, acc: Tally, res, want_probe: bool) -> EpochRecord:
        """res: this step's result when its batch was the probe input: its outputs are the prediction
        and its recording (if asked for) the probe."""
        task, engine, pb = self.task, self.engine, self._probe_batch
        rec = EpochRecord(epoch=index, step=self.step, lr=engine.lr, **acc.means())
        self._records += 1
        if self._records == 1:
            self._first_record_s = self._trained_s
        final = (self.epoch if self.unit == "epoch" else self.step) >= self.total
        val = self._val if (self._records == 1 or final or self._records % self.val_every == 0) else None
        if val:
            loss, right, counted = engine.evaluate(val, carry=self.tcfg.carry_state and task.sequential)
            rec.val_loss = loss
            rec.val_acc = right / counted if counted else None
        if res is not None:
            rec.probe = res.probe
            out = res.probe.out if res.probe is not None else res.out[0]
        elif want_probe:
            rec.probe = engine.probe(pb, spectral=self._spectral)
            out = rec.probe.out
        else:
            out = engine.predict(pb.x)[0][0]
        out = out if isinstance(out, np.ndarray) else out.detach().cpu().numpy()   # [T, O] of the probe input
        rec.prediction = Deferred(self._describe, out)  # the readable dict is built when someone reads it
        rec.seconds = self.seconds
        return rec


