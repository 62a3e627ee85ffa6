"""Found by walking through the lab in a browser as a student and as a teacher: what a person saw that
was wrong (AppTest, and the sweep figure the lesson draws)."""
from __future__ import annotations

import json

import pytest
from apptest import app, finished, hihell_trained, runs_of, started, wait
from lab import progress
from rnnviz.figures.sweep import sweep_figure
from rnnviz.figures.style import PALETTE

pytestmark = pytest.mark.usefixtures("lab_env")


def charts(at) -> dict[str, dict]:
    """title -> the plotly spec of every chart on the page."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s.get("layout", {}).get("title", {}).get("text", ""): s for s in specs}


def subtitle(spec: dict) -> str:
    return spec["layout"]["title"].get("subtitle", {}).get("text", "")


def test_a_loss_chart_without_validation_does_not_speak_of_dashed_lines():
    """hihell has no validation data: its Loss and Accuracy charts drew one solid line under the
    subtitle "solid = training, dashed = validation", and a student looked for the dashed one."""
    at = app()
    hihell_trained(at)
    at.session_state["chars.tabs"] = "Loss and accuracy"
    at.run()
    for title in ("Loss", "Accuracy"):
        spec = charts(at)[title]
        assert {t["line"]["dash"] for t in spec["data"]} == {"solid"}
        assert "dashed" not in subtitle(spec), subtitle(spec)


def test_a_chart_with_validation_still_says_which_line_is_which():
    at = started("anbn", "anbn", pace=0.0, epochs=3)
    wait(at, "anbn", finished)
    at.session_state["anbn.tabs"] = "Loss and accuracy"
    at.run()
    spec = charts(at)["Loss"]
    assert {t["line"]["dash"] for t in spec["data"]} == {"solid", "dash"}
    assert "solid = training, dashed = validation" in subtitle(spec)


def test_a_finished_run_says_so_once_in_its_progress_line():
    """The text lesson said "finished · step 2,000 of 2,000" and under it "finished 2000 steps"; a stopped
    run still says why under its line."""
    run = hihell_trained(at := app(), epochs=1000, timeout=60)
    assert progress.facts(run)["text"].startswith("finished · epoch 1,000 of 1,000 · loss ")
    assert not [c.value for c in at.caption if c.value.startswith("finished")]
    run.state, run.reason = "stopped", "stopped by the user"
    at.run()
    assert any(c.value == "stopped by the user" for c in at.caption)


def _rows(done: set[str]) -> list[dict]:
    """A sweep's results as the sweep lesson reads them: cell x lag, the runs of `done` cells finished."""
    return [{"index": i, "name": f"{cell}-{lag}", "cell": cell, "lag": lag,
             "status": "finished" if cell in done else "running", "val_acc": 0.5 if cell in done else None}
            for i, (cell, lag) in enumerate((c, g) for c in ("rnn", "lstm", "gru") for g in (5, 10))]


def test_a_sweep_gives_each_cell_the_colour_it_has_in_the_other_lessons_and_keeps_it():
    """The sweep coloured its lines in alphabetical order of the cells present, so gru was blue and rnn
    green (rnn is blue in the gradients lesson), and a cell changed colour when another's runs finished."""
    colours = {rnn_lstm_gru: {t["name"]: t["line"]["color"] for t in sweep_figure(_rows(rnn_lstm_gru)).to_dict()["data"]}
               for rnn_lstm_gru in (frozenset({"lstm", "gru"}), frozenset({"rnn", "lstm", "gru"}))}
    want = {"cell=rnn": PALETTE[0], "cell=lstm": PALETTE[1], "cell=gru": PALETTE[2]}
    assert colours[frozenset({"rnn", "lstm", "gru"})] == want
    assert colours[frozenset({"lstm", "gru"})] == {k: v for k, v in want.items() if k != "cell=rnn"}


def test_a_reopened_lesson_puts_its_restored_settings_in_the_link():
    """A new tab shows the settings of the run on screen; the address bar (the Share link) must say them,
    or another browser opens a different setup. Streamlit writes them in the run the browser asks for
    next (the browser test sees it ask by itself)."""
    first = app()
    token = first.session_state["lab.identity"]
    first.session_state["chars.seoul.live.pace"] = 0.0
    first.radio(key="chars.task").set_value("seoul").run()
    first.button(key="chars.train").click().run()
    first.button(key="chars.stop").click().run()
    wait(first, "chars", finished)
    again = app(token=token)                      # the same browser, a new tab on the bare address
    assert again.radio(key="chars.task").value == "seoul" and runs_of(again, "chars")
    again.run()
    assert again.query_params.get("chars.task") == "seoul"
