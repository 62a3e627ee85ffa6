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

from ..config import GATES

NUM_GATES = {cell: max(1, len(names)) for cell, names in GATES.items()}   # an rnn has one block

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


def dtanh(y: np.ndarray, bug: bool = False) -> np.ndarray:
    """Derivative of tanh from its output y = tanh(a): 1 - y^2. With the bug: 1 - tanh(y)^2."""
    if bug:
        y = np.tanh(y)
    return 1.0 - y * y


@dataclass
class LayerCache:
    """One layer's recording: the network allocates the arrays (views of its [L, T, B, ...] arrays),
    forward_layer fills them, backward_layer reads them."""
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


def _gate_scale(cell: str, H: int, dtype):
    """Per-row scale and shift that turn ONE tanh over all gate rows into the right activations:
    sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 on sigmoid rows, tanh(a) itself on tanh rows (lstm g, gru n).
    Halving weights and inputs is exact in binary floating point: no rounding is added."""
    sig = {"lstm": (1, 1, 0, 1), "gru": (1, 1, 0)}[cell]   # which gate blocks are sigmoids
    scale = np.repeat([0.5 if s else 1.0 for s in sig], H).astype(dtype)
    return scale, np.repeat([0.5 if s else 0.0 for s in sig], H).astype(dtype)


def forward_layer(lc: LayerCache, pre, W_hh, b_hh) -> None:
    """Run one layer over all T steps, filling lc.hs (and lc.cs, lc.acts, ...).

    pre: [T, B, G*H] input projection incl. b_ih; W_hh: [G*H, H]; b_hh: [G*H].
    """
    T, _, H = lc.hs.shape
    h = lc.h0
    if lc.cell == "rnn":
        W_hhT = np.ascontiguousarray(W_hh.T)   # [H, H]
        pre = pre + b_hh                   # b_hh adds like b_ih: fold it in once for all steps
        relu = lc.nonlinearity == "relu"
        for t in range(T):
            a = pre[t] + h @ W_hhT         # a: [B, H]
            h = np.maximum(a, 0.0, out=lc.hs[t]) if relu else np.tanh(a, out=lc.hs[t])
        return
    scale, shift = _gate_scale(lc.cell, H, pre.dtype)
    W_hhT = np.ascontiguousarray((W_hh * scale[:, None]).T)   # [H, G*H], sigmoid rows halved
    if lc.cell == "lstm":
        pre = (pre + b_hh) * scale         # [T, B, 4H]; b_hh adds like b_ih: fold it in for all steps
        c = lc.c0
        for t in range(T):
            act = np.matmul(h, W_hhT, out=lc.acts[t])  # act: [B, 4H] pre-activations of i, f, g, o ...
            act += pre[t]
            np.tanh(act, out=act)
            act *= scale
            act += shift                   # ... now sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
            i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
            c = np.multiply(f, c, out=lc.cs[t])
            c += i * g                     # c_t = f * c_{t-1} + i * g
            h = np.multiply(o, np.tanh(c, out=lc.tanh_c[t]), out=lc.hs[t])  # h_t = o * tanh(c_t)
        return
    pre = pre.copy()                       # gru
    pre[..., :2 * H] += b_hh[:2 * H]       # r, z: both biases simply add; n: b_hn sits inside r * (...)
    pre *= scale
    b_hn = b_hh[2 * H:]
    for t in range(T):
        gh = h @ W_hhT                     # gh: [B, 3H] recurrent part of r, z (halved) and n
        act = lc.acts[t]
        rz = np.add(pre[t, :, :2 * H], gh[:, :2 * H], out=act[:, :2 * H])
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5                          # r, z = sigmoid(W_i x + b_i + W_h h + b_h)
        r, z = act[:, :H], act[:, H:2 * H]
        hn = np.add(gh[:, 2 * H:], b_hn, out=lc.hn[t])
        n = np.tanh(pre[t, :, 2 * H:] + r * hn, out=act[:, 2 * H:])  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h_new = np.subtract(h, n, out=lc.hs[t])
        h_new *= z
        h_new += n                         # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
        h = h_new


def backward_layer(lc: LayerCache, W_hh, src, dh_direct, dh_tot, dc_tot=None, bugs=frozenset(),
                   param_grads: bool = True):
    """BPTT through one layer, last step first, then its weight gradients over all steps at once.

    src: [T, B, in] this layer's input (None for one-hot tokens: the caller scatters dW_ih itself).
    dh_direct: [T, B, H] dL/dh_t from outside the recurrence (head or layer above).
    Writes dh_tot[t] = total dL/dh_t and (lstm) dc_tot[t] = total dL/dc_t.
    Returns (grads, d_pre_x, dh0, dc0): grads {weight_ih, weight_hh, bias_ih, bias_hh} (weight_ih
    missing when src is None); d_pre_x [T*B, G*H] = dL/d(x_t @ W_ih.T + b_ih), so that
    dL/d(input) = d_pre_x @ W_ih; dh0, dc0 [B, H] = dL/d(initial state).
    """
    bptt = {"rnn": _bptt_rnn, "lstm": _bptt_lstm, "gru": _bptt_gru}[lc.cell]
    dh_next = np.zeros_like(lc.h0)         # dL/dh_t arriving through step t+1
    dpx, dph, dh0, dc0 = bptt(lc, W_hh, dh_direct, dh_tot, dc_tot, dh_next, bugs, "no_bptt" in bugs,
                              "tanh_derivative" in bugs)
    T, B, H = lc.hs.shape
    dpx, dph = dpx.reshape(T * B, -1), dph.reshape(T * B, -1)
    if not param_grads:
        return {}, dpx, dh0, dc0
    # weight gradients: one matmul over all steps instead of T small outer products
    grads = {"weight_hh": dph.T @ lc.h_prev().reshape(T * B, H), "bias_hh": dph.sum(0)}
    grads["bias_ih"] = grads["bias_hh"].copy() if lc.cell != "gru" else dpx.sum(0)  # gru: b_hn differs
    if src is not None:
        grads["weight_ih"] = dpx.T @ src.reshape(T * B, -1)
    return grads, dpx, dh0, dc0


# Each _bptt_* returns (d_pre_x, d_pre_h, dh0, dc0): dL/d(x-projection), dL/d(h-projection), both
# [T, B, G*H] (the same array unless gru), and the gradients reaching the initial state.
# cut: the no_bptt bug (forget that h_{t-1}, c_{t-1} fed step t); tanh_bug: the tanh_derivative bug.

def _bptt_rnn(lc, W_hh, dh_direct, dh_tot, dc_tot, dh_next, bugs, cut, tanh_bug):
    # da = dh * f'(a); tanh' = 1 - h^2, relu' = [h > 0]: both read off the output, for all steps at once
    deriv = (lc.hs > 0).astype(lc.hs.dtype) if lc.nonlinearity == "relu" else dtanh(lc.hs, tanh_bug)
    d_pre = np.empty_like(lc.hs)           # [T, B, H]
    for t in range(len(lc.hs) - 1, -1, -1):
        dh = np.add(dh_direct[t], dh_next, out=dh_tot[t])
        np.multiply(dh, deriv[t], out=d_pre[t])
        dh_next = d_pre[t] @ W_hh          # [B, H] through a_t = ... + h_{t-1} @ W_hh.T
        if cut:
            dh_next[:] = 0.0
    return d_pre, d_pre, dh_next, None


def _bptt_lstm(lc, W_hh, dh_direct, dh_tot, dc_tot, dh_next, bugs, cut, tanh_bug):
    acts = lc.acts                         # [T, B, 4H]
    T, B, H = lc.hs.shape
    i, f, g, o = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:3 * H], acts[..., 3 * H:]
    # d act / d pre-activation for all steps at once: sigmoid' = s (1 - s), tanh' = 1 - g^2
    dact = acts * (1.0 - acts)
    dact[..., 2 * H:3 * H] = dtanh(g, tanh_bug)
    if "forget_derivative" in bugs:
        dact[..., H:2 * H] = 1.0           # the bug: f's pre-activation gets df unscaled by f (1 - f)
    k = o * dtanh(lc.tanh_c, tanh_bug)     # dh_t -> dc_t, since h = o * tanh(c)
    # c = f c' + i g and h = o tanh(c) give di = dc g, df = dc c', dg = dc i, do = dh tanh(c);
    # so d(pre-activation) = [dc, dc, dc, dh] * partner, with partner precomputed for all steps:
    partner = np.concatenate([g, lc.c_prev(), i, lc.tanh_c], axis=-1) * dact   # [T, B, 4H]
    d_pre = np.empty_like(acts)
    dc_next = np.zeros_like(dh_next)
    for t in range(T - 1, -1, -1):
        dh = np.add(dh_direct[t], dh_next, out=dh_tot[t])
        dc = np.add(dc_next, dh * k[t], out=dc_tot[t])  # c_t feeds h_t and c_{t+1}
        blocks = d_pre[t].reshape(B, 4, H)
        blocks[:, :3] = dc[:, None]        # i, f, g act through c ...
        blocks[:, 3] = dh                  # ... o through h
        d_pre[t] *= partner[t]
        dh_next = d_pre[t] @ W_hh          # [B, H]
        dc_next = dc * f[t]
        if cut:
            dh_next[:] = 0.0
            dc_next[:] = 0.0
    return d_pre, d_pre, dh_next, dc_next


def _bptt_gru(lc, W_hh, dh_direct, dh_tot, dc_tot, dh_next, bugs, cut, tanh_bug):
    # h = n + z (h' - n), n = tanh(an), an = xn + r * hn, r = sig(ar), z = sig(az)
    acts = lc.acts                         # [T, B, 3H]
    H = lc.hs.shape[2]
    r, z, n = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:]
    dan_dh = (1.0 - z) * dtanh(n, tanh_bug)   # [T, B, H] dh -> d an
    daz_dh = (lc.h_prev() - n) * z * (1.0 - z)  # dh -> d az
    dar_dan = lc.hn * r * (1.0 - r)           # d an -> d ar  (an depends on r through r * hn)
    d_pre_x = np.empty_like(acts)             # d(x-projection): ar, az, an
    d_pre_h = np.empty_like(acts)             # d(h-projection): ar, az, r * an
    for t in range(len(acts) - 1, -1, -1):
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
