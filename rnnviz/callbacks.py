"""Callbacks the trainer fills: the Recorder (history for figures) and a convergence stop."""
from __future__ import annotations

import math

from .recorder import EpochRecord, History
from .trainer import Callback, Trainer


class Recorder(Callback):
    """Keeps a bounded History; asks for a full probe every `probe_every` record points, with the
    recurrent spectral radius when `spectral` (eigenvalues cost H^3: only for views that show it)."""

    def __init__(self, history: History | None = None, probe_every: int = 1, spectral: bool = False):
        self.history = history if history is not None else History()
        self.probe_every = max(1, probe_every)
        self.spectral = spectral
        self._count = 0

    def on_start(self, trainer: Trainer) -> None:
        self.history.unit = trainer.unit

    def wants_probe(self, trainer: Trainer, index: int) -> bool:
        # always probe the first and the final record point, and every probe_every-th between
        return self._count % self.probe_every == 0 or trainer.done + 1 >= trainer.total

    def on_record(self, trainer: Trainer, rec: EpochRecord) -> None:
        self._count += 1
        self.history.add(rec)


class ConvergenceStop(Callback):
    """Stop when the training loss has not improved by `min_rel` for `patience` record points."""

    def __init__(self, patience: int = 20, min_rel: float = 1e-3):
        self.patience, self.min_rel = patience, min_rel
        self.best, self.since = math.inf, 0

    def on_record(self, trainer: Trainer, rec: EpochRecord) -> None:
        if rec.loss < self.best * (1 - self.min_rel):
            self.best, self.since = rec.loss, 0
        else:
            self.since += 1
            if self.since >= self.patience:
                trainer.stop(f"converged: the loss improved by less than {self.min_rel:.1%} "
                             f"over {self.patience} records")


class PrintProgress(Callback):
    """One line per record point (the CLI)."""

    def __init__(self, out=print, every: int = 1):
        self.out, self.every, self._n = out, max(1, every), 0

    def on_record(self, trainer: Trainer, rec: EpochRecord) -> None:
        self._n += 1
        if self._n % self.every and trainer.done < trainer.total:
            return
        parts = [f"{trainer.unit} {rec.epoch:>6}/{trainer.total}", f"loss {rec.loss:.4f}"]
        if rec.val_loss is not None:
            parts.append(f"val {rec.val_loss:.4f}")
        if rec.val_acc is not None:
            parts.append(f"val acc {rec.val_acc:.3f}")
        p = rec.prediction
        if p and p.get("kind") == "tokens":
            text = p["text"]
            parts.append(f"prediction {text[:60]!r}")
        self.out("  ".join(parts))
