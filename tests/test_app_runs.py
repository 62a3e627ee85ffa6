"""A run belongs to its student: a reload or a new tab finds it, a restart loses nothing, Continue
continues, and one student cannot take every trainer (AppTest; the browser test clicks the same)."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from apptest import (app, finished, hihell_trained, progress_data, progress_texts, recorded, runs_of, started,
                     text_of, wait)

from lab import registry, run_bar
from lab.lessons import BY_KEY
from lab.settings import defaults
from rnnviz.callbacks import Recorder
from rnnviz.trainer import Trainer

pytestmark = pytest.mark.usefixtures("lab_env")


def more_input(at, lesson: str):
    (found,) = [n for n in at.number_input if n.key.startswith(f"{lesson}.more.")]
    return found


def test_a_run_belongs_to_the_browser_not_the_tab():
    first = app()
    token = first.session_state["lab.identity"]
    first.radio(key="chars.task").set_value("seoul").run()      # 500 epochs at 60 records a second
    first.button(key="chars.train").click().run()
    (run,) = wait(first, "chars", recorded(3)).values()
    del first                                                   # the tab is closed
    again = app(token=token)                                    # the same browser opens the lab again
    assert runs_of(again, "chars") == {"rnn": run} and run.state == "running"
    assert again.radio(key="chars.task").value == "seoul"        # its settings are the run's again
    assert not any("Settings changed" in i.value for i in again.info)
    assert any(p.startswith("rnn · training · epoch") for p in progress_texts(again))
    assert not again.button(key="chars.stop").disabled and "epoch" in text_of(again)
    stranger = app()
    assert runs_of(stranger, "chars") == {} and stranger.button(key="chars.stop").disabled
    again.button(key="chars.stop").click().run()
    assert run.ended.wait(10) and run.state == "stopped"


def test_before_a_run_the_continue_box_offers_the_settings_length():
    at = app("gradients")
    assert more_input(at, "gradients").disabled
    assert more_input(at, "gradients").value == defaults(BY_KEY["gradients"], "copy")[1].epochs != 100


def test_before_a_run_the_continue_box_counts_what_the_settings_count():
    text = app("text")                                  # trains in optimizer steps
    assert more_input(text, "text").label == "more steps"
    assert more_input(text, "text").value == defaults(BY_KEY["text"], "text")[1].steps > 0
    assert more_input(app("gradients"), "gradients").label == "more epochs"


def test_continue_trains_on_as_if_the_run_had_never_stopped():
    run = hihell_trained(at := app(), epochs=30)
    assert run.state == "finished" and more_input(at, "chars").value == 30
    more_input(at, "chars").set_value(20).run()
    at.button(key="chars.continue").click().run()
    (run,) = wait(at, "chars", finished).values()
    assert run.reason == "finished 50 epochs" and [r.epoch for r in run.history.snapshot()] == list(range(1, 51))
    assert any("epoch 50 of 50" in p for p in progress_texts(at))
    here = Recorder()
    Trainer(run.task, run.mcfg, dataclasses.replace(run.tcfg, epochs=50), [here]).run()
    np.testing.assert_allclose([r.loss for r in run.history.snapshot()], [r.loss for r in here.history.records],
                               rtol=1e-6)      # Adam's moments and the step count went on


def test_continue_takes_runs_stopped_at_different_epochs_to_the_same_end():
    at = started("gradients", "copy", pace=2.0, epochs=30)     # rnn, lstm and gru side by side: 15 s at least
    runs = wait(at, "gradients", recorded(1))
    registry.get().runner.pause(runs["rnn"])                   # rnn falls behind
    wait(at, "gradients", lambda f: min(f["lstm"].done, f["gru"].done) >= f["rnn"].done + 2)
    at.button(key="gradients.stop").click().run()
    wait(at, "gradients", finished)
    stands = {n: r.stands for n, r in runs.items()}
    assert stands["rnn"] < min(stands["lstm"], stands["gru"]) and max(stands.values()) < 30, stands
    box = more_input(at, "gradients")
    assert (box.label, box.value, box.min) == ("to epoch", 30, stands["rnn"] + 1)    # the end they were to reach
    at.session_state["gradients.copy.live.pace"] = 0.0
    at.run()
    at.button(key="gradients.continue").click().run()
    wait(at, "gradients", finished)
    for name, run in runs.items():
        assert run.reason == "finished 30 epochs", (name, run.reason)
        assert [r.epoch for r in run.history.snapshot()] == list(range(1, 31)), name
    assert sum("epoch 30 of 30" in p for p in progress_texts(at)) == 3
    box = more_input(at, "gradients")
    assert (box.label, box.value) == ("more epochs", 30)          # together again: N more each


def test_continue_finishes_the_runs_stopped_behind_one_that_finished():
    at = started("gradients", "copy", pace=2.0, epochs=8)
    runs = wait(at, "gradients", recorded(1))
    for name in ("lstm", "gru"):
        registry.get().runner.pause(runs[name])
    registry.get().runner.set_live(runs["rnn"], 0.0, False)       # rnn alone at full speed, to its end
    wait(at, "gradients", lambda f: f["rnn"].state == "finished")
    at.button(key="gradients.stop").click().run()                 # the paused two stop part way
    wait(at, "gradients", finished)
    assert runs["rnn"].stands == 8 and max(runs["lstm"].stands, runs["gru"].stands) < 8
    rnn_records = runs["rnn"].history.snapshot()
    box = more_input(at, "gradients")
    assert (box.label, box.value) == ("to epoch", 8)
    at.session_state["gradients.copy.live.pace"] = 0.0
    at.run()
    at.button(key="gradients.continue").click().run()
    wait(at, "gradients", finished)
    for name in ("lstm", "gru"):
        assert runs[name].reason == "finished 8 epochs" and runs[name].history.last.epoch == 8, name
    assert runs["rnn"].history.snapshot() == rnn_records and runs["rnn"].total == 8    # it stayed


def test_a_restart_loses_nothing(lab_env):
    at = app()
    token = at.session_state["lab.identity"]
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.run()
    at.button(key="chars.train").click().run()
    (done,) = wait(at, "chars", finished).values()
    at.switch_page("app_pages/words.py").run()
    at.button(key="words.train").click().run()                 # 60 records a second: still training
    (busy,) = wait(at, "words", recorded(3)).values()
    lab_env.runner.close()                                     # the server stops (SIGTERM: atexit)
    assert busy.state == "stopped" and busy.reason == "the server is shutting down"
    registry.get.clear()
    again = app(token=token)                                   # the restarted server, the same browser
    (back,) = runs_of(again, "chars").values()
    assert back is not done and back.state == "finished" and back.history.last.epoch == 100
    assert "epoch 100: ihello" in text_of(again) and not again.button(key="chars.continue").disabled
    again.switch_page("app_pages/words.py").run()
    (words,) = runs_of(again, "words").values()
    stood = words.history.last.epoch
    assert words.state == "stopped" and stood == busy.history.last.epoch
    assert not again.button(key="words.continue").disabled
    again.button(key="words.continue").click().run()
    wait(again, "words", lambda f: words.history.last.epoch > stood)
    assert [r.epoch for r in words.history.snapshot()][:stood] == list(range(1, stood + 1))


def test_one_student_trains_at_most_three_runs_at_once():
    at = app("gradients")
    at.button(key="gradients.train").click().run()             # three runs
    wait(at, "gradients", lambda f: all(r.state == "running" for r in f.values()))
    at.switch_page("app_pages/chars.py").run()
    at.button(key="chars.train").click().run()
    (waiting,) = runs_of(at, "chars").values()
    assert waiting.state == "waiting" and "3 of your runs train already" in waiting.reason
    assert any("3 of your runs train already (at most 3 at a time)" in p for p in progress_texts(at))
    other = app()                                              # another student is not held up
    other.button(key="chars.train").click().run()
    wait(other, "chars", recorded(1))
    at.switch_page("app_pages/gradients.py").run()
    at.button(key="gradients.stop").click().run()
    at.switch_page("app_pages/chars.py").run()
    wait(at, "chars", lambda f: waiting.state in ("running", "finished"))


def test_reset_clears_the_screen_and_keeps_the_run_among_the_earlier_ones():
    at = app()
    run = hihell_trained(at)
    at.button(key="chars.reset").click().run()
    assert runs_of(at, "chars") == {} and any("Press **Train**" in i.value for i in at.info)
    groups = registry.get().groups(run.owner, "chars")
    assert {"rnn": run} in groups
    assert run.ended.wait(10)                                 # (set once the run is written down)
    (saved,) = registry.get().root.glob(f"{run.owner}/chars/[!.]*")
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}-rnn", saved.name) and (saved / "model.safetensors").is_file()


def test_a_run_that_ends_while_the_buttons_are_drawn_reruns_them(monkeypatch):
    """The progress component reruns the panel when its runs' phases differ from those the buttons
    were drawn for; a run that ends between the two must count as a difference, or Continue stays
    disabled with every run stopped."""
    at = app()
    at.radio(key="chars.task").set_value("seoul").run()
    at.button(key="chars.train").click().run()
    (run,) = wait(at, "chars", recorded(2)).values()
    drawn = run_bar.draw

    def draw_then_end(lesson, s, runs):
        drawn(lesson, s, runs)              # drawn for a running run: Pause and Stop enabled
        registry.get().runner.stop(run)
        assert run.ended.wait(30)
    monkeypatch.setattr(run_bar, "draw", draw_then_end)
    at.run()
    (data,) = progress_data(at)
    assert data["runs"][0]["facts"]["phase"] == "stopped"
    assert data["phases"] == "running" and data["poll"]    # so the browser asks, sees "stopped", reruns
    monkeypatch.setattr(run_bar, "draw", drawn)
    at.run()
    assert not at.button(key="chars.continue").disabled and at.button(key="chars.stop").disabled


def _paths(node, key_part: str, path=()) -> list[tuple]:
    """Where in the page's tree the elements whose key holds `key_part` are (child indices)."""
    out = []
    for i, child in getattr(node, "children", {}).items():
        if key_part in str(getattr(child, "key", "") or ""):
            out.append((*path, i))
        out += _paths(child, key_part, (*path, i))
    return out


def test_a_run_s_views_stay_where_they_were_when_it_ends():
    """While a run trains its views are a fragment, whose elements Streamlit puts in a block of their
    own; once it ends they were drawn one level up, where the fragment's block had been. A late rerun
    of the fragment then wrote under an element, and Streamlit's frontend blanked the page ("Cannot
    set a node at a delta path")."""
    at = app()
    at.session_state["chars.hihell.live.pace"] = 10.0
    at.run()
    at.button(key="chars.train").click().run()
    wait(at, "chars", recorded(2))
    assert any(r.active for r in runs_of(at, "chars").values())
    training = _paths(at._tree, ".scrub.")
    wait(at, "chars", finished, timeout=60)
    assert training and _paths(at._tree, ".scrub.") == training
