"""One time step of a cell worked out by hand, line by line (course seed 000's rnn_cell_forward, seed
001's "under the hood"): x_t, h_{t-1}, each matrix product, each gate, h_t and the output.

Each line below is a (name, what it is, expression) triple; one_step runs it as `name = expression`
on the step's numbers and keeps (what, "name = expression", value). The source a page shows is that
very string: there is no second copy that could drift from what ran. The state before the step,
h_{t-1} (and c_{t-1}), is what the engine's own forward over x_0 ... x_{t-1} left.

    entries = one_step(params, cfg, x, t)     # x: [T] token ids or [T, in] values (one sequence)
    entries[-1] ...                           # the output; the top layer's h_t comes before it
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import network

# torch.nn's layout: W_ih [G*H, in], W_hh [G*H, H], gate blocks stacked (lstm i, f, g, o; gru r, z, n)
PRODUCTS = (
    ("Wx", "input part W_ih x_t + b_ih", "W_ih @ x_t + b_ih"),
    ("Wh", "recurrent part W_hh h_{t-1} + b_hh", "W_hh @ h_prev + b_hh"),
)
CELL_LINES = {
    "rnn": PRODUCTS + (
        ("a", "pre-activation a_t", "Wx + Wh"),
        ("h", "new hidden state h_t = tanh(a_t)", "np.tanh(a)"),
    ),
    "rnn_relu": PRODUCTS + (
        ("a", "pre-activation a_t", "Wx + Wh"),
        ("h", "new hidden state h_t = relu(a_t)", "np.maximum(a, 0.0)"),
    ),
    "lstm": PRODUCTS + (
        ("a", "pre-activations of the 4 gates [a_i; a_f; a_g; a_o]", "Wx + Wh"),
        ("i", "input gate i_t", "sigmoid(a[0 * H:1 * H])"),
        ("f", "forget gate f_t", "sigmoid(a[1 * H:2 * H])"),
        ("g", "candidate g_t", "np.tanh(a[2 * H:3 * H])"),
        ("o", "output gate o_t", "sigmoid(a[3 * H:4 * H])"),
        ("c", "new cell state c_t", "f * c_prev + i * g"),
        ("h", "new hidden state h_t", "o * np.tanh(c)"),
    ),
    "gru": PRODUCTS + (
        ("r", "reset gate r_t", "sigmoid(Wx[0 * H:1 * H] + Wh[0 * H:1 * H])"),
        ("z", "update gate z_t", "sigmoid(Wx[1 * H:2 * H] + Wh[1 * H:2 * H])"),
        ("n", "candidate n_t (r_t scales W_hn h_{t-1} + b_hn)", "np.tanh(Wx[2 * H:3 * H] + r * Wh[2 * H:3 * H])"),
        ("h", "new hidden state h_t", "(1 - z) * n + z * h_prev"),
    ),
}
INPUT_LINES = {
    "one_hot": ("x_t", "input x_t: the token one-hot", "np.eye(V)[X[t]]"),
    "embedding": ("x_t", "input x_t: the token's row of the embedding E", "E[X[t]]"),
    "values": ("x_t", "input x_t", "X[t]"),
    "below": ("x_t", "input x_t: h_t of the layer below", "h"),
}
STATE_LINES = (("h_prev", "h_{t-1}: the state step t-1 left", "before_h[k]"),
               ("c_prev", "c_{t-1}: the cell state step t-1 left", "before_c[k]"))
HEAD_LINES = {
    "classify": (("y", "output logits y_t = W_hy h_t + b_y", "W_hy @ h + b_y"),
                 ("p", "next-token probabilities softmax(y_t)", "np.exp(y - y.max()) / np.exp(y - y.max()).sum()")),
    "regress": (("y", "output y_t = W_hy h_t + b_y", "W_hy @ h + b_y"),),
}
MAX_T = 10_000


@dataclass(frozen=True)
class Entry:
    layer: int | None       # the recurrent layer (0-based); None for the output
    label: str              # what the array is, in words
    source: str             # the line of NumPy that computed it: "name = expression"
    value: np.ndarray       # 1-d


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _run(entries: list[Entry], ns: dict, lines, layer: int | None) -> None:
    """Each line as `name = expression` in the namespace ns, kept as an Entry."""
    for name, label, expr in lines:
        # this module's own lines only; with the builtins, through which numpy imports the helpers of
        # ndarray.max and .sum the first time they are called
        ns[name] = value = np.asarray(eval(expr, {}, ns))  # noqa: S307
        entries.append(Entry(layer, label, f"{name} = {expr}", value))


def one_step(params: dict, cfg: network.NetConfig, x, t: int) -> list[Entry]:
    """Step t of one sequence x ([T] token ids, or [T, in] values) by hand, every layer and the head,
    from the state the engine's forward over x[:t] left (zeros at t = 0)."""
    X = np.asarray(x)
    if X.ndim not in (1, 2) or not 1 <= len(X) <= MAX_T:
        raise ValueError(f"x must be one sequence of 1..{MAX_T} steps ([T] ids or [T, in] values), got {X.shape}")
    if not 0 <= t < len(X):
        raise ValueError(f"t must be in 0..{len(X) - 1}, got {t}")
    L, H = cfg.num_layers, cfg.hidden_size
    dt = np.result_type(*params.values())
    before_h, before_c = np.zeros((L, H), dt), np.zeros((L, H), dt)
    if t > 0:
        _, cache = network.forward(params, cfg, X[None, :t])   # the engine's own forward up to t-1
        before_h = cache.hidden[:, -1, 0]
        before_c = cache.cell[:, -1, 0] if cache.cell is not None else before_c
    ns = {"np": np, "sigmoid": sigmoid, "X": X, "t": t, "H": H, "V": cfg.input_size,
          "before_h": before_h, "before_c": before_c}
    if cfg.embedding_dim:
        ns["E"] = params["embedding.weight"]
    entries: list[Entry] = []
    cell = "rnn_relu" if cfg.cell == "rnn" and cfg.nonlinearity == "relu" else cfg.cell
    for k in range(L):
        ns.update(k=k, W_ih=params[f"rnn.weight_ih_l{k}"], W_hh=params[f"rnn.weight_hh_l{k}"],
                  b_ih=params[f"rnn.bias_ih_l{k}"], b_hh=params[f"rnn.bias_hh_l{k}"])
        source = "below" if k else ("values" if X.ndim == 2 else "embedding" if cfg.embedding_dim else "one_hot")
        _run(entries, ns, (INPUT_LINES[source],) + STATE_LINES[:2 if cfg.cell == "lstm" else 1], k)
        _run(entries, ns, CELL_LINES[cell], k)
    if cfg.head:
        ns.update(W_hy=params["head.weight"], b_y=params["head.bias"])
        _run(entries, ns, HEAD_LINES[cfg.kind], None)
    return entries
