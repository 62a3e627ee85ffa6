"""The whole model in NumPy: [embedding | one-hot | real input] -> L recurrent layers -> [linear head].

Parameters are a plain dict with torch.nn's names and layouts, so a torch state_dict loads as is:
    embedding.weight [V, E]  (optional; else token ids are one-hot, or x is real-valued)
    rnn.weight_ih_l{k} [G*H, in_k], rnn.weight_hh_l{k} [G*H, H], rnn.bias_ih_l{k}, rnn.bias_hh_l{k} [G*H]
    head.weight [O, H], head.bias [O]  (optional; without a head the output is the top layer's h_t)
with G = 1 (rnn), 4 (lstm: i, f, g, o), 3 (gru: r, z, n).

    loss, grads, cache, out = forward_backward(params, cfg, x, y, mask)
cache.hidden / cell / gates: every h_t, c_t, gate of every layer and step, [L, T, B, H]; cache.dL_dh /
dL_dc: the TOTAL derivative of the loss w.r.t. each h_t, c_t (through the output at t, later steps
and upper layers). For another loss on the same pass, call backward(params, cfg, cache, d_out).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
        for name, allowed in (("cell", tuple(NUM_GATES)), ("nonlinearity", ("tanh", "relu")),
                              ("kind", ("classify", "regress"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.dropout:
            raise ValueError("the numpy engine has no dropout; use dropout=0 or the torch engine")
        if not self.head and self.output_size != self.hidden_size:
            raise ValueError(f"without a head the output is h_t: output_size must equal hidden_size "
                             f"({self.hidden_size}), got {self.output_size}")

    @classmethod
    def from_model_config(cls, model, input_size: int, output_size: int, kind: str) -> "NetConfig":
        """From rnnviz.config.ModelConfig plus the task's sizes; a peephole lstm, two directions and a
        projection are refused (each would double what the engine writes out by hand)."""
        if getattr(model, "peephole", False):
            raise ValueError("the numpy engine has no peephole lstm")
        if getattr(model, "bidirectional", False) or getattr(model, "proj_size", 0):
            raise ValueError("the numpy engine runs one direction without a projection: bidirectional and "
                             "proj_size need the torch engine")
        return cls(cell=model.cell, input_size=input_size, hidden_size=model.hidden_size,
                   output_size=output_size if model.head else model.hidden_size,
                   num_layers=model.num_layers, nonlinearity=model.nonlinearity, head=model.head,
                   embedding_dim=model.embedding_dim, kind=kind, dropout=model.dropout)


def param_shapes(cfg: NetConfig) -> dict[str, tuple]:
    """name -> shape of every parameter, torch.nn's names and layouts."""
    return dict(_shapes(cfg))


@lru_cache(maxsize=64)
def _shapes(cfg: NetConfig) -> dict[str, tuple]:
    GH, H = NUM_GATES[cfg.cell] * cfg.hidden_size, cfg.hidden_size
    shapes = {"embedding.weight": (cfg.input_size, cfg.embedding_dim)} if cfg.embedding_dim else {}
    for k in range(cfg.num_layers):
        n_in = H if k else (cfg.embedding_dim or cfg.input_size)
        shapes.update({f"rnn.weight_ih_l{k}": (GH, n_in), f"rnn.weight_hh_l{k}": (GH, H),
                       f"rnn.bias_ih_l{k}": (GH,), f"rnn.bias_hh_l{k}": (GH,)})
    if cfg.head:
        shapes.update({"head.weight": (cfg.output_size, H), "head.bias": (cfg.output_size,)})
    return shapes


def init_params(cfg: NetConfig, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """torch.nn's default initialisation: U(+-1/sqrt(H)) for rnn and head, N(0, 1) for the embedding."""
    rng, bound = np.random.default_rng(seed), 1.0 / np.sqrt(cfg.hidden_size)
    return {name: (rng.standard_normal(shape) if name == "embedding.weight"
                   else rng.uniform(-bound, bound, shape)).astype(dtype)
            for name, shape in _shapes(cfg).items()}


def params_from_state_dict(state_dict, dtype=None) -> dict[str, np.ndarray]:
    """torch tensors (or arrays) -> owned NumPy copies (the engine updates params in place); no torch import."""
    return {k: np.array(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=dtype)
            for k, v in state_dict.items()}


def check_params(params: dict, cfg: NetConfig) -> None:
    want = _shapes(cfg)
    if len(params) != len(want) or any(k not in params or params[k].shape != s for k, s in want.items()):
        got = {k: tuple(np.shape(v)) for k, v in params.items()}
        bad = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise ValueError("parameters do not fit the config: " +
                         ", ".join(f"{k}: want {want.get(k)}, got {got.get(k)}" for k in bad))


@dataclass
class Cache:
    """The recording of one forward pass (also everything the backward needs)."""
    cfg: NetConfig
    ids: np.ndarray | None        # [T, B] token ids (time-major), or None for real input
    inp: np.ndarray | None        # [T, B, in] layer-0 input: embedded tokens or real x; None for one-hot
    hidden: np.ndarray            # [L, T, B, H] h_t
    cell: np.ndarray | None       # [L, T, B, H] c_t (lstm)
    gates: dict                   # name -> [L, T, B, H]: lstm i, f, g, o; gru r, z, n; {} for rnn
    layers: list                  # one cells.LayerCache per layer
    h0: np.ndarray                # [L, B, H]
    c0: np.ndarray | None         # [L, B, H] (lstm)
    dL_dh: np.ndarray | None = None   # [L, T, B, H], filled by forward_backward
    dL_dc: np.ndarray | None = None   # [L, T, B, H] (lstm)
    dL_dh0: np.ndarray | None = None  # [L, B, H]
    dL_dc0: np.ndarray | None = None


@dataclass
class BPTT:
    grads: dict[str, np.ndarray]  # dL/d(param), same names and shapes as params
    dL_dh: np.ndarray             # [L, T, B, H] total derivative w.r.t. every h_t
    dL_dc: np.ndarray | None      # [L, T, B, H] lstm
    dL_dh0: np.ndarray            # [L, B, H] w.r.t. the initial state
    dL_dc0: np.ndarray | None


def forward(params, cfg: NetConfig, x, h0=None, c0=None) -> tuple[np.ndarray, Cache]:
    """x: [B, T] int token ids or [B, T, in] floats; h0, c0: [L, B, H]. Returns (out [B, T, O], cache)."""
    check_params(params, cfg)
    W_ih0 = params["rnn.weight_ih_l0"]
    dt = W_ih0.dtype                      # the params' dtype is kept everywhere
    L, H, G, cell = cfg.num_layers, cfg.hidden_size, NUM_GATES[cfg.cell], cfg.cell
    x = np.asarray(x)
    ids = inp = pre0 = None
    if x.dtype.kind in "iu":              # token ids [B, T]
        if x.ndim != 2 or (x.size and (x.min() < 0 or x.max() >= cfg.input_size)):
            raise ValueError(f"token ids must be [B, T] in 0..{cfg.input_size - 1}, got shape {x.shape}")
        ids = np.ascontiguousarray(x.T)   # [T, B]
        if cfg.embedding_dim:
            inp = params["embedding.weight"][ids]                 # [T, B, E]
        else:                             # one-hot @ W_ih.T is a row lookup: [T, B, G*H]
            pre0 = W_ih0.T[ids] + params["rnn.bias_ih_l0"]
    elif cfg.embedding_dim or x.ndim != 3 or x.shape[2] != cfg.input_size:
        raise ValueError(f"real input must be [B, T, {cfg.input_size}] (and needs no embedding), got {x.shape}")
    else:
        inp = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dt)  # [T, B, in]
    T, B = (ids if ids is not None else inp).shape[:2]

    def state(s, name, needed=True):
        if not needed and s is not None:
            raise ValueError(f"{name} is only for the lstm")
        s = np.zeros((L, B, H), dt) if s is None else np.asarray(s, dtype=dt)
        if s.shape != (L, B, H):
            raise ValueError(f"{name} must be [L, B, H] = {(L, B, H)}, got {s.shape}")
        return s if needed else None
    h0, c0 = state(h0, "h0"), state(c0, "c0", cell == "lstm")
    new = lambda width, needed: np.empty((L, T, B, width), dt) if needed else None
    hidden, cs, tanh_c = new(H, True), new(H, cell == "lstm"), new(H, cell == "lstm")
    acts, hn = new(G * H, cell != "rnn"), new(H, cell == "gru")   # gate activations; gru's W_hn h + b_hn
    layers = []
    for k in range(L):
        p = lambda n: params[f"rnn.{n}_l{k}"]
        if k == 0 and pre0 is not None:
            pre = pre0
        else:                             # input projection of all T steps in one matmul
            src = hidden[k - 1] if k else inp
            pre = (src.reshape(T * B, -1) @ p("weight_ih").T + p("bias_ih")).reshape(T, B, G * H)
        sel = lambda a: None if a is None else a[k]
        layers.append(LayerCache(cell, cfg.nonlinearity, h0[k], sel(c0), hidden[k], sel(cs), sel(tanh_c),
                                 sel(acts), sel(hn)))
        forward_layer(layers[k], pre, p("weight_hh"), p("bias_hh"))
    top = hidden[-1]                      # [T, B, H]
    if cfg.head:
        top = (top.reshape(T * B, H) @ params["head.weight"].T + params["head.bias"]).reshape(T, B, -1)
    out = np.ascontiguousarray(top.transpose(1, 0, 2))       # [B, T, O] batch-first, like torch
    gates = {name: acts[..., j * H:(j + 1) * H] for j, name in enumerate(GATES[cell])}
    return out, Cache(cfg, ids, inp, hidden, cs, gates, layers, h0, c0)


def backward(params, cfg: NetConfig, cache: Cache, d_out, bugs=(), param_grads: bool = True) -> BPTT:
    """Backprop dL/d(out) [B, T, O] through head, layers (top first) and input; bugs: see cells.BUGS.
    param_grads=False computes only dL/dh_t, dL/dc_t (a probe needs no weight gradients)."""
    bugs = check_bugs(cfg.cell, cfg.nonlinearity, bugs)
    hidden = cache.hidden
    L, T, B, H = hidden.shape
    N = T * B
    d_out = np.asarray(d_out, dtype=hidden.dtype)
    if "output_sign" in bugs:
        d_out = -d_out
    d_tm = d_out.transpose(1, 0, 2).reshape(N, -1)          # [T*B, O] time-major rows
    grads = {}
    if cfg.head:
        if param_grads:
            grads["head.weight"] = d_tm.T @ hidden[-1].reshape(N, H)
            grads["head.bias"] = d_tm.sum(0)
        d_tm = d_tm @ params["head.weight"]                 # [T*B, H]
    dh_direct = d_tm.reshape(T, B, H)
    lstm = cfg.cell == "lstm"
    dL_dh, dL_dc = np.empty_like(hidden), (np.empty_like(hidden) if lstm else None)
    dh0, dc0 = np.empty_like(cache.h0), (np.empty_like(cache.h0) if lstm else None)
    for k in range(L - 1, -1, -1):
        p = lambda n: params[f"rnn.{n}_l{k}"]
        src = hidden[k - 1] if k else cache.inp          # this layer's input [T, B, in] (None: one-hot)
        lg, dpx, dh0[k], dc = backward_layer(cache.layers[k], p("weight_hh"), src, dh_direct, dL_dh[k],
                                             dL_dc[k] if lstm else None, bugs, param_grads)
        grads.update({f"rnn.{n}_l{k}": g for n, g in lg.items()})
        if lstm:
            dc0[k] = dc
        if src is None and param_grads:                 # one-hot input: column v sums the steps that saw token v
            grads["rnn.weight_ih_l0"] = np.ascontiguousarray(_scatter_rows(cache.ids.reshape(N), dpx,
                                                                           cfg.input_size).T)
        if k or cfg.embedding_dim:
            d_src = dpx @ p("weight_ih")                # dL/d(layer input) [T*B, in]
            if k:
                dh_direct = d_src.reshape(T, B, H)
            elif param_grads:
                grads["embedding.weight"] = _scatter_rows(cache.ids.reshape(N), d_src, cfg.input_size)
    return BPTT({k: grads[k] for k in params} if param_grads else {}, dL_dh, dL_dc, dh0, dc0)


def _scatter_rows(ids: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """out[v] = sum of rows[j] with ids[j] == v  ([n, D]): a one-hot matmul when small, else add.at."""
    if ids.size * n <= 1 << 20:
        return (ids[:, None] == np.arange(n)).T.astype(rows.dtype) @ rows
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    np.add.at(out, ids, rows)
    return out


def _step_weights(counted: np.ndarray, reduce: str, dt) -> np.ndarray:
    """[B, T] weight of each step's loss in the total: 'mean' over counted steps, or the 'last' counted
    step of each row (mean over rows). Nothing counted -> all zero (loss 0, no gradient)."""
    counted = counted.astype(dt)
    if reduce == "mean":
        return counted / max(counted.sum(), 1.0)
    if reduce != "last":
        raise ValueError(f"reduce must be mean or last, got {reduce!r}")
    w, rows = np.zeros_like(counted), np.flatnonzero(counted.any(1))
    last = counted.shape[1] - 1 - np.argmax(counted[rows, ::-1] > 0, axis=1)
    w[rows, last] = 1.0 / max(len(rows), 1)
    return w


def loss_and_grad(cfg: NetConfig, out, y, mask=None, reduce: str = "mean") -> tuple[float, np.ndarray]:
    """(loss, dL/d(out) [B, T, O]). classify: y [B, T] ints (IGNORE = no target); regress: y [B, T, O],
    mask [B, T] (1 = counts; None = all). The definition of rnnviz.tasks.masked_loss / step_losses."""
    dt = out.dtype
    if cfg.kind == "classify":
        y = np.asarray(y)
        logits, yf = out.reshape(-1, out.shape[-1]), y.reshape(-1)         # [N, O], [N]
        counted = yf != IGNORE
        rows, yy = np.arange(len(yf)), np.where(counted, yf, 0)
        shifted = logits - logits.max(1, keepdims=True)                  # stable log-softmax
        e = np.exp(shifted)
        s = e.sum(1, keepdims=True)
        nll = np.log(s[:, 0]) - shifted[rows, yy]                        # [N] -log p(target)
        w = _step_weights(counted.reshape(y.shape), reduce, dt).reshape(-1)
        d = e / s
        d[rows, yy] -= 1.0                                               # softmax - onehot(target)
        d *= w[:, None]
        return float(w @ nll), d.reshape(out.shape)
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
    """forward + loss + backward in one call -> (loss, grads, cache, out), cache.dL_dh etc. filled in.

    The gradient is that of the loss (reduce='mean' | 'last'), or d_out [B, T, O] when given (the
    loss is still reported when y is given, else nan)."""
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
