"""Truncated backpropagation through time with a given length, as the sine lecture (course seed 003)
trains: one optimizer step per window of k steps, the hidden state handed on to the next window with
its history cut off (`hidden = hidden.data`), so no gradient travels back more than k steps.

TrainConfig.tbptt = k > 0 does that inside every training batch of a sequential task: the batch is cut
along time into pieces of k steps (the last may be shorter); each piece is one optimizer step and its
final state, detached, starts the next piece. Between batches the state flows on only with carry_state,
as before. The forward pass is the same as without cuts; only the gradient changes.

The probe measures what training computes (engine.probe with tcfg.tbptt): the probe input is cut the
same way; at step t, L is the mean loss of the piece that holds t, and dL/dh_t stops at the piece's
first step; L_last (the final counted step's loss) reaches only the last piece, zero before it.
"""
from __future__ import annotations

import numpy as np

from .probes import Probe
from .tasks.base import IGNORE, Batch


def cuts(batch: Batch, k: int) -> bool:
    """Whether a tbptt of k cuts this batch (k = 0, or k >= its length, leaves it whole)."""
    return 0 < k < batch.steps


def pieces(batch: Batch, k: int) -> list[Batch]:
    """The batch cut along time into pieces of k steps: x, y (and mask) [B, k] (the last one shorter)."""
    if not cuts(batch, k):
        return [batch]
    part = lambda a, s: None if a is None else a[:, s:s + k]  # noqa: E731
    return [Batch(part(batch.x, s), part(batch.y, s), part(batch.mask, s)) for s in range(0, batch.steps, k)]


def cut_batches(batches: list[Batch], k: int) -> tuple[list[Batch], list[bool]]:
    """Every batch cut into pieces of k steps, in order, and for each piece whether it continues the
    piece before it (the state must flow on, whatever carry_state says)."""
    out, continues = [], []
    for b in batches:
        ps = pieces(b, k)
        out += ps
        continues += [False] + [True] * (len(ps) - 1)
    return out, continues


def counted(kind: str, batch: Batch) -> float:
    """How many steps of row 0 have a target (the weight of its mean loss in a longer mean)."""
    if kind == "classify":
        return float((batch.y[0] != IGNORE).sum())
    return float(batch.mask[0].sum()) if batch.mask is not None else float(batch.steps)


def join(parts: list[Probe], weights: list[float], k: int) -> Probe:
    """The probes of consecutive pieces as one probe of the whole window (time axis joined). loss: the
    mean over the window; grad_h_last: the last piece with a counted step keeps its own, the pieces
    before it get zeros (nothing reaches them across the cut)."""
    def cat(name):
        arrays = [getattr(p, name) for p in parts]
        return None if arrays[0] is None else np.concatenate(arrays, axis=1)
    last = None
    if parts[0].grad_h_last is not None:
        final = max((i for i, w in enumerate(weights) if w > 0), default=len(parts) - 1)
        last = np.concatenate([p.grad_h_last if i == final else np.zeros_like(p.grad_h_last)
                               for i, p in enumerate(parts)], axis=1)
    total = sum(weights)
    loss = sum(p.loss * w for p, w in zip(parts, weights)) / total if total else 0.0
    return Probe(hidden=cat("hidden"), cell=cat("cell"),
                 gates={g: np.concatenate([p.gates[g] for p in parts], axis=1) for g in parts[0].gates},
                 grad_h=cat("grad_h"), grad_c=cat("grad_c"), grad_h_last=last,
                 out=np.concatenate([p.out for p in parts], axis=0), loss=float(loss),
                 directions=parts[0].directions, tbptt=k)


def truncated_probe(engine, batch: Batch, k: int, last: bool = True) -> Probe:
    """The probe of `batch` (B = 1) cut every k steps: each piece probed from the state the one before
    it ended in (engine.probe_piece(piece, state, last)), then joined."""
    parts, state = [], None
    ps = pieces(batch, k)
    for piece in ps:
        parts.append(engine.probe_piece(piece, state, last))
        _, state = engine.predict(piece.x, state)
    return join(parts, [counted(engine.task.kind, p) for p in ps], k)
