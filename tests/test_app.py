"""The Streamlit app, headless (streamlit.testing.v1.AppTest): every page renders, training through the
UI works, settings start new runs, the controls act at once, bad input gives messages and loses nothing.

AppTest does not run fragments on a timer: runs train in worker processes (rnnviz.runner), so a test
waits on the registry and then calls `at.run()` again, as the page's fragments would.
"""
from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from apptest import app, finished, progress_data, progress_texts, recorded, runs_of, text_of, wait
from starlette.requests import Request

from lab import progress

pytestmark = pytest.mark.usefixtures("lab_env")
PAGES = ["chars", "shapes", "words", "anbn", "sine", "inside", "gradients", "text", "from_scratch", "sweep",
         "checkpoints"]
TABS = {"chars": ["Predictions", "Top-k probabilities", "Loss and accuracy", "Hidden state"],
        "words": ["Predictions", "Try it", "Top-k probabilities", "Loss and accuracy"],
        "anbn": ["Generate", "Predictions", "Loss and accuracy", "Hidden state"],
        "sine": ["Prediction", "Loss", "Hidden state", "Gradient"],
        "inside": ["Trajectory", "Gates", "Hidden state", "Predictions", "Loss and accuracy"],
        "gradients": ["Gradient through time", "Over training", "Clipping", "Spectral radius", "Loss and accuracy"],
        "text": ["Samples", "Loss", "Predictions", "Inside"]}
TAB_KEYS = {"gradients": "grad.tabs"}
SMALL = {"text": {"text.text.model.hidden_size": 32, "text.text.task.max_chars": 20_000}}   # fast first records
FIRST_TASK = {"chars": "hihell", "words": "words", "anbn": "anbn", "sine": "sine", "inside": "hihell",
              "gradients": "copy", "text": "text"}


def training_text():
    """The text lesson with SMALL settings, Train clicked and its first two records in."""
    at = app("text")
    for key, value in SMALL["text"].items():
        at.session_state[key] = value
    at.run()
    at.button(key="text.train").click().run()
    wait(at, "text", recorded(2))
    return at


def asked(at, *ids: str, token: str | None = None, origin: str | None = None) -> tuple[int, dict]:
    """What the progress route answers a page of `at` (or another browser's token) about these runs."""
    headers = [(b"host", b"localhost:8501"), (b"x-rnnviz-id", (token or at.session_state["lab.identity"]).encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    request = Request({"type": "http", "method": "GET", "path": progress.ROUTE, "headers": headers,
                       "query_string": f"ids={','.join(ids)}".encode()})
    response = asyncio.run(progress.endpoint(request))
    body = json.loads(response.body) if response.status_code == 200 else {}
    if response.status_code == 200:
        assert response.headers["cache-control"] == "no-store"
    return response.status_code, body


# ---- every page --------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_defaults(page):
    at = app(page)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value.startswith(f"{PAGES.index(page) + 1}.")


@pytest.mark.parametrize("lesson", list(TABS))
def test_every_view_renders_while_training(lesson):
    at = app(lesson)
    at.session_state[f"{lesson}.{FIRST_TASK[lesson]}.live.pace"] = 0.0   # full speed
    for key, value in SMALL.get(lesson, {}).items():
        at.session_state[key] = value
    at.run()          # the settings the Train button carries are those drawn (as in a browser)
    at.button(key=f"{lesson}.train").click().run()
    wait(at, lesson, lambda found: any(len(r.history.snapshot()) >= 2 for r in found.values()))  # others may wait
    # the lesson's tabs, by these names: a tab that also draws accuracy says so in every lesson
    assert [t.label for t in at.tabs][:len(TABS[lesson])] == TABS[lesson]
    for tab in TABS[lesson]:
        at.session_state[TAB_KEYS.get(lesson, f"{lesson}.tabs")] = tab
        at.run()
        assert not at.exception, (tab, at.exception)
        assert not at.error, (tab, [e.value for e in at.error])


def test_equations_are_drawn_when_their_expander_opens():
    at = app()
    assert len(at.latex) == 0                         # closed: no KaTeX in the page
    at.session_state["equations.open"] = True
    at.run()
    assert not at.exception and len(at.latex) >= 3    # the cell, BPTT and the loss
    assert any("h_t" in eq.value for eq in at.latex)


def test_sidebar_lists_runs_of_other_lessons():
    """The sidebar's status: the server's trainers, and this student's runs training in other lessons
    (not the lesson on screen: its own bar shows them), kept current by the browser."""
    at = app()
    at.button(key="chars.train").click().run()
    (run,) = wait(at, "chars", recorded(1)).values()
    (status,) = progress_data(at, sidebar=True)
    assert status["runs"] == [] and status["poll"] and not status["rerun"] and status["interval"] >= 1
    assert re.fullmatch(r"The server trains [1-9]\d* of at most \d+ runs at once.*", status["busy"])
    at.switch_page("app_pages/words.py").run()
    (status,) = progress_data(at, sidebar=True)
    assert [(r["name"], r["id"]) for r in status["runs"]] == [("Character prediction: rnn", run.id)]


# ---- training through the UI --------------------------------------------------------------------------
def test_train_hihell_reads_ihello():
    """The first demo: one click on Train, watched at the default speed, reads 'ihello' within seconds."""
    at = app()
    assert at.radio(key="chars.task").value == "hihell"
    at.button(key="chars.train").click().run()
    reads = lambda found: (last := found["rnn"].history.last) is not None and last.prediction["text"] == "ihello"
    t0 = time.time()
    (run,) = wait(at, "chars", reads, timeout=10).values()
    assert time.time() - t0 < 5
    assert re.search(r"epoch \d+: ihello", text_of(at))
    assert any("rnn · training" in p for p in progress_texts(at))          # and it trains on
    at.select_slider(key="chars.hihell.train.lr").set_value(0.05).run()     # the learning rate, live
    assert not any("Settings changed" in i.value for i in at.info)
    at.select_slider(key="chars.hihell.live.pace").set_value(0.0).run()     # full speed, live
    assert run.pace == 0.0 and run.active
    (run,) = wait(at, "chars", finished, timeout=5).values()
    assert run.state == "finished" and "epoch 100: ihello" in text_of(at)
    assert run.history.last.lr == 0.05 and run.history.snapshot()[0].lr == 0.1


def test_the_progress_route_moves_on_and_answers_only_the_runs_owner():
    at = app()
    at.button(key="chars.train").click().run()
    (run,) = wait(at, "chars", recorded(1)).values()
    (data,) = progress_data(at)
    assert data["poll"] and data["phases"] == "running" and data["runs"][0]["id"] == run.id
    _, first = asked(at, run.id, "no-such-run")
    assert set(first["runs"]) == {run.id} and 0 < first["interval"] <= progress.POLL_MAX_S
    epoch = lambda body: int(re.search(r"epoch (\d+) of 100", body["runs"][run.id]["text"]).group(1))  # noqa: E731
    seen, end = epoch(first), time.time() + 10
    while epoch(asked(at, run.id)[1]) == seen and time.time() < end:    # the lesson's pace: 10 records a second
        time.sleep(0.05)
    assert epoch(asked(at, run.id)[1]) > seen
    assert asked(at, run.id, token="0" * 32)[1]["runs"] == {}           # another browser learns nothing
    assert asked(at, run.id, token="not a token")[1]["runs"] == {}
    assert asked(at, run.id, origin="http://evil.example")[0] == 403
    assert asked(at, run.id, origin="http://localhost:8501")[0] == 200
    assert run.ended.wait(20)
    _, body = asked(at, run.id)
    last = body["runs"][run.id]
    assert last["phase"] == "finished" and last["done"] == 1.0
    assert last["text"].startswith("finished · epoch 100 of 100 · loss ")
    rate = float(re.search(r"· ([\d,.]+) epochs/s overall$", last["text"]).group(1).replace(",", ""))
    rec = run.history.last                   # the whole run's speed, from its last record
    assert rec.epoch == 100 and rate == pytest.approx(rec.epoch / rec.seconds, rel=0.01, abs=1)
    assert last == progress.facts(run)       # the first draw and the answers word it alike


def test_routes_serve_under_a_base_url():
    """Streamlit serves the pages under server.baseUrlPath but leaves an App's own routes where they
    are: the progress route answers with or without a prefix, and the page asks under it."""
    from starlette.routing import Match
    from streamlit import config
    for path in ("/rnnviz/progress", "/lab/rnnviz/progress", "/a/b/rnnviz/progress"):
        scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
        assert any(r.matches(scope)[0] == Match.FULL for r in progress.routes()), path
    assert not any(r.matches({"type": "http", "path": "/rnnviz/other", "method": "GET", "root_path": ""})[0]
                   == Match.FULL for r in progress.routes())
    try:
        config.set_option("server.baseUrlPath", "/lab/")
        assert progress.url() == "/lab/rnnviz/progress"
    finally:
        config.set_option("server.baseUrlPath", "")
    assert progress.url() == "/rnnviz/progress"


def test_changing_a_setting_starts_a_new_run_and_keeps_the_old_one():
    at = app()
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.button(key="chars.train").click().run()
    (first,) = wait(at, "chars", finished).values()
    at.slider(key="chars.hihell.model.hidden_size").set_value(8).run()
    assert any("Settings changed" in i.value for i in at.info)
    assert runs_of(at, "chars")["rnn"] is first      # nothing happened to the run yet
    at.button(key="chars.train").click().run()
    (second,) = wait(at, "chars", finished).values()
    assert second.id != first.id and second.mcfg.hidden_size == 8
    assert second.history.snapshot()[0].loss != first.history.snapshot()[0].loss
    assert not any("Settings changed" in i.value for i in at.info)
    from lab import registry
    earlier = registry.get().groups(second.owner, "chars")[1]
    assert earlier == {"rnn": first}                 # the earlier run stays, for comparing


def test_stop_stops_a_longer_run_and_the_buttons_follow_at_once():
    at = training_text()
    at.button(key="text.stop").click().run()
    (run,) = wait(at, "text", finished).values()
    assert run.state == "stopped" and run.done < run.total
    assert not at.button(key="text.continue").disabled and at.button(key="text.stop").disabled
    (scrub,) = [s for s in at.slider if s.key.startswith("text.scrub.")]
    assert scrub.max == scrub.value == run.history.last.epoch < run.total   # it ends where the run did


def test_side_by_side_runs_wait_for_a_free_trainer(lab_env, monkeypatch):
    monkeypatch.setattr(lab_env.runner, "slots", 1)
    at = app("gradients")
    at.button(key="gradients.train").click().run()
    found = runs_of(at, "gradients")
    assert set(found) == {"rnn", "lstm", "gru"} and {r.tcfg.seed for r in found.values()} == {0}
    assert sum("waiting for a free trainer" in p for p in progress_texts(at)) == 2
    at.button(key="gradients.stop").click().run()
    assert all(r.state == "stopped" for r in wait(at, "gradients", finished).values())


def test_pause_holds_runs_that_wait_for_a_trainer_and_the_click_shows_resume(lab_env, monkeypatch):
    """Pause with one run training and two waiting: all three hold (the waiting ones start paused), and
    the click's own redraw shows Resume, before any worker has answered."""
    monkeypatch.setattr(lab_env.runner, "slots", 1)
    at = app("gradients")
    at.session_state["gradients.copy.live.pace"] = 20.0    # still training at Pause
    at.button(key="gradients.train").click().run()
    found = wait(at, "gradients", lambda f: any(len(r.history.snapshot()) >= 3 for r in f.values()))
    at.button(key="gradients.pause").click().run()
    assert all(r.phase == "paused" for r in found.values())
    assert at.button(key="gradients.resume") and not [b for b in at.button if b.key == "gradients.pause"]
    assert sum("waiting for a free trainer" in p and "starts paused" in p for p in progress_texts(at)) == 2
    first = next(r for r in found.values() if r.state != "waiting")
    wait(at, "gradients", lambda f: first.state == "paused")
    frozen = len(first.history.snapshot())
    time.sleep(0.4)
    assert len(first.history.snapshot()) == frozen and [r.state for r in found.values()].count("waiting") == 2
    at.button(key="gradients.resume").click().run()
    assert first.phase == "running" and not any(r.held for r in found.values())
    assert at.button(key="gradients.pause")
    wait(at, "gradients", lambda f: len(first.history.snapshot()) > frozen)
    at.button(key="gradients.stop").click().run()
    assert all(r.state == "stopped" for r in wait(at, "gradients", finished).values())


def test_a_run_not_recorded_yet_waits_beside_one_that_has(lab_env, monkeypatch):
    monkeypatch.setattr(lab_env.runner, "slots", 1)   # the second run waits
    at = app("sine")
    at.session_state["sine.sine.live.pace"] = 0.0
    at.button(key="sine.train").click().run()
    wait(at, "sine", lambda found: any(len(r.history.snapshot()) >= 2 for r in found.values()))
    assert sorted(len(r.history.snapshot()) > 0 for r in runs_of(at, "sine").values()) == [False, True]
    assert not at.error, [e.value for e in at.error]          # no "free running failed" for the waiting one
    assert any("Waiting for its first record" in i.value for i in at.info)
    at.button(key="sine.stop").click().run()
    wait(at, "sine", finished)


# ---- bad input: a message, and nothing lost ---------------------------------------------------------------
def test_bad_settings_show_an_error_and_keep_the_run():
    at = app()
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.button(key="chars.train").click().run()
    (run,) = wait(at, "chars", finished).values()
    at.slider(key="chars.hihell.model.hidden_size").set_value(7).run()
    at.toggle(key="chars.hihell.model.head").set_value(False).run()
    assert any("hidden_size must equal" in e.value for e in at.error)
    assert at.button(key="chars.train").disabled
    assert runs_of(at, "chars")["rnn"] is run and "ihello" in text_of(at)
    assert at.slider(key="chars.hihell.model.hidden_size").value == 7     # the settings stay as typed


def test_empty_upload_and_missing_text_give_messages():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    assert any("needs a text" in e.value for e in at.error)
    at.file_uploader(key="text.text.task.text.upload").set_value(("empty.txt", b"", "text/plain")).run()
    assert any("empty.txt is empty" in e.value for e in at.error)


def test_a_prime_the_vocabulary_lacks_gives_a_message():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    at.text_area(key="text.text.task.text").input("abc abc cab " * 300).run()
    at.slider(key="text.text.task.batch_size").set_value(4).run()
    at.slider(key="text.text.model.hidden_size").set_value(32).run()
    at.button(key="text.train").click().run()
    wait(at, "text", recorded(1))
    at.text_input(key="text.prime.custom").input("XYZ").run()
    assert any("not in the vocabulary" in e.value for e in at.error)
    assert runs_of(at, "text")["lstm"].state in ("running", "paused", "finished", "stopped")


def test_a_paused_run_says_which_step_its_views_show():
    """At the end of a run in progress the scrubber reads the run's last step (where it will stop),
    so a caption says which step the views show."""
    at = training_text()
    at.button(key="text.pause").click().run()
    (run,) = wait(at, "text", lambda found: all(r.state == "paused" for r in found.values())).values()
    time.sleep(0.5)     # a record on its way when the worker paused lands before the page is drawn
    at.run()
    latest = run.history.last.epoch
    (scrub,) = [s for s in at.slider if s.key.startswith("text.scrub.")]
    assert scrub.value == scrub.max == run.total > latest
    assert [c.value for c in at.caption if "following training" in c.value] == [
        f":material/fast_forward: following training: step {latest:,} shown "
        f"(the slider ends at {run.total:,}, where the run stops)"]
    at.button(key="text.stop").click().run()
