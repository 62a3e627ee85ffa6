"""RecurrentNet: input encoding -> recurrent stack -> linear head, laid out exactly like torch.nn.

Parameter names: `embedding.weight`, `rnn.weight_ih_l{k}`, `rnn.weight_hh_l{k}`, `rnn.bias_ih_l{k}`,
`rnn.bias_hh_l{k}` (torch.nn.RNN/LSTM/GRU), with `_reverse` after each for the reverse direction of a
bidirectional model and `rnn.weight_hr_l{k}` for an LSTM's projection, `head.weight`, `head.bias`; so
a saved model loads into plain torch.nn modules. Two forwards over the same weights:
  forward()           the fused torch.nn module (fast; used for most training steps)
  forward_recorded()  the explicit loop of cells.py that keeps every h_t, c_t and gate
The peephole LSTM has no torch.nn twin and always runs the explicit loop.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import CELL_SPECS, LayerTrace
from .config import ModelConfig

State = Tensor | tuple[Tensor, Tensor] | None  # h: [L*D, B, P]  or  (h, c [L*D, B, H]) for lstm


class PeepholeLSTM(nn.Module):
    """LSTM with diagonal peepholes; the same weight names as nn.LSTM plus `peephole_{i,f,o}_l{k}`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.dropout = input_size, hidden_size, num_layers, dropout
        H = hidden_size
        for k in range(num_layers):
            fan_in = input_size if k == 0 else H
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(4 * H, fan_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(4 * H, H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(4 * H)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(4 * H)))
            for g in "ifo":
                self.register_parameter(f"peephole_{g}_l{k}", nn.Parameter(torch.empty(H)))
        bound = 1 / math.sqrt(H)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


class RecurrentNet(nn.Module):
    def __init__(self, cfg: ModelConfig, input_size: int, output_size: int, tokens: bool):
        super().__init__()
        cfg.validate()
        self.cfg, self.tokens, self.input_size, self.output_size = cfg, tokens, input_size, output_size
        self.spec = CELL_SPECS[cfg.cell]
        if tokens and cfg.embedding_dim > 0:
            self.embedding = nn.Embedding(input_size, cfg.embedding_dim)
            rnn_in = cfg.embedding_dim
        else:
            self.embedding = None
            rnn_in = input_size
        if cfg.peephole:
            self.rnn = PeepholeLSTM(rnn_in, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        else:
            kw = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
            if cfg.proj_size:
                kw["proj_size"] = cfg.proj_size
            self.rnn = self.spec.torch_cls(rnn_in, cfg.hidden_size, cfg.num_layers, batch_first=True,
                                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
                                           bidirectional=cfg.bidirectional, **kw)
        width = cfg.directions * cfg.state_size   # what the head sees per step: [h_fwd; h_rev]
        if cfg.head:
            self.head = nn.Linear(width, output_size)
        else:
            if width != output_size:
                what = "directions x hidden state" if cfg.directions > 1 or cfg.proj_size else "hidden_size"
                raise ValueError(f"without a head the hidden state is the output, so {what} must equal "
                                 f"the output size ({output_size}); got {width}")
            self.head = None

    # ---- pieces shared by both forwards ------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """x: [B, T] token ids or [B, T, in] values -> [B, T, rnn_in] floats."""
        if not self.tokens:
            return x.to(self.dtype)
        if self.embedding is not None:
            return self.embedding(x)
        return self._one_hot(x)

    def _one_hot(self, x: Tensor) -> Tensor:
        """[B, T] ids -> [B, T, V] floats. The last one is kept and handed out again while x is the
        same unchanged tensor: the small tasks feed the very same batch at every step (the course
        builds its one-hot input once, too), and building it cost a few percent of their step. Batches are
        never changed in place (through a NumPy view the version check would not see it)."""
        key = (x._version, self.dtype)
        kept = self.__dict__.get("_kept_one_hot")
        if kept is not None and kept[0] is x and kept[1] == key:
            return kept[2]
        enc = F.one_hot(x, self.input_size).to(self.dtype)
        self.__dict__["_kept_one_hot"] = (x, key, enc)   # not Module.__setattr__: a plain cache
        return enc

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_kept_one_hot", None)  # a cache: not pickled
        return state

    def output(self, h: Tensor) -> Tensor:
        return self.head(h) if self.head is not None else h

    @property
    def dtype(self) -> torch.dtype:
        return self.rnn.weight_hh_l0.dtype

    def zero_state(self, batch: int) -> State:
        cfg = self.cfg
        rows = cfg.num_layers * cfg.directions
        h = torch.zeros(rows, batch, cfg.state_size, dtype=self.dtype)
        if not self.spec.has_cell_state:
            return h
        return h, torch.zeros(rows, batch, cfg.hidden_size, dtype=self.dtype)

    def weight(self, name: str, row: int) -> Tensor:
        """The recurrent weight `name` (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, peephole_f, ...)
        of state row `row` = layer * D + direction, in the order of torch.nn's h_n."""
        D = self.cfg.directions
        return getattr(self.rnn, f"{name}_l{row // D}{'_reverse' if row % D else ''}")

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """Fused path. out: [B, T, O]."""
        if self.cfg.peephole:
            out, state, _ = self.forward_recorded(x, state, record=False)
            return out, state
        seq, state = self.rnn(self.encode(x), state)
        return self.output(seq), state

    def forward_recorded(self, x: Tensor, state: State = None, record: bool = True
                         ) -> tuple[Tensor, State, list[LayerTrace] | None]:
        """Explicit loop over the same weights; returns one LayerTrace per layer and direction (in the
        order of h_n: layer * D + direction) when recording. The reverse direction runs the same loop
        over the time-flipped input projection and flips its output back."""
        cfg, spec = self.cfg, self.spec
        inp = self.encode(x)
        if state is None:
            state = self.zero_state(inp.shape[0])
        act = torch.tanh if cfg.nonlinearity == "tanh" else torch.relu
        D = cfg.directions
        traces = [LayerTrace(reverse=i % D == 1) for i in range(cfg.num_layers * D)] if record else None
        h_n, c_n = [], []
        for k in range(cfg.num_layers):
            outs = []
            for i in range(k * D, (k + 1) * D):
                w = lambda name: self.weight(name, i)  # noqa: E731
                w_hh, b_ih, b_hh = w("weight_hh"), w("bias_ih"), w("bias_hh")
                if cfg.cell == "gru":  # b_hn sits inside r * (...), so b_hh stays in the loop
                    xp = F.linear(inp, w("weight_ih"), b_ih)
                else:                  # b_ih + b_hh fold into the precomputed projection
                    xp, b_hh = F.linear(inp, w("weight_ih"), b_ih + b_hh), None
                if i % D:
                    xp = xp.flip(1)    # [B, T, G*H] from t = T-1 down to 0
                trace = traces[i] if record else None
                if spec.has_cell_state:
                    peep = tuple(w(f"peephole_{g}") for g in "ifo") if cfg.peephole else None
                    w_hr = w("weight_hr") if cfg.proj_size else None
                    seq, (h, c) = spec.layer(xp, (state[0][i], state[1][i]), w_hh, b_hh, peep=peep, w_hr=w_hr,
                                             trace=trace)
                    c_n.append(c)
                else:
                    seq, h = spec.layer(xp, state[i], w_hh, b_hh, act=act, trace=trace)
                h_n.append(h)
                outs.append(seq.flip(1) if i % D else seq)
            inp = outs[0] if D == 1 else torch.cat(outs, -1)   # [B, T, D*P]: [h_fwd; h_rev] as torch.nn
            if k < cfg.num_layers - 1 and cfg.dropout > 0:
                inp = F.dropout(inp, cfg.dropout, self.training)
        new_state = (torch.stack(h_n), torch.stack(c_n)) if spec.has_cell_state else torch.stack(h_n)
        return self.output(inp), new_state, traces


def detach_state(state: State) -> State:
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
