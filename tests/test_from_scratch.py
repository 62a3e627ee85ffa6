"""Lesson 9, "From scratch (NumPy)": the NumPy engine and PyTorch trained side by side through the UI agree,
the gradient check passes without a bug and fails with one, injected bugs reach the NumPy run, and the
figures draw exactly the numbers they are given. Drives the app as tests/test_app.py does."""
from __future__ import annotations

import numpy as np
import pytest
from apptest import app, finished, wait

from course import scratch_bugs, scratch_code
from rnnviz import figures as F
from rnnviz.numpy_engine import NetConfig, check_hidden, init_params
from rnnviz.recorder import EpochRecord

PAGE = "from_scratch"

pytestmark = pytest.mark.usefixtures("lab_env")


def _metric(at) -> float:
    (m,) = [m for m in at.metric if m.label.startswith("max relative difference")]
    return float(m.value)


def _check_message(at) -> tuple[list[str], list[str]]:
    ok = [s.value for s in at.success if "pass the check" in s.value]
    bad = [e.value for e in at.error if "fail the check" in e.value]
    return ok, bad


def test_page_renders_with_defaults():
    at = app(PAGE)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "9. From scratch (NumPy)"
    assert at.radio(key="scratch.task").value == "anbn"
    # this lesson's defaults are the exact-agreement setting
    assert at.radio(key="scratch.anbn.train.optimizer").value == "sgd"
    assert at.radio(key="scratch.anbn.train.dtype").value == "float64"
    assert at.selectbox(key="scratch.bug").value == "none"


def test_exact_agreement_settings_are_offered():
    at = app(PAGE)
    at.radio(key="scratch.anbn.train.optimizer").set_value("adam").run()
    at.radio(key="scratch.anbn.train.dtype").set_value("float32").run()
    at.button(key="scratch.exact").click().run()
    assert at.radio(key="scratch.anbn.train.optimizer").value == "sgd"
    assert at.radio(key="scratch.anbn.train.dtype").value == "float64"
    assert at.select_slider(key="scratch.anbn.train.lr").value == 1.0
    assert not [b for b in at.button if b.key == "scratch.exact"]       # nothing left to offer


def test_both_engines_train_through_the_ui_and_agree():
    at = app(PAGE)
    at.radio(key="scratch.task").set_value("hihell").run()
    at.session_state["scratch.hihell.live.pace"] = 0.0
    at.run()
    at.button(key="scratch.train").click().run()
    found = wait(at, "scratch", finished, timeout=30)
    assert set(found) == {"numpy", "torch"} and all(j.state == "finished" for j in found.values())
    assert found["numpy"].tcfg.engine == "numpy" and found["torch"].tcfg.engine == "torch"
    assert {(j.tcfg.dtype, j.tcfg.optimizer) for j in found.values()} == {("float64", "sgd")}
    a, b = (np.array([r.loss for r in found[n].history.snapshot()]) for n in ("numpy", "torch"))
    assert len(a) == len(b) == 100 and a[-1] < 0.2 * a[0]
    shown = _metric(at)
    assert shown < 1e-6 and shown == pytest.approx(np.max(np.abs(a - b) / np.abs(b)), rel=0.06, abs=1e-300)
    # each engine continues a prefix with its own weights (Predictions tab for hihell)
    at.session_state["scratch.tabs"] = "Predictions"
    at.run()
    assert not at.exception and not at.error
    # Continue trains on, each run on its own engine
    at.button(key="scratch.continue").click().run()
    more = wait(at, "scratch", finished, timeout=30)
    assert more["numpy"].tcfg.engine == "numpy" and more["numpy"].history.last.epoch == 200
    at.session_state["scratch.tabs"] = "NumPy vs PyTorch"
    at.run()
    assert _metric(at) < 1e-6


def test_gradient_check_passes_and_an_injected_bug_fails_it():
    at = app(PAGE)
    at.radio(key="scratch.task").set_value("hihell").run()
    ok, bad = _check_message(at)
    assert ok and not bad, (ok, bad)
    assert scratch_bugs.BUG_TITLES["forget_derivative"] not in at.selectbox(key="scratch.bug").options  # an rnn has none
    assert "Tolerance: 1e-05" in "\n".join(m.value for m in at.markdown)
    at.selectbox(key="scratch.bug").set_value("no_bptt").run()
    ok, bad = _check_message(at)
    assert bad and not ok
    assert any("no_bptt" in w.value for w in at.warning)      # what the bug did, measured
    # anbn's LSTM can have the forget-gate bug
    at.radio(key="scratch.task").set_value("anbn").run()
    assert scratch_bugs.BUG_TITLES["forget_derivative"] in at.selectbox(key="scratch.bug").options
    at.selectbox(key="scratch.bug").set_value("forget_derivative").run()
    assert _check_message(at)[1]


def test_a_bug_reaches_the_numpy_run_only():
    at = app(PAGE)
    at.radio(key="scratch.task").set_value("hihell").run()
    at.session_state["scratch.hihell.live.pace"] = 0.0
    at.selectbox(key="scratch.bug").set_value("output_sign").run()
    at.button(key="scratch.train").click().run()
    found = wait(at, "scratch", finished, timeout=30)
    assert found["numpy"].bugs == ("output_sign",) and found["torch"].bugs == ()
    loss = [r.loss for r in found["numpy"].history.snapshot()]
    assert loss[-1] > loss[0]                                 # it climbs the loss
    assert _metric(at) > 1.0                                  # and the engines no longer agree
    at.selectbox(key="scratch.bug").set_value("none").run()
    assert any("Settings changed" in i.value for i in at.info)


def test_equations_and_code_for_every_cell():
    at = app(PAGE)
    at.session_state["scratch.inside"] = "Equations next to the code"
    at.run()
    for cell in ("rnn", "lstm", "gru"):
        at.radio(key="scratch.code_cell.lstm").set_value(cell).run()
        assert not at.exception and not at.error
        code = "\n".join(c.value for c in at.code)
        assert f"def _bptt_{cell}" in code and "def forward_layer" in code and "def backward_layer" in code
        assert {"rnn": 'if lc.cell == "rnn"', "lstm": 'if lc.cell == "lstm"', "gru": "pre = pre.copy()"}[cell] in code
        assert len(at.latex) >= 4


def test_forward_source_shows_only_the_cells_branch():
    assert 'if lc.cell == "lstm"' not in scratch_code.forward_source("rnn")
    assert 'if lc.cell == "rnn"' not in scratch_code.forward_source("lstm")
    assert "pre = pre.copy()" not in scratch_code.forward_source("lstm")
    assert 'if lc.cell == "lstm"' not in scratch_code.forward_source("gru")


# ---- the core pieces ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("lstm", 2), ("gru", 1)])
def test_check_hidden_judges_dL_dh(cell, layers):
    cfg = NetConfig(cell=cell, input_size=4, hidden_size=5, output_size=4, num_layers=layers)
    params = init_params(cfg, seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, (3, 6)), rng.integers(0, 4, (3, 6))
    y[0, :2] = -100
    good = check_hidden(params, cfg, x, y)
    assert list(good) == [f"h_{t}" for t in range(6)] and max(good.values()) < 1e-6
    cut = check_hidden(params, cfg, x, y, bugs=("no_bptt",))
    assert cut["h_5"] < 1e-6 and min(cut[f"h_{t}"] for t in range(5)) > 1e-3   # only the last step is right


def test_gradcheck_figure_bars_are_the_errors():
    errors = {"rnn.weight_ih_l0": 3e-9, "rnn.weight_hh_l0": 0.2, "head.bias": 0.0, "head.weight": 1e-5}
    fig = F.gradcheck_figure(errors, 1e-5)
    (bar,) = fig.data
    assert list(bar.y) == list(errors) and list(bar.x) == list(errors.values())     # horizontal bars
    assert list(bar.marker.color) == [F.style.RIGHT, F.style.WRONG, F.style.RIGHT, F.style.RIGHT]
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[0].x0 == 1e-5
    text = F.figure_text(fig)
    assert "1 of 4 above the tolerance" in text and "1 exact zero not drawn" in text and "dashed line: the tolerance, 1e-05" in text
    steps = {"0": 0.3, "1": 2e-9}
    fig = F.gradcheck_figure(steps, 1e-5, horizontal=False)
    assert list(fig.data[0].x) == ["0", "1"] and list(fig.data[0].y) == [0.3, 2e-9]
    assert fig.layout.yaxis.type == "log" and fig.layout.shapes[0].y0 == 1e-5
    assert list(fig.data[0].marker.color) == [F.style.WRONG, F.style.RIGHT]


def _recs(losses, start=1):
    return [EpochRecord(epoch=start + i, step=start + i, seconds=0.0, loss=v, lr=0.1) for i, v in enumerate(losses)]


def test_loss_difference_figure_and_max():
    a, b = _recs([1.0, 0.5, 0.25]), _recs([1.0, 0.4, 0.5, 9.0])
    epochs, rel = F.relative_differences(a, b)
    assert epochs == [1, 2, 3] and rel == pytest.approx([0.0, 0.25, 0.5])
    assert F.max_relative_difference(a, b) == pytest.approx(0.5)
    assert F.max_relative_difference(a, []) is None
    fig = F.loss_difference_figure(a, b)
    assert list(fig.data[0].x) == [2, 3] and list(fig.data[0].y) == pytest.approx([0.25, 0.5])
    assert "1 epoch with identical losses (0) not drawn" in F.figure_text(fig)
    assert "no epoch recorded by both" in F.figure_text(F.loss_difference_figure([], b))
