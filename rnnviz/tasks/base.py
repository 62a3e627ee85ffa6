"""What every task (data set) provides: batches, a probe input, and readable predictions.

Shapes (batch_first everywhere, as the course writes it):
  token tasks:  x: LongTensor [B, T] of token ids (one-hot or embedding is the model's business)
  value tasks:  x: FloatTensor [B, T, input_size]
  classify:     y: LongTensor [B, T], IGNORE where a step has no target (padding, "only the last step")
  regress:      y: FloatTensor [B, T, output_size]; mask: FloatTensor [B, T] (1 = counts) or None (all count)
Loss = mean over the counted steps (cross-entropy or MSE), the same definition for training, validation,
the probe's ||dL/dh_t|| and both engines.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ModelConfig, TrainConfig, check_field_types
from ..probes import float32_list

IGNORE = -100
# Upper ends of the sizes a task's options may ask for: a training epoch is made whole before its first
# step (Trainer.run), so its size is memory, as is every batch's (the model's activations grow with it).
MAX_ROWS = 1024                   # sequences in one batch (batch_size, rows of a window)
MAX_BATCH_POSITIONS = 2**22       # rows x steps of one batch, training or validation
MAX_EPOCH_POSITIONS = 2**24       # rows x steps of all the batches of one training epoch
MAX_SEED = 2**63 - 1              # numpy's generators take 0..2**63-1 (RandomState: 0..2**32-1)


def check_range(name: str, value: int, lo: int, hi: int, why: str = "") -> None:
    """ValueError naming the option unless lo <= value <= hi."""
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi:,}{why}, got {value:,}")


def check_positions(what: str, rows: int, steps: int, limit: int, fix: str) -> None:
    """ValueError when rows x steps (the positions of a batch or of an epoch) exceed `limit`."""
    if rows * steps > limit:
        raise ValueError(f"{what} would hold {rows:,} x {steps:,} = {rows * steps:,} positions; the limit is "
                         f"{limit:,}: lower {fix}")


@dataclass
class Batch:
    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    @property
    def steps(self) -> int:
        return int(self.x.shape[1])


LOSS_NAMES = {"classify": "cross-entropy", "regress": "MSE"}   # what masked_loss computes, by task kind


def masked_loss(kind: str, out: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean loss over counted steps. out: [B, T, O] logits (classify) or values (regress)."""
    if kind == "classify":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1), ignore_index=IGNORE)
    err = ((out - batch.y) ** 2).mean(-1)  # [B, T]
    if batch.mask is None:
        return err.mean()
    return (err * batch.mask).sum() / batch.mask.sum()


def step_losses(kind: str, out: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-step loss [B, T] (0 where a step does not count); used for 'loss of the final step'."""
    if kind == "classify":
        flat = F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1),
                               ignore_index=IGNORE, reduction="none")
        return flat.view(batch.y.shape)
    err = ((out - batch.y) ** 2).mean(-1)
    return err if batch.mask is None else err * batch.mask


def last_counted_step(batch: Batch) -> int:
    """Index of the final time step that carries a target in row 0 (the probe's 'last' loss)."""
    if batch.y.dtype == torch.long:
        counted = (batch.y[0] != IGNORE).nonzero()
    elif batch.mask is not None:
        counted = (batch.mask[0] > 0).nonzero()
    else:
        return batch.steps - 1
    return int(counted[-1]) if len(counted) else batch.steps - 1


class Task:
    """Base class. Subclasses set the class attributes and implement the methods below.

    A task is built from its frozen `Options` dataclass: `TASKS[name](options)`; `make_task(name, **kw)`.
    Everything random (data generation, shuffling) uses `rng` / the options' seed so that a run is
    reproducible from its config.
    """
    name: ClassVar[str]
    kind: ClassVar[str]                # "classify" | "regress"
    tokens: ClassVar[bool]             # inputs are token ids (True) or real vectors (False)
    sequential: ClassVar[bool] = False  # consecutive train batches continue each other (carry_state makes sense)
    tick_inputs: ClassVar[bool] = True  # probe_labels() label a time axis' ticks (False: only its hover)
    Options: ClassVar[type]            # frozen dataclass with defaults
    summary: ClassVar[str] = ""        # one line for `rnnviz tasks` and the app

    @property
    def loss_name(self) -> str:
        """What its loss is: cross-entropy or MSE."""
        return LOSS_NAMES[self.kind]

    def __init__(self, options=None):
        self.options = options if options is not None else self.Options()
        if not isinstance(self.options, self.Options):
            raise ValueError(f"task {self.name} takes {self.Options.__name__}, got {type(self.options).__name__}")
        check_field_types(self.options)   # types here; each task checks its ranges
        self.vocab: list[str] = []     # token tasks: id -> token (inputs and classify outputs share it)
        self.sep: str = ""             # how tokens join into readable text ("" for chars, " " for words)

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return len(self.vocab)

    @property
    def output_size(self) -> int:
        return len(self.vocab)

    # ---- data --------------------------------------------------------------------------------
    def train_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        """The batches of one epoch, in order."""
        raise NotImplementedError

    def val_batches(self) -> list[Batch]:
        return []

    def test_batches(self) -> list[Batch]:
        return []

    def probe(self) -> Batch:
        """The fixed input (B = 1) used for every visual: hidden states, gates, ||dL/dh_t||."""
        raise NotImplementedError

    def probe_labels(self) -> list[str]:
        """One label per probe time step: the input token (or value) shown on the time axis."""
        raise NotImplementedError

    def largest_batch(self) -> tuple[int, int]:
        """(most rows, most steps) of any batch the task makes (training, validation, test, probe), from
        the options alone: what the model's activations are sized by (rnnviz.limits). This default
        makes every batch, so only tasks whose data is a few fixed sentences may keep it."""
        batches = [*self.train_batches(1, np.random.default_rng(0)), *self.val_batches(), *self.test_batches(),
                   self.probe()]
        return max(b.size for b in batches), max(b.steps for b in batches)

    # ---- reading outputs ---------------------------------------------------------------------
    def describe(self, out: torch.Tensor, batch: Batch, k: int = 3) -> dict:
        """Readable prediction for row 0 of `batch` given outputs out: [B, T, O] (see Describer)."""
        return self.describer(batch, k)(out[0])

    def describer(self, batch: Batch, k: int = 3) -> "Describer":
        """describe() of row 0 of this fixed batch, for any number of outputs."""
        return Describer(self, batch, k)

    def accuracy(self, out: torch.Tensor, batch: Batch) -> tuple[int, int]:
        """(right, counted) over the positions that count (counted_mask). Regress tasks: (0, 0).
        In NumPy: it runs at every training step, and small-array ops cost half of torch's there."""
        if self.kind != "classify":
            return 0, 0
        counted = self.counted_mask(batch)
        right = (out.detach().cpu().numpy().argmax(-1) == batch.y.numpy()) & counted
        return np.count_nonzero(right), np.count_nonzero(counted)

    def counted_mask(self, batch: Batch) -> np.ndarray:
        """bool [B, T]: the positions accuracy counts (every position with a target)."""
        return batch.y.numpy() != IGNORE

    # ---- text <-> ids (token tasks) ------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        parts = list(text) if self.sep == "" else text.split()
        unknown = [p for p in parts if p not in self._index]
        if unknown:
            raise ValueError(f"not in the vocabulary of {self.name}: {sorted(set(unknown))[:10]}")
        return [self._index[p] for p in parts]

    def decode(self, ids) -> str:
        return self.sep.join(self.vocab[int(i)] for i in ids)

    @property
    def _index(self) -> dict[str, int]:
        if getattr(self, "_index_of", (None,))[0] is not self.vocab:  # built once per vocabulary
            self._index_of = (self.vocab, {t: i for i, t in enumerate(self.vocab)})
        return self._index_of[1]

    # ---- defaults and persistence ------------------------------------------------------------
    @classmethod
    def suggested(cls) -> tuple[ModelConfig, TrainConfig]:
        """Model and training defaults that give a good first demo of this task."""
        return ModelConfig(), TrainConfig()

    @classmethod
    def suggested_for(cls, options) -> tuple[ModelConfig, TrainConfig]:
        """The defaults for these options: suggested(), unless they depend on the data (the text
        task's corpus)."""
        return cls.suggested()

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "options": dataclasses.asdict(self.options), "vocab": list(self.vocab)}


class Describer:
    """Readable predictions for row 0 of one fixed batch (the probe): call it with outputs [T, O].

    classify -> {"kind": "tokens", "input": [str], "target": [str|None], "predicted": [str],
                 "correct": [bool|None], "scored": [bool], "topk": [[[token, prob], ...k] per step],
                 "text": str, "target_text": str, "sep": str}
    "scored" marks the positions accuracy counts (Task.counted_mask): every position with a target,
    or fewer (anbn: only the determined ones). Predictions read from older files may lack it.
    regress  -> {"kind": "values", "input": [float], "target": [float], "predicted": [float], "mse": float}

    What does not change between calls (inputs, targets, the vocabulary) is read once. It keeps no
    reference to the task (whose data can be large), so it pickles small: records carry one to build
    their prediction when it is read (rnnviz.recorder).
    """

    def __init__(self, task: Task, batch: Batch, k: int = 3):
        self.kind, self.k = task.kind, k
        if self.kind == "regress":
            self.input = batch.x[0, :, 0].tolist()
            self.target = batch.y[0, :, 0].double().numpy()                                # [T]
            self.mask = batch.mask[0].double().numpy() if batch.mask is not None else np.ones_like(self.target)
            return
        self.vocab, self.sep = list(task.vocab), task.sep
        self.input = [self.vocab[i] for i in batch.x[0].tolist()]
        self.target = [self.vocab[t] if t != IGNORE else None for t in batch.y[0].tolist()]
        self.target_text = self.sep.join(t for t in self.target if t is not None)
        self.scored = [bool(c) for c in task.counted_mask(batch)[0].tolist()]

    def __call__(self, out) -> dict:
        """out: [T, O] outputs of row 0 (logits or values), a tensor or an array."""
        out = torch.as_tensor(out).detach().double()
        if self.kind == "regress":
            pred, tgt, m = out[:, 0], torch.from_numpy(self.target), torch.from_numpy(self.mask)
            return {"kind": "values", "input": list(self.input), "target": tgt.tolist(),
                    "predicted": pred.tolist(), "mse": float((((pred - tgt) ** 2) * m).sum() / m.sum())}
        probs = torch.softmax(out, -1)  # [T, V]
        top_p, top_i = probs.topk(min(self.k, probs.shape[-1]), -1)
        top_p, top_i = float32_list(top_p.float().numpy()), top_i.tolist()   # float32 digits: 1e-7 stays 1e-7
        vocab, target = self.vocab, self.target
        predicted = [vocab[ids[0]] for ids in top_i]  # top-1 is the argmax
        return {
            "kind": "tokens",
            "input": list(self.input),
            "target": list(target),
            "predicted": predicted,
            "correct": [None if t is None else p == t for p, t in zip(predicted, target)],
            "scored": list(self.scored),
            "topk": [[[vocab[i], p] for p, i in zip(ps, ids)] for ps, ids in zip(top_p, top_i)],
            "text": self.sep.join(p for p, t in zip(predicted, target) if t is not None),
            "target_text": self.target_text,
            "sep": self.sep,
        }
