"""The NumPy engine behind the trainer's engine interface (the same as rnnviz.engine.TorchEngine).

It starts from the very weights the torch engine would (built by rnnviz.engine.build_model from the
same seed), keeps them as float32/float64 arrays under torch.nn's names, and returns torch tensors
only where the task code reads outputs (describe, accuracy). Its forward keeps every h_t, c_t and gate
for backprop anyway, so the probe of a training step costs nothing extra.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from ..engine import SPECTRAL_MAX_H, StepResult, build_model, spectral_radius_of
from ..probes import Probe
from ..tasks.base import Batch, Task
from ..truncation import cuts, truncated_probe
from . import network
from .optim import clip_grad_norm, grad_norm, make_optimizer
from .probing import cache_probe, probe_arrays

DTYPES = {"float32": np.float32, "float64": np.float64}


def _np(t) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


class NumpyEngine:
    name = "numpy"

    def __init__(self, task: Task, mcfg: ModelConfig, tcfg: TrainConfig, state_dict=None, bugs=()):
        self.task, self.mcfg, self.tcfg, self.bugs = task, mcfg, tcfg, tuple(bugs)
        self.cfg = network.NetConfig.from_model_config(mcfg, task.input_size, task.output_size, task.kind)
        sd = state_dict if state_dict is not None else build_model(task, mcfg, tcfg).state_dict()
        self.params = network.params_from_state_dict(sd, dtype=DTYPES[tcfg.dtype])
        network.check_params(self.params, self.cfg)
        self.optimizer = make_optimizer(tcfg.optimizer, tcfg.lr, tcfg.momentum, tcfg.weight_decay)

    # ---- plumbing between torch batches and arrays --------------------------------------------
    def _run(self, batch: Batch, state, reduce="mean"):
        h0, c0 = (state if isinstance(state, tuple) else (state, None)) if state is not None else (None, None)
        return network.forward_backward(self.params, self.cfg, _np(batch.x), _np(batch.y), _np(batch.mask),
                                        h0, c0, reduce=reduce, bugs=self.bugs)

    def _final_state(self, cache):
        h = cache.hidden[:, -1].copy()  # [L, B, H]
        return (h, cache.cell[:, -1].copy()) if cache.cell is not None else h

    # ---- the engine interface ------------------------------------------------------------------
    def set_lr(self, lr: float) -> None:
        self.optimizer.lr = lr

    @property
    def lr(self) -> float:
        return float(self.optimizer.lr)

    def train_step(self, batch: Batch, state=None, record: bool = False) -> StepResult:
        loss, grads, cache, out = self._run(batch, state)
        clip = self.tcfg.clip
        norm, clipped = clip_grad_norm(grads, clip) if clip > 0 else (grad_norm(grads), False)
        finite = math.isfinite(loss) and math.isfinite(norm)
        if finite:
            self.optimizer.step(self.params, grads)
        probe = cache_probe(cache, out, loss) if record else None
        return StepResult(loss, norm, clipped, finite, self._final_state(cache), torch.from_numpy(out), probe)

    def evaluate(self, batches: list[Batch], carry: bool = False) -> tuple[float, int, int]:
        total, weight, right, counted = 0.0, 0.0, 0, 0
        state = None
        for b in batches:
            fits = state is not None and (state[0] if isinstance(state, tuple) else state).shape[1] == b.size
            out, cache = network.forward(self.params, self.cfg, _np(b.x), *self._split(state if carry and fits else None))
            state = self._final_state(cache)
            loss, _ = network.loss_and_grad(self.cfg, out, _np(b.y), _np(b.mask))
            w = float((b.y != -100).sum()) if self.task.kind == "classify" else (
                float(b.mask.sum()) if b.mask is not None else float(b.x.shape[0] * b.x.shape[1]))
            total, weight = total + loss * w, weight + w
            r, c = self.task.accuracy(torch.from_numpy(out), b)
            right, counted = right + r, counted + c
        return total / max(weight, 1e-12), right, counted

    @staticmethod
    def _split(state):
        if state is None:
            return None, None
        return state if isinstance(state, tuple) else (state, None)

    def predict(self, x, state=None):
        out, cache = network.forward(self.params, self.cfg, _np(x), *self._split(state))
        return torch.from_numpy(out), self._final_state(cache)

    def spectral_radius(self) -> dict[str, list[float]]:
        """The recurrent blocks' spectral radii at the current weights ({} above SPECTRAL_MAX_H units)."""
        return spectral_radius_of(self.params, self.mcfg) if self.cfg.hidden_size <= SPECTRAL_MAX_H else {}

    def probe(self, batch: Batch, last: bool = True, spectral: bool = True) -> Probe:
        """As TorchEngine.probe: with tcfg.tbptt, the gradients training computes (rnnviz.truncation)."""
        k = self.tcfg.tbptt
        p = truncated_probe(self, batch, k, last) if cuts(batch, k) else self.probe_piece(batch, None, last)
        if spectral:
            p.spectral_radius = self.spectral_radius()
        return p

    def probe_piece(self, batch: Batch, state, last: bool) -> Probe:
        """The probe of `batch` from `state` (as predict returns it; None: zeros)."""
        return probe_arrays(self.params, self.cfg, batch, last, self.bugs, state=self._split(state) if state is not None
                            else None)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v.copy()) for k, v in self.params.items()}

    # ---- optimizer state, in torch.optim's per-parameter layout (as the torch engine saves it) ------
    def optimizer_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"{name}:{slot}": torch.tensor(float(v)) if slot == "step" else torch.from_numpy(v.copy())
                   for name, st in self.optimizer.state.items() for slot, v in st.items()}
        return tensors, {"optimizer": self.tcfg.optimizer, "param_groups": [{"lr": self.lr}]}

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> bool:
        """Restore a saved state of the same kind of optimizer (False: another kind, which starts fresh);
        ValueError for a state that does not fit these parameters."""
        if not meta or meta.get("optimizer") != self.tcfg.optimizer:
            return False
        state: dict[str, dict] = {}
        for key, v in tensors.items():
            name, _, slot = key.rpartition(":")
            if name not in self.params:
                raise ValueError(f"optimizer state names an unknown parameter {name!r}")
            if slot == "step":
                state.setdefault(name, {})[slot] = int(v)
                continue
            arr = np.asarray(v, dtype=self.params[name].dtype)
            if arr.shape != self.params[name].shape:
                raise ValueError(f"optimizer state {key} has shape {arr.shape}, not {self.params[name].shape}")
            state.setdefault(name, {})[slot] = arr.copy()
        self.optimizer.state = state
        self.optimizer.steps = max((st.get("step", 0) for st in state.values()), default=0)
        return True

    def load_state_dict(self, sd) -> None:
        self.params = network.params_from_state_dict(sd, dtype=DTYPES[self.tcfg.dtype])

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        self.params = {k: v.copy() for k, v in snap.items()}

    def mark_good(self) -> bool:
        """Remember the current weights as the last good ones; weights that are not all finite are never
        good (the kept ones stay; returns False)."""
        if not all(np.isfinite(v).all() for v in self.params.values()):
            return False
        self._good = self.snapshot()
        return True

    def restore_good(self) -> None:
        self.restore(self._good)
