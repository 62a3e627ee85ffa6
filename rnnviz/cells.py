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


@dataclass
class LayerTrace:
    """What one layer produced at every step (row-major over time); tensors are [B, H]."""
    h: list[Tensor] = field(default_factory=list)
    c: list[Tensor] = field(default_factory=list)
    gates: dict[str, list[Tensor]] = field(default_factory=dict)

    def add_gates(self, **gates: Tensor) -> None:
        for name, value in gates.items():
            self.gates.setdefault(name, []).append(value)


def rnn_layer(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, act: Callable,
              trace: LayerTrace | None = None, **_) -> tuple[Tensor, Tensor]:
    # xp: [B, T, H] = x @ W_ih.T + b_ih;  h: [B, H]
    outs, w_t = [], w_hh.t()  # one transposed view for all steps
    for t in range(xp.shape[1]):
        pre = torch.addmm(xp[:, t] if b_hh is None else xp[:, t] + b_hh, h, w_t)
        h = act(pre)
        outs.append(h)
    if trace is not None:
        trace.h.extend(outs)
    return torch.stack(outs, 1), h


def lstm_layer(xp: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor | None,
               peep: tuple[Tensor, Tensor, Tensor] | None = None,
               trace: LayerTrace | None = None, **_) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    # xp: [B, T, 4H];  h, c: [B, H];  peep: (p_i, p_f, p_o) each [H], diagonal peepholes
    h, c = state
    H = h.shape[1]
    outs, w_t = [], w_hh.t()
    for t in range(xp.shape[1]):
        pre = torch.addmm(xp[:, t] if b_hh is None else xp[:, t] + b_hh, h, w_t)  # [B, 4H]
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
        outs.append(h)
        if trace is not None:
            trace.c.append(c)
            trace.add_gates(i=i, f=f, g=g, o=o)
    if trace is not None:
        trace.h.extend(outs)
    return torch.stack(outs, 1), (h, c)


def gru_layer(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None,
              trace: LayerTrace | None = None, **_) -> tuple[Tensor, Tensor]:
    # xp: [B, T, 3H];  h: [B, H].  n uses r * (W_hn h + b_hn), as torch.nn.GRU does.
    H = h.shape[1]
    outs, w_t = [], w_hh.t()
    for t in range(xp.shape[1]):
        hp = h @ w_t if b_hh is None else torch.addmm(b_hh, h, w_t)  # [B, 3H]
        x_r, x_z, x_n = xp[:, t].split(H, 1)
        h_r, h_z, h_n = hp.split(H, 1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)  # = (1 - z) * n + z * h
        outs.append(h)
        if trace is not None:
            trace.add_gates(r=r, z=z, n=n)
    if trace is not None:
        trace.h.extend(outs)
    return torch.stack(outs, 1), h


@dataclass(frozen=True)
class CellSpec:
    torch_cls: type                # the fused torch.nn twin
    gates: int                     # G: rows of W_ih / W_hh are G * H
    gate_names: tuple[str, ...]
    layer: Callable
    has_cell_state: bool = False


CELL_SPECS: dict[str, CellSpec] = {
    "rnn": CellSpec(torch.nn.RNN, 1, (), rnn_layer),
    "lstm": CellSpec(torch.nn.LSTM, 4, ("i", "f", "g", "o"), lstm_layer, has_cell_state=True),
    "gru": CellSpec(torch.nn.GRU, 3, ("r", "z", "n"), gru_layer),
}
