"""The recurrent weights' spectral radius: above 1 a recurrence can amplify, below 1 it shrinks."""
from __future__ import annotations

import numpy as np

from .config import GATES, ModelConfig


def spectral_radius_of(weights, cfg: ModelConfig) -> dict[str, list[float]]:
    """max |eigenvalue| of each [H, H] recurrent block (per gate), per layer; weights: name -> array.
    With a projection the block is W_hh,gate W_hr (what carries o * tanh(c_t) into step t+1's gate);
    the reverse direction's blocks are named "<gate> reverse"."""
    H = cfg.hidden_size
    names = GATES[cfg.cell] or ("h",)   # an rnn's one block is named after h
    out: dict[str, list[float]] = {}
    for d in range(cfg.directions):
        sfx = "_reverse" if d else ""
        for k in range(cfg.num_layers):
            w = np.asarray(weights[f"rnn.weight_hh_l{k}{sfx}"], dtype=np.float64).reshape(len(names), H, -1)
            if cfg.proj_size:
                w = w @ np.asarray(weights[f"rnn.weight_hr_l{k}{sfx}"], dtype=np.float64)   # [G, H, H]
            for n, blk in zip(names, w):
                out.setdefault(n + (" reverse" if d else ""), []).append(float(np.abs(np.linalg.eigvals(blk)).max()))
    return out
