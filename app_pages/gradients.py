"""Lesson 7: vanishing and exploding gradients. RNN, LSTM and GRU side by side on a long-lag task."""
import streamlit as st

from course import directions, equations
from lab import page, panel, views
from lab.settings import sidebar

lesson = page.lesson("gradients")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "**copy**: read a few symbols, wait *lag* blank steps, then write them back. **adding**: add the two "
    "marked numbers of a long sequence. The answer depends on inputs far back, so the error has to travel "
    "back through many steps. An **RNN**, an **LSTM** and a **GRU** train side by side on the same data "
    "and seed. Look at $\\lVert\\partial L/\\partial h_t\\rVert$ against $t$ (log scale): a straight "
    "falling line is geometric decay — the vanishing gradient. On copy at its default lag the RNN "
    "stays near chance for the first half of the run and ends far below the gated cells, which learn "
    "to copy; lower the lag to 5 and all three learn it. Try "
    "orthogonal init (spectral radius 1), a large learning rate with and without clipping.",
    "bptt", "rnn", "lstm", "gru")

WHICH = {"grad_h_last": "loss of the final step", "grad_h": "mean loss over all counted steps",
         "grad_c": "LSTM cell state c"}


def which() -> str:
    return st.radio("gradient of", list(WHICH), format_func=WHICH.get, horizontal=True, key="grad.which")


def pick(runs, key):
    name = st.radio("run", list(runs), horizontal=True, key=key)
    return runs[name]


def over_training(runs):
    view = pick(runs, "grad.map_run")
    views.gradient_map(view, "grad", which(), directions.choice(view, "grad.map_direction"))


panel.show(lesson, settings, lambda runs: views.tabs("grad.tabs", {
    "Gradient through time": lambda: views.gradient_lines(runs, "grad", which()),
    "Over training": lambda: over_training(runs),
    "Clipping": lambda: views.clipping(pick(runs, "grad.clip_run"), "grad"),
    "Spectral radius": lambda: views.spectral(pick(runs, "grad.rho_run"), "grad"),
    "Loss and accuracy": lambda: views.loss(runs, "grad", accuracy=True),
}))
