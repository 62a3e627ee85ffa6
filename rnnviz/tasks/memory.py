"""Long-range memory tasks that show vanishing gradients: the answer depends on inputs `lag` steps back.

copy:   read K symbols, wait `lag` blanks, see the cue ':', then write the K symbols back.
        x, y LongTensor [B, T], T = 2K + lag; y is IGNORE except the last K steps.
adding: (Hochreiter & Schmidhuber) T = lag steps of two channels: a uniform(0, 1) value and a marker
        that is 1.0 at two steps (one in each half); output the sum of the two marked values at the
        last step. x FloatTensor [B, T, 2], y FloatTensor [B, T, 1], mask FloatTensor [B, T] (last step).
Training data is drawn fresh from `rng` every epoch; validation and probe are fixed by the seed.
Both Options call their length knob `lag`, so one slider can drive either task.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from . import register
from .base import (IGNORE, MAX_BATCH_POSITIONS, MAX_EPOCH_POSITIONS, MAX_ROWS, MAX_SEED, Batch, Task,
                   check_positions, check_range)

VAL_STREAM, PROBE_STREAM = 1, 2     # independent random streams derived from the seed


MAX_BATCHES, MAX_VAL = 1000, 4096


def _check_common(o, steps: int) -> None:
    """The sizes both tasks share; `steps` is T, the length of every sequence."""
    check_range("batch_size", o.batch_size, 1, MAX_ROWS)
    check_range("batches_per_epoch", o.batches_per_epoch, 1, MAX_BATCHES)
    check_range("val_size", o.val_size, 1, MAX_VAL)
    check_range("seed", o.seed, 0, MAX_SEED)
    check_positions("the validation batch", o.val_size, steps, MAX_BATCH_POSITIONS, "val_size or lag")
    check_positions("an epoch", o.batch_size * o.batches_per_epoch, steps, MAX_EPOCH_POSITIONS,
                    "batch_size, batches_per_epoch or lag")


class _Fresh(Task):
    """Shared plumbing: `make(rng, n)` draws n sequences; train = fresh draws, val/probe fixed."""

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        raise NotImplementedError

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        for _ in range(self.options.batches_per_epoch):
            yield self.make(rng, self.options.batch_size)

    def val_batches(self) -> list[Batch]:
        return [self.make(np.random.default_rng([self.options.seed, VAL_STREAM]), self.options.val_size)]

    def probe(self) -> Batch:
        return self.make(np.random.default_rng([self.options.seed, PROBE_STREAM]), 1)

    def largest_batch(self) -> tuple[int, int]:
        return max(self.options.batch_size, self.options.val_size), self.make(np.random.default_rng(0), 1).steps


@dataclass(frozen=True)
class CopyOptions:
    length: int = 3             # K symbols to remember
    n_symbols: int = 4          # symbols '0'..'n_symbols-1'
    lag: int = 40               # blanks between the last symbol and the cue ':'
    batch_size: int = 32
    batches_per_epoch: int = 20
    val_size: int = 256
    seed: int = 0


@register
class Copy(_Fresh):
    name = "copy"
    kind = "classify"
    tokens = True
    Options = CopyOptions
    summary = "remember K symbols over `lag` blank steps, then write them back after the cue ':'"

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        if not 1 <= o.length <= 50:
            raise ValueError(f"length must be in 1..50, got {o.length}")
        if not 2 <= o.n_symbols <= 10:
            raise ValueError(f"n_symbols must be in 2..10, got {o.n_symbols}")
        if not 0 <= o.lag <= 1000:
            raise ValueError(f"lag must be in 0..1000, got {o.lag}")
        _check_common(o, self.steps)
        self.vocab = [str(i) for i in range(o.n_symbols)] + ["_", ":"]   # symbols, blank, cue
        self.sep = ""

    @property
    def steps(self) -> int:
        """T = K symbols + lag blanks + the cue + K-1 blanks while writing back."""
        return 2 * self.options.length + self.options.lag

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        k, lag = self.options.length, self.options.lag
        syms = torch.from_numpy(rng.integers(0, self.options.n_symbols, size=(n, k)))   # [n, K]
        x = torch.full((n, self.steps), self.options.n_symbols, dtype=torch.long)       # blanks
        x[:, :k] = syms
        x[:, k + lag] = self.options.n_symbols + 1                                      # the cue
        y = torch.full((n, self.steps), IGNORE, dtype=torch.long)
        y[:, k + lag:] = syms                                                           # last K steps
        return Batch(x, y)

    def probe_labels(self) -> list[str]:
        return [self.vocab[i] for i in self.probe().x[0].tolist()]

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        # the gradients lesson's defaults: at the default lag 40 the lstm and the gru learn to copy
        # in 60 epochs while the rnn stays near chance (0.25); at lag 5 all three learn it. Measured
        # by bench/copy_lesson.py (bench/README.md), tested by tests/test_lesson_claims_copy.py.
        # A forget bias of 1, hidden 32 or lr 0.01 leaves the lstm at chance for some seeds from lag 20 on.
        return (ModelConfig(cell="lstm", hidden_size=64),
                TrainConfig(optimizer="adam", lr=0.005, epochs=60, clip=1.0, forget_bias=5.0))


@dataclass(frozen=True)
class AddingOptions:
    lag: int = 30               # sequence length T (the marked values can be up to T-1 steps back)
    batch_size: int = 32
    batches_per_epoch: int = 20
    val_size: int = 256
    seed: int = 0


@register
class Adding(_Fresh):
    name = "adding"
    kind = "regress"
    tokens = False
    Options = AddingOptions
    summary = "add the two marked numbers of a long sequence; answer at the last step"

    def __init__(self, options=None):
        super().__init__(options)
        if not 2 <= self.options.lag <= 2000:
            raise ValueError(f"lag (the sequence length) must be in 2..2000, got {self.options.lag}")
        _check_common(self.options, self.options.lag)

    @property
    def input_size(self) -> int:
        return 2

    @property
    def output_size(self) -> int:
        return 1

    def make(self, rng: np.random.Generator, n: int) -> Batch:
        t = self.options.lag
        values = rng.uniform(0.0, 1.0, size=(n, t))                      # [n, T]
        first = rng.integers(0, t // 2, size=n)                          # one mark in each half
        second = rng.integers(t // 2, t, size=n)
        marks = np.zeros((n, t))
        marks[np.arange(n), first] = 1.0
        marks[np.arange(n), second] = 1.0
        x = torch.tensor(np.stack([values, marks], -1), dtype=torch.float32)   # [n, T, 2]
        y = torch.zeros(n, t, 1)                                               # [n, T, 1]
        y[:, -1, 0] = (x[..., 0] * x[..., 1]).sum(1)                           # the marked sum
        mask = torch.zeros(n, t)                                               # [n, T]
        mask[:, -1] = 1.0
        return Batch(x, y, mask)

    def probe_labels(self) -> list[str]:
        x = self.probe().x[0]                                            # [T, 2]
        return [f"{v:.2f}" + ("*" if m > 0 else "") for v, m in x.tolist()]

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        # lag 30: an lstm reaches val mse ~0.001 in 60 epochs (predicting the mean 1.0 gives ~0.17)
        return (ModelConfig(cell="lstm", hidden_size=32),
                TrainConfig(optimizer="adam", lr=0.01, epochs=60))
