"""The course additions in the app (AppTest, as tests/test_app.py drives it): the Tensor shapes lesson,
the bidirectional / projection settings, the sine lesson's truncation view, one step by hand and the
dinosaur names of the From scratch lesson render with their defaults and say what they show."""
from __future__ import annotations

import json

import pytest
from apptest import app, finished, wait

pytestmark = pytest.mark.usefixtures("lab_env")


def _table(at, i=0) -> dict:
    return at.table[i].value.to_dict(orient="list")


def test_shapes_lesson_measures_the_lectures_batch():
    at = app("shapes")
    assert at.title[0].value == "2. Tensor shapes" and not at.error
    t = _table(at)
    assert t["tensor"] == ["input x", "output", "h_n", "c_n"]
    assert t["measured shape"] == ["(3, 5, 4)", "(3, 5, 2)", "(1, 3, 2)", "(1, 3, 2)"]
    assert "(N, L, D·H_out)" in t["torch.nn's documentation"]
    assert len(at.get("plotly_chart")) == 2
    at.toggle(key="shapes.bidirectional").set_value(True).run()
    at.toggle(key="shapes.batch_first").set_value(False).run()
    assert _table(at)["measured shape"] == ["(5, 3, 4)", "(5, 3, 4)", "(2, 3, 2)", "(2, 3, 2)"]
    assert "weight_hh_l0_reverse" in _table(at, 1)["parameter"]
    at.radio(key="shapes.cell").set_value("gru").run()
    assert _table(at)["tensor"] == ["input x", "output", "h_n"] and not at.exception


def test_model_settings_offer_two_directions_and_a_projection():
    at = app("inside")
    assert at.toggle(key="inside.hihell.model.bidirectional").value is False
    H = at.slider(key="inside.hihell.model.hidden_size").value
    proj = at.slider(key="inside.hihell.model.proj_size")
    assert proj.value == 0 and proj.max == H - 1                # 0 .. H - 1
    at.slider(key="inside.hihell.model.hidden_size").set_value(10).run()
    assert at.slider(key="inside.hihell.model.proj_size").max == 9
    at = app("chars")                                           # an rnn: no projection to choose
    assert not [s for s in at.slider if s.key == "chars.hihell.model.proj_size"]
    assert at.toggle(key="chars.hihell.model.bidirectional")


def test_a_bidirectional_lstm_trains_and_shows_both_directions():
    at = app("inside")
    at.session_state["inside.hihell.live.pace"] = 0.0
    at.toggle(key="inside.hihell.model.bidirectional").set_value(True).run()
    at.slider(key="inside.hihell.model.proj_size").set_value(3).run()
    at.button(key="inside.train").click().run()
    (job,) = wait(at, "inside", finished).values()
    assert job.state == "finished" and job.mcfg.bidirectional and job.mcfg.proj_size == 3
    assert job.history.last.probe.directions == 2 and job.history.last.probe.hidden.shape[-1] == 3
    at.session_state["inside.tabs"] = "Gates"
    at.run()
    at.radio(key="inside.direction").set_value(1).run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "reverse" in spec["layout"]["title"]["subtitle"]["text"]
    at.session_state["inside.tabs"] = "Hidden state"
    at.run()
    assert not at.exception and not at.error


def test_sine_gradient_view_marks_the_truncation():
    at = app("sine")
    at.session_state["sine.sine.live.pace"] = 0.0
    at.session_state["sine.sine.train.epochs"] = 3
    at.session_state["sine.sine.train.tbptt"] = 5
    at.run()
    at.button(key="sine.train").click().run()
    found = wait(at, "sine", finished)
    assert {j.tcfg.tbptt for j in found.values()} == {5}
    at.session_state["sine.tabs"] = "Gradient"
    at.run()
    assert not at.exception and not at.error
    assert any("Truncated BPTT every 5 steps" in c.value for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [s["x0"] for s in spec["layout"]["shapes"]] == [4.5, 9.5, 14.5]


def test_one_step_by_hand_and_dinosaur_names_in_the_from_scratch_lesson():
    at = app("from_scratch")
    at.radio(key="scratch.task").set_value("dinos").run()
    at.session_state["scratch.dinos.live.pace"] = 0.0
    at.session_state["scratch.dinos.train.epochs"] = 2
    at.run()
    assert not at.error, [e.value for e in at.error]
    at.button(key="scratch.train").click().run()
    found = wait(at, "scratch", finished, timeout=60)
    assert {j.tcfg.engine for j in found.values()} == {"numpy", "torch"}
    at.session_state["scratch.tabs"] = "New dinosaur names"
    at.run()
    assert not at.exception and not at.error
    assert any("Both engines drew the same names" in c.value for c in at.caption)
    at.session_state["scratch.tabs"] = "One step by hand"
    at.run()
    page = "".join(h.proto.body for h in at.get("html"))
    assert "One step by hand: t = 0" in page and "h = np.tanh(a)" in page
    at.slider(key="scratch.step_t").set_value(5).run()
    page = "".join(h.proto.body for h in at.get("html"))
    assert "t = 5" in page and not at.error
    assert any("largest difference" in c.value and "numpy" in c.value for c in at.caption)
