"""The lessons' words follow what they show (AppTest): the character lesson's text follows its task,
aⁿbⁿaⁿ colours only what it scores and refuses unknown tokens, the words table shows its inputs, the
speed limit says what it counts (and no speed is claimed while nothing trains), the From scratch curves
are told apart, the sine lesson's two MSEs are named apart, the charts follow the theme."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
from apptest import app, progress_texts, recorded, text_of, wait

from lab import progress
from rnnviz.callbacks import Recorder
from rnnviz.figures import figure_text, refit, sine_figure
from rnnviz.figures.style import RIGHT, WRONG, fmt
from rnnviz.figures.theme import MUTED_STYLE, PAGE
from rnnviz.recorder import EpochRecord
from rnnviz.run import Run
from rnnviz.tasks import make_task
from rnnviz.tasks.anbn import scored_continuation
from rnnviz.tasks.sine import VAL_WINDOWS
from rnnviz.trainer import Trainer

pytestmark = pytest.mark.usefixtures("lab_env")


def charts(at) -> dict[str, dict]:
    """key -> the plotly spec of every chart on the page."""
    return {json.loads(c.proto.spec).get("layout", {}).get("title", {}).get("text", "") or c.proto.id:
            json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def train(at, lesson: str, task: str, records: int = 1) -> dict:
    at.session_state[f"{lesson}.{task}.live.pace"] = 0.0
    at.run()
    at.button(key=f"{lesson}.train").click().run()
    return wait(at, lesson, recorded(records))


def test_the_chars_text_follows_the_chosen_task():
    at = app()
    assert "*h i h e l l*" in text_of(at)
    at.radio(key="chars.task").set_value("seoul").run()
    text = text_of(at)
    assert "seoul is the capital of south korea" in text and "h i h e l l" not in text
    assert "`s` by `e`, `␣`, `o` —" in text and "15 numbers" in text and "Nothing is held out" in text
    at.radio(key="chars.task").set_value("ship").run()
    text = text_of(at)
    assert "if you want to build a ship" in text and "windows of **10** characters" in text
    assert "`o` by `u`, `␣`, `n`, `p`, …" in text
    at.slider(key="chars.ship.task.seq_len").set_value(25).run()
    assert "windows of **25** characters" in text_of(at)
    assert not at.exception and not at.error


def test_anbn_colours_only_the_scored_positions_and_refuses_unknown_tokens():
    at = app("anbn")
    train(at, "anbn", "anbn", records=2)
    at.session_state["anbn.tabs"] = "Predictions"
    at.run()
    (head,) = [m.value for m in at.markdown if "target" in m.value and "right" in m.value]
    assert len(re.findall(f"color:({RIGHT}|{WRONG})", head)) == 6          # b b a a a EOS of a a a b b b a a a EOS
    assert re.search(r"\d/6 right · 3 faded: not scored", head)
    at.session_state["anbn.tabs"] = "Generate"
    at.run()
    at.text_input(key="anbn.prefix").input("a a c").run()
    assert any("unknown token 'c'" in e.value and "only a and b" in e.value for e in at.error)
    assert not at.exception
    at.text_input(key="anbn.prefix").input("a a").run()
    (line,) = [m.value for m in at.markdown if m.value.startswith('<div style="font-family:monospace')]
    spans = re.findall(r'<span style="([^"]*)">([^<]*)</span>', line)
    tokens = [tok for _, tok in spans[1:-1]]
    styles = [style for style, _ in spans[1:-1]]
    expect = {None: MUTED_STYLE, True: f"color:{RIGHT}", False: f"color:{WRONG}"}
    assert tokens and styles == [expect[s] for s in scored_continuation(["a", "a"], tokens)]
    assert any("until the first *b* the next token is a guess" in c.value for c in at.caption)


def test_the_words_table_shows_the_two_input_words():
    at = app("words")
    train(at, "words", "words")
    (head,) = [m.value for m in at.markdown if "target" in m.value and "right" in m.value]
    assert re.search(r">i like</span> → <span", head)
    (table,) = [h.proto.body for h in at.html if "Predictions per epoch" in h.proto.body]
    assert re.search(r"<tr><th>input</th><td[^>]*>i</td><td[^>]*>like</td></tr><tr><th>target</th>", table)


def test_the_speed_limit_says_what_it_counts():
    at = app()
    assert at.select_slider(key="chars.hihell.live.pace").label == "speed limit (epochs per second)"
    assert "for 20 epochs" in at.toggle(key="chars.hihell.live.auto_stop").help
    at.button(key="chars.train").click().run()          # the lesson's pace: 10 a second
    wait(at, "chars", recorded(3))                     # a rate from the second record on
    (line,) = progress_texts(at)                        # measured and limit in one unit, side by side
    assert re.search(r"· [\d.,]+ epochs/s, speed limit 10/s$", line) and "steps/s" not in line, line
    text = app("text")
    assert text.select_slider(key="text.text.live.pace").label == \
        "speed limit (records per second; one every 10 optimizer steps)"
    text.slider(key="text.text.train.steps").set_value(4000).run()
    assert text.select_slider(key="text.text.live.pace").label.endswith("one every 20 optimizer steps)")
    assert not any("record point" in (s.label + (s.help or "")) for s in text.select_slider)



@pytest.mark.parametrize("state, held, words", [("paused", True, "paused"), ("paused", False, "resuming…"),
                                                ("waiting", True, "starts paused")])
def test_a_run_that_does_not_train_now_claims_no_speed(state, held, words):
    """A paused run's line said "1,234 steps/s, slowed to 10 epochs/s to be watchable": the worker's
    last rate, not true while nothing trains. It says where the run stands."""
    task = make_task("hihell")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, epochs=100), state=state, held=held, pace=10.0,
              steps_per_second=1234.0, records_per_second=1234.0)
    run.history.add(EpochRecord(epoch=36, step=36, loss=0.5, seconds=3.0))
    text = progress.facts(run)["text"]
    assert text.startswith(words) or f"· {words}" in text, text
    assert "epoch 36 of 100" in text and "loss 0.5" in text, text
    assert "/s" not in text and "speed limit" not in text and "1,234" not in text, text
    run.state, run.held, run.records_per_second = "running", False, 9.87
    assert progress.facts(run)["text"].endswith(" · 9.9 epochs/s, speed limit 10/s")   # while it trains, it does


def test_the_speed_and_its_limit_are_in_one_unit():
    """The line read "13 steps/s, slowed to 10 epochs/s": two units, the measured speed and the limit
    not comparable. Both are in record points a second now, what the speed limit slider counts."""
    task = make_task("text")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, steps=2000), state="running", pace=60.0,
              steps_per_second=1234.0, records_per_second=57.3)
    run.history.add(EpochRecord(epoch=400, step=400, loss=2.0, seconds=4.0))
    assert progress.facts(run)["text"].endswith(
        " · 57 records/s (one every 10 optimizer steps), speed limit 60/s")
    run.pace, run.records_per_second = 0.0, 1234.5
    assert progress.facts(run)["text"].endswith(" · 1,234 records/s (one every 10 optimizer steps)")
    run.state = "finished"                                # 400 steps in 4 s: 40 records of 10 steps
    assert progress.facts(run)["text"].endswith(" · 10 records/s (one every 10 optimizer steps) overall")
    assert "steps/s" not in progress.facts(run)["text"]

def test_the_sine_lessons_two_mses_are_told_apart():
    """The progress line said "val 0.00015" and the chart "teacher-forced MSE = 0.0013": both teacher-
    forced, one the mean over the validation windows, the other the chart's window alone from h = 0."""
    task = make_task("sine")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, epochs=3), state="finished")
    trainer = Trainer(task, m, run.tcfg, [Recorder(run.history)])
    trainer.run()
    rec, val = run.history.last, task.val_batches()
    assert len(val) == VAL_WINDOWS and val[0].x.equal(task.probe().x)       # what each one measures
    assert rec.val_loss == pytest.approx(trainer.engine.evaluate(val, carry=True)[0], rel=1e-5)
    assert rec.prediction["mse"] == pytest.approx(trainer.engine.evaluate(val[:1])[0], rel=1e-5)
    text = progress.facts(run)["text"]
    assert f"training MSE {rec.loss:.4g} · validation MSE {rec.val_loss:.4g}" in text and "· val " not in text
    shown = figure_text(sine_figure(rec.prediction))
    note = f"MSE on this window = {fmt(rec.prediction['mse'])} (teacher-forced, from h = 0)"
    assert note in shown.replace("\u00a0", " ")
    # side by side, the note wraps after its value, never inside "from h = 0"
    lines = refit(sine_figure(rec.prediction, [0.0] * 60), 395).layout.title.subtitle.text.split("<br>")
    assert any(line.startswith("MSE on this window = ") for line in lines), lines
    assert any(line.replace("\u00a0", " ").startswith("(teacher-forced, from h = 0)") for line in lines), lines
    assert "teacher-forced MSE" not in shown
    assert f"*validation MSE* is the mean over the {VAL_WINDOWS} windows" in text_of(app("sine"))


def test_the_charts_follow_the_pages_theme():
    at = app()
    for theme, bg in (("dark", PAGE["dark"]["bg"]), ("light", "white")):
        at.context["theme"] = theme
        at.run()
        (placeholder,) = charts(at).values()
        assert placeholder["layout"]["template"]["layout"]["paper_bgcolor"] == bg
    at.context["theme"] = "dark"
    train(at, "chars", "hihell")
    at.session_state["chars.tabs"] = "Loss and accuracy"
    at.run()
    loss = charts(at)["Loss"]["layout"]["template"]["layout"]
    assert loss["paper_bgcolor"] == PAGE["dark"]["bg"] and loss["font"]["color"] == "#EEEEEE"
    at.context["theme"] = "light"
    at.run()
    assert charts(at)["Loss"]["layout"]["template"]["layout"]["paper_bgcolor"] == "white"
    assert not at.exception and not at.error


def test_from_scratch_dots_torch_over_numpy_and_says_which_is_which():
    at = app("from_scratch")
    at.radio(key="scratch.task").set_value("hihell").run()
    train(at, "scratch", "hihell")
    loss = charts(at)["Loss"]
    assert {t["name"]: t["line"]["dash"] for t in loss["data"]} == {"numpy train": "solid", "torch train": "dot"}
    assert [t["name"] for t in loss["data"]][-1] == "torch train"              # drawn on top
    assert "torch (orange): dotted / dash-dot, on top" in loss["layout"]["title"]["subtitle"]["text"]
    assert any("numpy: solid blue line; torch: dotted orange line" in c.value for c in at.caption)


def test_the_loss_charts_name_the_loss_their_task_trains_on():
    at = app("sine")
    train(at, "sine", "sine")
    at.session_state["sine.tabs"] = "Loss"
    at.run()
    assert charts(at)["Loss"]["layout"]["yaxis"]["title"]["text"] == "MSE (mean over counted steps)"
    at = app()
    train(at, "chars", "hihell")
    at.session_state["chars.tabs"] = "Loss and accuracy"
    at.run()
    assert charts(at)["Loss"]["layout"]["yaxis"]["title"]["text"] == "cross-entropy (mean over counted steps)"
    assert not at.exception and not at.error
