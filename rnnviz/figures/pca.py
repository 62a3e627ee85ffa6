"""A fixed projection of hidden states: one PCA basis fitted on every recorded probe of a run, so the
trajectory's axes stay put while the epoch is scrubbed."""
from __future__ import annotations

import numpy as np

from ..probes import Probe


class PCABasis(tuple):
    """(mean [H], components [dims, H], explained_ratio [dims]) - unpacks like a plain 3-tuple.

    Extra attributes: `ranges` [dims, 2] (min, max of the pooled projection, for fixed axes),
    `raw` (True when H <= dims: components are the unit axes, no projection), `n_units` (H),
    `n_probes` (how many probes were pooled).
    explained_ratio = variance along each component / total variance of the pooled hidden states.
    """

    def __new__(cls, mean, components, explained_ratio, ranges=None, raw=False, n_probes=None):
        self = super().__new__(cls, (mean, components, explained_ratio))
        self.ranges, self.raw, self.n_units, self.n_probes = ranges, raw, int(np.shape(mean)[0]), n_probes
        return self


def _states(probe: Probe, layer: int) -> np.ndarray:
    """[T, D*P] what the layer outputs: h_t, or [h_fwd; h_rev] of a bidirectional layer."""
    h = np.asarray(probe.hidden, dtype=np.float64)
    return np.concatenate([h[probe.row(layer, d)] for d in range(probe.directions)], -1)


def fit_pca_basis(probes: list[Probe], layer: int = -1, dims: int = 3) -> PCABasis | None:
    """A PCA basis of the hidden states of ALL given probes pooled (one basis for every epoch).

    Numpy SVD of the centred [sum T, H] matrix; each component's sign is fixed so that its largest
    loading is positive (a refit on more epochs does not flip the picture). When H <= dims the basis
    is the raw units themselves (identity, no centring). None when there are no probes.
    """
    states = [_states(p, layer) for p in probes or [] if p is not None]
    if not states:
        return None
    X = np.concatenate(states, 0)
    X = X[np.isfinite(X).all(1)]  # a diverged run (inf / nan states) must not poison the basis
    if not len(X):
        return None
    H = X.shape[1]
    if H <= dims:
        mean, comps, var, raw = np.zeros(H), np.eye(H), X.var(0), True
        ratio = var / var.sum() if var.sum() > 0 else np.zeros(H)
    else:
        mean = X.mean(0)
        _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
        total = float((s ** 2).sum())
        comps = np.zeros((dims, H))
        ratio = np.zeros(dims)
        n = min(dims, vt.shape[0])
        comps[:n] = vt[:n]
        ratio[:n] = (s[:n] ** 2) / total if total > 0 else 0.0
        for k in range(n):
            if comps[k, np.argmax(np.abs(comps[k]))] < 0:
                comps[k] = -comps[k]
        raw = False
    proj = (X - mean) @ comps.T
    ranges = np.stack([proj.min(0), proj.max(0)], 1)
    return PCABasis(mean, comps, ratio, ranges=ranges, raw=raw, n_probes=len(states))


def project(probe: Probe, basis, layer: int = -1, dims: int | None = None) -> np.ndarray:
    """The probe's h_t in the basis: (h - mean) @ components[:dims].T  -> [T, dims]."""
    mean, comps, _ = basis
    comps = comps if dims is None else comps[:dims]
    with np.errstate(invalid="ignore", over="ignore"):
        return (_states(probe, layer) - mean) @ comps.T


def _view_ranges(P: np.ndarray, fixed) -> np.ndarray:
    """[dims, 2] axis ranges: the fixed ones widened to hold every point of P (never clip), padded."""
    r = np.asarray(fixed, float)[:P.shape[1]] if fixed is not None else None
    if len(P):
        own = np.stack([P.min(0), P.max(0)], 1)
        r = own if r is None else np.stack([np.minimum(r[:, 0], own[:, 0]), np.maximum(r[:, 1], own[:, 1])], 1)
    r = r if r is not None else np.array([[-1.0, 1.0]] * P.shape[1])
    pad = np.maximum((r[:, 1] - r[:, 0]) * 0.08, 1e-3)
    return np.stack([r[:, 0] - pad, r[:, 1] + pad], 1)
