"""The classroom (AppTest): links that open a setup, presets, presenter mode, earlier runs laid over
the one on screen, the history as CSV."""
from __future__ import annotations

import pytest
from apptest import app, finished, hihell_trained, runs_of, wait

from lab import presets
from lab.lessons import BY_KEY

pytestmark = pytest.mark.usefixtures("lab_env")


def test_a_link_opens_exactly_its_setup_in_a_fresh_browser():
    at = app("gradients", query={"gradients.task": "copy", "gradients.copy.task.lag": "30",
                                 "gradients.copy.model.hidden_size": "24", "gradients.copy.train.lr": "0.003",
                                 "gradients.copy.train.init": "orthogonal"})
    assert at.slider(key="gradients.copy.task.lag").value == 30
    assert at.slider(key="gradients.copy.model.hidden_size").value == 24
    assert at.select_slider(key="gradients.copy.train.lr").value == 0.003
    assert at.selectbox(key="gradients.copy.train.init").value == "orthogonal"
    assert not at.warning and runs_of(at, "gradients") == {}        # nothing starts unless the link says so


def test_a_link_that_says_train_starts_training_once():
    at = app(query={"chars.task": "seoul", "train": "1"})
    (run,) = runs_of(at, "chars").values()
    assert run.task.name == "seoul" and run.active
    at.run()
    assert runs_of(at, "chars") == {"rnn": run}                      # a rerun does not train again


@pytest.mark.parametrize("query", [{"chars.task": "seoul", "chars.seoul.model.hidden_size": "abc", "train": "1"},
                                   {"preset": "no-such-preset", "train": "1"}])
def test_a_link_that_cannot_be_followed_as_written_does_not_train(query):
    """A typo in a teacher's link: the class would each train the defaults, unasked."""
    at = app(query=query)
    assert runs_of(at, "chars") == {}
    assert any("could not be used here" in w.value or "no preset called" in w.value for w in at.warning)
    assert any("train=1 was not followed" in w.value for w in at.warning)
    at.run()
    assert runs_of(at, "chars") == {} and "train" not in at.query_params


def test_a_link_names_the_live_knobs_as_the_sidebar_does():
    """A link with a speed limit the slider has no stop for said "pace=7": the sidebar says "speed limit"."""
    at = app(query={"chars.hihell.live.pace": "7", "chars.hihell.live.auto_stop": "maybe"})
    said = " ".join(w.value for w in at.warning)
    assert "speed limit=7" in said and "stop when converged=maybe" in said and "pace" not in said


def test_a_preset_is_one_click_and_says_what_to_notice():
    at = app("gradients")
    (lag5,) = [p for p in presets.PRESETS["gradients"] if p.name == "lag-5"]
    at.button(key="gradients.preset.lag-5").click().run()
    found = runs_of(at, "gradients")
    assert set(found) == {"rnn", "lstm", "gru"} and all(r.task.options.lag == 5 for r in found.values())
    assert at.slider(key="gradients.copy.task.lag").value == 5       # the sidebar shows the preset
    assert any(lag5.notice in c.value for c in at.caption)


def test_a_preset_link_opens_and_trains_it():
    at = app("inside", query={"preset": "hihell-gru", "train": "1"})
    (run,) = runs_of(at, "inside").values()
    assert run.mcfg.cell == "gru" and run.task.name == "hihell"


def test_picking_the_dinosaur_names_brings_their_defaults_and_a_link_opens_them():
    at = app("text")
    assert at.slider(key="text.text.model.hidden_size").value == 128
    at.selectbox(key="text.text.task.corpus").set_value("dinos").run()
    assert at.slider(key="text.text.model.hidden_size").value == 64 and at.slider(key="text.text.train.steps").value == 400
    assert at.number_input(key="text.text.task.seed").value == 0          # the data seed orders the names
    at.button(key="text.train").click().run()
    (run,) = runs_of(at, "text").values()
    assert (run.task.options.corpus, run.mcfg.hidden_size, run.tcfg.steps, run.tcfg.lr) == ("dinos", 64, 400, 0.005)
    wait(at, "text", finished, timeout=120)
    at.session_state["text.tabs"] = "Loss"
    at.run()
    (said,) = [c.value for c in at.caption if "validation loss at step 400" in c.value]
    assert said.endswith(", below it.") and run.history.last.val_loss < run.task.unigram_entropy()
    at.selectbox(key="text.text.task.corpus").set_value("shakespeare").run()
    assert at.slider(key="text.text.model.hidden_size").value == 128
    assert "text.text.task.seed" not in [n.key for n in at.number_input]  # running text has no order to draw
    linked = app("text", query={"text.text.task.corpus": "dinos"})
    assert linked.slider(key="text.text.model.hidden_size").value == 64
    (dinos,) = presets.PRESETS["text"]
    assert dinos.setup(BY_KEY["text"]).model.hidden_size == 64           # the preset too


def test_presenter_mode_sets_text_aside_and_enlarges_the_charts():
    at = app(query={"present": "true"})
    assert at.toggle(key="present").value is True
    assert not any("one character at a time" in m.value for m in at.markdown)   # the intro steps aside
    assert any("[data-testid=\"stSidebar\"]" in h.proto.body for h in at.get("html"))
    hihell_trained(at)
    at.session_state["chars.tabs"] = "Loss and accuracy"
    at.run()
    import json
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    assert layouts and all(lay.get("font", {}).get("size") == 17 and lay.get("height", 999) <= 360 for lay in layouts)


def test_earlier_runs_are_laid_over_the_one_on_screen_and_named_by_what_differs():
    at = app()
    hihell_trained(at)
    at.select_slider(key="chars.hihell.train.lr").set_value(0.02).run()
    at.button(key="chars.train").click().run()
    wait(at, "chars", finished)
    at.session_state["chars.compare.open"] = True
    at.run()
    import json
    names = {t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]}
    assert {"lr 0.1", "lr 0.02"} <= names, names


def test_the_history_downloads_as_csv():
    at = app()
    hihell_trained(at)
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith("chars.csv") or "CSV" in b.proto.label]
    assert button.proto.label == "CSV" and not button.proto.disabled
