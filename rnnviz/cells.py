"""Instrumented recurrent layers: one explicit time loop per layer, on torch.nn's own weights.

Each layer function takes the input projection for ALL time steps at once (computing x @ W_ih.T
inside the loop made it ~3x slower) and runs the recurrence step by step, so every h_t, c_t and gate
is a tensor we can keep and differentiate. With `trace=None` nothing is kept (the plain fast path
for the peephole LSTM, which has no fused torch.nn twin).

Gate order follows torch.nn: LSTM i, f, g, o; GRU r, z, n.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from .config import GATES


@dataclass
class LayerTrace:
    """What one layer produced at every step (row-major over time); tensors are [B, H]."""
    h: list[Tensor] = field(default_factory=list)
    c: list[Tensor] = field(default_factory=list)
    gates: dict[str, list[Tensor]] = field(default_factory=dict)
    xp: Tensor | None = None      # [B, T, G*H] the input projection: pre_t = xp_t + h_{t-1} W_hh^T (+ b_hh)
    seq: Tensor | None = None     # [B, T, H] the h_t stacked: the layer's output
    via_w_hh: bool = False        # set by keep_grads: h_t reaches step t+1 only through W_hh (rnn, lstm)
    reverse: bool = False         # the reverse direction: every list and tensor here runs from t = T-1 down to 0

    def in_time(self, a: Tensor) -> Tensor:
        """[T, ...] in this trace's processing order -> in time order (t = 0 first)."""
        return a.flip(0) if self.reverse else a

    def add_gates(self, **gates: Tensor) -> None:
        for name, value in gates.items():
            self.gates.setdefault(name, []).append(value)

    def keep_grads(self, via_w_hh: bool) -> None:
        """Before backward: have autograd keep what dL/dh_t and dL/dc_t of every step need. When h_t
        reaches the next step only through pre_{t+1} = xp_{t+1} + h_t W_hh^T (rnn, lstm), the gradients
        of seq and xp give every dL/dh_t (grad_h); else each h_t keeps its own (a hook per step)."""
        self.via_w_hh = via_w_hh
        for t in ([self.seq, self.xp] if via_w_hh else self.h) + self.c:
            t.retain_grad()

    def grad_h(self, w_hh: Tensor) -> Tensor:
        """After backward: [T, H] dL/dh_t of row 0, the total derivative (through the output, the layer
        above and every later step), in processing order; w_hh: [G*H, H] the weights of this forward
        (not yet updated)."""
        if not self.via_w_hh:
            return row0(grads(self.h))
        g = self.seq.grad[0].clone()                           # through the output and the layer above
        g[:-1].addmm_(self.xp.grad[0, 1:], w_hh.detach())      # through pre_{t+1}: dL/dpre_{t+1} W_hh
        return g


def row0(steps: list[Tensor]) -> Tensor:
    """[T] of [B, H] -> [T, H], row 0."""
    return torch.stack(steps)[:, 0]


def grads(kept: list[Tensor]) -> list[Tensor]:
    """The retained gradients of `kept` after backward (zero where a tensor had no path to the loss)."""
    return [t.grad if t.grad is not None else torch.zeros_like(t) for t in kept]


def rnn_layer(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, act: Callable,
              trace: LayerTrace | None = None, **_) -> tuple[Tensor, Tensor]:
    # xp: [B, T, H] = x @ W_ih.T + b_ih;  h: [B, H]
    outs, w_t = [], w_hh.t()  # one transposed view for all steps
    for x_t in _steps(xp, b_hh):
        h = act(torch.addmm(x_t, h, w_t))
        outs.append(h)
    return _traced(trace, xp, outs), h


def lstm_layer(xp: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor | None,
               peep: tuple[Tensor, Tensor, Tensor] | None = None, w_hr: Tensor | None = None,
               trace: LayerTrace | None = None, **_) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    # xp: [B, T, 4H];  c: [B, H];  h: [B, P] (P = proj_size, or H without a projection)
    # peep: (p_i, p_f, p_o) each [H], diagonal peepholes;  w_hr: [P, H] the projection, as torch.nn.LSTM
    h, c = state
    H = c.shape[1]
    outs, w_t = [], w_hh.t()
    for x_t in _steps(xp, b_hh):
        pre = torch.addmm(x_t, h, w_t)  # [B, 4H]
        a_i, a_f, a_g, a_o = pre.split(H, 1)
        if peep is not None:  # gates see the previous cell state (i, f) and the new one (o)
            a_i = a_i + peep[0] * c
            a_f = a_f + peep[1] * c
        i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
        c = f * c + i * g
        if peep is not None:
            a_o = a_o + peep[2] * c
        o = torch.sigmoid(a_o)
        h = o * torch.tanh(c)
        if w_hr is not None:
            h = h @ w_hr.t()   # [B, P]: the state the next step and the layer above see
        outs.append(h)
        if trace is not None:
            trace.c.append(c)
            trace.add_gates(i=i, f=f, g=g, o=o)
    return _traced(trace, xp, outs), (h, c)


def gru_layer(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
              trace: LayerTrace | None = None, **_) -> tuple[Tensor, Tensor]:
    # xp: [B, T, 3H];  h: [B, H].  n uses r * (W_hn h + b_hn), as torch.nn.GRU does.
    H = h.shape[1]
    outs, w_t = [], w_hh.t()
    for x_t in xp.unbind(1):
        hp = h @ w_t if b_hh is None else torch.addmm(b_hh, h, w_t)  # [B, 3H]
        x_r, x_z, x_n = x_t.split(H, 1)
        h_r, h_z, h_n = hp.split(H, 1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)  # = (1 - z) * n + z * h
        outs.append(h)
        if trace is not None:
            trace.add_gates(r=r, z=z, n=n)
    return _traced(trace, xp, outs), h


def _steps(xp: Tensor, b_hh: Tensor | None) -> tuple[Tensor, ...]:
    """[B, T, G*H] -> T views [B, G*H] (+ b_hh): one unbind, whose backward is one stack, where slicing
    step by step cost an op per step forward and a zero-filled [B, T, G*H] per step backward."""
    return (xp if b_hh is None else xp + b_hh).unbind(1)


def _traced(trace: LayerTrace | None, xp: Tensor, outs: list[Tensor]) -> Tensor:
    """The layer's output [B, T, H], kept in the trace with its h_t and input projection."""
    seq = torch.stack(outs, 1)
    if trace is not None:
        trace.h.extend(outs)
        trace.xp, trace.seq = xp, seq
    return seq


@dataclass(frozen=True)
class CellSpec:
    torch_cls: type                # the fused torch.nn twin
    gates: int                     # G: rows of W_ih / W_hh are G * H
    gate_names: tuple[str, ...]
    layer: Callable
    has_cell_state: bool = False
    h_via_w_hh: bool = True        # h_t reaches step t+1 only through h_t W_hh^T (not gru: z * h_t)


CELL_SPECS: dict[str, CellSpec] = {
    "rnn": CellSpec(torch.nn.RNN, 1, GATES["rnn"], rnn_layer),
    "lstm": CellSpec(torch.nn.LSTM, 4, GATES["lstm"], lstm_layer, has_cell_state=True),
    "gru": CellSpec(torch.nn.GRU, 3, GATES["gru"], gru_layer, h_via_w_hh=False),
}
