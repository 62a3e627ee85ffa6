"""Which engine a run trains on: fresh from its seed, or resumed where an earlier run stood.

A Resume is everything, besides the settings, that a run needs to go on as if it had never stopped:
the weights, the optimizer's state (Adam's moments, the step count its bias correction uses), the
trainer's counters and the state of the generator that draws its training data. Trained on from
a Resume taken at the end of an epoch, a run gives the very records an uninterrupted run gives
(tests/test_resume.py); from the middle of a pass (a stop within an epoch, a step-mode run), the data
starts a new pass. Dropout masks come from torch's global generator and are not resumed.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .config import ModelConfig, TrainConfig, shown
from .engine import TorchEngine, build_model
from .numpy_engine.adapter import NumpyEngine
from .tasks.base import Task


def make_engine(task: Task, mcfg: ModelConfig, tcfg: TrainConfig, state_dict=None, bugs: tuple[str, ...] = ()):
    """The engine tcfg names, at fresh weights (tcfg.seed) or at `state_dict`; `bugs`: slips injected
    into the NumPy engine's backward (the torch engine has none)."""
    if tcfg.engine == "numpy":
        return NumpyEngine(task, mcfg, tcfg, state_dict=state_dict, bugs=bugs)
    model = build_model(task, mcfg, tcfg)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return TorchEngine(task, mcfg, tcfg, model=model)


@dataclass
class Resume:
    """Where a run stands. weights: torch.nn's names -> tensors; optimizer: (tensors in torch.optim's
    per-parameter layout, JSON metadata) or None; data_rng: numpy's bit generator state (JSON)."""
    weights: dict[str, torch.Tensor]
    optimizer: tuple[dict[str, torch.Tensor], dict] | None = None
    step: int = 0             # optimizer steps taken
    epoch: int = 0            # epochs completed (epoch mode) or started (step mode)
    done: int = 0             # progress in the run's unit (epochs or steps)
    seconds: float = 0.0      # training time so far
    data_rng: dict | None = None

    def engine(self, task: Task, mcfg: ModelConfig, tcfg: TrainConfig, bugs: tuple[str, ...] = ()):
        """An engine at these weights, with the optimizer's state when tcfg names the same optimizer
        (another one starts fresh: its state would mean nothing to it)."""
        eng = make_engine(task, mcfg, tcfg, state_dict=self.weights, bugs=bugs)
        if self.optimizer is not None:
            eng.load_optimizer_state(*self.optimizer)
        return eng

    def counters(self) -> dict:
        """The JSON part (what a checkpoint's config.json keeps beside the tensors)."""
        return {"step": self.step, "epoch": self.epoch, "done": self.done, "seconds": self.seconds,
                "data_rng": self.data_rng}

    @staticmethod
    def check_counters(c) -> None:
        """ValueError unless c is what counters() writes: whole numbers >= 0, seconds a finite number
        >= 0, data_rng null or the state of numpy's default bit generator (a checkpoint file can hold
        anything; the trainer would meet a bad one only when the run continues)."""
        if not isinstance(c, dict):
            raise ValueError(f"progress must be a JSON object, got {shown(c)}")
        for name in ("step", "epoch", "done"):
            v = c.get(name, 0)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"progress {name} must be a whole number >= 0, got {shown(v)}")
        v = c.get("seconds", 0.0)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v >= 0):
            raise ValueError(f"progress seconds must be a finite number >= 0, got {shown(v)}")
        if c.get("data_rng") is not None:
            try:
                np.random.default_rng().bit_generator.state = c["data_rng"]
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"progress data_rng is not a state of numpy's generator: {str(e)[:80]}") from None

    @classmethod
    def from_parts(cls, weights, optimizer, counters: dict | None) -> "Resume":
        c = counters or {}
        cls.check_counters(c)
        return cls(weights, optimizer, int(c.get("step", 0)), int(c.get("epoch", 0)), int(c.get("done", 0)),
                   float(c.get("seconds", 0.0)), c.get("data_rng"))
