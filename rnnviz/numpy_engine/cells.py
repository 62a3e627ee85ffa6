"""One recurrent layer, forward and backward through time, for the rnn, lstm and gru cells.

Everything is time-major inside the engine: a layer sees its whole input projection at once,
    pre: [T, B, G*H] = x_t @ W_ih.T + b_ih  for every step t  (one matmul, done by the caller),
so the step loop only does the recurrent matmul h_{t-1} @ W_hh.T and the elementwise gate work.
Gate blocks follow torch.nn exactly (G*H rows, stacked): lstm i, f, g, o; gru r, z, n; rnn one block.

The backward takes dh_direct [T, B, H] = dL/dh_t through everything *outside* this layer's
recurrence (the head or the layer above) and returns dL/d(pre-activation) for every step; the
caller turns those into weight gradients with one matmul over all steps. It also writes the TOTAL
derivative dL/dh_t (and dL/dc_t for the lstm) of every step into the arrays it is given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# Deliberate mistakes for the teaching page: each one is a classic slip in a hand-written BPTT.
BUGS = {
    "output_sign": "dL/d(output) with its sign flipped, so every step climbs the loss",
    "forget_derivative": "lstm: the forget gate's sigmoid derivative f*(1-f) is dropped",
    "tanh_derivative": "tanh' taken at the already-activated value: 1 - tanh(y)^2 instead of 1 - y^2",
    "no_bptt": "the gradient is not carried from step t back to step t-1 (no backprop through time)",
}


def check_bugs(cell: str, nonlinearity: str, bugs) -> frozenset:
    """Validate a bug list for this cell; unknown or inapplicable names raise ValueError."""
    bugs = frozenset(bugs or ())
    unknown = bugs - set(BUGS)
    if unknown:
        raise ValueError(f"unknown bug(s) {sorted(unknown)}; choose from {sorted(BUGS)}")
    if "forget_derivative" in bugs and cell != "lstm":
        raise ValueError("the forget_derivative bug exists only for the lstm cell")
    if "tanh_derivative" in bugs and cell == "rnn" and nonlinearity != "tanh":
        raise ValueError("the tanh_derivative bug needs a tanh somewhere (rnn with relu has none)")
    return bugs


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-x)) written as 0.5 + 0.5 * tanh(x / 2): same value, never overflows."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def dtanh(y: np.ndarray, bug: bool = False) -> np.ndarray:
    """Derivative of tanh from its output y = tanh(a): 1 - y^2. With the bug: 1 - tanh(y)^2."""
    if bug:
        y = np.tanh(y)
    return 1.0 - y * y


@dataclass
class LayerCache:
    """What one layer's forward keeps for its backward (all arrays are views the network owns)."""
    cell: str
    nonlinearity: str
    h0: np.ndarray                 # [B, H] state before step 0
    c0: np.ndarray | None          # [B, H] lstm cell state before step 0
    hs: np.ndarray                 # [T, B, H] h_t
    cs: np.ndarray | None          # [T, B, H] lstm c_t
    tanh_c: np.ndarray | None      # [T, B, H] lstm tanh(c_t) (used by h_t and by the backward)
    acts: np.ndarray | None        # [T, B, G*H] gate activations in torch order (lstm, gru)
    hn: np.ndarray | None          # [T, B, H] gru W_hn h_{t-1} + b_hn (the part the reset gate scales)

    def h_prev(self) -> np.ndarray:
        """[T, B, H] the state each step started from: h0, h_0, ..., h_{T-2}."""
        return np.concatenate([self.h0[None], self.hs[:-1]])

    def c_prev(self) -> np.ndarray:
        return np.concatenate([self.c0[None], self.cs[:-1]])


def forward_layer(cell, pre, W_hh, b_hh, h0, c0, nonlinearity, hs, cs=None, tanh_c=None, acts=None,
                  hn=None) -> LayerCache:
    """Run one layer over all T steps, writing h_t into hs (and c_t, gates into cs/acts).

    pre: [T, B, G*H] input projection incl. b_ih; W_hh: [G*H, H]; b_hh: [G*H]; h0, c0: [B, H].
    """
    T = pre.shape[0]
    H = W_hh.shape[1]
    W_hhT = W_hh.T                         # [H, G*H]; a transposed view, BLAS reads it in place
    h = h0
    if cell == "rnn":
        pre = pre + b_hh                   # b_hh adds like b_ih: fold it in once for all steps
        relu = nonlinearity == "relu"
        for t in range(T):
            a = pre[t] + h @ W_hhT         # a: [B, H]
            h = np.maximum(a, 0.0, out=hs[t]) if relu else np.tanh(a, out=hs[t])
    elif cell == "lstm":
        pre = pre + b_hh
        c = c0
        for t in range(T):
            a = pre[t] + h @ W_hhT         # a: [B, 4H] pre-activations of i, f, g, o
            act = sigmoid(a, out=acts[t])  # i, f, o are sigmoids ...
            np.tanh(a[:, 2 * H:3 * H], out=act[:, 2 * H:3 * H])  # ... g is a tanh
            i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
            c = np.multiply(f, c, out=cs[t])
            c += i * g                     # c_t = f * c_{t-1} + i * g
            h = np.multiply(o, np.tanh(c, out=tanh_c[t]), out=hs[t])  # h_t = o * tanh(c_t)
    elif cell == "gru":
        pre = pre.copy()
        pre[..., :2 * H] += b_hh[:2 * H]   # r, z: both biases simply add; n: b_hn sits inside r * (...)
        for t in range(T):
            gh = h @ W_hhT                 # gh: [B, 3H] recurrent part of r, z, n
            act = acts[t]
            sigmoid(pre[t, :, :2 * H] + gh[:, :2 * H], out=act[:, :2 * H])
            r, z = act[:, :H], act[:, H:2 * H]
            np.add(gh[:, 2 * H:], b_hh[2 * H:], out=hn[t])
            n = np.tanh(pre[t, :, 2 * H:] + r * hn[t], out=act[:, 2 * H:])  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            h_new = hs[t]
            np.subtract(h, n, out=h_new)
            h_new *= z
            h_new += n                     # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
            h = h_new
    else:
        raise ValueError(f"unknown cell {cell!r}")
    return LayerCache(cell, nonlinearity, h0, c0, hs, cs, tanh_c, acts, hn)


def backward_layer(lc: LayerCache, W_hh, dh_direct, dh_tot, dc_tot=None, bugs=frozenset()):
    """BPTT through one layer, last step first.

    dh_direct: [T, B, H] dL/dh_t from outside the recurrence (head or layer above).
    Writes dh_tot[t] = total dL/dh_t and (lstm) dc_tot[t] = total dL/dc_t.
    Returns (d_pre_x, d_pre_h, dh0, dc0):
      d_pre_x: [T, B, G*H] dL/d(x-projection incl. b_ih)  -> dW_ih, db_ih, dL/d(layer input)
      d_pre_h: [T, B, G*H] dL/d(h-projection incl. b_hh)  -> dW_hh, db_hh (the same array unless gru)
      dh0, dc0: [B, H] dL/d(initial state)
    """
    T, B, H = lc.hs.shape
    cut = "no_bptt" in bugs                # the bug: forget that h_{t-1} (and c_{t-1}) fed step t
    tanh_bug = "tanh_derivative" in bugs
    dh_next = np.zeros((B, H), lc.hs.dtype)  # dL/dh_t arriving through step t+1
    if lc.cell == "rnn":
        # da = dh * f'(a); tanh' = 1 - h^2, relu' = [h > 0]: both read off the output, for all steps at once
        deriv = (lc.hs > 0).astype(lc.hs.dtype) if lc.nonlinearity == "relu" else dtanh(lc.hs, tanh_bug)
        d_pre = np.empty_like(lc.hs)       # [T, B, H]
        for t in range(T - 1, -1, -1):
            dh = np.add(dh_direct[t], dh_next, out=dh_tot[t])
            np.multiply(dh, deriv[t], out=d_pre[t])
            dh_next = d_pre[t] @ W_hh      # [B, H] through a_t = ... + h_{t-1} @ W_hh.T
            if cut:
                dh_next[:] = 0.0
        return d_pre, d_pre, dh_next, None

    acts = lc.acts                         # [T, B, G*H]
    if lc.cell == "lstm":
        i, f, g, o = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:3 * H], acts[..., 3 * H:]
        # d act / d pre-activation for all steps at once: sigmoid' = s (1 - s), tanh' = 1 - g^2
        dact = acts * (1.0 - acts)
        dact[..., 2 * H:3 * H] = dtanh(g, tanh_bug)
        if "forget_derivative" in bugs:
            dact[..., H:2 * H] = 1.0       # the bug: treat f as if it were its own pre-activation
        k = o * dtanh(lc.tanh_c, tanh_bug)  # dc_t/dh_t path: h = o * tanh(c)  ->  dh * o * tanh'(c)
        c_prev = lc.c_prev()
        d_pre = np.empty_like(acts)        # [T, B, 4H]
        dc_next = np.zeros((B, H), acts.dtype)
        for t in range(T - 1, -1, -1):
            dh = np.add(dh_direct[t], dh_next, out=dh_tot[t])
            dc = np.add(dc_next, dh * k[t], out=dc_tot[t])  # c_t feeds h_t and c_{t+1}
            dp = d_pre[t]
            np.multiply(dc, g[t], out=dp[:, :H])                 # di: c = f c' + i g
            np.multiply(dc, c_prev[t], out=dp[:, H:2 * H])       # df
            np.multiply(dc, i[t], out=dp[:, 2 * H:3 * H])        # dg
            np.multiply(dh, lc.tanh_c[t], out=dp[:, 3 * H:])     # do: h = o tanh(c)
            dp *= dact[t]                  # through the gate nonlinearities
            dh_next = dp @ W_hh            # [B, H]
            dc_next = dc * f[t]
            if cut:
                dh_next[:] = 0.0
                dc_next[:] = 0.0
        return d_pre, d_pre, dh_next, dc_next

    # gru: h = n + z (h' - n), n = tanh(an), an = xn + r * hn, r = sig(ar), z = sig(az)
    r, z, n = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:]
    h_prev = lc.h_prev()
    dan_dh = (1.0 - z) * dtanh(n, tanh_bug)   # [T, B, H] dh -> d an
    daz_dh = (h_prev - n) * z * (1.0 - z)     # dh -> d az
    dar_dan = lc.hn * r * (1.0 - r)           # d an -> d ar  (an depends on r through r * hn)
    d_pre_x = np.empty_like(acts)             # [T, B, 3H] d(x-projection): ar, az, an
    d_pre_h = np.empty_like(acts)             # [T, B, 3H] d(h-projection): ar, az, r * an
    for t in range(T - 1, -1, -1):
        dh = np.add(dh_direct[t], dh_next, out=dh_tot[t])
        dx, dhp = d_pre_x[t], d_pre_h[t]
        dan = np.multiply(dh, dan_dh[t], out=dx[:, 2 * H:])
        np.multiply(dan, dar_dan[t], out=dx[:, :H])
        np.multiply(dh, daz_dh[t], out=dx[:, H:2 * H])
        dhp[:, :2 * H] = dx[:, :2 * H]
        np.multiply(dan, r[t], out=dhp[:, 2 * H:])
        dh_next = dhp @ W_hh               # through the gates' recurrent matmul ...
        dh_next += dh * z[t]               # ... and directly through h = ... + z h'
        if cut:
            dh_next[:] = 0.0
    return d_pre_x, d_pre_h, dh_next, None
