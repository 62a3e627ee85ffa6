"""What the steps between two record points add up to: mean loss, gradient norm, share clipped, and
the training accuracy (rnnviz.trainer makes one per record point)."""
from __future__ import annotations

from dataclasses import dataclass, field

SCORE_EVERY = 16  # steps whose training accuracy may wait for the next record point


@dataclass
class Tally:
    loss: float = 0.0
    norm: float = 0.0
    clipped: int = 0
    n: int = 0
    right: int = 0
    counted: int = 0
    unscored: list = field(default_factory=list)   # (outputs [B, T, O] detached, batch) not scored yet

    def add(self, task, res, batch, at_record: bool) -> None:
        self.loss += res.loss
        self.norm += res.grad_norm
        self.clipped += int(res.clipped)
        self.n += 1
        self.unscored.append((res.out, batch))
        if at_record or len(self.unscored) >= SCORE_EVERY:
            self.score(task)

    def score(self, task) -> None:
        """Training accuracy of the steps not scored yet. Scoring the steps in a row, at the record point,
        costs about half as much as scoring each one between two training steps (measured on anbn)."""
        for out, batch in self.unscored:
            r, c = task.accuracy(out, batch)
            self.right += r
            self.counted += c
        self.unscored.clear()

    def means(self) -> dict:
        n = max(self.n, 1)
        return {"loss": self.loss / n, "grad_norm": self.norm / n, "clipped": self.clipped / n,
                "train_acc": self.right / self.counted if self.counted else None}
