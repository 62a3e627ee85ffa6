"""A run: what a student trains, from its settings to its records, wherever it trains.

A Run holds its settings (task, configs, the NumPy engine's injected bugs), its owner and place in the
lab (owner, lesson, group: the runs trained side by side, name), what it has recorded (a History, and
copies of its weights at record points for generating at any epoch) and where it stands (its state,
and a Resume once it is not training, from which Continue and a restart go on). A Runner
(rnnviz.runner) trains it in a worker process and fills these fields from what the worker reports;
pages read them. The controls a student asks for (pause, speed limit, learning rate, stop) are kept
here too, so a run that waits for a trainer starts with them.

States: new | waiting | running | paused | finished | stopped | diverged | error
"""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from dataclasses import dataclass, field

import torch

from .config import ModelConfig, TrainConfig
from .engines import Resume
from .recorder import History
from .tasks import Task

ACTIVE = ("waiting", "running", "paused")
ENDED = ("finished", "stopped", "diverged", "error")
WEIGHT_BYTES = 24 * 2**20   # per run: copies of the weights at record points


class WeightKeeper:
    """Copies of the weights at record points within a byte budget (older ones thinned, first and last
    kept), so generation can be replayed at any recorded epoch (the nearest kept one)."""

    def __init__(self, max_bytes: int = WEIGHT_BYTES):
        self.max_bytes = max_bytes
        self.kept: dict[int, dict[str, torch.Tensor]] = {}
        self.nbytes = 0     # all copies kept (each is the same size)
        self.lock = threading.Lock()

    def keep(self, epoch: int, state: dict[str, torch.Tensor]) -> None:
        size = sum(v.numel() * v.element_size() for v in state.values())
        with self.lock:
            self.kept[epoch] = state
            epochs = sorted(self.kept)
            while len(epochs) > 2 and size * len(epochs) > self.max_bytes:
                for e in epochs[1:-1:2]:
                    del self.kept[e]
                epochs = sorted(self.kept)
            self.nbytes = size * len(epochs)

    def keep_newest(self) -> None:
        """Only the newest copy (for a run off screen: nothing replays its epochs)."""
        with self.lock:
            if self.kept:
                newest = max(self.kept)
                self.nbytes //= len(self.kept)
                self.kept = {newest: self.kept[newest]}

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


@dataclass(eq=False)
class Run:
    task: Task
    mcfg: ModelConfig
    tcfg: TrainConfig
    owner: str = ""
    lesson: str = ""
    group: str = ""                    # the runs trained side by side share it
    name: str = ""                     # its name in the group ("lstm", "h carried", ...)
    bugs: tuple[str, ...] = ()         # slips injected into the NumPy engine's backward
    origin: str = ""                   # "" trained here; else where its weights came from
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    history: History = field(default_factory=History)
    weights: WeightKeeper = field(default_factory=WeightKeeper)
    resume: Resume | None = None       # where it stands while it does not train
    state: str = "new"
    reason: str = ""
    # the worker's progress, mirrored
    step: int = 0
    done: int = 0
    steps_per_second: float = 0.0
    records_per_second: float = 0.0    # record points a second: the unit of `pace`
    # what the student asked for; a run that waits takes it along
    held: bool = False                 # paused (until resumed)
    pace: float = 0.0                  # at most this many record points per second (0: full speed)
    auto_stop: bool = False            # stop once the loss has converged
    lr: float | None = None            # a learning rate asked for while it trains
    saved: float = 0.0                 # when where it stands was written (rnnviz.run_store); 0: not on disk
    checkpoint: tuple = ()             # (epoch, state, name) of its last Save checkpoint
    seen: float = field(default_factory=time.time)
    ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def unit(self) -> str:
        return "step" if self.tcfg.steps > 0 else "epoch"

    @property
    def total(self) -> int:
        """The epoch (or step) it ends at, counting a continued run's earlier ones."""
        return self.tcfg.steps if self.unit == "step" else self.tcfg.epochs

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def phase(self) -> str:
        """What the run bar shows: a pause counts from the click (the worker confirms a step later),
        and a run waiting for a trainer counts as running (or paused: it starts paused)."""
        if self.active:
            return "paused" if self.held else "running"
        return self.state

    @property
    def can_continue(self) -> bool:
        """Ended where it can go on from (or stopped before it started: Continue starts it)."""
        return not self.active and self.state != "error" and (self.resume is not None or self.history.last is None)

    @property
    def last_epoch(self) -> int:
        last = self.history.last
        return last.epoch if last else 0

    @property
    def nbytes(self) -> int:
        """About what it holds in memory: its probes, its copies of the weights (the resume's weights
        are the newest of them) and the optimizer state kept for Continue (Adam: two moments per
        parameter); records without a probe are a few hundred bytes each."""
        resume = self.resume
        tensors = resume.optimizer[0] if resume is not None and resume.optimizer is not None else {}
        optimizer = sum(t.numel() * t.element_size() for t in tensors.values())
        return self.history.probe_bytes + self.weights.nbytes + optimizer

    def lighten(self) -> None:
        """For a run that has ended and left the screen (an earlier run of the lesson): keep what
        Compare draws of it, every record and the newest probe, and the newest weights."""
        self.history.keep_newest_probe()
        self.weights.keep_newest()

    @property
    def stands(self) -> int:
        """The epoch (or step) its weights stand at: where Continue goes on from (0: never trained)."""
        return self.resume.done if self.resume is not None else 0

    def continued(self, tcfg: TrainConfig, until: int) -> None:
        """Ready to train on from where it stands to epoch (or step) `until`, with training settings
        tcfg (the run's own model; optimizer state kept when tcfg names the same optimizer)."""
        if self.resume is None and self.history.last is not None:
            raise ValueError("this run has no weights to go on from")
        if not 1 <= until - self.stands <= 100_000:
            raise ValueError(f"train between 1 and 100,000 more {self.unit}s, not {until - self.stands:,}")
        self.tcfg = dataclasses.replace(tcfg, **{f"{self.unit}s": until})
        self.state, self.reason, self.held, self.lr = "new", "", False, None
        self.saved = 0.0        # its copy on disk stands where it stopped: memory alone will hold what follows
        self.origin = self.origin or "continued"
        self.ended.clear()

    def touch(self) -> "Run":
        self.seen = time.time()
        return self
