"""Generation from a trained model: char sampling, greedy token continuation, free-running sine.

Everything goes through `engine.predict(x, state) -> (out [B, T, O], state)`, so the same code serves
the torch and the NumPy engine. The recurrent state is carried, so each new token costs one step.
"""
from __future__ import annotations

import torch

from .config import shown
from .tasks.base import Task


MAX_PRIME = 10_000    # tokens: the prime is read in one forward pass


def _check_prime(task: Task, prime: str) -> list[int]:
    if not prime:
        raise ValueError("the prime text must not be empty")
    ids = task.encode(prime)
    if len(ids) > MAX_PRIME:
        raise ValueError(f"the prime holds {len(ids):,} tokens; the limit is {MAX_PRIME:,}")
    return ids


def sample_text(engine, task: Task, prime: str = "The", length: int = 200, temperature: float = 1.0,
                top_k: int = 0, seed: int = 0) -> str:
    """Continue `prime` by sampling one token at a time from softmax(logits / temperature),
    optionally restricted to the top_k most likely tokens. Returns the generated part only."""
    if not 0.01 <= temperature <= 10:
        raise ValueError(f"temperature must be in [0.01, 10], got {temperature}")
    if not 0 < length <= 100_000:
        raise ValueError(f"length must be in 1..100000, got {length}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 = every token), got {top_k}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in 0..2**63-1, got {shown(seed)}")
    gen = torch.Generator().manual_seed(seed)
    ids = _check_prime(task, prime)
    out, state = engine.predict(torch.tensor([ids]))
    logits = out[0, -1]  # [V]
    generated = []
    for _ in range(length):
        logits = logits.double() / temperature
        if 0 < top_k < logits.numel():
            kth = logits.topk(top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
        generated.append(nxt)
        out, state = engine.predict(torch.tensor([[nxt]]), state)
        logits = out[0, -1]
    return task.decode(generated)


def continue_tokens(engine, task: Task, prefix: str, max_tokens: int = 30, stop: str | None = "EOS") -> list[str]:
    """Greedy continuation of a token prefix ("a a b" -> ["b", "a", "a", "EOS"]) until `stop`."""
    ids = _check_prime(task, prefix)
    out, state = engine.predict(torch.tensor([ids]))
    result = []
    for _ in range(max_tokens):
        nxt = int(out[0, -1].argmax())
        result.append(task.vocab[nxt])
        if stop is not None and task.vocab[nxt] == stop:
            break
        out, state = engine.predict(torch.tensor([[nxt]]), state)
    return result


def free_run(engine, warmup: list[float], steps: int) -> list[float]:
    """Sine (or any 1-d regression): read `warmup` teacher-forced, then feed each prediction back
    as the next input for `steps` steps. Returns the free-running predictions."""
    if not warmup:
        raise ValueError("free running needs at least one warm-up value")
    x = torch.tensor(warmup, dtype=torch.float64).view(1, -1, 1)
    out, state = engine.predict(x)
    y = float(out[0, -1, 0])
    preds = []
    for _ in range(steps):
        preds.append(y)
        out, state = engine.predict(torch.tensor([[[y]]], dtype=torch.float64), state)
        y = float(out[0, -1, 0])
    return preds
