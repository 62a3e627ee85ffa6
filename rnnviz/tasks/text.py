"""Character-level language model on a corpus (course seed 003, char-RNN): Shakespeare, dinosaur
names, or your own text.

Batching as the course's get_batches: the training text is laid out in batch_size rows of equal
length; batch j is columns j*seq_len .. (j+1)*seq_len - 1 of every row, so row r of batch j+1
continues row r of batch j (sequential, carry the hidden state). y is x shifted by one character,
the last column included: it is the real next character of the row (the course wrapped around to
the row's start there). Shapes: x, y LongTensor [batch_size, seq_len].
Validation = the last val_frac of the text, batched the same way (fewer rows if it is short). A list
of names (the dinosaurs, one per line, sorted) is shuffled by the data seed first: otherwise the
validation names would be the alphabetically last ones (w to z), unlike every training name.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..config import ModelConfig, TrainConfig, shown
from ..limits import env_limit, read_file
from . import register
from .base import Batch, Task
from .chars import show_token

DATA = Path(__file__).resolve().parent.parent / "data"
CORPORA = {"shakespeare": DATA / "shakespeare.txt", "dinos": DATA / "dinos.txt"}
NAME_LISTS = {"dinos"}                                      # one name a line: shuffled before the split
MAX_CUSTOM = 1_000_000                                      # characters of a custom text
MAX_VOCAB = env_limit("RNNVIZ_MAX_VOCAB", 512)              # distinct characters (the one-hot width)
MAX_TEXT_BYTES = env_limit("RNNVIZ_MAX_TEXT_BYTES", 4 * MAX_CUSTOM)   # a text file, read as UTF-8
PROBE_LEN = 64


def read_text_file(path: str | os.PathLike) -> str:
    """A user's corpus file: a regular file only (a FIFO, a device such as /dev/zero or a directory is
    refused before anything is read), at most MAX_TEXT_BYTES, strict UTF-8 (NUL is refused by the task,
    as in any text)."""
    data = read_file(path, MAX_TEXT_BYTES, "the text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"the text file {shown(os.fspath(path))} is not UTF-8 text (invalid byte at offset "
                         f"{e.start}); save it as UTF-8") from None
    return text


def readable_by_others(path: str | os.PathLike) -> bool:
    """Whether any user may read the file: it is world-readable and every directory above it
    world-searchable (a checkpoint made from it must not be readable by more people)."""
    p = Path(path).resolve()
    if not os.stat(p).st_mode & stat.S_IROTH:
        return False
    return all(os.stat(d).st_mode & stat.S_IXOTH for d in p.parents)


@dataclass(frozen=True)
class TextOptions:
    corpus: str = "shakespeare"   # shakespeare | dinos | custom
    text: str = ""                # the text itself when corpus == "custom"
    max_chars: int = 200_000      # use the first max_chars characters of the corpus
    seq_len: int = 64             # characters per window (truncated BPTT length)
    batch_size: int = 32          # rows read in parallel
    val_frac: float = 0.1         # the last part of the text, held out
    seed: int = 0                 # data seed: the order of the names of a name list (dinos)


def shuffled_lines(text: str, seed: int) -> str:
    """The lines of text in an order drawn from the seed (each line ends with a new line)."""
    lines = text.splitlines()
    order = np.random.default_rng(seed).permutation(len(lines))
    return "".join(lines[i] + "\n" for i in order)


def lay_out(ids: np.ndarray, rows: int, seq_len: int) -> list[Batch]:
    """ids [N] -> consecutive batches x, y [rows, seq_len]; y = x shifted by one; tail dropped."""
    per_row = (len(ids) - 1) // (rows * seq_len) * seq_len      # columns per row, whole windows
    if per_row == 0:
        return []
    used = rows * per_row
    x = torch.from_numpy(ids[:used].reshape(rows, per_row))           # [rows, per_row]
    y = torch.from_numpy(ids[1:used + 1].reshape(rows, per_row))      # the next character of each
    return [Batch(x[:, j:j + seq_len].contiguous(), y[:, j:j + seq_len].contiguous())
            for j in range(0, per_row, seq_len)]


# corpus -> model and training defaults under which the validation loss ends well below the unigram
# entropy (tests/test_dinos.py). The names are 20,600 characters, 9 batches of 32 x 64 an epoch: a
# model the size of Shakespeare's, trained as long, learns them by heart and its validation loss
# climbs back above the unigram entropy, so they get a smaller model and a fifth of the steps.
SUGGESTED = {
    "shakespeare": (ModelConfig(cell="lstm", hidden_size=128, num_layers=1, embedding_dim=0),
                    TrainConfig(optimizer="adam", lr=0.003, steps=2000, clip=5.0, carry_state=True)),
    "dinos": (ModelConfig(cell="lstm", hidden_size=64, num_layers=1, embedding_dim=0),
              TrainConfig(optimizer="adam", lr=0.005, steps=400, clip=5.0, carry_state=True)),
}


@register
class Text(Task):
    name = "text"
    kind = "classify"
    tokens = True
    sequential = True
    Options = TextOptions
    summary = "char-level language model (Shakespeare, dinosaur names or your text): sample new text"

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        if o.corpus == "custom":
            if not o.text:
                raise ValueError(f"corpus 'custom' needs a text: the box is empty; paste or upload one (at most "
                                 f"{MAX_CUSTOM:,} characters)")
            if len(o.text) > MAX_CUSTOM:
                raise ValueError(f"custom text has {len(o.text):,} characters; the limit is {MAX_CUSTOM:,}")
            if (first := o.text.find("\0")) >= 0:     # pasted, uploaded, a file or a checkpoint's config
                raise ValueError(f"the custom text has {o.text.count(chr(0)):,} NUL characters (the first is "
                                 f"character {first + 1:,}): it is binary data, not text")
            full = o.text
        elif o.corpus in CORPORA:
            full = CORPORA[o.corpus].read_text(encoding="utf-8")
        else:
            raise ValueError(f"corpus must be one of {[*CORPORA, 'custom']}, got {shown(o.corpus)}")
        if o.max_chars < 100:
            raise ValueError(f"max_chars must be >= 100, got {o.max_chars}")
        if not 1 <= o.seq_len <= 1000:
            raise ValueError(f"seq_len must be in 1..1000, got {o.seq_len}")
        if not 1 <= o.batch_size <= 1024:
            raise ValueError(f"batch_size must be in 1..1024, got {o.batch_size}")
        if not 0.0 < o.val_frac <= 0.5:
            raise ValueError(f"val_frac must be in (0, 0.5], got {o.val_frac}")
        if not 0 <= o.seed < 2**63:
            raise ValueError(f"seed must be in 0..2**63-1, got {o.seed}")
        if o.corpus in NAME_LISTS:
            full = shuffled_lines(full, o.seed)
        self.text = full[:o.max_chars]
        self.vocab = sorted(set(self.text))
        if len(self.vocab) > MAX_VOCAB:
            raise ValueError(f"the text has {len(self.vocab):,} distinct characters; the limit is {MAX_VOCAB} "
                             "(RNNVIZ_MAX_VOCAB): a character model needs a small alphabet")
        self.sep = ""
        split = int(len(self.text) * (1 - o.val_frac))
        self.train_text, self.val_text = self.text[:split], self.text[split:]
        lut = self._index
        self.train_ids = np.array([lut[c] for c in self.train_text], dtype=np.int64)   # [N_train]
        self.val_ids = np.array([lut[c] for c in self.val_text], dtype=np.int64)       # [N_val]
        self._train = lay_out(self.train_ids, o.batch_size, o.seq_len)
        if not self._train:
            raise ValueError(f"the training text ({len(self.train_text):,} chars once the validation part is "
                             f"held out) is shorter than one batch: needs batch_size * seq_len + 1 = "
                             f"{o.batch_size * o.seq_len + 1}; "
                             "lower batch_size or seq_len, or give more text")
        if len(self.val_ids) < 2:
            raise ValueError("the validation part is under 2 characters: raise val_frac or give more text")
        rows = max(1, min(o.batch_size, (len(self.val_ids) - 1) // o.seq_len))
        self._val = lay_out(self.val_ids, rows, o.seq_len)

    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        yield from self._train            # in order: rows continue from batch to batch

    def val_batches(self) -> list[Batch]:
        return list(self._val)

    def probe(self) -> Batch:
        """The first (up to) 64 characters of the validation text: x, y [1, T]."""
        ids = torch.from_numpy(self.val_ids[:PROBE_LEN + 1])
        return Batch(ids[None, :-1], ids[None, 1:])

    def largest_batch(self) -> tuple[int, int]:
        batches = [*self._train[:1], *self._val[:1], self.probe()]    # every training batch has the first's shape
        return max(b.size for b in batches), max(b.steps for b in batches)

    def probe_labels(self) -> list[str]:
        return [show_token(c) for c in self.val_text[:PROBE_LEN + 1][:-1]]

    def unigram_entropy(self) -> float:
        """Entropy (nats) of the training text's character distribution: the loss of a model that
        knows only character frequencies. A trained model should go well below it."""
        p = np.bincount(self.train_ids, minlength=len(self.vocab)) / len(self.train_ids)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return cls.suggested_for(cls.Options())

    @classmethod
    def suggested_for(cls, options) -> tuple[ModelConfig, TrainConfig]:
        """The corpus' defaults (a custom text gets Shakespeare's)."""
        return SUGGESTED.get(options.corpus, SUGGESTED["shakespeare"])


@dataclass(frozen=True)
class DinosOptions:
    max_chars: int = 200_000      # the whole list (about 20,600 characters, 1,602 names)
    seq_len: int = 32             # characters per window
    batch_size: int = 16          # rows read in parallel
    val_frac: float = 0.1         # the last names of the shuffled list, held out
    seed: int = 0                 # data seed: the order of the names

    corpus = "dinos"              # not fields: what Text reads, always the shipped names
    text = ""


@register
class Dinos(Text):
    """The text task on the shipped dinosaur names, one per line (course seed 000: a NumPy RNN that
    generates new dinosaur names): the From scratch lesson trains it on the NumPy engine."""
    name = "dinos"
    Options = DinosOptions
    summary = "dinosaur names, one per line, char by char: sample new ones (the NumPy RNN of seed 000)"

    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        return (ModelConfig(cell="rnn", hidden_size=64),
                TrainConfig(optimizer="adam", lr=0.005, epochs=30, clip=5.0, carry_state=True))

    @classmethod
    def suggested_for(cls, options) -> tuple[ModelConfig, TrainConfig]:
        return cls.suggested()     # the NumPy RNN of seed 000, not the text lesson's LSTM
