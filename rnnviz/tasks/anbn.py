"""The a^n b^n a^n EOS language (course seed 004): count the a's, then reproduce the count twice.

Data as the course builds it: `num_sequences` sequences with n drawn by np.random.RandomState(seed)
.randint(1, max_n + 1) (seed 42, max_n 5 reproduce the course's list), vocabulary ordered by word
frequency (a, b, EOS) plus 'UNK' last, split 80/10/10 in the generated order, inputs = seq[:-1],
targets = seq[1:]. Shapes: x, y LongTensor [B, T] with T the longest sequence of the batch; shorter
rows are padded at the END (x with the EOS id, y with IGNORE), so padding never changes earlier steps.

Accuracy counts only the DETERMINISTIC positions: those whose input prefix already contains a 'b'.
Before the first b the next token is a guess (another a, or the first b?); once a b has been seen n is
known and every later token is fixed, so a perfect model scores 100% there.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig
from . import register
from .base import IGNORE, Batch, Task, check_range


def anbn(n: int) -> list[str]:
    """The sequence a^n b^n a^n EOS as a list of tokens."""
    return ["a"] * n + ["b"] * n + ["a"] * n + ["EOS"]


def expected_completion(prefix: list[str]) -> list[str] | None:
    """The only correct continuation of `prefix` (ending with EOS), or None when the prefix is not
    the start of some a^n b^n a^n EOS or does not yet fix n (no 'b' seen yet)."""
    n = 0
    while n < len(prefix) and prefix[n] == "a":
        n += 1
    if n == 0 or n == len(prefix) or prefix[n] != "b":
        return None
    full = anbn(n)
    return full[len(prefix):] if full[:len(prefix)] == list(prefix) else None


PREFIX_TOKENS = ("a", "b")   # what a typed prefix may hold (EOS ends a sequence, UNK is for unknown words)
MAX_PREFIX = 200             # tokens


def read_prefix(text: str) -> list[str]:
    """A typed prefix as tokens; ValueError with a one-line message when it is empty, too long or holds
    anything but a and b (encode() would read an unknown word as UNK without a word)."""
    tokens = text.split()
    if not tokens:
        raise ValueError("type a prefix: a's and b's separated by spaces, e.g. a a b")
    if len(tokens) > MAX_PREFIX:
        raise ValueError(f"a prefix holds at most {MAX_PREFIX} tokens, got {len(tokens)}")
    unknown = sorted({t for t in tokens if t not in PREFIX_TOKENS})
    if unknown:
        shown = ", ".join(repr(t[:20]) for t in unknown[:5]) + (", …" if len(unknown) > 5 else "")
        raise ValueError(f"unknown token{'s' if len(unknown) > 1 else ''} {shown}: a prefix holds only "
                         + " and ".join(PREFIX_TOKENS) + ", separated by spaces (e.g. a a b)")
    return tokens


def scored_continuation(prefix: list[str], continuation: list[str]) -> list[bool | None]:
    """For each token of `continuation`: None where it is not scored (no b before it yet: the next
    token is a guess, as in counted_mask), else whether it is the one correct token. Once a b is seen
    n = the a's before it, and the sequence must go on as a^n b^n a^n EOS; a prefix that is not the
    start of one has no correct token left (every scored one is False)."""
    seq = list(prefix) + list(continuation)
    n = seq.index("b") if "b" in seq else len(seq)
    full = anbn(n) if n and all(t == "a" for t in seq[:n]) else []
    valid = full[:len(prefix)] == list(prefix) if "b" in prefix else True
    out: list[bool | None] = []
    for i in range(len(prefix), len(seq)):
        out.append(None if "b" not in seq[:i] else valid and i < len(full) and seq[i] == full[i])
    return out


@dataclass(frozen=True)
class AnbnOptions:
    max_n: int = 5              # n is drawn from 1..max_n
    num_sequences: int = 256    # split 80/10/10 into train/val/test
    seed: int = 42              # the course's np.random.seed(42)
    batch_size: int = 32        # 1 = one sequence per step, as the course


@register
class Anbn(Task):
    name = "anbn"
    kind = "classify"
    tokens = True
    Options = AnbnOptions
    summary = "a^n b^n a^n EOS: count the a's, then repeat the count (accuracy on the determined part)"

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        if not 1 <= o.max_n <= 50:
            raise ValueError(f"max_n must be in 1..50, got {o.max_n}")
        if not 10 <= o.num_sequences <= 100_000:
            raise ValueError(f"num_sequences must be in 10..100000 (80/10/10 split), got {o.num_sequences}")
        if o.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {o.batch_size}")
        check_range("seed", o.seed, 0, 2**32 - 1, " (the course's np.random.RandomState)")
        draw = np.random.RandomState(o.seed)
        self.sequences = [anbn(int(draw.randint(1, o.max_n + 1))) for _ in range(o.num_sequences)]
        counts = Counter(w for s in self.sequences for w in s)          # insertion order breaks ties
        self.vocab = [w for w, _ in sorted(counts.items(), key=lambda kv: -kv[1])] + ["UNK"]
        self.sep = " "
        n = len(self.sequences)
        n_train, n_val, n_test = int(n * 0.8), int(n * 0.1), int(n * 0.1)  # as the course
        self.train = self.sequences[:n_train]
        self.val = self.sequences[n_train:n_train + n_val]
        self.test = self.sequences[n - n_test:]

    # ---- ids and batches ---------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Words -> ids; unknown words become UNK (as the course's defaultdict)."""
        unk = self._index["UNK"]
        return [self._index.get(w, unk) for w in text.split()]

    def _ids(self, seq: list[str]) -> list[int]:
        """Cached ids of a sequence (the data set is fixed; encoding it every epoch cost a quarter
        of a training epoch)."""
        cache = self.__dict__.setdefault("_id_cache", {})
        key = tuple(seq)
        if key not in cache:
            cache[key] = self.encode(" ".join(seq))
        return cache[key]

    def collate(self, seqs: list[list[str]]) -> Batch:
        """Token lists -> Batch: x = seq[:-1], y = seq[1:], both [B, T_max], padded at the end."""
        eos = self._index["EOS"]
        ids = [self._ids(s) for s in seqs]
        t_max = max(len(s) for s in ids) - 1
        x = np.full((len(ids), t_max), eos, dtype=np.int64)       # pad inputs with EOS
        y = np.full((len(ids), t_max), IGNORE, dtype=np.int64)    # pad targets with IGNORE
        for row, s in enumerate(ids):  # numpy rows: a torch op per row cost more than the training step
            x[row, :len(s) - 1] = s[:-1]
            y[row, :len(s) - 1] = s[1:]
        return Batch(torch.from_numpy(x), torch.from_numpy(y))

    def _chunks(self, seqs: list[list[str]]) -> list[Batch]:
        bs = self.options.batch_size
        return [self.collate(seqs[i:i + bs]) for i in range(0, len(seqs), bs)]

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        order = rng.permutation(len(self.train))
        yield from self._chunks([self.train[i] for i in order])

    def val_batches(self) -> list[Batch]:
        return self._chunks(self.val)

    def test_batches(self) -> list[Batch]:
        return self._chunks(self.test)

    def probe(self) -> Batch:
        return self.collate([anbn(3)])      # "a a a b b b a a a EOS", T = 9

    def largest_batch(self) -> tuple[int, int]:
        rows = min(self.options.batch_size, max(len(self.train), len(self.val), len(self.test)))
        return max(rows, 1), max(len(s) for s in self.sequences) - 1

    def probe_labels(self) -> list[str]:
        return anbn(3)[:-1]

    # ---- scoring -----------------------------------------------------------------------------
    def deterministic_mask(self, batch: Batch) -> torch.Tensor:
        """BoolTensor [B, T]: True where the input prefix x[:, :t+1] contains a 'b' and the step has
        a target. Example n=2: x = a a b b a a, y = a b b a a EOS -> mask F F T T T T."""
        return torch.from_numpy(self.counted_mask(batch))

    def counted_mask(self, batch: Batch) -> np.ndarray:
        """Accuracy counts the deterministic positions only (see the module docstring and
        deterministic_mask); NumPy, as Task.accuracy."""
        seen_b = np.logical_or.accumulate(batch.x.numpy() == self._index["b"], axis=1)   # [B, T]
        return seen_b & (batch.y.numpy() != IGNORE)

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        # the course: LSTM hidden 50, SGD lr 0.1, 200 epochs, one sequence per step;
        # Adam with batches of 32 gets there faster for a first demo
        return (ModelConfig(cell="lstm", hidden_size=50),
                TrainConfig(optimizer="adam", lr=0.01, epochs=100))
