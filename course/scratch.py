"""The glue of the lesson "From scratch (NumPy)": the NumPy engine against PyTorch, and the injected
backprop bugs with what each did to training (course.scratch_bugs, measured). The gradient check is in
course.gradcheck_view, the equations next to the code in course.scratch_code.

The two runs (lab.lessons: variants "numpy" and "torch") start from the same weights; the agreement
shown is measured from their loss histories.
"""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from rnnviz import figures as F
from rnnviz.numpy_engine import cells
from rnnviz.tasks.anbn import read_prefix

from lab import views
from lab.lessons import Lesson
from lab.settings import BUG_KEY, Settings, prefix
from lab.snapshot import Snapshot

from . import generation
from .scratch_bugs import BUG_TITLES, applies, effect_text


def bug_picker(lesson: Lesson, settings: Settings) -> Settings:
    """A select box of the bugs this cell can have; the settings with the chosen one (its runs on the
    NumPy engine get it, and the gradient check judges it)."""
    m = settings.setup.model if settings.setup else None
    options = ["none"] + [b for b in cells.BUGS if m is None or applies(b, m.cell, m.nonlinearity)]
    if st.session_state.get(BUG_KEY) not in options:
        st.session_state[BUG_KEY] = "none"
    left, right = st.columns([2, 3], vertical_alignment="center")
    bug = left.selectbox("inject a bug into the NumPy backward", options, key=BUG_KEY, format_func=BUG_TITLES.get,
                         help="Applies to the next Train (the numpy run only; torch stays correct) and to the "
                              "gradient check below.")
    task = settings.setup.task_name if settings.setup else "anbn"
    measured = effect_text(task, bug, settings.setup, lesson)
    if bug != "none":
        right.warning(f"**{bug}**: {cells.BUGS[bug]}. {measured}", icon=":material/bug_report:")
    else:
        right.caption(f"Pick a classic backprop slip to see the gradient check fail and what it does to "
                      f"training. {measured}")
    return replace(settings, bugs=() if bug == "none" else (bug,))


# ---- exact agreement --------------------------------------------------------------------------------
def _use_exact(lesson: Lesson, task_name: str) -> None:
    pre = prefix(lesson, task_name) + ".train."
    for k, v in lesson.train_defaults[task_name].items():
        if k != "epochs":
            st.session_state[pre + k] = v


def exact_note(lesson: Lesson, settings: Settings) -> None:
    """Say whether the settings are the exact-agreement ones (SGD, float64) and offer to set them."""
    if settings.setup is None:
        return
    t = settings.setup.train
    if t.optimizer == "sgd" and t.dtype == "float64":
        st.caption(":material/check_circle: SGD in float64: both engines do the same arithmetic, so their losses "
                   "should agree to rounding error. The tab **NumPy vs PyTorch** shows the measured difference.")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"{t.optimizer}, {t.dtype}: the engines still start from the same weights, but rounding "
                   "differs, so their losses may drift apart. SGD in float64 is the setting for exact agreement.")
        st.button("SGD + float64", key=f"{lesson.key}.exact", icon=":material/balance:", on_click=_use_exact,
                  args=(lesson, settings.setup.task_name), help="Set the optimizer, learning rate and precision "
                  "of exact agreement (this lesson's defaults)")


def agreement(views_: dict[str, Snapshot], key: str) -> None:
    """The two loss curves overlaid, and the measured relative difference between them."""
    a, b = views_.get("numpy"), views_.get("torch")
    if a is None or b is None:
        views.loss(views_, key)
        return
    diff = F.max_relative_difference(a.records, b.records)
    epochs = len(F.relative_differences(a.records, b.records)[0])
    left, right = st.columns([1, 3])
    # a short label: a metric's label is cut to one line of the column (a quarter of the page)
    left.metric("max relative difference", "–" if diff is None else f"{diff:.1e}",
                help="max over the epochs recorded by both runs of |loss_numpy − loss_torch| / loss_torch")
    left.caption(f"of the losses, over {epochs} {a.unit}(s) recorded by both runs" + (
        "; the numpy run has a bug injected, so they are *meant* to differ" if a.run.bugs else ""))
    with right:
        views.loss(views_, key, accuracy=True, dotted=("torch",), share=0.75)
        st.caption(f"numpy: solid {F.color_name(F.PALETTE[0])} line; torch: dotted {F.color_name(F.PALETTE[1])} "
                   "line, drawn on top" + (" — the curves coincide, so numpy's shows through torch's dots."
                                           if diff is not None and diff < 1e-6 else "."))
    views.chart(lambda: F.loss_difference_figure(a.records, b.records, x=a.unit, thinned=a.thinned),
                f"{key}.reldiff", (a, b), (views._at(a), views._at(b)))
    st.caption("NumPy and PyTorch compute the same formulas but may add up in a different order, so a result "
               "can differ in its last digit (about 1e-16 relative in float64, 1e-7 in float32). Training "
               "feeds every result into the next step, so such differences can grow over many steps — "
               "how much is what this figure measures.")


def continuations(views_: dict[str, Snapshot], key: str) -> None:
    """anbn: each engine continues a typed prefix greedily with the weights of the shown epoch."""
    text = st.text_input("prefix (a's and b's separated by spaces)", "a a b", key=f"{key}.prefix", max_chars=600)
    try:
        prefix = read_prefix(text)
    except ValueError as e:
        st.error(f"Cannot continue that prefix: {e}", icon=":material/error:")
        return
    for col, (name, view) in zip(st.columns(len(views_)), views_.items()):
        if view.rec is None:        # side by side, one run may not have recorded yet
            col.info(f"**{name}**: waiting for its first record…", icon=":material/hourglass_top:")
            continue
        with col, views.explained(f"{name} cannot continue that prefix"):
            epoch, tokens = generation.continuation(view, " ".join(prefix))
            st.markdown(f"**{name}**, greedy, with the weights of {view.unit} {epoch}")
            views.continuation(prefix, tokens)


def predictions(views_: dict[str, Snapshot]) -> None:
    for name, view in views_.items():
        st.markdown(f"**{name}**")
        views.headline(view)
