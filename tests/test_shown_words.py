"""What the figures and tables say matches what they show: the colours they name, the positions they
score, the labels they thin, the curves they dot, and a dark page (rnnviz.figures.theme)."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from figure_inputs import _Cells, every_figure
from test_tasks import perfect_output

from lab import progress
from rnnviz import figures as F
from rnnviz.callbacks import Recorder
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine
from rnnviz.figures.style import COLOR_NAMES, NO_TARGET, PALETTE, RIGHT, WRONG, color_name
from rnnviz.figures.theme import INK, MUTED_OPACITY, MUTED_STYLE, PAGE
from rnnviz.recorder import EpochRecord
from rnnviz.run import Run
from rnnviz.tasks import TASKS, make_task
from rnnviz.tasks.anbn import anbn, read_prefix, scored_continuation
from rnnviz.trainer import Trainer, record_words, steps_per_record


# ---- colours: WCAG contrast, as a browser blends a faded text -----------------------------------------
def _rgb(color: str) -> np.ndarray:
    named = {"white": "#FFFFFF", "black": "#000000"}
    h = named.get(color.lower(), color).lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], float)


def _luminance(color) -> float:
    c = (color if isinstance(color, np.ndarray) else _rgb(color)) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colors(node, key=""):
    """Every colour string a figure's dict sets (values of keys ending in 'color')."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _colors(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _colors(v, key)
    elif isinstance(node, str) and key.endswith("color"):
        yield node


def test_a_figure_for_a_dark_page_has_a_dark_background_and_light_text():
    """Every figure, themed for a dark page: Streamlit's dark background, text that reads on it, no
    black-on-dark ink left, the same data, and still what plotly would build. Light: unchanged."""
    bg = PAGE["dark"]["bg"]
    for name, figs in every_figure().items():
        for fig in figs:
            assert F.themed(fig, "light") is fig and F.themed(fig, None) is fig
            dark = F.themed(fig, "dark")
            d = dark.to_dict()
            t = d["layout"]["template"]["layout"]
            assert t["paper_bgcolor"] == t["plot_bgcolor"] == bg, name
            assert contrast(t["font"]["color"], bg) >= 7, name
            assert contrast(t["title"]["subtitle"]["font"]["color"], bg) >= 4.5, name
            assert not [c for c in _colors(d) if c.lower() in INK], name       # every ink colour swapped
            assert [tr.get("y") is None or np.array_equal(np.asarray(tr["y"], dtype=object),
                                                         np.asarray(tr0.get("y"), dtype=object))
                    for tr, tr0 in zip(d["data"], fig.to_dict()["data"])] == [True] * len(d["data"])
            assert go.Figure(d).to_dict()["layout"]["template"] == d["layout"]["template"]
    light = F.loss_figure({"a": [EpochRecord(epoch=1, step=1, loss=1.0)]}).layout.template.layout
    assert light.paper_bgcolor == "white" and contrast(light.font.color, "#FFFFFF") >= 7


def test_faded_text_reads_on_both_themes():
    """The headline's and the tables' secondary text is the page's own text colour, faded: it reads on
    Streamlit's light and dark page alike (a fixed grey cannot reach 4.5:1 on both)."""
    for theme in PAGE.values():
        text, bg = _rgb(theme["text"]), _rgb(theme["bg"])
        faded = MUTED_OPACITY * text + (1 - MUTED_OPACITY) * bg
        assert contrast(faded, theme["bg"]) >= 4.5
    assert contrast("#555555", PAGE["dark"]["bg"]) < 3          # the grey the headline had
    task = make_task("hihell")
    batch = task.probe()
    pred = task.describe(perfect_output(task, batch), batch)
    rec = [EpochRecord(epoch=1, step=1, loss=1.0, prediction=pred)]
    for block in (F.headline_html(pred, "epoch 1"), F.prediction_table_html(rec),
                  F.continuation_html(["a"], ["b"], [None])):
        assert MUTED_STYLE in block and not re.search(r"color:\s*#(555|666|777|888)\b", block)


# ---- the colours they name ------------------------------------------------------------------------------
def test_the_tables_name_the_colours_they_draw():
    assert {RIGHT, WRONG, NO_TARGET, *PALETTE} <= set(COLOR_NAMES)
    notes = " ".join(F.prediction_table(
        [EpochRecord(epoch=1, step=1, loss=1.0, prediction=make_task("hihell").describe(
            torch.zeros(1, 6, 5), make_task("hihell").probe()))]).notes)
    assert f"{color_name(RIGHT)} = right" in notes and f"{color_name(WRONG)} = wrong" in notes
    assert color_name(WRONG) == "red-orange" and "red = wrong" not in notes      # WRONG is vermillion


def test_a_dotted_run_is_drawn_on_top_and_named_by_its_colour():
    a = [EpochRecord(epoch=e, step=e, loss=1.0 / e, val_loss=1.1 / e) for e in range(1, 5)]
    fig = F.loss_figure({"numpy": a, "torch": a}, dotted=("torch",))
    assert [(t.name, t.line.dash) for t in fig.data] == [("numpy train", "solid"), ("numpy val", "dash"),
                                                         ("torch train", "dot"), ("torch val", "dashdot")]
    text = F.figure_text(fig)
    assert f"torch ({color_name(fig.data[2].line.color)}): dotted / dash-dot, on top" in text
    assert "torch (orange)" in text and "solid = training, dashed = validation" in text
    assert [t.line.dash for t in F.loss_figure({"numpy": a, "torch": a}).data] == ["solid", "dash"] * 2
    acc = [EpochRecord(epoch=1, step=1, loss=1.0, train_acc=0.5)]
    assert F.accuracy_figure({"numpy": acc, "torch": acc}, dotted=("torch",)).data[1].line.dash == "dot"


# ---- the positions they score ------------------------------------------------------------------------
def test_anbn_colours_and_counts_only_the_scored_positions():
    """The probe a a a b b b a a a EOS: the first three targets are a guess and not scored (as the
    accuracy): the headline colours 6 tokens and counts 6, the table greys the 3 others."""
    task = make_task("anbn")
    batch = task.probe()
    out = perfect_output(task, batch)
    out[0, 0] = out[0, 0].flip(0)           # a wrong guess at an unscored position
    pred = task.describe(out, batch)
    assert pred["scored"] == task.counted_mask(batch)[0].tolist() == [False] * 3 + [True] * 6
    assert task.accuracy(out, batch) == (6, 6)
    head = F.headline_html(pred, "epoch 3")
    assert len(re.findall(f"color:({RIGHT}|{WRONG})", head)) == 6 and head.count(f"color:{WRONG}") == 0
    assert "6/6 right" in head and "3 faded: not scored" in head
    cells = _Cells()
    cells.feed(F.prediction_table_html([EpochRecord(epoch=3, step=3, loss=1.0, prediction=pred)]))
    (_, row), = [r for r in cells.rows if r[0] == "epoch 3"]
    assert [cls for cls, _, _ in row] == ["n"] * 3 + ["r"] * 6
    assert "not scored (target 'a')" in row[0][1]
    assert "100% of the probe's scored positions right" in "".join(cells.texts)
    old = {k: v for k, v in pred.items() if k != "scored"}        # a prediction saved before "scored"
    assert F.tables.scored(old) == [True] * 9


def test_scored_continuation_scores_what_the_accuracy_counts():
    for n in (1, 2, 4):
        seq = anbn(n)
        mask = make_task("anbn").counted_mask(make_task("anbn").collate([seq]))[0].tolist()
        assert [s is not None for s in scored_continuation([], seq)][1:] == mask
        assert all(s in (None, True) for s in scored_continuation([], seq))
    assert scored_continuation(["a", "a"], ["b", "b", "a", "a", "EOS"]) == [None, True, True, True, True]
    assert scored_continuation(["a", "a", "b"], ["b", "a", "EOS"]) == [True, True, False]
    assert scored_continuation(["a", "b", "b"], ["a", "EOS"]) == [False, False]    # no a^n b^n a^n starts so
    html = F.continuation_html(["a", "a"], ["b", "b", "EOS"], [None, True, False])
    assert html.count(f"color:{RIGHT}") == 1 and html.count(f"color:{WRONG}") == 1
    assert "1/2 scored tokens right" in html and "1 faded" in html


def test_a_prefix_holds_only_a_and_b():
    assert read_prefix(" a a  b ") == ["a", "a", "b"]
    for bad, says in [("a a c", "'c'"), ("a EOS", "'EOS'"), ("a UNK", "'UNK'"), ("", "type a prefix"),
                      ("a " * 201, "at most 200")]:
        with pytest.raises(ValueError, match=re.escape(says)) as e:
            read_prefix(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="only a and b"):
        read_prefix("a x")


# ---- what they show beside it ----------------------------------------------------------------------------
def test_the_words_table_shows_the_two_input_words():
    task = make_task("words")
    batch = task.probe()
    pred = task.describe(perfect_output(task, batch), batch)
    cells = _Cells()
    cells.feed(F.prediction_table_html([EpochRecord(epoch=1, step=1, loss=1.0, prediction=pred)], with_inputs=True))
    assert [(label, [text for _, _, text in row]) for label, row in cells.rows[:3]] == [
        ("input", ["i", "like"]), ("target", ["", "dogs"]), ("epoch 1", [pred["predicted"][0], "dogs"])]
    head = F.headline_html(pred, "epoch 1", with_inputs=True)
    assert re.search(r">i like</span> → <span style=\"color:#009E73\">dogs<", head)
    assert "1/1 right" in head


def test_every_describer_scores_what_its_accuracy_counts():
    for name in sorted(n for n in TASKS if TASKS[n].kind == "classify"):
        task = make_task(name)
        batch = task.probe()
        assert task.describe(perfect_output(task, batch), batch)["scored"] == task.counted_mask(batch)[0].tolist()


# ---- the labels they thin ----------------------------------------------------------------------------------
def test_the_sine_trajectory_labels_are_its_inputs_thinned_and_says_so():
    task = make_task("sine")
    labels = task.probe_labels()
    assert labels == [f"{v:.2f}" for v in task.probe().x[0, :, 0].tolist()]     # the values it reads
    eng = TorchEngine(task, ModelConfig(cell="rnn", hidden_size=8), TrainConfig())
    probe = eng.probe(task.probe())
    fig = F.trajectory_figure(probe, F.fit_pca_basis([probe]), labels)
    shown = [t for t in fig.data[0].text if t]
    assert 0 < len(shown) < len(labels) and sum(len(t) + 1 for t in shown) <= 72 + 6
    assert fig.data[0].text[-1] == labels[-1]
    assert "every 2nd point labelled" in F.figure_text(fig)
    assert [c[1] for c in fig.data[0].customdata] == labels                   # the hover has every one
    hi = make_task("hihell")
    hp = TorchEngine(hi, ModelConfig(cell="rnn", hidden_size=5), TrainConfig()).probe(hi.probe())
    small = F.trajectory_figure(hp, F.fit_pca_basis([hp]), hi.probe_labels())
    assert list(small.data[0].text) == hi.probe_labels() and "labelled" not in F.figure_text(small)


# ---- the words for what they count -------------------------------------------------------------------------
def test_record_points_in_plain_words():
    assert record_words(0) == ("epochs", "")
    assert record_words(2000) == ("records", "one every 10 optimizer steps")
    assert record_words(150) == ("records", "one every optimizer step")
    task = make_task("hihell")
    for steps in (0, 150, 2000):
        tr = Trainer(task, ModelConfig(cell="rnn", hidden_size=5), TrainConfig(steps=steps))
        assert tr.record_every == (steps_per_record(steps) or 1)


def test_the_chars_sentences_say_where_the_hidden_state_is_needed():
    assert make_task("hihell").ambiguous() == {"h": ["i", "e"], "l": ["l", "o"]}
    seoul = make_task("seoul")
    for c, nexts in seoul.ambiguous().items():
        assert sorted(nexts) == sorted({b for a, b in zip(seoul.sentence, seoul.sentence[1:]) if a == c})
        assert len(nexts) > 1


def test_the_progress_line_tells_the_newest_validation_and_its_epoch():
    """Validation runs at every k-th record point: a run stopped between two tells the newest one
    measured, with its epoch, instead of leaving it out."""
    task = make_task("sine")
    m, t = task.suggested()
    run = Run(task, m, dataclasses.replace(t, epochs=6))
    Trainer(task, m, run.tcfg, [Recorder(run.history)], val_every=3).run()
    full = run.history
    assert [r.epoch for r in full.records if r.val_loss is not None] == [1, 3, 6]
    run.state = "stopped"
    run.history = full.until(5)
    text = progress.facts(run)["text"]
    assert f"epoch 5 of 6 · training MSE {full.records[4].loss:.4g} · validation MSE " \
           f"{full.records[2].val_loss:.4g} (epoch 3) ·" in text, text
    run.history = full.until(3)
    text = progress.facts(run)["text"]
    assert f"training MSE {full.records[2].loss:.4g} · validation MSE {full.records[2].val_loss:.4g} ·" in text, text
