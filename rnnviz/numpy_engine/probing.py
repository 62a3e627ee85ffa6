"""One look at the probe input through NumPy BPTT: h_t, c_t, gates and ||dL/dh_t||.

Shared by both engines: the NumPy engine probes its own weights; the torch engine hands in zero-copy
views of its tensors, because for one short sequence NumPy's per-op cost is a fraction of torch's
autograd (the two are proven equal: tests/test_engines_agree.py, tests/test_numpy_engine.py).
"""
from __future__ import annotations

import numpy as np

from ..probes import Probe
from . import network


def _np(t):
    return None if t is None else (t.numpy() if hasattr(t, "numpy") else np.asarray(t))


def cache_probe(cache, out: np.ndarray, loss: float, dh_last=None) -> Probe:
    """Row 0 of a forward/backward cache ([L, T, B, H] arrays) -> Probe ([L, T, H], norms [L, T])."""
    row0 = lambda a: None if a is None else a[:, :, 0].copy()  # noqa: E731
    norm = lambda a: None if a is None else np.linalg.norm(a[:, :, 0], axis=-1)  # noqa: E731
    return Probe(hidden=row0(cache.hidden), cell=row0(cache.cell),
                 gates={k: row0(v) for k, v in cache.gates.items()},
                 grad_h=norm(cache.dL_dh), grad_c=norm(cache.dL_dc), grad_h_last=norm(dh_last),
                 out=out[0].copy(), loss=float(loss))


def probe_arrays(params: dict, cfg: network.NetConfig, batch, last: bool = True, bugs=(), state=None) -> Probe:
    """Probe row 0 of `batch` (B = 1) at `params`: L = mean loss over counted steps, and (last=True)
    L_last = the final counted step's loss for grad_h_last. state: (h0, c0 or None) [L, B, H] to start
    from (None: zeros)."""
    x, y, mask = _np(batch.x), _np(batch.y), _np(batch.mask)
    h0, c0 = state if state is not None else (None, None)
    out, cache = network.forward(params, cfg, x, h0, c0)
    loss, d = network.loss_and_grad(cfg, out, y, mask)
    res = network.backward(params, cfg, cache, d, bugs, param_grads=False)
    cache.dL_dh, cache.dL_dc = res.dL_dh, res.dL_dc
    dh_last = None
    if last:
        _, d_last = network.loss_and_grad(cfg, out, y, mask, reduce="last")
        dh_last = network.backward(params, cfg, cache, d_last, bugs, param_grads=False).dL_dh
    return cache_probe(cache, out, loss, dh_last)
