"""Learn one fixed sentence character by character (course decks 001/002 and the 'ship' exercise).

hihell: "hihell" -> "ihello"; seoul: " seoul is the capital of south korea"; ship: a long sentence
trained through short sliding windows. Shapes: x, y LongTensor [B, T] of char ids; every step has a
target (no IGNORE). These are memorisation exercises: there is nothing held out, so hihell and seoul
have no validation set (the recorded training accuracy says how much is memorised); ship validates
by reading the whole sentence in one pass, which is harder than its short training windows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from . import register
from .base import Batch, Task

# readable stand-ins for characters that are invisible on a time axis
_SHOWN = {" ": "␣", "\n": "⏎", "\t": "⇥"}


def show_token(ch: str) -> str:
    """A visible label for one character (space -> '␣', newline -> '⏎')."""
    return _SHOWN.get(ch, ch)


@dataclass(frozen=True)
class NoOptions:
    """This task has nothing to choose: the data is one fixed sentence."""


class CharSentence(Task):
    """One fixed sentence s; the model reads s[:-1] and predicts s[1:] (next character)."""
    kind = "classify"
    tokens = True
    Options = NoOptions
    sentence: ClassVar[str]
    fixed_vocab: ClassVar[tuple[str, ...]] = ()  # empty: sorted(set(sentence))

    def __init__(self, options=None):
        super().__init__(options)
        self.vocab = list(self.fixed_vocab) or sorted(set(self.sentence))
        self.sep = ""
        self._check()

    def _check(self) -> None:
        """Raise ValueError for option values that make no sense (subclasses with options)."""

    def whole(self) -> Batch:
        """The whole sentence as one sequence: x, y LongTensor [1, len(s) - 1] (built once)."""
        if not hasattr(self, "_whole"):
            ids = self.encode(self.sentence)
            self._whole = Batch(torch.tensor([ids[:-1]]), torch.tensor([ids[1:]]))
        return self._whole

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        yield self.whole()

    def probe(self) -> Batch:
        return self.whole()

    def probe_labels(self) -> list[str]:
        return [show_token(c) for c in self.sentence[:-1]]

    def ambiguous(self) -> dict[str, list[str]]:
        """Characters of the sentence followed by more than one character, and those (in sentence
        order): where the current character alone cannot tell the next, the hidden state must."""
        after: dict[str, list[str]] = {}
        for c, nxt in zip(self.sentence, self.sentence[1:]):
            seen = after.setdefault(c, [])
            if nxt not in seen:
                seen.append(nxt)
        return {c: n for c, n in after.items() if len(n) > 1}


# The course's hihell (deck 001, its first version): h_t itself is the logits, no Linear head, so the hidden
# size is the 5 letters; Adam lr 0.1, 100 epochs. The deck prints a final loss of 0.458 reading "ihello";
# the lab's preset "hihell-course" reproduces that program exactly (tests/test_course_preset.py).
COURSE_FINAL_LOSS = 0.458


def tanh_logit_floor(classes: int) -> float:
    """The least cross-entropy when every logit is a tanh in [-1, 1]: the right one at 1, the others at -1."""
    return math.log(1 + (classes - 1) / math.e ** 2)


@register
class HiHello(CharSentence):
    name = "hihell"
    summary = "the classic first RNN: read 'hihell', predict 'ihello' (5 chars, 6 steps)"
    sentence = "hihello"
    fixed_vocab = ("h", "i", "e", "l", "o")  # the course's order: h=0 i=1 e=2 l=3 o=4

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="rnn", hidden_size=5, head=True),
                TrainConfig(optimizer="adam", lr=0.1, epochs=100))


@register
class Seoul(CharSentence):
    name = "seoul"
    summary = "memorise ' seoul is the capital of south korea' one character at a time"
    sentence = " seoul is the capital of south korea"

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="rnn", hidden_size=16),
                TrainConfig(optimizer="adam", lr=0.01, epochs=500))


@dataclass(frozen=True)
class ShipOptions:
    seq_len: int = 10     # characters per training window
    batch_size: int = 0   # windows per batch; 0 = all windows in one batch


@register
class Ship(CharSentence):
    name = "ship"
    summary = "a 180-char sentence learnt through short sliding windows (seq_len chars each)"
    Options = ShipOptions
    sentence = ("if you want to build a ship, don't drum up people together to collect wood and don't "
                "assign them tasks and work, but rather teach them to long for the endless immensity "
                "of the sea.")

    def _check(self) -> None:
        o = self.options
        if not 1 <= o.seq_len < len(self.sentence):
            raise ValueError(f"seq_len must be in 1..{len(self.sentence) - 1}, got {o.seq_len}")
        if o.batch_size < 0:
            raise ValueError(f"batch_size must be >= 0 (0 = all windows in one batch), got {o.batch_size}")
        ids = torch.tensor(self.encode(self.sentence))                   # [S]
        n = len(self.sentence) - o.seq_len                                # windows at stride 1
        starts = torch.arange(n)[:, None] + torch.arange(o.seq_len)     # [N, T] positions
        self.windows_x, self.windows_y = ids[starts], ids[starts + 1]   # [N, T] each

    def val_batches(self) -> list[Batch]:
        return [self.whole()]

    def largest_batch(self) -> tuple[int, int]:
        n, bs = len(self.windows_x), self.options.batch_size
        return (n if bs == 0 or bs >= n else bs), len(self.sentence) - 1

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        n, bs = len(self.windows_x), self.options.batch_size
        if bs == 0 or bs >= n:               # one batch of every window, in sentence order
            yield Batch(self.windows_x, self.windows_y)
            return
        order = torch.from_numpy(rng.permutation(n))
        for i in range(0, n, bs):            # the last batch may be smaller
            pick = order[i:i + bs]
            yield Batch(self.windows_x[pick], self.windows_y[pick])

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="lstm", hidden_size=32, num_layers=2),
                TrainConfig(optimizer="adam", lr=0.01, epochs=300))
