"""Lesson 5: the sine wave. Predict the next value; carry the hidden state or reset it; free-run."""
import streamlit as st

from course import equations, generation
from lab import page, panel, presenter, views
from lab.settings import sidebar
from rnnviz.tasks.sine import VAL_WINDOWS

lesson = page.lesson("sine")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "The input is a window of a sine wave, the target the same window one step ahead. Two runs train side "
    "by side on the same data and seed: **h carried** passes its hidden state from one window to the next "
    "(truncated BPTT: the state flows on, the gradient stops at the window's edge), **h reset** starts "
    "every window from zero. *Teacher-forced*, the model always sees the true previous value; "
    "*free-running*, it is fed its own predictions after the window — small errors then add up, "
    "which shows what it really learnt about the wave. The progress line's *validation MSE* is the mean over "
    f"the {VAL_WINDOWS} windows after the training ones, teacher-forced (**h carried** carries its state through "
    "them); the Prediction chart draws the first of them alone, from h = 0, and its *MSE on this window* is that "
    "window's. *Truncated BPTT* under Training cuts each window "
    "into pieces of *k* steps, one optimizer step each, the state flowing on detached (the lecture's "
    "`hidden = hidden.data`): **Gradient** shows where $\\lVert\\partial L/\\partial h_t\\rVert$ stops.",
    *settings.cells, "mse")


def predictions(runs):
    steps = st.slider("free-running steps after the window", 0, 200, 60, step=10, key="sine.free")
    places, share = presenter.side_by_side(len(runs))
    for place, (name, view) in zip(places, runs.items()):
        with place:
            if view.rec is None:       # side by side, one run may not have recorded yet
                st.markdown(f"**{name}**")     # (a chart says its run in its title)
                st.info("Waiting for its first record…", icon=":material/hourglass_top:")
                continue
            free = None
            if steps:
                with views.explained("Free running failed"):
                    free = generation.free_running(view, steps)
            views.sine(view, f"sine.{name}", free, share=share)
            if free and view.rec and free[0] != view.rec.epoch:
                st.caption(f"free running with the weights of {view.unit} {free[0]} (the nearest kept)")


def hidden(runs):
    name = st.radio("run", list(runs), horizontal=True, key="sine.hidden_run")
    views.trajectory(runs[name], "sine", dims=2)


def gradient(runs):
    k = next(iter(runs.values())).run.tcfg.tbptt
    st.caption(f"Truncated BPTT every {k} steps: the dotted lines are the cuts. Nothing flows back across a cut, "
               "so the gradient at a piece's last step is only what its own output sends." if k else
               "No cuts inside the window (truncated BPTT = 0): the gradient stops only at the window's start, "
               "where the carried state arrives detached. Set *truncated BPTT* under Training (say 5) and train "
               "again to see it stop every 5 steps.")
    views.gradient_lines(runs, "sine")


panel.show(lesson, settings, lambda runs: views.tabs("sine.tabs", {
    "Prediction": lambda: predictions(runs),
    "Loss": lambda: views.loss(runs, "sine"),
    "Hidden state": lambda: hidden(runs),
    "Gradient": lambda: gradient(runs),
}))
