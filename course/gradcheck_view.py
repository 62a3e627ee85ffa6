"""The From scratch lesson's gradient check: the NumPy backward's analytic gradients (per parameter and
per h_t) against central finite differences (rnnviz.numpy_engine.gradcheck), on a few sequences of the
task, with the initial weights of the settings or the numpy run's latest weights, and the bug picked."""
from __future__ import annotations

import numpy as np
import streamlit as st

from rnnviz import figures as F
from rnnviz.engine import build_model
from rnnviz.numpy_engine import network
from rnnviz.numpy_engine.gradcheck import check_engine, check_hidden

from lab import views
from lab.lessons import Lesson
from lab.panel import lesson_runs
from lab.settings import Settings
from lab.throttle import Memo

from .scratch_bugs import applies

TOL = 1e-5          # a correct float64 backward scores ~1e-8 or less; a wrong one 1e-3 .. 1
CHECKS = 24         # random elements checked per parameter (and per h_t)
ROWS = 4            # sequences of the task in the checked batch

_checks = Memo(size=32)


def _batch(task, seed: int):
    """The first ROWS sequences of the task's first training batch (arrays for the NumPy engine)."""
    b = next(iter(task.train_batches(1, np.random.default_rng(seed))))
    mask = None if b.mask is None else b.mask[:ROWS].numpy()
    return b.x[:ROWS].numpy(), b.y[:ROWS].numpy(), mask


def run_check(task, mcfg, tcfg, state, bugs: tuple[str, ...]) -> tuple[dict, dict, tuple]:
    """(per-parameter errors, per-step errors of dL/dh_t, batch shape) in float64."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    cfg = network.NetConfig.from_model_config(mcfg, task.input_size, task.output_size, task.kind)
    x, y, mask = _batch(task, tcfg.seed)
    errors = check_engine(params, cfg, x, y, mask, bugs=bugs, max_checks=CHECKS)
    hidden = check_hidden(params, cfg, x, y, mask, bugs=bugs, max_checks=CHECKS)
    return errors, hidden, x.shape[:2]


def gradient_check(lesson: Lesson, settings: Settings) -> None:
    """Per-parameter (and per-h_t) relative errors of the NumPy backward against finite differences."""
    run = lesson_runs(lesson).get("numpy")
    kept = run.weights.at(10**12) if run is not None else None
    sources = ["fresh"] + (["run"] if kept else [])
    which = st.radio("weights", sources, horizontal=True, key=f"{lesson.key}.check_weights", format_func=lambda s: (
        "initial weights of the settings' seed" if s == "fresh" else f"the numpy run's weights at {run.history.unit} "
        f"{kept[0]}"))
    if which == "run":
        task, mcfg, tcfg, state, origin = run.task, run.mcfg, run.tcfg, kept[1], (run.id, kept[0])
    elif settings.setup is not None:
        (mcfg, tcfg), task = settings.setup.variants(lesson)["numpy"], settings.setup.task
        state, origin = None, (task.name, task.options, mcfg, tcfg)
    else:
        return st.info("These settings cannot be checked (see the message above).")
    bugs = tuple(b for b in settings.bugs if applies(b, mcfg.cell, mcfg.nonlinearity))

    def build():
        sd = state if state is not None else build_model(task, mcfg, tcfg).state_dict()
        return run_check(task, mcfg, tcfg, {k: v.detach().numpy() for k, v in sd.items()}, bugs)

    with views.explained("The gradient check failed"):
        errors, hidden, (B, T) = _checks.get((origin, bugs), None, build)
        bad = [k for k, v in errors.items() if not v <= TOL]
        st.markdown(f"Analytic gradients of the NumPy backward{' with **' + bugs[0] + '**' if bugs else ''} "
                    f"against central finite differences (ε = 10⁻⁶, float64), on {B} sequence(s) of "
                    f"{T} steps from the training data, {CHECKS} random elements per parameter. "
                    f"**Tolerance: {TOL:.0e}** (max relative error per parameter).")
        if bad:
            st.error(f"{len(bad)} of {len(errors)} parameters fail the check: {', '.join(bad)}",
                     icon=":material/close:")
        else:
            st.success(f"All {len(errors)} parameters pass the check (largest error "
                       f"{max(errors.values()):.1e})", icon=":material/check:")
        left, right = st.columns(2)
        with left:
            views.chart(F.gradcheck_figure(errors, TOL, "dL/dθ per parameter"), f"{lesson.key}.gc", share=0.5)
        with right:
            steps = {k.removeprefix("h_"): v for k, v in hidden.items()}
            views.chart(F.gradcheck_figure(steps, TOL, "dL/dh_t (top layer) per step", "time step t",
                                           horizontal=False), f"{lesson.key}.gch", share=0.5)
        st.caption("dL/dh_t is the total derivative: through the output at t and through every later step. "
                   "Its numeric twin treats h_t as an input, recomputes the output at t and runs the steps "
                   "after t from it.")
