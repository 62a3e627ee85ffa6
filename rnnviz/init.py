"""Weight initialisation, reproducible from the run's seed (a private generator, not the global RNG,
so runs in parallel threads do not disturb each other)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def initialise(model: nn.Module, cfg: TrainConfig, gen: torch.Generator) -> None:
    """default: torch.nn's own schemes (uniform +-1/sqrt(H) for recurrent weights, +-1/sqrt(fan_in) for
    the head, N(0, 1) for embeddings); orthogonal: each gate block of W_hh orthogonal (gain 1), which
    puts the recurrent matrix's spectral radius at 1 (semi-orthogonal [H, P] blocks with a projection,
    whose W_hr stays uniform). forget_bias is added to the lstm forget-gate bias (both directions)."""
    rnn, H = model.rnn, model.cfg.hidden_size
    G = model.spec.gates
    with torch.no_grad():
        bound = 1 / math.sqrt(H)
        for name, p in rnn.named_parameters():
            nn.init.uniform_(p, -bound, bound, generator=gen)
            if cfg.init == "orthogonal" and name.startswith("weight_hh"):
                for blk in p.view(G, H, -1):  # one [H, P] block per gate (P = H without a projection)
                    nn.init.orthogonal_(blk, generator=gen)
            if model.cfg.cell == "lstm" and name.startswith("bias_ih"):
                p[H:2 * H] += cfg.forget_bias  # gate order i, f, g, o
        if model.head is not None:
            b = 1 / math.sqrt(model.head.in_features)
            nn.init.uniform_(model.head.weight, -b, b, generator=gen)
            nn.init.uniform_(model.head.bias, -b, b, generator=gen)
        if model.embedding is not None:
            nn.init.normal_(model.embedding.weight, 0.0, 1.0, generator=gen)
