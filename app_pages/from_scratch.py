"""Lesson 9: the network written out in NumPy, trained side by side with PyTorch from the same weights;
a gradient check, injected backprop bugs, and the equations next to the code that computes them."""
import streamlit as st

from course import dinos_view, equations, gradcheck_view, scratch, scratch_code, step_view
from lab import page, panel, views
from lab.settings import sidebar

lesson = page.lesson("scratch")
page.header(lesson)
settings = sidebar(lesson)
equations.explain(
    "Two runs train side by side on the same data, from the same initial weights: **numpy** is the network "
    "written out by hand in NumPy — forward pass, backpropagation through time, optimizer "
    "(`rnnviz/numpy_engine/`) — and **torch** is PyTorch with autograd. With SGD in float64 (this lesson's "
    "defaults) they do the same arithmetic, so their losses should agree to rounding error; "
    "**NumPy vs PyTorch** shows the difference measured as they train. Below the runs, a **gradient check** "
    "compares the hand-written gradients with finite differences, and the **equations stand next to the "
    "code** that computes them. Inject a classic backprop bug and see the check fail — and, for some bugs, "
    "the loss stop falling. **One step by hand** works out one time step with this epoch's numbers, each "
    "line of NumPy next to what it gave. Task *dinos* learns the shipped dinosaur names letter by letter "
    "and samples new ones. The NumPy engine runs one direction without a projection (no bidirectional, "
    "proj_size, peepholes or dropout: those need the torch engine, so this lesson leaves them out).",
    *settings.cells, "bptt", "loss")
settings = scratch.bug_picker(lesson, settings)
scratch.exact_note(lesson, settings)


def body(runs):
    task = next(iter(runs.values())).task
    panels = {"NumPy vs PyTorch": lambda: scratch.agreement(runs, "scratch")}
    if task.name == "anbn":
        panels["Generate"] = lambda: scratch.continuations(runs, "scratch")
    elif task.name == "dinos":
        panels["New dinosaur names"] = lambda: dinos_view.samples(runs, "scratch.dinos")
    else:
        panels["Predictions"] = lambda: scratch.predictions(runs)
    panels["One step by hand"] = lambda: step_view.show(runs, "scratch")
    views.tabs("scratch.tabs", panels)


panel.show(lesson, settings, body)
st.header("Inside the NumPy engine", divider="gray")
views.tabs("scratch.inside", {
    "Gradient check": lambda: gradcheck_view.gradient_check(lesson, settings),
    "Equations next to the code": lambda: scratch_code.equations_and_code(settings),
})
