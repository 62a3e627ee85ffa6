"""Frozen configuration dataclasses: what a run is made of.

A run is fully described by (task name, task options, ModelConfig, TrainConfig); these three are
what a checkpoint's config.json stores and what the CLI and the app's sliders edit. Defaults give a
good first demo; each task may suggest its own via `Task.suggested`.

Every config checks itself when it is made (`__post_init__`, so dataclasses.replace checks too):
field types first (`check_field_types`: a bool field takes only a bool, an int field only an integer,
never 16.0 nor "16"; a float field any finite real, stored as float), then ranges. A wrong value is a
ValueError with a one-line message.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import reprlib
from dataclasses import dataclass, fields
from typing import Any

CELLS = ("rnn", "lstm", "gru")
# each cell's gates in torch.nn's row order of W_ih / W_hh (the one place they are named; rnnviz.cells.CELL_SPECS)
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
OPTIMIZERS = ("adam", "sgd", "rmsprop")
INITS = ("default", "orthogonal")
MAX_HIDDEN, MAX_LAYERS, MAX_EMBEDDING = 4096, 8, 4096   # per field; the model's total size: rnnviz.limits
MAX_RUN_LENGTH = 10**9                                   # epochs or steps

SHOWN = 60                                               # characters of a user's value a message shows
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40


def clipped(text: str, most: int = SHOWN) -> str:
    """A user's text for a message: itself, or its first `most` characters and its length."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


def counted(n: int, word: str, words: str | None = None) -> str:
    """`n` and the word for it: "1 run", "2 runs", "1,200 epochs"."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def shown(value: Any) -> str:
    """A short one-line repr of a user's value for an error message (a long text: its start and length)."""
    if isinstance(value, str) and len(value) > SHOWN:
        return f"{value[:SHOWN]!r}… ({len(value):,} characters)"
    return _short.repr(value)


def check_field_types(obj) -> None:
    """Check (and normalise) every field of a frozen dataclass against its annotation: bool, int,
    float or str. int fields accept any integral number but bool (numpy ints become int); float
    fields any finite real but bool (stored as float). Other annotations are not checked."""
    for f in fields(obj):
        value, kind, name = getattr(obj, f.name), str(f.type), f.name
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {shown(value)}")
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be a whole number, got {shown(value)}")
            object.__setattr__(obj, name, int(value))
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, got {shown(value)}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
            object.__setattr__(obj, name, float(value))
        elif kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text, got {shown(value)}")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {shown(value)}")


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

    def __post_init__(self) -> None:
        check_field_types(self)
        _one_of("cell", self.cell, CELLS)
        _one_of("nonlinearity", self.nonlinearity, ("tanh", "relu"))
        if not 1 <= self.hidden_size <= MAX_HIDDEN:
            raise ValueError(f"hidden_size must be in 1..{MAX_HIDDEN}, got {self.hidden_size}")
        if not 1 <= self.num_layers <= MAX_LAYERS:
            raise ValueError(f"num_layers must be in 1..{MAX_LAYERS}, got {self.num_layers}")
        if not 0 <= self.embedding_dim <= MAX_EMBEDDING:
            raise ValueError(f"embedding_dim must be in 0..{MAX_EMBEDDING} (0 means one-hot input), "
                             f"got {self.embedding_dim}")
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

    def validate(self) -> None:
        """Checked when made; kept for callers that still call it."""
        self.__post_init__()


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
    seed: int = 0                 # the weights' initialisation, shuffling and dropout (not the task's data)
    dtype: str = "float32"        # float32 | float64
    engine: str = "torch"         # torch | numpy
    carry_state: bool = False     # carry h (detached) across consecutive batches (truncated BPTT)
    tbptt: int = 0                # > 0: sequential tasks train on pieces of this many steps, the state
                                  # flowing on and the gradient cut between them (rnnviz.truncation)

    def __post_init__(self) -> None:
        check_field_types(self)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("init", self.init, INITS)
        _one_of("dtype", self.dtype, ("float32", "float64"))
        _one_of("engine", self.engine, ("torch", "numpy"))
        if not 0.0 < self.lr <= 10.0:
            raise ValueError(f"lr must be in (0, 10], got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 <= self.tbptt <= 10_000:
            raise ValueError(f"tbptt must be in 0..10000 (0 = no cuts inside a batch), got {self.tbptt}")
        if not 0.0 <= self.weight_decay <= 1.0:
            raise ValueError(f"weight_decay must be in [0, 1], got {self.weight_decay}")
        if not 0 <= self.epochs <= MAX_RUN_LENGTH or not 0 <= self.steps <= MAX_RUN_LENGTH:
            raise ValueError(f"epochs and steps must be in 0..{MAX_RUN_LENGTH:,}")
        if self.epochs < 1 and self.steps < 1:
            raise ValueError("need epochs >= 1 or steps >= 1")
        if self.clip < 0:
            raise ValueError(f"clip must be >= 0 (0 disables clipping), got {self.clip}")
        if not -100.0 <= self.forget_bias <= 100.0:
            raise ValueError(f"forget_bias must be in [-100, 100], got {self.forget_bias}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in 0..2**63-1, got {self.seed}")

    def validate(self) -> None:
        """Checked when made; kept for callers that still call it."""
        self.__post_init__()


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls, d: dict | None):
    """Build a frozen config from a dict, ignoring unknown keys (older/newer checkpoints); ValueError
    for anything that is not a dict of valid values."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, got {shown(d)}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
