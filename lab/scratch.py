"""The glue of the lesson "From scratch (NumPy)": the NumPy engine against PyTorch, a gradient check,
injected backprop bugs, and the equations next to the code that computes them.

The two runs (lab.lessons: variants "numpy" and "torch") start from the same weights; the agreement
shown is measured from their loss histories. The gradient check runs rnnviz.numpy_engine.gradcheck on
a few sequences of the task. The code shown is the engine's own source (inspect.getsource), so it
cannot drift from what runs.
"""
from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from dataclasses import replace

import numpy as np
import streamlit as st

from rnnviz import figures as F
from rnnviz.config import CELLS
from rnnviz.engine import build_model
from rnnviz.numpy_engine import cells, network
from rnnviz.numpy_engine.gradcheck import check_engine, check_hidden
from rnnviz.tasks.anbn import read_prefix

from . import generation, views
from .lessons import Lesson
from .panel import lesson_runs
from .snapshot import Snapshot
from .settings import BUG_KEY, Settings, prefix

TOL = 1e-5          # a correct float64 backward scores ~1e-8 or less; a wrong one 1e-3 .. 1
CHECKS = 24         # random elements checked per parameter (and per h_t)
ROWS = 4            # sequences of the task in the checked batch

# ---- the bugs, and what they did when we trained with them ------------------------------------------
BUG_TITLES = {"none": "no bug (the engine as written)",
              "output_sign": "wrong sign of the output gradient",
              "forget_derivative": "forget gate: sigmoid derivative missing (LSTM)",
              "tanh_derivative": "tanh derivative taken at the wrong place",
              "no_bptt": "no backpropagation through time"}
# What each bug did when we trained with this lesson's defaults (numpy engine; accuracy: validation
# accuracy on anbn's determined positions at the last epoch). Measured, not predicted.
MEASURED = {"anbn": "anbn, LSTM H=50, SGD lr 1.0, float64, 30 epochs, seeds 0 / 1",
            "hihell": "hihell, RNN H=5, SGD lr 0.5, float64, 100 epochs, seed 0"}
BUG_EFFECTS = {
    "anbn": {
        "none": "Without a bug the loss fell from 1.14 to 0.27 and the accuracy reached **1.00** "
                "(seed 1: 1.11 → 0.30, 0.99).",
        "output_sign": "Every step climbs the loss instead of descending it: it rose to about 13,600 and the "
                       "accuracy was **0.00** with both seeds. The gradient check fails for every parameter with "
                       "error 2: the analytic gradient is exactly minus the true one.",
        "forget_derivative": "Only the size of the forget gate's gradient is wrong, not its direction, so training "
                             "still makes progress, just worse: loss → 0.61 / 0.72, accuracy **0.79 / 0.61** (no "
                             "bug: 1.00 / 0.99). The gradient check catches it at once.",
        "tanh_derivative": "The slope is wrong wherever a tanh is used, but mostly points the right way: loss → "
                           "0.50 / 0.43, accuracy **0.89 / 0.94**, fluctuating from epoch to epoch (no bug: "
                           "1.00 / 0.99).",
        "no_bptt": "No step learns from the errors of later steps, so the count cannot be learnt through time: "
                   "loss → 0.65 / 0.70, accuracy **0.74 / 0.81**. In the dL/dh_t check only the last step is "
                   "right.",
    },
    "hihell": {
        "none": "Without a bug the loss fell from 1.61 to 0.045 and the run reads *ihello*.",
        "output_sign": "The loss climbed from 1.61 to 240 and the run reads *iiiiii*.",
        "tanh_derivative": "For the RNN 1 − tanh(h)² is larger than 1 − h², so every step is too big: the run "
                           "diverged at step 80 (the trainer stopped it and restored the last good weights: loss "
                           "2.6, reading *llllll*).",
        "no_bptt": "Here it hardly matters: loss 0.048 (0.045 without the bug), reading *ihello*. The next letter "
                   "of *hihello* depends on at most one step back, which the gradient of W_hh at each step "
                   "teaches without any backprop through time. The gradient check still fails.",
    },
}


def bug_picker(settings: Settings) -> Settings:
    """A select box of the bugs this cell can have; the settings with the chosen one (its runs on the
    NumPy engine get it, and the gradient check judges it)."""
    m = settings.setup.model if settings.setup else None
    options = ["none"] + [b for b in cells.BUGS if m is None or _applies(b, m.cell, m.nonlinearity)]
    if st.session_state.get(BUG_KEY) not in options:
        st.session_state[BUG_KEY] = "none"
    left, right = st.columns([2, 3], vertical_alignment="center")
    bug = left.selectbox("inject a bug into the NumPy backward", options, key=BUG_KEY, format_func=BUG_TITLES.get,
                         help="Applies to the next Train (the numpy run only; torch stays correct) and to the "
                              "gradient check below.")
    task = settings.setup.task_name if settings.setup else "anbn"
    effect = BUG_EFFECTS.get(task, {}).get(bug)
    measured = f"{effect} *(measured: {MEASURED[task]}.)*" if effect else "Not measured for this task and cell."
    if bug != "none":
        right.warning(f"**{bug}**: {cells.BUGS[bug]}. {measured}", icon=":material/bug_report:")
    else:
        right.caption(f"Pick a classic backprop slip to see the gradient check fail and what it does to "
                      f"training. {measured}")
    return replace(settings, bugs=() if bug == "none" else (bug,))


def _applies(bug: str, cell: str, nonlinearity: str) -> bool:
    try:
        cells.check_bugs(cell, nonlinearity, (bug,))
        return True
    except ValueError:
        return False


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
                   "should agree to rounding error. The measured difference is under **NumPy vs PyTorch**.")
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
    left.metric("max relative difference of the losses", "–" if diff is None else f"{diff:.1e}",
                help="max over the epochs recorded by both runs of |loss_numpy − loss_torch| / loss_torch")
    left.caption(f"over {epochs} {a.unit}(s) recorded by both runs" + (
        "; the numpy run has a bug injected, so they are *meant* to differ" if a.run.bugs else ""))
    with right:
        views.loss(views_, key, accuracy=True, dotted=("torch",))
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


# ---- the gradient check -----------------------------------------------------------------------------
_checks: OrderedDict = OrderedDict()
_lock = threading.Lock()


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


def _cached(key, build):
    with _lock:
        if key in _checks:
            return _checks[key]
    value = build()
    with _lock:
        _checks[key] = value
        while len(_checks) > 32:
            _checks.popitem(last=False)
    return value


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
    bugs = tuple(b for b in settings.bugs if _applies(b, mcfg.cell, mcfg.nonlinearity))

    def build():
        sd = state if state is not None else build_model(task, mcfg, tcfg).state_dict()
        return run_check(task, mcfg, tcfg, {k: v.detach().numpy() for k, v in sd.items()}, bugs)

    with views.explained("The gradient check failed"):
        errors, hidden, (B, T) = _cached((origin, bugs), build)
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
            views.chart(F.gradcheck_figure(errors, TOL, "dL/dθ per parameter"), f"{lesson.key}.gc")
        with right:
            steps = {k.removeprefix("h_"): v for k, v in hidden.items()}
            views.chart(F.gradcheck_figure(steps, TOL, "dL/dh_t (top layer) per step", "time step t",
                                           horizontal=False), f"{lesson.key}.gch")
        st.caption("dL/dh_t is the total derivative: through the output at t and through every later step. "
                   "Its numeric twin treats h_t as an input, recomputes the output at t and runs the steps "
                   "after t from it.")


# ---- the equations next to the code ------------------------------------------------------------------
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
