"""Next-word prediction on six three-word sentences (course deck 000): "i like" -> "dogs".

x: LongTensor [6, 2] word ids of the first two words; y: LongTensor [6, 2] = [IGNORE, third word]
(only the last step is scored). The six sentences are training and validation set at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from . import register
from .base import IGNORE, Batch, Task

SENTENCES = ("i like dogs", "i love coffee", "i hate milk",
             "you like cats", "you love milk", "you hate coffee")


@dataclass(frozen=True)
class WordsOptions:
    """Nothing to choose: the data is the course's six sentences."""


@register
class Words(Task):
    name = "words"
    kind = "classify"
    tokens = True
    Options = WordsOptions
    summary = "two words in, the third out: 'i like' -> 'dogs' (six sentences, 9 words)"

    def __init__(self, options=None):
        super().__init__(options)
        self.sep = " "
        self.vocab = sorted({w for s in SENTENCES for w in s.split()})

    def _batch(self, sentences) -> Batch:
        """x [B, 2] = first two words; y [B, 2] = [IGNORE, third word]."""
        ids = torch.tensor([self.encode(s) for s in sentences])          # [B, 3]
        y = torch.full((len(sentences), 2), IGNORE, dtype=torch.long)    # [B, 2]
        y[:, 1] = ids[:, 2]
        return Batch(ids[:, :2], y)

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        yield self._batch(SENTENCES)        # full batch, as the course

    def probe(self) -> Batch:
        return self._batch(SENTENCES[:1])   # "i like" -> "dogs"

    def probe_labels(self) -> list[str]:
        return SENTENCES[0].split()[:2]

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="rnn", hidden_size=5),
                TrainConfig(optimizer="adam", lr=0.01, epochs=500))
