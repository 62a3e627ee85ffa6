"""Frozen configuration dataclasses: what a run is made of.

A run is fully described by (task name, task options, ModelConfig, TrainConfig); these three are
what a checkpoint's config.json stores and what the CLI and the app's sliders edit. Defaults give a
good first demo; each task may suggest its own via `Task.suggested`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

CELLS = ("rnn", "lstm", "gru")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
INITS = ("default", "orthogonal")


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"            # rnn | lstm | gru
    nonlinearity: str = "tanh"    # rnn only: tanh | relu
    hidden_size: int = 16
    num_layers: int = 1
    embedding_dim: int = 0        # 0 = one-hot input; >0 = nn.Embedding of that size (token tasks only)
    dropout: float = 0.0          # between stacked layers, as torch.nn
    peephole: bool = False        # lstm only: diagonal peephole connections (no torch.nn twin)
    head: bool = True             # linear head hidden -> output; False uses h_t itself as the output
    bidirectional: bool = False   # a second layer runs back in time; the layer's output is [h_fwd; h_rev] (2H)
    proj_size: int = 0            # lstm only: h_t = W_hr (o * tanh(c_t)) has this size (< hidden_size); 0 = none

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be tanh or relu, got {self.nonlinearity!r}")
        if not 1 <= self.hidden_size <= 4096:
            raise ValueError(f"hidden_size must be in 1..4096, got {self.hidden_size}")
        if not 1 <= self.num_layers <= 8:
            raise ValueError(f"num_layers must be in 1..8, got {self.num_layers}")
        if self.embedding_dim < 0:
            raise ValueError("embedding_dim must be >= 0 (0 means one-hot input)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.peephole and self.cell != "lstm":
            raise ValueError("peephole connections exist only for the lstm cell")
        if self.proj_size and self.cell != "lstm":
            raise ValueError("a projection (proj_size) exists only for the lstm cell, as in torch.nn")
        if not 0 <= self.proj_size < self.hidden_size:
            raise ValueError(f"proj_size must be in 0..hidden_size - 1 ({self.hidden_size - 1}), got {self.proj_size}")
        if self.peephole and (self.bidirectional or self.proj_size):
            raise ValueError("the peephole lstm has no torch.nn twin and runs one direction without projection: "
                             "turn off bidirectional and proj_size, or the peepholes")

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional model, else 1 (torch.nn's num_directions)."""
        return 2 if self.bidirectional else 1

    @property
    def state_size(self) -> int:
        """The size of h_t of one direction: proj_size when projected, else hidden_size."""
        return self.proj_size or self.hidden_size


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"       # adam | sgd | rmsprop
    lr: float = 0.01
    momentum: float = 0.0         # sgd and rmsprop
    weight_decay: float = 0.0
    epochs: int = 100             # used when steps == 0
    steps: int = 0                # >0: train for this many optimizer steps instead of epochs
    clip: float = 0.0             # max global grad norm; 0 = no clipping
    init: str = "default"         # default (torch.nn) | orthogonal (recurrent weights)
    forget_bias: float = 0.0      # lstm: added to the forget-gate bias at init (1.0 is the classic choice)
    seed: int = 0
    dtype: str = "float32"        # float32 | float64
    engine: str = "torch"         # torch | numpy
    carry_state: bool = False     # carry h (detached) across consecutive batches (truncated BPTT)
    tbptt: int = 0                # > 0: sequential tasks train on pieces of this many steps, the state
                                  # flowing on and the gradient cut between them (rnnviz.truncation)

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not (0.0 < self.lr <= 10.0):
            raise ValueError(f"lr must be in (0, 10], got {self.lr}")
        if self.epochs < 1 and self.steps < 1:
            raise ValueError("need epochs >= 1 or steps >= 1")
        if self.steps < 0 or self.epochs < 0:
            raise ValueError("epochs and steps must not be negative")
        if self.clip < 0:
            raise ValueError("clip must be >= 0 (0 disables clipping)")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.engine not in ("torch", "numpy"):
            raise ValueError(f"engine must be torch or numpy, got {self.engine!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 <= self.tbptt <= 10_000:
            raise ValueError(f"tbptt must be in 0..10000 (0 = no cuts inside a batch), got {self.tbptt}")


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls, d: dict | None):
    """Build a frozen config from a dict, ignoring unknown keys (older/newer checkpoints)."""
    d = d or {}
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
