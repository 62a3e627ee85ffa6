"""The whole model in NumPy: [embedding | one-hot | real input] -> L recurrent layers -> [linear head].

Parameters are a plain dict with torch.nn's names and layouts, so a torch state_dict loads as is:
    embedding.weight [V, E]          (optional; else token ids are one-hot, or x is real-valued)
    rnn.weight_ih_l{k} [G*H, in_k]   rnn.weight_hh_l{k} [G*H, H]   rnn.bias_ih_l{k}, rnn.bias_hh_l{k} [G*H]
    head.weight [O, H], head.bias [O] (optional; without a head the output is the top layer's h_t)
G = 1 (rnn), 4 (lstm: i, f, g, o), 3 (gru: r, z, n).

One call does everything a trainer or a probe needs:
    loss, grads, cache, out = forward_backward(params, cfg, x, y, mask)
cache.hidden / cell / gates hold every h_t, c_t and gate of every layer and step ([L, T, B, H]);
cache.dL_dh / dL_dc hold the TOTAL derivative of the loss w.r.t. each h_t, c_t (through the output
at t, later steps and upper layers). For another loss (say only the final step's), run
backward(params, cfg, cache, d_out) again with that loss's dL/d(out).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cells import GATES, NUM_GATES, LayerCache, backward_layer, check_bugs, forward_layer

IGNORE = -100   # classify targets equal to this do not count (torch's ignore_index)


@dataclass(frozen=True)
class NetConfig:
    cell: str = "lstm"            # rnn | lstm | gru
    input_size: int = 4           # vocabulary size (token ids) or features per step (real input)
    hidden_size: int = 16
    output_size: int = 4          # classes (classify) or values per step (regress); = hidden_size if no head
    num_layers: int = 1
    nonlinearity: str = "tanh"    # rnn only: tanh | relu
    head: bool = True
    embedding_dim: int = 0        # > 0: token ids go through embedding.weight [V, E]
    kind: str = "classify"        # classify (softmax cross-entropy) | regress (MSE)
    dropout: float = 0.0          # not supported: must stay 0

    def __post_init__(self):
        if self.cell not in NUM_GATES:
            raise ValueError(f"cell must be rnn, lstm or gru, got {self.cell!r}")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be tanh or relu, got {self.nonlinearity!r}")
        if self.kind not in ("classify", "regress"):
            raise ValueError(f"kind must be classify or regress, got {self.kind!r}")
        if self.dropout:
            raise ValueError("the numpy engine has no dropout; use dropout=0 or the torch engine")
        if not self.head and self.output_size != self.hidden_size:
            raise ValueError(f"without a head the output is h_t: output_size must equal hidden_size "
                             f"({self.hidden_size}), got {self.output_size}")

    @classmethod
    def from_model_config(cls, model, input_size: int, output_size: int, kind: str) -> "NetConfig":
        """From rnnviz.config.ModelConfig plus the task's sizes; a peephole lstm is refused."""
        if getattr(model, "peephole", False):
            raise ValueError("the numpy engine has no peephole lstm")
        return cls(cell=model.cell, input_size=input_size, hidden_size=model.hidden_size,
                   output_size=output_size if model.head else model.hidden_size,
                   num_layers=model.num_layers, nonlinearity=model.nonlinearity, head=model.head,
                   embedding_dim=model.embedding_dim, kind=kind, dropout=model.dropout)


def param_shapes(cfg: NetConfig) -> dict[str, tuple]:
    GH, H = NUM_GATES[cfg.cell] * cfg.hidden_size, cfg.hidden_size
    shapes = {}
    if cfg.embedding_dim:
        shapes["embedding.weight"] = (cfg.input_size, cfg.embedding_dim)
    for k in range(cfg.num_layers):
        n_in = H if k else (cfg.embedding_dim or cfg.input_size)
        shapes.update({f"rnn.weight_ih_l{k}": (GH, n_in), f"rnn.weight_hh_l{k}": (GH, H),
                       f"rnn.bias_ih_l{k}": (GH,), f"rnn.bias_hh_l{k}": (GH,)})
    if cfg.head:
        shapes.update({"head.weight": (cfg.output_size, H), "head.bias": (cfg.output_size,)})
    return shapes


def init_params(cfg: NetConfig, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """torch.nn's default initialisation: U(+-1/sqrt(H)) for rnn and head, N(0, 1) for the embedding."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(cfg.hidden_size)
    return {name: (rng.standard_normal(shape) if name == "embedding.weight"
                   else rng.uniform(-bound, bound, shape)).astype(dtype)
            for name, shape in param_shapes(cfg).items()}


def params_from_state_dict(state_dict, dtype=None) -> dict[str, np.ndarray]:
    """torch tensors (or arrays) -> a dict of owned NumPy arrays; no torch import needed here."""
    def arr(v):
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else v
        return np.array(v, dtype=dtype)   # a copy: the engine updates its params in place
    return {k: arr(v) for k, v in state_dict.items()}


def check_params(params: dict, cfg: NetConfig) -> None:
    want = param_shapes(cfg)
    got = {k: tuple(np.shape(v)) for k, v in params.items()}
    if got != want:
        bad = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise ValueError("parameters do not fit the config: " +
                         ", ".join(f"{k}: want {want.get(k)}, got {got.get(k)}" for k in bad))


@dataclass
class Cache:
    """The recording of one forward pass (also everything the backward needs). Arrays are [L, T, B, H]."""
    cfg: NetConfig
    ids: np.ndarray | None        # [T, B] token ids (time-major), or None for real input
    inp: np.ndarray | None        # [T, B, in] layer-0 input: embedded tokens or real x; None for one-hot
    hidden: np.ndarray            # [L, T, B, H] h_t
    cell: np.ndarray | None       # [L, T, B, H] c_t (lstm)
    gates: dict                   # name -> [L, T, B, H]: lstm i, f, g, o; gru r, z, n; {} for rnn
    layers: list                  # one cells.LayerCache per layer
    h0: np.ndarray                # [L, B, H]
    c0: np.ndarray | None         # [L, B, H] (lstm)
    dL_dh: np.ndarray | None = None   # [L, T, B, H] filled by forward_backward
    dL_dc: np.ndarray | None = None   # [L, T, B, H] (lstm)
    dL_dh0: np.ndarray | None = None  # [L, B, H]
    dL_dc0: np.ndarray | None = None


@dataclass
class BPTT:
    grads: dict[str, np.ndarray]  # dL/d(param), same names and shapes as params
    dL_dh: np.ndarray             # [L, T, B, H] total derivative w.r.t. every h_t
    dL_dc: np.ndarray | None      # [L, T, B, H] lstm
    dL_dh0: np.ndarray = field(repr=False, default=None)  # [L, B, H]
    dL_dc0: np.ndarray | None = field(repr=False, default=None)


def forward(params, cfg: NetConfig, x, h0=None, c0=None) -> tuple[np.ndarray, Cache]:
    """x: [B, T] int token ids or [B, T, in] floats; h0, c0: [L, B, H]. Returns (out [B, T, O], cache)."""
    check_params(params, cfg)
    W_ih0 = params["rnn.weight_ih_l0"]
    dt = W_ih0.dtype                      # the params' dtype is kept everywhere
    L, H, G, cell = cfg.num_layers, cfg.hidden_size, NUM_GATES[cfg.cell], cfg.cell
    x = np.asarray(x)
    ids = inp = pre0 = None
    if np.issubdtype(x.dtype, np.integer):
        if x.ndim != 2:
            raise ValueError(f"token ids must be [B, T], got shape {x.shape}")
        if x.size and (x.min() < 0 or x.max() >= cfg.input_size):
            raise ValueError(f"token ids must be in 0..{cfg.input_size - 1}")
        ids = np.ascontiguousarray(x.T)   # [T, B]
        if cfg.embedding_dim:
            inp = params["embedding.weight"][ids]                 # [T, B, E]
        else:
            pre0 = W_ih0.T[ids] + params["rnn.bias_ih_l0"]      # one-hot @ W_ih.T is a row lookup: [T, B, G*H]
    else:
        if cfg.embedding_dim or x.ndim != 3 or x.shape[2] != cfg.input_size:
            raise ValueError(f"real input must be [B, T, {cfg.input_size}] (and needs no embedding), "
                             f"got shape {x.shape}")
        inp = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dt)  # [T, B, in]
    T, B = (ids if ids is not None else inp).shape[:2]

    def state(s, name):
        if s is None:
            return np.zeros((L, B, H), dt)
        s = np.asarray(s, dtype=dt)
        if s.shape != (L, B, H):
            raise ValueError(f"{name} must be [L, B, H] = {(L, B, H)}, got {s.shape}")
        return s
    if c0 is not None and cell != "lstm":
        raise ValueError("c0 is only for the lstm")
    h0, c0 = state(h0, "h0"), (state(c0, "c0") if cell == "lstm" else None)
    hidden = np.empty((L, T, B, H), dt)
    lstm_arr = (lambda: np.empty((L, T, B, H), dt)) if cell == "lstm" else (lambda: None)
    cs, tanh_c = lstm_arr(), lstm_arr()
    acts = np.empty((L, T, B, G * H), dt) if cell != "rnn" else None
    hn = np.empty((L, T, B, H), dt) if cell == "gru" else None
    layers = []
    for k in range(L):
        p = lambda n: params[f"rnn.{n}_l{k}"]
        if k == 0 and pre0 is not None:
            pre = pre0
        else:                             # input projection of all T steps in one matmul
            src = hidden[k - 1] if k else inp
            pre = (src.reshape(T * B, -1) @ p("weight_ih").T + p("bias_ih")).reshape(T, B, G * H)
        sel = lambda a: None if a is None else a[k]
        layers.append(forward_layer(cell, pre, p("weight_hh"), p("bias_hh"), h0[k], sel(c0),
                                    cfg.nonlinearity, hidden[k], sel(cs), sel(tanh_c), sel(acts), sel(hn)))
    top = hidden[-1]                      # [T, B, H]
    if cfg.head:
        top = (top.reshape(T * B, H) @ params["head.weight"].T + params["head.bias"]).reshape(T, B, -1)
    out = np.ascontiguousarray(top.transpose(1, 0, 2))       # [B, T, O] batch-first, like torch
    gates = {name: acts[..., j * H:(j + 1) * H] for j, name in enumerate(GATES[cell])}
    return out, Cache(cfg, ids, inp, hidden, cs, gates, layers, h0, c0)


def backward(params, cfg: NetConfig, cache: Cache, d_out, bugs=()) -> BPTT:
    """Backprop dL/d(out) [B, T, O] through head, layers (top first) and input; bugs: see cells.BUGS."""
    bugs = check_bugs(cfg.cell, cfg.nonlinearity, bugs)
    hidden = cache.hidden
    L, T, B, H = hidden.shape
    N, G = T * B, NUM_GATES[cfg.cell]
    d_out = np.asarray(d_out, dtype=hidden.dtype)
    if "output_sign" in bugs:
        d_out = -d_out
    d_tm = d_out.transpose(1, 0, 2).reshape(N, -1)          # [T*B, O] time-major rows
    grads = {}
    if cfg.head:
        grads["head.weight"] = d_tm.T @ hidden[-1].reshape(N, H)
        grads["head.bias"] = d_tm.sum(0)
        d_tm = d_tm @ params["head.weight"]                 # [T*B, H]
    dh_direct = d_tm.reshape(T, B, H)
    dL_dh = np.empty_like(hidden)
    dL_dc = np.empty_like(hidden) if cfg.cell == "lstm" else None
    dh0 = np.empty_like(cache.h0)
    dc0 = np.empty_like(cache.h0) if cfg.cell == "lstm" else None
    for k in range(L - 1, -1, -1):
        p = lambda n: params[f"rnn.{n}_l{k}"]
        lc: LayerCache = cache.layers[k]
        dpx, dph, dh0[k], dc = backward_layer(lc, p("weight_hh"), dh_direct, dL_dh[k],
                                              None if dL_dc is None else dL_dc[k], bugs)
        if dc is not None:
            dc0[k] = dc
        shared = dpx is dph                             # rnn, lstm: both biases get the same gradient
        dpx, dph = dpx.reshape(N, G * H), dph.reshape(N, G * H)
        # weight gradients: one matmul over all steps instead of T small outer products
        grads[f"rnn.weight_hh_l{k}"] = dph.T @ lc.h_prev().reshape(N, H)
        grads[f"rnn.bias_hh_l{k}"] = dph.sum(0)
        grads[f"rnn.bias_ih_l{k}"] = grads[f"rnn.bias_hh_l{k}"].copy() if shared else dpx.sum(0)
        src = hidden[k - 1] if k else cache.inp          # this layer's input [T, B, in] (None: one-hot)
        if src is not None:
            grads[f"rnn.weight_ih_l{k}"] = dpx.T @ src.reshape(N, -1)
        else:                                           # one-hot rows: scatter-add per token id
            dWT = np.zeros((cfg.input_size, G * H), hidden.dtype)
            np.add.at(dWT, cache.ids.reshape(N), dpx)
            grads["rnn.weight_ih_l0"] = np.ascontiguousarray(dWT.T)
        if k or cfg.embedding_dim:
            d_src = dpx @ p("weight_ih")                # dL/d(layer input) [T*B, in]
            if k:
                dh_direct = d_src.reshape(T, B, H)
            else:
                dE = np.zeros_like(params["embedding.weight"])
                np.add.at(dE, cache.ids.reshape(N), d_src)
                grads["embedding.weight"] = dE
    return BPTT({k: grads[k] for k in params}, dL_dh, dL_dc, dh0, dc0)


def _step_weights(counted: np.ndarray, reduce: str, dt) -> np.ndarray:
    """[B, T] weight of each step's loss in the total: 'mean' over counted steps, or 'last' counted
    step of each row (mean over rows). Nothing counted -> all zero (loss 0, no gradient)."""
    counted = counted.astype(dt)
    if reduce == "mean":
        return counted / max(counted.sum(), 1.0)
    if reduce != "last":
        raise ValueError(f"reduce must be mean or last, got {reduce!r}")
    w = np.zeros_like(counted)
    rows = np.flatnonzero(counted.any(1))
    last = counted.shape[1] - 1 - np.argmax(counted[rows, ::-1] > 0, axis=1)
    w[rows, last] = 1.0 / max(len(rows), 1)
    return w


def loss_and_grad(cfg: NetConfig, out, y, mask=None, reduce: str = "mean") -> tuple[float, np.ndarray]:
    """(loss, dL/d(out) [B, T, O]). classify: y [B, T] ints (IGNORE = no target); regress: y [B, T, O],
    mask [B, T] (1 = counts; None = all). Same definition as rnnviz.tasks.masked_loss / step_losses."""
    dt = out.dtype
    if cfg.kind == "classify":
        y = np.asarray(y)
        counted = y != IGNORE
        shifted = out - out.max(-1, keepdims=True)         # stable log-softmax
        e = np.exp(shifted)
        s = e.sum(-1, keepdims=True)
        yy = np.where(counted, y, 0)[..., None]             # [B, T, 1]
        nll = (np.log(s) - np.take_along_axis(shifted, yy, -1))[..., 0]   # [B, T]
        w = _step_weights(counted, reduce, dt)
        d = e / s                                            # softmax - onehot(y), per counted step
        np.put_along_axis(d, yy, np.take_along_axis(d, yy, -1) - 1.0, -1)
        return float((w * nll).sum()), d * w[..., None]
    diff = out - np.asarray(y, dtype=dt)
    err = (diff * diff).mean(-1)                             # [B, T]: MSE averaged over output dim
    if mask is None:
        w = _step_weights(np.ones(err.shape, bool), reduce, dt)
    else:
        mask = np.asarray(mask, dtype=dt)
        w = mask / max(mask.sum(), 1e-30) if reduce == "mean" else _step_weights(mask > 0, reduce, dt)
    return float((w * err).sum()), diff * (2.0 / diff.shape[-1]) * w[..., None]


def forward_backward(params, cfg: NetConfig, x, y=None, mask=None, h0=None, c0=None, reduce="mean",
                     d_out=None, bugs=()):
    """forward + loss + backward in one call -> (loss, grads, cache, out).

    The gradient comes from the loss (reduce='mean' | 'last'), or from d_out [B, T, O] when given
    (then loss is still reported when y is given, else nan). cache.dL_dh etc. are filled in.
    """
    out, cache = forward(params, cfg, x, h0, c0)
    loss = float("nan")
    if y is not None:
        loss, d = loss_and_grad(cfg, out, y, mask, reduce)
    if d_out is not None:
        d = d_out
    elif y is None:
        raise ValueError("forward_backward needs targets y or a d_out")
    res = backward(params, cfg, cache, d, bugs)
    cache.dL_dh, cache.dL_dc, cache.dL_dh0, cache.dL_dc0 = res.dL_dh, res.dL_dc, res.dL_dh0, res.dL_dc0
    return loss, res.grads, cache, out
