"""The From scratch lesson's "Equations next to the code": each equation of the forward, the loss and
backpropagation through time beside the NumPy engine's own source (inspect.getsource), so the code
shown cannot drift from what runs."""
from __future__ import annotations

import inspect

import streamlit as st

from rnnviz.config import CELLS
from rnnviz.numpy_engine import cells, network

from lab.settings import Settings

OUTPUT = (
    r"\begin{aligned} z_t &= W_{hy} h_t + b_y, \qquad \hat y_t = \operatorname{softmax}(z_t)\\"
    r"L &= \textstyle\sum_{t\in C} w_t\,\big(-\log \hat y_t[y_t]\big)\\ w_t &= 1/|C|"
    r"\ \text{on the counted steps } C\\"
    r"\frac{\partial L}{\partial z_t} &= w_t\,\big(\hat y_t - \operatorname{onehot}(y_t)\big)\\"
    r"\frac{\partial L}{\partial W_{hy}} &= \textstyle\sum_t \frac{\partial L}{\partial z_t}\, h_t^\top\\"
    r"\delta h_t^{\text{direct}} &= W_{hy}^\top \frac{\partial L}{\partial z_t} \end{aligned}",
    "The softmax and the cross-entropy together have the simplest of gradients: predicted minus true "
    "probabilities, weighted by each counted step's share of the mean. `output_sign` flips exactly this.")
FORWARD = {
    "rnn": r"\begin{aligned} a_t &= W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}\\ h_t &= \tanh(a_t) \end{aligned}",
    "lstm": r"\begin{aligned} [a_i; a_f; a_g; a_o] &= W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}\\"
            r"i_t &= \sigma(a_i), \qquad f_t = \sigma(a_f)\\"
            r"g_t &= \tanh(a_g), \qquad o_t = \sigma(a_o)\\"
            r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t\\"
            r"h_t &= o_t \odot \tanh(c_t) \end{aligned}",
    "gru": r"\begin{aligned} r_t &= \sigma(W_{ir}x_t + b_{ir} + W_{hr}h_{t-1} + b_{hr})\\"
           r"z_t &= \sigma(W_{iz}x_t + b_{iz} + W_{hz}h_{t-1} + b_{hz})\\"
           r"n_t &= \tanh\big(W_{in}x_t + b_{in} + r_t \odot (W_{hn}h_{t-1} + b_{hn})\big)\\"
           r"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1} \end{aligned}",
}
BACKWARD = {
    "rnn": r"\begin{aligned} \delta h_t &= \delta h_t^{\text{direct}} + \delta h_t^{\text{next}}\\"
           r"\delta a_t &= \delta h_t \odot (1 - h_t^2)\\"
           r"\delta h_{t-1}^{\text{next}} &= W_{hh}^\top \delta a_t \end{aligned}",
    "lstm": r"\begin{aligned} \delta h_t &= \delta h_t^{\text{direct}} + \delta h_t^{\text{next}}\\"
            r"\delta o_t &= \delta h_t \odot \tanh(c_t)\\"
            r"\delta c_t &= \delta h_t \odot o_t \odot (1 - \tanh^2 c_t)\\ &\quad + \delta c_{t+1} \odot f_{t+1}\\"
            r"\delta i_t &= \delta c_t \odot g_t, \qquad \delta g_t = \delta c_t \odot i_t\\"
            r"\delta f_t &= \delta c_t \odot c_{t-1}\\"
            r"\delta a_i &= \delta i_t \odot i_t(1-i_t), \quad \delta a_f = \delta f_t \odot f_t(1-f_t)\\"
            r"\delta a_g &= \delta g_t \odot (1-g_t^2), \quad \delta a_o = \delta o_t \odot o_t(1-o_t)\\"
            r"\delta h_{t-1}^{\text{next}} &= W_{hh}^\top [\delta a_i; \delta a_f; \delta a_g; \delta a_o] "
            r"\end{aligned}",
    "gru": r"\begin{aligned} \delta h_t &= \delta h_t^{\text{direct}} + \delta h_t^{\text{next}}\\"
           r"\delta a_n &= \delta h_t \odot (1 - z_t) \odot (1 - n_t^2)\\"
           r"\delta a_z &= \delta h_t \odot (h_{t-1} - n_t) \odot z_t(1 - z_t)\\"
           r"\delta a_r &= \delta a_n \odot (W_{hn}h_{t-1} + b_{hn}) \odot r_t(1 - r_t)\\"
           r"\delta h_{t-1}^{\text{next}} &= \delta h_t \odot z_t + W_{hr}^\top \delta a_r\\"
           r"&\quad + W_{hz}^\top \delta a_z + W_{hn}^\top (r_t \odot \delta a_n) \end{aligned}",
}
WEIGHTS = (r"\begin{aligned} \frac{\partial L}{\partial W_{hh}} &= \textstyle\sum_t \delta a_t\, h_{t-1}^\top\\"
           r"\frac{\partial L}{\partial W_{ih}} &= \textstyle\sum_t \delta a_t\, x_t^\top\\"
           r"\frac{\partial L}{\partial b} &= \textstyle\sum_t \delta a_t \end{aligned}",
           r"The same weights act at every step, so their gradient is the sum over the steps: one matmul over "
           r"all steps at once ($\delta a_t$ stacks all gates' pre-activation gradients; the GRU's $W_{hn}$ row "
           r"block gets $r_t \odot \delta a_n$).")
WORDS = {
    "rnn": r"Backward, last step first: the error at $h_t$ is what the output at $t$ sends plus what step $t+1$ "
           r"sent back; $\tanh' = 1 - h_t^2$ is read off the output. `no_bptt` drops $\delta h^{\text{next}}$, "
           r"`tanh_derivative` takes $1 - \tanh(h_t)^2$ instead.",
    "lstm": r"The cell state is the second path back in time: $\delta c_t$ collects $\delta h_t$ through "
            r"$h_t = o_t \odot \tanh(c_t)$ and $\delta c_{t+1}$ through $c_{t+1} = f_{t+1} \odot c_t + \dots$, "
            r"scaled by the forget gate. `forget_derivative` drops $f_t(1 - f_t)$ from $\delta a_f$, "
            r"`no_bptt` drops $\delta h^{\text{next}}$ and $\delta c_{t+1}$.",
    "gru": r"$h_t$ mixes the old state and the candidate, so $\delta h_{t-1}$ gets a direct share "
           r"$z_t \odot \delta h_t$ besides the paths through the three gates' recurrent matmul.",
}


def head_source() -> str:
    """The start of network.backward: the output_sign bug, the head's gradients, dL/dh_t from the head."""
    lines = inspect.getsource(network.backward).splitlines()
    end = next((i for i, s in enumerate(lines) if "dh_direct = d_tm.reshape" in s), None)
    return "\n".join(lines if end is None else lines[:end + 1] + ["    ..."])


def forward_source(cell: str) -> str:
    """The part of cells.forward_layer that runs for `cell` (all of it when the layout is unexpected)."""
    lines = inspect.getsource(cells.forward_layer).splitlines()
    find = lambda text: next((i for i, s in enumerate(lines) if text in s), None)  # noqa: E731
    start, rnn, scale, lstm, gru = (find(s) for s in ("h = lc.h0", 'if lc.cell == "rnn":', "scale, shift = _gate_scale",
                                                      'if lc.cell == "lstm":', "pre = pre.copy()"))
    if None in (start, rnn, scale, lstm, gru) or not start < rnn < scale < lstm < gru:
        return "\n".join(lines)
    head = lines[:start + 1]
    body = {"rnn": lines[rnn:scale], "lstm": lines[scale:gru],
            "gru": lines[scale:lstm] + ["    # ... (the lstm branch) ..."] + lines[gru:]}[cell]
    return "\n".join(head + body)


def _pair(tex: str, words: str, *code: str) -> None:
    left, right = st.columns([5, 6])
    with left:
        st.latex(tex)
        st.markdown(words)
    with right:
        for src in code:
            st.code(src, language="python", height=min(560, 22 * (src.count("\n") + 2)))


def equations_and_code(settings: Settings) -> None:
    cell0 = settings.cells[0] if settings.setup else "lstm"
    cell = st.radio("cell", CELLS, index=CELLS.index(cell0), horizontal=True, key=f"scratch.code_cell.{cell0}",
                    help="Follows the cell under Model in the sidebar; pick another to compare.")
    src = lambda f: inspect.getsource(f)  # noqa: E731
    st.subheader("Forward, one step after the other")
    _pair(FORWARD[cell], "`cells.forward_layer` (the other cells' branches left out): the input projection of all "
          "steps is one matmul done before the loop; sigmoid(a) is computed as 0.5·tanh(a/2) + 0.5.",
          forward_source(cell))
    st.subheader("Output and loss")
    _pair(*OUTPUT, src(network.loss_and_grad), head_source())
    st.subheader("Backward through time")
    _pair(BACKWARD[cell], WORDS[cell], src(getattr(cells, f"_bptt_{cell}")), src(cells.dtanh))
    st.subheader("Weight gradients")
    _pair(*WEIGHTS, src(cells.backward_layer))
