"""Lesson 6: inside the cells. Hidden-state trajectories, gates and the cell state over time."""
import streamlit as st

from course import directions, equations
from lab import page, panel, views
from lab.settings import sidebar

lesson = page.lesson("inside")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "At the end of every epoch (in step mode: every recorded step) the trainer runs the task's fixed "
    "**probe** input through the model and keeps "
    "everything: $h_t$, $c_t$ and each gate, at every time step (the input tokens label the time axis). "
    "**Trajectory**: the hidden states as a path, projected on the 2 or 3 directions of largest variance "
    "(one PCA basis for all epochs, so the picture stays put while you scrub). **Gates**: 1 = open, "
    "0 = shut — watch the forget gate decide what is kept, and the cell state carry it. Try an LSTM and a "
    "GRU on the same task.",
    *settings.cells)


def layer_choice(view) -> int:
    n = view.run.mcfg.num_layers
    if n == 1:
        return 0
    return st.radio("layer", list(range(n)), index=n - 1, format_func=lambda i: f"layer {i + 1}",
                    horizontal=True, key="inside.layer")


def trajectory(view):
    dims = st.radio("projection", [2, 3], format_func=lambda d: f"{d}-D", horizontal=True, key="inside.dims")
    views.trajectory(view, "inside", dims=dims, layer=layer_choice(view))


def body(runs):
    (view,) = runs.values()
    views.tabs("inside.tabs", {
        "Trajectory": lambda: trajectory(view),
        "Gates": lambda: views.gates(view, "inside", layer=layer_choice(view),
                                     direction=directions.choice(view, "inside.direction")),
        "Hidden state": lambda: views.hidden(view, "inside", layer=layer_choice(view)),
        "Predictions": lambda: views.predictions(view, "inside"),
        "Loss and accuracy": lambda: views.loss(runs, "inside", accuracy=True),
    })


panel.show(lesson, settings, body)
