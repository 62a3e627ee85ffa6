"""The cells' equations, as the core computes them, each followed by what it says in plain words."""
from __future__ import annotations

import streamlit as st

from lab import presenter

EQUATIONS = {
    "rnn": (
        r"h_t = \tanh\left(W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h\right), \qquad"
        r"\hat y_t = \operatorname{softmax}\left(W_{hy}\,h_t + b_y\right)",
        "The new hidden state $h_t$ mixes the current input $x_t$ with the previous state $h_{t-1}$ and "
        "squashes the sum into $(-1, 1)$. The same weights are used at every step; $h$ is the network's "
        "only memory of the past. (With the head off, $h_t$ itself is the output.)"),
    "lstm": (
        r"\begin{aligned}"
        r"i_t &= \sigma(W_{ii}x_t + W_{hi}h_{t-1} + b_i) & f_t &= \sigma(W_{if}x_t + W_{hf}h_{t-1} + b_f)\\"
        r"g_t &= \tanh(W_{ig}x_t + W_{hg}h_{t-1} + b_g) & o_t &= \sigma(W_{io}x_t + W_{ho}h_{t-1} + b_o)\\"
        r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t & h_t &= o_t \odot \tanh(c_t)"
        r"\end{aligned}",
        "The cell state $c_t$ is a conveyor belt. The forget gate $f$ (0 = erase, 1 = keep) decides how much "
        "of the old $c$ survives, the input gate $i$ how much of the candidate $g$ is written, and the output "
        "gate $o$ how much of the cell is shown as $h_t$. Because $c_t$ is updated by addition, not by a "
        "squashing matrix product, information and gradients can travel far along it."),
    "gru": (
        r"\begin{aligned}"
        r"r_t &= \sigma(W_{ir}x_t + W_{hr}h_{t-1} + b_r) & z_t &= \sigma(W_{iz}x_t + W_{hz}h_{t-1} + b_z)\\"
        r"n_t &= \tanh\left(W_{in}x_t + b_{in} + r_t \odot (W_{hn}h_{t-1} + b_{hn})\right) &"
        r"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}"
        r"\end{aligned}",
        "A lighter LSTM without a separate cell state. The update gate $z$ chooses, per unit, between keeping "
        "the old $h$ ($z = 1$) and taking the candidate $n$; the reset gate $r$ decides how much of the old "
        "$h$ the candidate may look at."),
    "bptt": (
        r"\frac{\partial L}{\partial h_t} = \frac{\partial \ell_t}{\partial h_t}"
        r"+ \left(\frac{\partial h_{t+1}}{\partial h_t}\right)^{\!\top} \frac{\partial L}{\partial h_{t+1}},"
        r"\qquad \frac{\partial h_{t+1}}{\partial h_t} = \operatorname{diag}\!\left(1 - h_{t+1}^2\right) W_{hh}"
        r"\quad\text{(RNN)}",
        "Backpropagation through time unrolls the network over the sequence and sends the error backwards, "
        "step by step. The gradient reaching step $t$ from $k$ steps later has been multiplied by $k$ such "
        "Jacobians: when their size (roughly the spectral radius $\\rho(W_{hh})$ times the tanh slope) is "
        "below 1 it shrinks geometrically (vanishing), above 1 it can blow up (exploding). Along an LSTM's "
        "cell state the factor is $\\partial c_{t+1}/\\partial c_t = \\operatorname{diag}(f_{t+1})$: a "
        "forget gate near 1 lets the gradient pass almost unchanged."),
    "loss": (
        r"L = \frac{1}{|C|}\sum_{t \in C} -\log \hat y_t[\text{target}_t]",
        "The loss is the mean cross-entropy over the counted steps $C$: $-\\log$ of the probability the "
        "model gave the right token. It is $\\log V$ for a uniform guess over $V$ tokens and 0 for a "
        "certain, right answer."),
    "mse": (
        r"L = \frac{1}{|C|}\sum_{t \in C} \left(\hat y_t - y_t\right)^2",
        "For numbers the loss is the mean squared error over the counted steps."),
}


def show(*names: str) -> None:
    """Each equation in LaTeX with its explanation underneath."""
    for name in names:
        tex, words = EQUATIONS[name]
        st.latex(tex)
        st.markdown(words)


def explain(look_at: str, *names: str) -> None:
    """A lesson's short 'what to look at' text, and its equations one click away. They are drawn only
    while the expander is open: KaTeX's spans were half of a lesson page's DOM, and a bigger DOM makes
    every redraw of the live views cost the browser more (the cores the training worker needs). In
    presenter mode both step aside (the teacher says them)."""
    if presenter.on():
        return
    st.markdown(look_at)
    box = st.expander("The equations, in plain words", icon=":material/function:", key="equations.open",
                      on_change="rerun")
    if box.open:
        with box:
            show(*names)
