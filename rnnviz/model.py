"""RecurrentNet: input encoding -> recurrent stack -> linear head, laid out exactly like torch.nn.

Parameter names: `embedding.weight`, `rnn.weight_ih_l{k}`, `rnn.weight_hh_l{k}`, `rnn.bias_ih_l{k}`,
`rnn.bias_hh_l{k}` (torch.nn.RNN/LSTM/GRU), `head.weight`, `head.bias`; so a saved model loads into
plain torch.nn modules. Two forwards over the same weights:
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

State = Tensor | tuple[Tensor, Tensor] | None  # h: [L, B, H]  or  (h, c) for lstm


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
            self.rnn = self.spec.torch_cls(rnn_in, cfg.hidden_size, cfg.num_layers, batch_first=True,
                                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, **kw)
        if cfg.head:
            self.head = nn.Linear(cfg.hidden_size, output_size)
        else:
            if cfg.hidden_size != output_size:
                raise ValueError(f"without a head the hidden state is the output, so hidden_size must equal "
                                 f"the output size ({output_size}); got {cfg.hidden_size}")
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
        h = torch.zeros(self.cfg.num_layers, batch, self.cfg.hidden_size, dtype=self.dtype)
        return (h, h.clone()) if self.spec.has_cell_state else h

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """Fused path. out: [B, T, O]."""
        if self.cfg.peephole:
            out, state, _ = self.forward_recorded(x, state, record=False)
            return out, state
        seq, state = self.rnn(self.encode(x), state)
        return self.output(seq), state

    def forward_recorded(self, x: Tensor, state: State = None, record: bool = True
                         ) -> tuple[Tensor, State, list[LayerTrace] | None]:
        """Explicit loop over the same weights; returns one LayerTrace per layer when recording."""
        cfg, spec = self.cfg, self.spec
        inp = self.encode(x)
        if state is None:
            state = self.zero_state(inp.shape[0])
        act = torch.tanh if cfg.nonlinearity == "tanh" else torch.relu
        traces = [LayerTrace() for _ in range(cfg.num_layers)] if record else None
        h_n, c_n = [], []
        for k in range(cfg.num_layers):
            w_ih, w_hh = getattr(self.rnn, f"weight_ih_l{k}"), getattr(self.rnn, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self.rnn, f"bias_ih_l{k}"), getattr(self.rnn, f"bias_hh_l{k}")
            if cfg.cell == "gru":  # b_hn sits inside r * (...), so b_hh stays in the loop
                xp = F.linear(inp, w_ih, b_ih)
            else:                  # b_ih + b_hh fold into the precomputed projection
                xp, b_hh = F.linear(inp, w_ih, b_ih + b_hh), None
            trace = traces[k] if record else None
            if spec.has_cell_state:
                peep = tuple(getattr(self.rnn, f"peephole_{g}_l{k}") for g in "ifo") if cfg.peephole else None
                seq, (h, c) = spec.layer(xp, (state[0][k], state[1][k]), w_hh, b_hh, peep=peep, trace=trace)
                c_n.append(c)
            else:
                seq, h = spec.layer(xp, state[k], w_hh, b_hh, act=act, trace=trace)
            h_n.append(h)
            inp = seq
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
