"""Next-value prediction on a sine wave (course seed 003, 'a simple time-series prediction').

Window k covers t in [k*pi, (k+1)*pi] sampled at seq_len + 1 points; data = sin(freq * t),
x = data[:-1] (+ gaussian noise), y = data[1:]. Shapes: x, y FloatTensor [B, T, 1], mask None.
Training windows k = 0..n_windows-1 come in order, so window k+1 starts where window k ends and the
hidden state can be carried between them (truncated BPTT, carry_state). With batch_size B > 1 the
windows are dealt column-wise as in char-RNN batching: row r holds windows r*M .. r*M + M-1
(M = n_windows // B), batch j = window j of every row, so each row stays consecutive across batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from . import register
from .base import MAX_ROWS, MAX_SEED, Batch, Task, check_range

VAL_WINDOWS = 10
MAX_WINDOWS = 10_000     # an epoch: at most 10,000 x seq_len (1000) values


@dataclass(frozen=True)
class SineOptions:
    seq_len: int = 20       # steps per window (a window spans pi time units)
    freq: float = 1.0       # value = sin(freq * t): freq cycles per 2*pi time units
    noise: float = 0.0      # std of gaussian noise added to the inputs only
    n_windows: int = 50     # consecutive training windows per epoch
    batch_size: int = 1     # 1 = the course; >1 = consecutive chunks stacked as rows
    seed: int = 0           # the validation inputs' noise


@register
class Sine(Task):
    name = "sine"
    kind = "regress"
    tokens = False
    sequential = True
    tick_inputs = False     # its inputs are values of the wave: on a time axis they read as the time
    Options = SineOptions
    summary = "predict the next value of a sine wave; carry the hidden state from window to window"

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        if not 2 <= o.seq_len <= 1000:
            raise ValueError(f"seq_len must be in 2..1000, got {o.seq_len}")
        if not 0 < o.freq <= 100:
            raise ValueError(f"freq must be in (0, 100], got {o.freq}")
        if not 0 <= o.noise <= 10:
            raise ValueError(f"noise must be in [0, 10], got {o.noise}")
        check_range("n_windows", o.n_windows, 1, MAX_WINDOWS)
        check_range("batch_size", o.batch_size, 1, min(o.n_windows, MAX_ROWS), f" (at most n_windows, {o.n_windows})")
        check_range("seed", o.seed, 0, MAX_SEED)

    @property
    def input_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    def times(self, k: int) -> np.ndarray:
        """The seq_len + 1 sample times of window k: [seq_len + 1]."""
        return np.linspace(k * np.pi, (k + 1) * np.pi, self.options.seq_len + 1)

    def windows(self, ks, rng: np.random.Generator | None) -> Batch:
        """Windows ks stacked as rows: x, y [len(ks), T, 1]; noise on x drawn from rng (None: none)."""
        data = np.sin(self.options.freq * np.stack([self.times(k) for k in ks]))   # [B, T+1]
        x, y = data[:, :-1].copy(), data[:, 1:]
        if rng is not None and self.options.noise > 0:
            x += rng.normal(0.0, self.options.noise, size=x.shape)
        as_t = lambda a: torch.tensor(a, dtype=torch.float32).unsqueeze(-1)     # noqa: E731
        return Batch(as_t(x), as_t(y))

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        bs = self.options.batch_size
        m = self.options.n_windows // bs            # batches per epoch; leftover windows are dropped
        for j in range(m):
            yield self.windows([r * m + j for r in range(bs)], rng)

    def val_batches(self) -> list[Batch]:
        """Windows n_windows .. n_windows+9 further along the wave, one per batch, in order."""
        rng = np.random.default_rng(self.options.seed)
        start = self.options.n_windows
        return [self.windows([k], rng) for k in range(start, start + VAL_WINDOWS)]

    def probe(self) -> Batch:
        return self.val_batches()[0]                # [1, T, 1]

    def largest_batch(self) -> tuple[int, int]:
        return self.options.batch_size, self.options.seq_len

    def probe_labels(self) -> list[str]:
        """The probe's input values (noise included), 2 decimals: what the model reads at each step."""
        return [f"{v:.2f}" for v in self.probe().x[0, :, 0].tolist()]

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="rnn", hidden_size=32, num_layers=1),
                TrainConfig(optimizer="adam", lr=0.01, epochs=30, carry_state=True))
