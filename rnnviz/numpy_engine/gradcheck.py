"""Central finite differences against analytic gradients: the test every hand-written backward needs.

Works with any NumPy model, not just this engine:

    def loss_fn(params):            # params: dict name -> array; returns a float
        ...
    errors = gradient_check(params, loss_fn, grads=my_grads)      # or loss_fn returning (loss, grads)
    print(format_errors(errors))

For each checked element the numeric slope is (L(p + eps) - L(p - eps)) / (2 eps). The table holds,
per parameter, the largest |analytic - numeric| relative to the size of that parameter's gradient
(its largest element): an element whose true gradient is ~0 would otherwise turn the unavoidable
rounding noise of the finite difference (~1e-16 * |L| / eps) into a huge "relative" error.
relative_to="element" gives the textbook per-element |a - n| / max(|a|, |n|) instead.
In float64 a correct backward scores ~1e-8 or less; a wrong one 1e-2 .. 1. Checks run in float64
(float32 has too few digits for finite differences).
"""
from __future__ import annotations

import numpy as np

from .network import NetConfig, forward, forward_backward, loss_and_grad


def gradient_check(params: dict, loss_fn, grads: dict | None = None, eps: float = 1e-6,
                   floor: float = 1e-12, max_checks: int | None = None, seed: int = 0,
                   relative_to: str = "tensor") -> dict[str, float]:
    """Max relative error per parameter: {name: error}.

    loss_fn(params) -> float, with `grads` the analytic gradients to judge; or, with grads=None,
    loss_fn(params) -> (loss, grads). max_checks: test at most this many random elements per parameter.
    floor keeps denominators positive where a gradient is exactly zero.
    """
    if relative_to not in ("tensor", "element"):
        raise ValueError(f"relative_to must be tensor or element, got {relative_to!r}")
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}   # float64 copies
    if grads is None:
        _, grads = loss_fn(params)
        value = lambda: float(loss_fn(params)[0])
    else:
        value = lambda: float(loss_fn(params))
    rng = np.random.default_rng(seed)
    errors = {}
    for name, p in params.items():
        analytic = np.asarray(grads[name], dtype=np.float64).reshape(-1)
        flat = p.reshape(-1)                 # a view: editing it edits params[name]
        idx = np.arange(flat.size)
        if max_checks is not None and flat.size > max_checks:
            idx = rng.choice(flat.size, max_checks, replace=False)
        numeric = np.empty(len(idx))
        for n, j in enumerate(idx):
            keep = flat[j]
            flat[j] = keep + eps
            up = value()
            flat[j] = keep - eps
            down = value()
            flat[j] = keep
            numeric[n] = (up - down) / (2 * eps)
        a, diff = analytic[idx], np.abs(analytic[idx] - numeric)
        if relative_to == "element":
            scale = np.maximum(np.maximum(np.abs(a), np.abs(numeric)), floor)
        else:
            scale = max(np.abs(analytic).max(initial=0.0), np.abs(numeric).max(initial=0.0), floor)
        errors[name] = float((diff / scale).max(initial=0.0))
    return errors


def engine_loss_fn(cfg: NetConfig, x, y, mask=None, h0=None, c0=None, reduce="mean", bugs=()):
    """A loss_fn for gradient_check from this engine: params -> (loss, grads), backward with `bugs`."""
    def loss_fn(params):
        loss, grads, _, _ = forward_backward(params, cfg, x, y, mask, h0, c0, reduce=reduce, bugs=bugs)
        return loss, grads
    return loss_fn


def check_engine(params, cfg: NetConfig, x, y, mask=None, h0=None, c0=None, reduce="mean", bugs=(),
                 eps: float = 1e-6, max_checks: int | None = None) -> dict[str, float]:
    """gradient_check of the engine's backward (optionally with injected bugs) on one batch.

    The numeric side always uses the plain forward, so a buggy backward shows up as large errors."""
    _, grads, _, _ = forward_backward(params, cfg, x, y, mask, h0, c0, reduce=reduce, bugs=bugs)

    def loss_fn(p):
        return loss_and_grad(cfg, forward(p, cfg, x, h0, c0)[0], y, mask, reduce)[0]
    return gradient_check(params, loss_fn, grads=grads, eps=eps, max_checks=max_checks)


def format_errors(errors: dict[str, float], tol: float = 1e-5) -> str:
    """A fixed-width table: parameter, max relative error, ok / WRONG against tol."""
    width = max([len(k) for k in errors] + [9])
    lines = [f"{'parameter':<{width}}  max rel. error  verdict"]
    for name, err in errors.items():
        lines.append(f"{name:<{width}}  {err:14.3e}  {'ok' if err <= tol else 'WRONG'}")
    return "\n".join(lines)


def check_hidden(params, cfg: NetConfig, x, y, mask=None, reduce="mean", bugs=(), eps: float = 1e-6,
                 max_checks: int | None = None, steps=None) -> dict[str, float]:
    """gradient_check of the engine's TOTAL dL/dh_t of the top layer (cache.dL_dh[-1]), one entry per
    step t ("h_0", "h_1", ...), with the backward given `bugs`.

    The numeric side treats h_t as an input: the loss is rebuilt from the outputs before t (fixed),
    the output at t computed from h_t, and a forward pass over the steps after t that starts from
    h_t (with every other layer's state, and c_t, as recorded). The top layer is checked because its
    h_t reaches the loss only through the output at t and through step t+1, which this rebuilds."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    _, _, cache, out = forward_backward(params, cfg, x, y, mask, reduce=reduce, bugs=bugs)
    x = np.asarray(x)
    T = out.shape[1]
    lstm = cache.cell is not None

    def head(h):                                  # [B, H] -> [B, 1, O]
        o = h @ params["head.weight"].T + params["head.bias"] if cfg.head else h
        return o[:, None]

    errors = {}
    for t in (range(T) if steps is None else steps):
        def loss_fn(p, t=t):
            h = p["h"]
            parts = [out[:, :t], head(h)]
            if t + 1 < T:
                h0 = cache.hidden[:, t].copy()
                h0[-1] = h
                parts.append(forward(params, cfg, x[:, t + 1:], h0, cache.cell[:, t] if lstm else None)[0])
            return loss_and_grad(cfg, np.concatenate(parts, axis=1), y, mask, reduce)[0]
        errors[f"h_{t}"] = gradient_check({"h": cache.hidden[-1, t]}, loss_fn, grads={"h": cache.dL_dh[-1, t]},
                                          eps=eps, max_checks=max_checks)["h"]
    return errors
