"""The torch engine: one optimizer step, evaluation and probing of a RecurrentNet.

The trainer drives an engine through a small interface (train_step, evaluate, probe, set_lr,
mark_good/restore_good, state_dict); the NumPy engine offers the same, so the loop is shared.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .cells import LayerTrace, grads, row0
from .config import ModelConfig, TrainConfig
from .init import initialise
from .limits import check_model_size
from .model import RecurrentNet, State, detach_state
from .numpy_engine.network import NetConfig
from .numpy_engine.probing import probe_arrays
from .optim import OPTIMIZERS
from .probes import Probe
from .spectral import spectral_radius_of
from .tasks.base import Batch, Task, last_counted_step, masked_loss, step_losses
from .truncation import cuts, truncated_probe

DTYPES = {"float32": torch.float32, "float64": torch.float64}
SPECTRAL_MAX_H = 64  # probes record the recurrent spectral radius up to this size (eigvals cost H^3)


@dataclass
class StepResult:
    loss: float
    grad_norm: float          # global norm before clipping
    clipped: bool
    finite: bool              # False: loss or gradient was NaN/inf and no update was made
    state: Any                # recurrent state after the batch (detached), for carry_state
    out: Tensor               # [B, T, O] outputs (detached)
    probe: Probe | None = None


def _fits(state: State, batch: Batch) -> bool:
    if state is None:
        return False
    h = state[0] if isinstance(state, tuple) else state
    return h.shape[1] == batch.size


def build_model(task: Task, mcfg: ModelConfig, tcfg: TrainConfig) -> RecurrentNet:
    """The model a (task, config) pair describes, initialised from tcfg.seed; same seed, same weights.
    Its size is checked (rnnviz.limits) before anything is allocated."""
    check_model_size(task, mcfg, tcfg)
    model = RecurrentNet(mcfg, task.input_size, task.output_size, task.tokens).to(DTYPES[tcfg.dtype])
    initialise(model, tcfg, torch.Generator().manual_seed(tcfg.seed))
    return model


def probe_from_traces(traces: list[LayerTrace], out: Tensor, loss: float, cell_state: bool,
                      grads_h=None, grads_c=None, grads_last=None) -> Probe:
    """Row 0 of recorded traces (one per layer and direction) -> Probe of numpy arrays, in time order.
    grads_*: per trace [T, H] tensors (row 0, the trace's processing order) or None."""
    def stacked(per_trace):  # [L*D] of [T, H] -> [L*D, T, H] in time order
        return torch.stack([tr.in_time(a) for tr, a in zip(traces, per_trace)]).detach()

    def numpy(per_trace):
        return stacked(per_trace).numpy()

    def norms(per_trace):  # [L*D] of [T, H] -> [L*D, T] of ||row 0||
        return None if per_trace is None else torch.linalg.vector_norm(stacked(per_trace), dim=-1).numpy()

    gates = {name: numpy([row0(tr.gates[name]) for tr in traces]) for name in traces[0].gates}
    return Probe(hidden=numpy([tr.seq[0] for tr in traces]),
                 cell=numpy([row0(tr.c) for tr in traces]) if cell_state else None,
                 gates=gates, grad_h=norms(grads_h), grad_c=norms(grads_c), grad_h_last=norms(grads_last),
                 out=out.detach()[0].numpy(), loss=loss, directions=2 if len(traces) > 1 and traces[1].reverse else 1)


class TorchEngine:
    name = "torch"

    def __init__(self, task: Task, mcfg: ModelConfig, tcfg: TrainConfig, model: RecurrentNet | None = None):
        self.task, self.mcfg, self.tcfg = task, mcfg, tcfg
        self.model = model if model is not None else build_model(task, mcfg, tcfg)
        self._names, self.params = map(list, zip(*self.model.named_parameters()))  # the model has no buffers
        self._views()
        self.optimizer = OPTIMIZERS[tcfg.optimizer](self._data, self._grad, tcfg)
        self._good: Tensor | None = None     # flat [n_params_total]: the last good weights
        self._spare: Tensor | None = None
        # the probe's NumPy twin (eval mode, so no dropout); none for what it cannot run (the peephole lstm,
        # two directions, a projection): those are probed with autograd
        self._net = None if (mcfg.peephole or mcfg.bidirectional or mcfg.proj_size) else NetConfig.from_model_config(
            dataclasses.replace(mcfg, dropout=0.0), task.input_size, task.output_size, task.kind)

    def _views(self) -> None:
        """Views of the weights (updated in place, no autograd) and the gradients' flat buffer: each p.grad
        is a view of it (backward adds into the views in place), so zeroing all gradients and their
        global norm are one op each instead of one per parameter. The model's parameters must stay the
        same tensors (load_state_dict copies into them: fine)."""
        self._data = [p.detach() for p in self.params]
        self._grad = torch.zeros(sum(p.numel() for p in self.params), dtype=self.params[0].dtype)
        self._grads = [g.view_as(p) for g, p in zip(self._grad.split([p.numel() for p in self.params]), self.params)]

    def __getstate__(self) -> dict:  # views do not survive pickling (they would come back as copies)
        return {k: v for k, v in self.__dict__.items() if k not in ("_data", "_grad", "_grads")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()
        self.optimizer.bind(self._data, self._grad)

    # ---- training ------------------------------------------------------------------------------
    def set_lr(self, lr: float) -> None:
        self.optimizer.lr = lr

    @property
    def lr(self) -> float:
        return float(self.optimizer.lr)

    def train_step(self, batch: Batch, state: State = None, record: bool = False) -> StepResult:
        """One optimizer step. With record=True the explicit loop runs and keeps the gradients the probe
        needs (LayerTrace.keep_grads), so the probe of this very step comes almost for free (used when
        the batch is the probe input)."""
        model, kind = self.model, self.task.kind
        if not model.training:
            model.train()
        traces = None
        if record:
            out, new_state, traces = model.forward_recorded(batch.x, state)
            for tr in traces:
                tr.keep_grads(model.spec.h_via_w_hh)
        else:
            out, new_state = model(batch.x, state)
        loss = masked_loss(kind, out, batch)
        self._zero_grads()
        loss.backward()
        norm = torch.linalg.vector_norm(self._grad)  # global norm of all gradients, before clipping
        loss_v, norm_v = loss.item(), norm.item()
        # the probe of this step, before the update changes the W_hh its gradients went through
        probe = None if traces is None else self._step_probe(traces, out, loss_v)
        clip = self.tcfg.clip
        clipped = clip > 0 and norm_v + 1e-6 > clip
        finite = math.isfinite(loss_v) and math.isfinite(norm_v)
        if finite:
            if clip > 0:
                torch.nn.utils.clip_grads_with_norm_(self.params, clip, norm)
            self.optimizer.step()
        return StepResult(loss_v, norm_v, clipped, finite, detach_state(new_state), out.detach(), probe)

    def _zero_grads(self) -> None:
        """Zero every gradient (the flat buffer), first handing its view back to any parameter whose .grad
        was replaced (set to None from outside, say). Every parameter takes part
        in every forward, so zeros rather than None change nothing for the optimizers."""
        for p, g in zip(self.params, self._grads):
            if p.grad is not g:
                p.grad = g
        self._grad.zero_()

    def _step_probe(self, traces: list[LayerTrace], out: Tensor, loss: float) -> Probe:
        """The probe of a recorded step from its kept gradients (after backward, before the update)."""
        model, cell_state = self.model, self.model.spec.has_cell_state
        grads_h = [tr.grad_h(model.weight("weight_hh", i)) for i, tr in enumerate(traces)]
        grads_c = [row0(grads(tr.c)) for tr in traces] if cell_state else None
        return probe_from_traces(traces, out, loss, cell_state, grads_h=grads_h, grads_c=grads_c)

    def _eval(self) -> None:
        if self.model.training:  # module.eval() walks every submodule; skip it when already there
            self.model.eval()

    # ---- measuring -----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, batches: list[Batch], carry: bool = False) -> tuple[float, int, int]:
        """(mean loss weighted by counted steps, right, counted) at the current weights, eval mode.
        carry=True feeds each batch's final state into the next (consecutive windows, as in training)."""
        self._eval()
        total, weight, right, counted = 0.0, 0.0, 0, 0
        state = None
        for b in batches:
            out, state = self.model(b.x, state if carry and _fits(state, b) else None)
            w = float((b.y != -100).sum()) if self.task.kind == "classify" else (
                float(b.mask.sum()) if b.mask is not None else float(b.x.shape[0] * b.x.shape[1]))
            total += float(masked_loss(self.task.kind, out, b)) * w
            weight += w
            r, c = self.task.accuracy(out, b)
            right, counted = right + r, counted + c
        return total / max(weight, 1e-12), right, counted

    @torch.no_grad()
    def predict(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        self._eval()
        return self.model(x, state)

    def spectral_radius(self) -> dict[str, list[float]]:
        """The recurrent blocks' spectral radii at the current weights ({} above SPECTRAL_MAX_H units)."""
        if self.mcfg.hidden_size > SPECTRAL_MAX_H:
            return {}
        return spectral_radius_of(self._numpy_weights(), self.mcfg)

    def _numpy_weights(self) -> dict[str, np.ndarray]:
        return {name: d.numpy() for name, d in zip(self._names, self._data)}  # zero-copy views

    def probe(self, batch: Batch, last: bool = True, spectral: bool = True) -> Probe:
        """Look at row 0 of `batch` at the current weights (eval mode: no dropout): h_t, c_t, gates,
        ||dL/dh_t|| for L = mean loss and (last=True) for L = the final counted step's loss; with
        tcfg.tbptt the gradients training computes, cut every tbptt steps (rnnviz.truncation).
        Parameter gradients are not touched. Runs NumPy BPTT on views of the weights (the same numbers
        as autograd, several times cheaper for one sequence); what the NumPy twin cannot run (peephole,
        bidirectional, projected) uses autograd."""
        p = truncated_probe(self, batch, self.tcfg.tbptt, last) if cuts(batch, self.tcfg.tbptt) else \
            self.probe_piece(batch, None, last)
        if spectral:
            p.spectral_radius = self.spectral_radius()
        return p

    def probe_piece(self, batch: Batch, state: State, last: bool) -> Probe:
        """The probe of `batch` from `state` (None: zeros), without cuts and spectral radius."""
        if self._net is None:
            return self.probe_autograd(batch, last, spectral=False, state=state)
        if state is not None:
            state = tuple(s.numpy() for s in state) if isinstance(state, tuple) else (state.numpy(), None)
        return probe_arrays(self._numpy_weights(), self._net, batch, last, state=state)

    def probe_autograd(self, batch: Batch, last: bool = True, spectral: bool = True, state: State = None) -> Probe:
        """The same probe measured with the explicit torch loop and torch.autograd.grad (no cuts)."""
        model, kind = self.model, self.task.kind
        self._eval()
        with torch.enable_grad():
            out, _, traces = model.forward_recorded(batch.x, state)
            loss = masked_loss(kind, out, batch)
            hs = [t for tr in traces for t in tr.h]
            cs = [t for tr in traces for t in tr.c]
            g = torch.autograd.grad(loss, hs + cs, retain_graph=last, allow_unused=True)
            gl = None
            if last:
                loss_last = step_losses(kind, out, batch)[0, last_counted_step(batch)]
                gl = torch.autograd.grad(loss_last, hs, allow_unused=True)
        L, T = len(traces), batch.steps

        def split(flat, like):  # [L*D*T] of [B, H] (None: no path to the loss) -> [L*D] of [T, H], row 0
            full = [torch.zeros_like(h) if d is None else d for d, h in zip(flat, like)]
            return [row0(full[k * T:(k + 1) * T]) for k in range(L)]
        probe = probe_from_traces(traces, out, loss.item(), model.spec.has_cell_state,
                                  grads_h=split(g[:L * T], hs), grads_c=split(g[L * T:], cs) if cs else None,
                                  grads_last=split(gl, hs) if gl is not None else None)
        if spectral:
            probe.spectral_radius = self.spectral_radius()
        return probe

    # ---- optimizer state (so a resumed run goes on as if it had never stopped) -------------------
    def optimizer_state(self) -> tuple[dict[str, Tensor], dict]:
        """Flat tensors {"<param name>:<slot>": tensor} and JSON metadata of the optimizer's state."""
        return (self.optimizer.state_tensors(self._names),
                {"optimizer": self.tcfg.optimizer, "param_groups": [self.optimizer.hyper()]})

    def load_optimizer_state(self, tensors: dict[str, Tensor], meta: dict) -> bool:
        """Restore a saved optimizer state when it belongs to the same kind of optimizer (a different
        optimizer starts fresh; returns False then). The learning rate stays this run's."""
        if not meta or meta.get("optimizer") != self.tcfg.optimizer:
            return False
        self.optimizer.load_state_tensors(self._names, {k: torch.as_tensor(v) for k, v in tensors.items()})
        self.set_lr(self.tcfg.lr)
        return True

    # ---- weights -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, sd: dict[str, Tensor]) -> None:
        self.model.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()})

    def mark_good(self) -> bool:
        """Remember the current weights as the last good ones (one flat copy, into the spare buffer);
        weights that are not all finite are never good: the kept ones stay and this returns False."""
        spare = self._spare if self._spare is not None else torch.empty_like(self._grad)
        torch.cat([d.reshape(-1) for d in self._data], out=spare)    # [n_params_total]
        if not bool(spare.isfinite().all()):
            self._spare = spare
            return False
        self._good, self._spare = spare, self._good
        return True

    def restore_good(self) -> None:
        parts = self._good.split([d.numel() for d in self._data])
        torch._foreach_copy_(self._data, [g.view_as(d) for g, d in zip(parts, self._data)])
