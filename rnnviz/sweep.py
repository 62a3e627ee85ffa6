"""Sweeps: a grid of runs over any settings, each trained to a budget and measured the same way.

A sweep is a list of RunSpecs (`plan`): one per point of the grid (the product of the settings' values,
in the order given). A setting is any ModelConfig or TrainConfig field or option of the task, by name;
`seed` is the training seed (TrainConfig.seed) and `data_seed` the task's data seed (its options' seed).
`run_one(spec)` trains one run and measures it at the end, at its final weights:
  val_acc     fraction of the validation positions predicted right (classify tasks; None otherwise)
  val_loss    mean validation loss
  grad_ratio  ||dL/dh_0|| / ||dL/dh_T|| on the task's probe input (Probe.grad_h of the last layer,
              L = mean loss over the counted steps): how much of the gradient reaches the first step
Where runs execute: rnnviz.sweep_exec; the output folder and the loop that fills it: rnnviz.sweep_out.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .callbacks import Recorder
from .config import ModelConfig, TrainConfig, clipped, shown
from .sweep_presets import PRESETS
from .tasks import TASKS, make_task
from .trainer import Callback, Trainer, make_engine

METRICS = ("val_acc", "val_loss", "grad_ratio")
DATA_SEED = "data_seed"          # the grid's name for the task's data seed (its Options.seed)
REPEATS = ("seed", DATA_SEED)    # settings that repeat a run rather than change it (figures average them)
STATUS_WORDS = {"finished": "finished", "cancelled": "stopped", "diverged": "diverged", "error": "failed",
                "not run": "not run"}   # what happened to a run, in words ("cancelled": the sweep's Stop)


class SweepError(ValueError):
    """A sweep that cannot be planned or run; the message is one line for the user."""


def status_counts(rows: list[dict]) -> str:
    """How many of the runs ended each way, in words, in STATUS_WORDS' order: "2 finished, 1 stopped"."""
    counts = Counter(STATUS_WORDS.get(r.get("status"), str(r.get("status"))) for r in rows)
    return ", ".join(f"{counts[w]} {w}" for w in dict.fromkeys([*STATUS_WORDS.values(), *counts]) if counts[w])


@dataclass(frozen=True)
class Limits:
    """Caps on a sweep's size, checked before anything runs (env RNNVIZ_SWEEP_MAX_RUNS, ..._EPOCHS,
    ..._STEPS, ..._SECONDS override them)."""
    max_runs: int = 200
    max_total_epochs: int = 40_000      # sum over the runs of their epochs
    max_total_steps: int = 2_000_000    # the same for step-based runs (TrainConfig.steps > 0)
    max_run_seconds: float = 900.0      # the time budget of one run; every run has one

    @classmethod
    def from_env(cls) -> "Limits":
        def get(name, cast, default):
            raw = os.environ.get(f"RNNVIZ_SWEEP_MAX_{name}", "").strip()
            try:
                value = cast(raw) if raw else default
            except ValueError:
                raise SweepError(f"RNNVIZ_SWEEP_MAX_{name} must be a number, got {raw!r}") from None
            if not value > 0:
                raise SweepError(f"RNNVIZ_SWEEP_MAX_{name} must be positive, got {raw!r}")
            return value
        d = cls()
        return cls(get("RUNS", int, d.max_runs), get("EPOCHS", int, d.max_total_epochs),
                   get("STEPS", int, d.max_total_steps), get("SECONDS", float, d.max_run_seconds))


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything a process (ours, or a Ray worker) needs to train and measure it."""
    index: int                    # position in the grid (the table's order)
    name: str                     # unique, filesystem-safe: "003-cell-rnn_lag-20_seed-0"
    values: dict[str, Any]        # the grid point: {"cell": "rnn", "lag": 20, "seed": 0, ...}
    task: str
    options: dict[str, Any]       # the task's options
    mcfg: ModelConfig
    tcfg: TrainConfig
    seconds: float                # time budget: the run ends when it has trained this long
    metric: str = "val_acc"       # the metric the progress line and the figures show first


# ---- settings and their values ------------------------------------------------------------------
def settings(task: str) -> dict[str, tuple[str, str, str]]:
    """Every name a grid may use for `task`: name -> (where: model | train | task, field, type name)."""
    if task not in TASKS:
        raise SweepError(f"unknown task {shown(task)}; choose one of {', '.join(TASKS)}")
    out = {f.name: ("model", f.name, str(f.type)) for f in dataclasses.fields(ModelConfig)}
    out.update({f.name: ("train", f.name, str(f.type)) for f in dataclasses.fields(TrainConfig)})
    for f in dataclasses.fields(TASKS[task].Options):
        name = DATA_SEED if f.name == "seed" else f.name
        out.setdefault(name, ("task", f.name, str(f.type)))
    return out


def _a(typ: str) -> str:
    return f"an {typ}" if typ == "int" else f"a {typ}"


def coerce(name: str, value: Any, typ: str) -> Any:
    """`value` (a string from the CLI, or a Python value) as the setting's type; SweepError if it is not."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if typ == "bool":
                low = text.lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return low in ("true", "1", "yes")
            if typ == "int":
                return int(text)
            if typ == "float":
                v = float(text)
                if not math.isfinite(v):
                    raise ValueError
                return v
        except ValueError:
            raise SweepError(f"{name}={clipped(value)}: not {_a(typ)}") from None
        return text
    ok = {"bool": isinstance(value, bool), "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value), "str": isinstance(value, str)}.get(typ, True)
    if not ok:
        raise SweepError(f"{name}={shown(value)}: not {_a(typ)}")
    return float(value) if typ == "float" else value


def parse_grid(task: str, items: list[str]) -> dict[str, list]:
    """CLI grid items "name=v1,v2,..." as {name: [typed values]}; one-line SweepError on a bad one."""
    known = settings(task)
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not values.strip():
            raise SweepError(f"grid item {shown(item)} is not name=value[,value...]")
        if name in grid:
            raise SweepError(f"grid setting {name} is given twice")
        grid[name] = values.split(",")
    return check_grid(task, grid, known)


def check_grid(task: str, grid: dict[str, Any], known: dict | None = None) -> dict[str, list]:
    """The grid with every name known for the task and every value of the setting's type."""
    known = known or settings(task)
    out = {}
    for name, values in grid.items():
        if name not in known:
            hint = " (the task's data seed is data_seed)" if name == "seed" else ""
            raise SweepError(f"task {task} has no setting {shown(name)}{hint}; settings: {', '.join(sorted(known))}")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        typed = [coerce(name, v, known[name][2]) for v in values]
        if not typed:
            raise SweepError(f"grid setting {name} has no values")
        if len(set(map(repr, typed))) < len(typed):
            raise SweepError(f"grid setting {name} lists a value twice: {shown(values)}")
        out[name] = typed
    return out


def run_name(index: int, point: dict[str, Any], varied: list[str]) -> str:
    """The index, then name-value pairs of the settings that vary (the others are the same in every run)."""
    parts = [f"{k}-{point[k]}" for k in varied]
    tail = re.sub(r"[^A-Za-z0-9.=_-]+", "_", "_".join(parts))[:80]
    return f"{index:03d}" + (f"-{tail}" if tail else "")


def plan(task: str, grid: dict[str, Any], epochs: int | None = None, seconds: float | None = None,
         metric: str = "val_acc", limits: Limits | None = None) -> list[RunSpec]:
    """Every run of the grid, validated (names, types, each config's and task's own checks) and within
    the limits, before anything runs. epochs: per run (None: the task's suggestion or the grid's);
    seconds: time budget per run (None: the limit's max_run_seconds)."""
    limits = limits or Limits.from_env()
    known = settings(task)
    grid = check_grid(task, grid, known)
    if metric not in METRICS:
        raise SweepError(f"metric must be one of {', '.join(METRICS)}, got {shown(metric)}")
    count = math.prod(len(v) for v in grid.values())
    if count > limits.max_runs:
        raise SweepError(f"the grid has {count} runs; a sweep may have at most {limits.max_runs} "
                         f"(RNNVIZ_SWEEP_MAX_RUNS)")
    if seconds is not None and not 0 < seconds <= limits.max_run_seconds:
        raise SweepError(f"seconds per run must be in (0, {limits.max_run_seconds:g}] (RNNVIZ_SWEEP_MAX_SECONDS), "
                         f"got {seconds:g}")
    if epochs is not None and not 1 <= epochs:
        raise SweepError(f"epochs must be at least 1, got {epochs}")
    base_m, base_t = TASKS[task].suggested()
    if epochs is not None:
        base_t = dataclasses.replace(base_t, epochs=epochs, steps=0)
    varied = [k for k, v in grid.items() if len(v) > 1]
    specs, tasks_seen = [], set()
    for index, combo in enumerate(itertools.product(*grid.values())):
        point = dict(zip(grid, combo))
        parts = {"model": {}, "train": {}, "task": {}}
        for name, value in point.items():
            where, fname, _ = known[name]
            parts[where][fname] = value
        where = ", ".join(f"{k}={v}" for k, v in point.items())[:160] or "the task's defaults"
        try:
            mcfg = dataclasses.replace(base_m, **parts["model"])
            tcfg = dataclasses.replace(base_t, **parts["train"])
            mcfg.validate()
            tcfg.validate()
            key = repr(sorted(parts["task"].items()))
            if key not in tasks_seen:   # each distinct set of options is built (validated) once
                make_task(task, **parts["task"])
                tasks_seen.add(key)
        except (ValueError, TypeError) as e:
            raise SweepError(f"{where}: {e}") from None
        specs.append(RunSpec(index, run_name(index, point, varied), point, task, parts["task"], mcfg, tcfg,
                             float(seconds or limits.max_run_seconds), metric))
    epochs_total = sum(s.tcfg.epochs for s in specs if s.tcfg.steps == 0)
    steps_total = sum(s.tcfg.steps for s in specs)
    if epochs_total > limits.max_total_epochs:
        raise SweepError(f"the sweep would train {epochs_total:,} epochs in all; the limit is "
                         f"{limits.max_total_epochs:,} (RNNVIZ_SWEEP_MAX_EPOCHS): fewer runs or epochs")
    if steps_total > limits.max_total_steps:
        raise SweepError(f"the sweep would train {steps_total:,} steps in all; the limit is "
                         f"{limits.max_total_steps:,} (RNNVIZ_SWEEP_MAX_STEPS): fewer runs or steps")
    return specs


def from_preset(name: str, grid: dict[str, Any] | None = None, epochs: int | None = None,
                seconds: float | None = None, metric: str | None = None, limits: Limits | None = None) -> list[RunSpec]:
    """A preset's runs; `grid` entries replace the preset's (e.g. {"seed": [0]} for a quick look)."""
    if name not in PRESETS:
        raise SweepError(f"unknown preset {shown(name)}; presets: {', '.join(PRESETS)}")
    p = PRESETS[name]
    return plan(p["task"], {**p["grid"], **(grid or {})}, epochs or p["epochs"], seconds,
                metric or p["metric"], limits)


# ---- one run --------------------------------------------------------------------------------------
STOP: threading.Event | None = None   # set in a worker process by its executor: stop the run at once


class _Budget(Callback):
    """Ends the run when its time budget is spent, or at once when the executor's STOP is set."""

    def __init__(self, seconds: float):
        self.seconds, self.out_of_time, self.cancelled = seconds, False, False

    def on_step(self, trainer: Trainer, result) -> None:
        if STOP is not None and STOP.is_set():
            self.cancelled = True
            trainer.stop("the sweep was stopped")
        elif time.perf_counter() - trainer.started > self.seconds:
            self.out_of_time = True
            trainer.stop(f"time budget of {self.seconds:g} s reached after {trainer.epoch} epochs")


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def measure(engine, task, mcfg: ModelConfig, tcfg: TrainConfig) -> dict[str, float | None]:
    """The sweep's metrics at the engine's current weights. The probe runs on a float64 copy of the
    weights: in float32 an RNN's ||dL/dh_0|| at long lags underflows to 0 (ratios below ~1e-38)."""
    loss, right, counted = engine.evaluate(task.val_batches())
    exact = make_engine(task, mcfg, dataclasses.replace(tcfg, dtype="float64"), state_dict=engine.state_dict())
    probe = exact.probe(task.probe(), last=False, spectral=False)
    g = np.asarray(probe.grad_h[-1], dtype=np.float64) if probe.grad_h is not None else None   # [T]
    ratio = g[0] / g[-1] if g is not None and g[-1] > 0 else None
    return {"val_acc": float(right / counted) if counted else None, "val_loss": _finite(loss),
            "grad_ratio": _finite(ratio)}


def run_one(spec: RunSpec) -> dict:
    """Train and measure one run. Never raises for a run that fails: the result says so.
    -> {"status": finished | diverged | error | cancelled, "reason", "metrics": {name: float | None},
        "epochs", "steps", "seconds", "history": History.to_json(), "weights": {name: np.ndarray}}"""
    torch.set_num_threads(1)   # small models run faster single-threaded; the runs share the cores
    t0 = time.perf_counter()
    out: dict[str, Any] = {"status": "error", "reason": "", "metrics": dict.fromkeys(METRICS), "epochs": 0,
                           "steps": 0, "seconds": 0.0, "history": None, "weights": None}
    try:
        task = make_task(spec.task, **spec.options)
        # a probe (hidden states, gates) at the first and the last record only: the table needs the last
        rec, budget = Recorder(probe_every=10**9), _Budget(spec.seconds)
        trainer = Trainer(task, spec.mcfg, spec.tcfg, [rec, budget])
        status = trainer.run()
        out.update(status="cancelled" if budget.cancelled else "finished" if status == "stopped" else status,
                   reason=trainer.reason, epochs=trainer.epoch, steps=trainer.step)
        if not budget.cancelled:
            out["metrics"] = measure(trainer.engine, task, spec.mcfg, spec.tcfg)
            out["history"] = rec.history.to_json()
            out["weights"] = {k: v.detach().cpu().numpy() for k, v in trainer.engine.state_dict().items()}
    except Exception as e:  # noqa: BLE001 - a failed run is a row of the table, not the end of the sweep
        out.update(status="error", reason=f"{type(e).__name__}: {e}")
    out["seconds"] = time.perf_counter() - t0
    return out
