"""Using a run's model at a recorded epoch: sample text, continue a prefix, free-run a sine wave.

A run keeps copies of its weights at record points (rnnviz.run.WeightKeeper); here they become a
TorchEngine of their own (cached), so generating never touches the model that is being trained in
the worker process, and the epoch scrubber can replay generation at any kept epoch.
All functions raise ValueError with a readable message for bad input (a prime the vocabulary lacks).
"""
from __future__ import annotations

import threading
import time

import torch

from rnnviz import generate
from rnnviz.engine import TorchEngine
from rnnviz.numpy_engine.adapter import NumpyEngine
from rnnviz.tasks.base import IGNORE, Batch
from rnnviz.engines import make_engine

from lab.snapshot import Snapshot
from lab.throttle import Memo

MAX_TRY = 200        # tokens of a typed text read at once (describe_text): one bar each in its figure

_engines = Memo(size=24)
_free = Memo(size=64)                    # free-running values
_samples = Memo(size=128)
_logs: dict[tuple, dict[int, str]] = {}  # (run id, sample settings) -> epoch -> text shown
_lock = threading.Lock()


def engine_at(view: Snapshot, epoch: int | None = None) -> tuple[int, TorchEngine | NumpyEngine]:
    """(the kept epoch, an engine of the run's kind with its weights) for the latest kept epoch <= epoch
    (default: the view's selected epoch)."""
    run = view.run
    epoch = epoch if epoch is not None else (view.rec.epoch if view.rec else 0)
    got = run.weights.at(epoch)
    if got is None:
        raise ValueError("this run has no weights recorded yet: train it first")
    kept, state = got
    return kept, _engines.get((run.id, kept), None,
                              lambda: make_engine(run.task, run.mcfg, run.tcfg, state_dict=state, bugs=run.bugs))


def sample(view: Snapshot, prime: str, length: int, temperature: float, top_k: int, seed: int = 0,
           epoch: int | None = None) -> tuple[int, str, float]:
    """(kept epoch, generated text, characters per second of the generation) with the weights of the
    selected (or given) epoch. While the run trains, resampled only as often as the trainer can afford."""
    got = view.run.weights.at(epoch if epoch is not None else (view.rec.epoch if view.rec else 0))
    if got is None:
        raise ValueError("this run has no weights recorded yet: train it first")
    settings = (prime, length, temperature, top_k, seed)

    def build():
        kept, engine = engine_at(view, got[0])
        t0 = time.perf_counter()
        text = generate.sample_text(engine, view.task, prime=prime, length=length, temperature=temperature,
                                    top_k=top_k, seed=seed)
        return kept, text, length / max(time.perf_counter() - t0, 1e-9)

    slot = (view.run.id, settings) if epoch is None else (view.run.id, settings, epoch)
    kept, text, cps = _samples.get(slot, got[0], build, live=view.run.active and epoch is None)
    with _lock:
        log = _logs.pop((view.run.id, settings), {})
        _logs[(view.run.id, settings)] = log          # most recently used last
        while len(_logs) > 64:
            del _logs[next(iter(_logs))]
        log[kept] = text
        while len(log) > 64:
            del log[sorted(log)[len(log) // 2]]
    return kept, text, cps


def sample_history(view: Snapshot, prime: str, length: int, temperature: float, top_k: int,
                   n: int = 5) -> list[tuple[int, str]]:
    """Earlier samples, newest first: those shown while the run trained, or (once it stopped) samples
    at n kept epochs spread over the run, up to the selected epoch."""
    settings = (prime, length, temperature, top_k, 0)
    upto = view.rec.epoch if view.rec else 0
    if not view.run.active:
        kept = [e for e in view.run.weights.epochs if e <= upto]
        for i in range(min(n, len(kept))):
            sample(view, prime, length, temperature, top_k, epoch=kept[round(i * (len(kept) - 1) / max(n - 1, 1))])
    with _lock:
        log = dict(_logs.get((view.run.id, settings), {}))
    epochs = sorted(e for e in log if e <= upto)[:-1]   # the newest is the sample shown above
    if len(epochs) > n:
        epochs = [epochs[round(i * (len(epochs) - 1) / (n - 1))] for i in range(n)]
    return [(e, log[e]) for e in reversed(epochs)]


def continuation(view: Snapshot, prefix: str, max_tokens: int = 40) -> tuple[int, list[str]]:
    kept, engine = engine_at(view)
    return kept, generate.continue_tokens(engine, view.task, prefix, max_tokens=max_tokens)


def free_running(view: Snapshot, steps: int) -> tuple[int, list[float]]:
    """Read the probe window teacher-forced, then feed each prediction back for `steps` steps."""
    kept, engine = engine_at(view)
    return kept, _free.get((view.run.id, kept, steps), None,
                           lambda: generate.free_run(engine, view.task.probe().x[0, :, 0].tolist(), steps))


def describe_text(view: Snapshot, text: str, k: int = 3) -> tuple[int, dict]:
    """The model's top-k next-token probabilities after every token of `text` (a describe() dict
    without targets, for rnnviz.figures.topk_figure)."""
    ids = view.task.encode(text)
    if not ids:
        raise ValueError("type at least one token")
    if len(ids) > MAX_TRY:
        raise ValueError(f"type at most {MAX_TRY} words; this text has {len(ids):,}")
    kept, engine = engine_at(view)
    x = torch.tensor([ids])
    out, _ = engine.predict(x)
    return kept, view.task.describe(out, Batch(x, torch.full_like(x, IGNORE)), k=k)
