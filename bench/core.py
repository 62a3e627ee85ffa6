"""Parts 1 and 2: the course's plain loops vs rnnviz's Trainer with full recording, and the NumPy engine
vs torch. Every comparison is a set of interleaved pairs in this process (bench.util.paired).

Part 1 cases (same task data, settings and initial weights on both sides):
  hihell   rnn H=5,  lr 0.1,  100 epochs        Recorder(probe_every=1)
  seoul    rnn H=16, lr 0.01, 500 epochs        Recorder(probe_every=1)
  sine     rnn H=32, lr 0.01, 50 windows/epoch, hidden carried      Recorder(probe_every=1)
  anbn     lstm H=50, lr 0.01, batch 32 padded (the task's batches)  Recorder(probe_every=1)
  text     Shakespeare (first 100k chars, 5% held out), lstm 128x1 (batch 32 x 64 chars) and 512x2
           (batch 32 x 50 chars): WARMUP steps, then 25 timed steps (15 with --quick) ending at step 30
           (20); a record point (validation) every 10 steps on both sides, a full probe at each one
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, replace
from typing import Callable

from rnnviz.callbacks import Recorder
from rnnviz.engine import build_model
from rnnviz.tasks import make_task
from rnnviz.trainer import Callback, Trainer

from . import plain
from .util import check, clock, elapsed, paired, pairs

RECORD_EVERY = 10      # char models: one record point (validation + probe) every 10 steps, as the deck's print_every
WARMUP = 5             # char models: untimed steps; not a record point, and WARMUP + timed steps is a multiple
                       # of RECORD_EVERY, so both sides validate equally often inside the timed window
TEXT = {"corpus": "shakespeare", "max_chars": 100_000, "val_frac": 0.05}


@dataclass
class Case:
    name: str
    task: str
    options: dict
    model: dict                     # ModelConfig overrides of task.suggested()
    train: dict                     # TrainConfig overrides
    unit: str                       # "epoch" | "step"
    target: float
    label: str = ""
    max_repeats: int = 99           # the heavy cases get fewer pairs (the whole suite must fit ~15 min)


def cases(quick: bool) -> list[Case]:
    steps = 15 if quick else 25
    return [
        Case("hihell", "hihell", {}, {"cell": "rnn", "hidden_size": 5}, {"lr": 0.1, "epochs": 100}, "epoch", 1.15,
             "rnn H5, 100 epochs"),
        Case("seoul", "seoul", {}, {"cell": "rnn", "hidden_size": 16}, {"lr": 0.01, "epochs": 300 if quick else 500},
             "epoch", 1.15, "rnn H16"),
        Case("sine", "sine", {"n_windows": 50}, {"cell": "rnn", "hidden_size": 32},
             {"lr": 0.01, "epochs": 4 if quick else 8, "carry_state": True}, "epoch", 1.15, "rnn H32, 50 windows/epoch"),
        Case("anbn", "anbn", {"batch_size": 32}, {"cell": "lstm", "hidden_size": 50},
             {"lr": 0.01, "epochs": 8 if quick else 15}, "epoch", 1.15, "lstm H50, batch 32"),
        Case("text-128x1", "text", {**TEXT, "batch_size": 32, "seq_len": 64},
             {"cell": "lstm", "hidden_size": 128, "num_layers": 1}, {"lr": 0.003, "clip": 5.0, "steps": steps},
             "step", 1.15, "lstm 128x1, 32x64 chars/step"),
        Case("text-512x2", "text", {**TEXT, "batch_size": 32, "seq_len": 50},
             {"cell": "lstm", "hidden_size": 512, "num_layers": 2}, {"lr": 0.003, "clip": 5.0, "steps": steps},
             "step", 1.05, "lstm 512x2, 32x50 chars/step", max_repeats=2 if quick else 3),
    ]


def configs(case: Case, task, scale: float = 1.0):
    m, t = task.suggested()
    mcfg = replace(m, **case.model)
    train = dict(case.train)
    if case.unit == "epoch":
        train["epochs"] = max(1, int(round(train["epochs"] * scale)))
    return mcfg, replace(t, **train)


def skip(case: Case) -> int:
    """Untimed steps at the start: the char models' warm-up."""
    return WARMUP if case.unit == "step" else 0


def units(case: Case, tcfg) -> int:
    return tcfg.epochs if case.unit == "epoch" else tcfg.steps


def plain_loop(case: Case, task, init, scale: float = 1.0):
    """The course's loop for this case, as a generator (bench.plain)."""
    mcfg, tcfg = configs(case, task, scale)
    sink = io.StringIO()
    if case.task in ("hihell", "seoul"):
        return plain.sentence(task, tcfg.epochs, tcfg.lr, mcfg.cell, mcfg.hidden_size, init, sink)
    if case.task == "sine":
        return plain.sine(task, tcfg.epochs, tcfg.lr, mcfg.hidden_size, init, sink)
    if case.task == "anbn":
        return plain.anbn(task, tcfg.epochs, tcfg.lr, mcfg.hidden_size, tcfg.seed, init, sink)
    return plain.char_rnn(task, mcfg.hidden_size, mcfg.num_layers, tcfg.lr, tcfg.clip, skip(case) + tcfg.steps,
                          RECORD_EVERY, init, sink)


def trainer(case: Case, task, scale: float = 1.0, extra=(), probe_every: int = 1) -> tuple[Trainer, Recorder]:
    """rnnviz's Trainer for this case with full recording: Recorder(probe_every=1); the char models
    record (validation + probe) every RECORD_EVERY steps."""
    mcfg, tcfg = configs(case, task, scale)
    rec = Recorder(probe_every=probe_every)
    if case.unit == "epoch":
        return Trainer(task, mcfg, tcfg, [rec, *extra]), rec
    return Trainer(task, mcfg, replace(tcfg, steps=skip(case) + tcfg.steps), [rec, *extra],
                   record_every=RECORD_EVERY), rec


class _Lockstep(Callback):
    """Runs the plain loop in lockstep with the Trainer: after each Trainer step, one plain step (with
    lead=True the plain loop runs one step ahead instead). Each side's time is the sum of its own
    segments, so load that comes and goes hits both sides alike, step by step. Steps up to `skip`
    are not timed."""

    def __init__(self, gen, skip: int, lead: bool):
        self.gen, self.skip, self.lead = gen, skip, lead
        self.viz, self.plain = [0.0, 0.0], [0.0, 0.0]
        self.mark, self.result, self.plain_steps, self.mismatch = None, None, 0, False

    def _plain_step(self, timed: bool) -> None:
        t = clock()
        try:
            next(self.gen)
            self.plain_steps += 1
        except StopIteration as stop:
            if self.result is None:
                self.result = stop.value or {}
        if timed:
            self._add(self.plain, t)

    @staticmethod
    def _add(acc, t0) -> None:
        d = elapsed(t0)
        acc[0] += d["seconds"]
        acc[1] += d["cpu"]

    def on_start(self, trainer):
        next(self.gen)                       # the plain loop builds its model: not timed
        if self.lead:
            self._plain_step(self.skip == 0)
        self.mark = clock()

    def on_step(self, trainer, result):
        timed = trainer.step > self.skip
        if timed:
            self._add(self.viz, self.mark)
        self._plain_step(trainer.step + self.lead > self.skip)
        self.mark = clock()

    def on_end(self, trainer):
        self._add(self.viz, self.mark)
        while self.result is None:          # the plain loop's end (and any step it has left)
            before = self.plain_steps
            self._plain_step(True)
            self.mismatch |= self.plain_steps > before
        self.mismatch |= self.plain_steps != trainer.step


def lockstep(case: Case, task, init, lead: bool, probe_every: int = 1) -> dict:
    """One pair: plain ("a") and rnnviz ("b") trained side by side, step by step."""
    mcfg, tcfg = configs(case, task)
    ls = _Lockstep(plain_loop(case, task, init), skip(case), lead)
    tr, rec = trainer(case, task, extra=[ls], probe_every=probe_every)
    status = tr.run()
    n = units(case, tcfg)
    last = rec.history.last
    return {"a": {"seconds": ls.plain[0], "cpu": ls.plain[1], "units": n, "loss": ls.result.get("loss")},
            "b": {"seconds": ls.viz[0], "cpu": ls.viz[1], "units": n, "loss": last.loss, "status": status,
                  "records": len(rec.history.records), "probes": sum(r.probe is not None for r in rec.history.records)},
            "first": "a" if lead else "b", "steps_mismatch": ls.mismatch}


def run_rnnviz(case: Case, task, scale: float = 1.0) -> dict:
    """rnnviz alone (the memory part): {"seconds", "cpu"} of the timed steps, units, loss."""
    tr, rec = trainer(case, task, scale)
    t0 = [None]

    class Start(Callback):
        def on_start(self, trainer):
            if skip(case) == 0:
                t0[0] = clock()

        def on_step(self, trainer, result):
            if trainer.step == skip(case) and skip(case):
                t0[0] = clock()
    tr.callbacks.append(Start())
    status = tr.run()
    return {**elapsed(t0[0]), "units": units(case, tr.tcfg) - skip(case), "loss": rec.history.last.loss,
            "status": status, "records": len(rec.history.records),
            "probes": sum(r.probe is not None for r in rec.history.records)}


def run_plain(case: Case, task, init, scale: float = 1.0) -> dict:
    r = plain.drain(plain_loop(case, task, init, scale), skip(case))
    mcfg, tcfg = configs(case, task, scale)
    return {**r, "units": units(case, tcfg)}


def part1(quick: bool, repeats: int, only: set | None, log: Callable[[str], None], targets: list) -> dict:
    out = {}
    for case in cases(quick):
        if only and case.name not in only and case.task not in only:
            continue
        log(f"  {case.name} ({case.label}) ...")
        task = make_task(case.task, **case.options)
        mcfg, tcfg = configs(case, task)
        init = build_model(task, mcfg, tcfg).state_dict()
        if case.unit == "epoch":   # warm-up: allocator, dispatcher, first-call paths, on both sides
            run_plain(case, task, init, 0.1)
            run_rnnviz(case, task, 0.1)
        n = min(repeats, case.max_repeats)
        res = pairs(lambda r: lockstep(case, task, init, lead=r % 2 == 1), n, log)
        res.update(case=dataclasses.asdict(case), model=dataclasses.asdict(mcfg), train=dataclasses.asdict(tcfg),
                   method="lockstep: one plain step after each Trainer step (every other pair one step ahead), "
                          "CPU and wall time summed per side")
        if case.unit == "step":
            chars = task.options.batch_size * task.options.seq_len
            res["chars_per_step"] = chars
            res["plain_chars_per_s"] = chars / res["a_median"]          # on CPU time
            res["rnnviz_chars_per_s"] = chars / res["b_median"]
            res["wall"]["plain_chars_per_s"] = chars / res["wall"]["a_median"]
            res["wall"]["rnnviz_chars_per_s"] = chars / res["wall"]["b_median"]
        res["final_loss"] = {"plain": res["runs"][-1]["a"]["loss"], "rnnviz": res["runs"][-1]["b"]["loss"]}
        if any(r["steps_mismatch"] for r in res["runs"]):
            res["warning"] = "the plain loop and the Trainer took different numbers of steps"
            log(f"    WARNING: {res['warning']}")
        check(targets, f"rnnviz/plain {case.name}", res["ratio_median"], case.target)
        out[case.name] = res
    return out


# ---- part 2: NumPy engine vs torch --------------------------------------------------------------
def part2(quick: bool, repeats: int, log: Callable[[str], None], targets: list) -> dict:
    """Trainer(engine="torch") vs Trainer(engine="numpy") (rnnviz.numpy_engine.adapter) on anbn, batch 1."""
    epochs = 1 if quick else 2
    task = make_task("anbn", batch_size=1)
    m, t = task.suggested()
    mcfg = replace(m, cell="lstm", hidden_size=50)
    tcfg = replace(t, epochs=epochs)
    mode = "Trainer(engine=torch) vs Trainer(engine=numpy), both Recorder(probe_every=1)"

    def trainer(engine):
        def go():
            tr = Trainer(task, mcfg, replace(tcfg, engine=engine), [Recorder(probe_every=1)])
            t0 = clock()
            tr.run()
            return {**elapsed(t0), "units": epochs * len(task.train)}
        return go
    run_torch, run_numpy = trainer("torch"), trainer("numpy")
    log(f"  numpy vs torch on anbn, batch 1: {mode}")
    run_torch()
    run_numpy()
    res = paired(run_torch, run_numpy, repeats, log, names=("torch", "numpy"))
    res.update(mode=mode, epochs=epochs, sequences_per_epoch=len(task.train))
    check(targets, "numpy/torch anbn batch 1", res["ratio_median"], 0.8)
    return res
