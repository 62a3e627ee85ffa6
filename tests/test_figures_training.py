"""The training figures draw true measurements: loss and accuracy curves, the table of predictions
(figure and HTML), the top-k bars, the clipped gradient norms."""
from __future__ import annotations

import numpy as np
import pytest
from figure_inputs import _Cells, recs, tokens_pred

from rnnviz.figures import (accuracy_figure, figure_text, grad_norm_clip_figure, loss_figure, prediction_table_figure,
                            prediction_table_html, topk_figure)
from rnnviz.figures.fit import MONO_EM, PAGE_WIDTH
from rnnviz.figures.style import NO_TARGET, RIGHT, WRONG
from rnnviz.figures.tables import CELL_EM, prediction_table, table_font_px
from rnnviz.recorder import Deferred, EpochRecord
from rnnviz.tasks import make_task
from rnnviz.tasks.base import masked_loss


def test_loss_figure_traces_per_run_and_thinned_note():
    fig = loss_figure({"rnn": recs(5), "lstm": recs(5)})
    names = [t.name for t in fig.data]
    assert names == ["rnn train", "rnn val", "lstm train", "lstm val"]
    tr = fig.data[0]
    assert list(tr.y) == [r.loss for r in recs(5)]
    val = fig.data[1]  # only epochs that have a val loss
    assert list(val.x) == [2, 4] and list(val.y) == [2.5 / 2, 2.5 / 4]
    assert "thinned" not in figure_text(fig)
    thin = [r for i, r in enumerate(recs(10)) if i % 2 == 0 or i >= 5]
    assert "thinned: older epochs shown only every 2nd" in figure_text(loss_figure({"a": thin}, thinned=True))
    no_val = [EpochRecord(epoch=1, step=1, loss=1.0)]
    assert [t.name for t in loss_figure({"x": no_val}).data] == ["x train"]


def test_loss_axis_names_the_loss_the_task_computes():
    """The y axis says which loss a task's masked_loss is: MSE for the sine wave, cross-entropy for
    characters (each checked against torch's own), as the lab passes Task.loss_name."""
    torch = pytest.importorskip("torch")
    for name, other in (("sine", "cross-entropy"), ("hihell", "MSE")):
        task = make_task(name)
        batch = next(iter(task.train_batches(0, np.random.default_rng(0))))
        out = torch.randn(*batch.y.shape[:2], task.output_size, generator=torch.Generator().manual_seed(0))
        truth = (torch.nn.functional.mse_loss(out, batch.y) if task.loss_name == "MSE"
                 else torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1)))
        assert torch.allclose(masked_loss(task.kind, out, batch), truth)
        title = loss_figure({"a": recs(3)}, loss_name=task.loss_name).layout.yaxis.title.text
        assert title.startswith(task.loss_name) and other not in title
    assert make_task("sine").loss_name == "MSE" and make_task("hihell").loss_name == "cross-entropy"


def test_loss_figure_log_and_empty():
    r = [EpochRecord(epoch=1, step=1, loss=0.0), EpochRecord(epoch=2, step=2, loss=0.5)]
    fig = loss_figure({"a": r}, log_y=True)
    assert fig.layout.yaxis.type == "log" and list(fig.data[0].y) == [0.5]
    assert "not drawn" in figure_text(fig)
    assert "no epochs" in figure_text(loss_figure({})) and len(loss_figure({"a": []}).data) == 0
    assert len(accuracy_figure({"a": r}).data) == 0  # no accuracies measured -> no traces, no crash


def cell_color(fig, row, col):
    hm = fig.data[0]
    z = hm.z[row][col]
    lo, hi = hm.zmin, hm.zmax
    v = (z - lo) / (hi - lo)
    for (a, ca), (b, cb) in zip(hm.colorscale[:-1], hm.colorscale[1:]):
        if a <= v <= b and ca == cb:
            return ca
    raise AssertionError("value not inside a flat band of the discrete colour scale")


def test_prediction_table_colours_cells():
    fig = prediction_table_figure(recs(3))
    hm = fig.data[0]
    assert list(hm.y) == ["target", "epoch 1", "epoch 2", "epoch 3"]
    assert list(hm.text[0]) == list("hello") and list(hm.text[1]) == list("hxllo")
    assert cell_color(fig, 1, 0) == RIGHT    # 'h' under 'h'
    assert cell_color(fig, 1, 1) == WRONG    # 'x' under 'e'
    r = recs(1)
    r[0].prediction = tokens_pred(list("ab"), [None, "b"])
    fig = prediction_table_figure(r)
    assert cell_color(fig, 1, 0) == NO_TARGET and cell_color(fig, 1, 1) == RIGHT


def test_prediction_table_subsamples_and_handles_odd_records():
    fig = prediction_table_figure(recs(40), max_rows=5)
    y = list(fig.data[0].y)
    assert y[1] == "epoch 1" and y[-1] == "epoch 40" and len(y) == 6
    assert "showing 5 of 40" in figure_text(fig)
    none = [EpochRecord(epoch=1, step=1, loss=1.0)]
    assert len(prediction_table_figure(none).data) == 0
    vals = [EpochRecord(epoch=1, step=1, loss=1.0, prediction={"kind": "values", "input": [0.0],
                                                                "target": [1.0], "predicted": [0.5], "mse": 0.25})]
    assert "values" in figure_text(prediction_table_figure(vals))
    words = recs(1)
    words[0].prediction = tokens_pred(["the", "cat"], ["the", "dog"])
    assert list(prediction_table_figure(words).data[0].text[1]) == ["the", "cat"]



def test_prediction_table_builds_only_the_rows_it_shows():
    """A record's prediction is built when read (Deferred): a long run's table must not build them all."""
    built = []

    def describe(i):
        built.append(i)
        return tokens_pred(list("hxllo"), list("hello"))

    long = [EpochRecord(epoch=i, step=i, loss=1.0, prediction=Deferred(describe, i)) for i in range(1, 2001)]
    long.insert(5, EpochRecord(epoch=0, step=0, loss=1.0))       # a record without a prediction is skipped
    fig = prediction_table_figure(long, max_rows=6)
    assert list(fig.data[0].y)[1] == "epoch 1" and list(fig.data[0].y)[-1] == "epoch 2000"
    assert len(fig.data[0].y) == 7 and len(set(built)) == 6


def test_prediction_table_html_matches_the_figure():
    """The app's HTML table shows the same rows, letters and colours as the heatmap, with hovers."""
    r = recs(40)
    r[-1].prediction = tokens_pred(list("h<llo"), list("hello"))      # a token that needs escaping
    fig = prediction_table_figure(r, max_rows=5)
    cells = _Cells()
    cells.feed(prediction_table_html(r, max_rows=5))
    assert [label for label, _ in cells.rows] == list(fig.data[0].y)
    assert [[text for _, _, text in row] for _, row in cells.rows] == [list(t) for t in fig.data[0].text]
    colour = {"r": RIGHT, "w": WRONG, "n": NO_TARGET}
    for i, (_, row) in enumerate(cells.rows[1:], start=1):
        for j, (cls, title, _) in enumerate(row):
            assert colour[cls] == cell_color(fig, i, j)
            assert title.split("\n")[-1] == fig.data[0].customdata[i][j].split("<br>")[-1]
    assert cells.rows[-1][1][1] == ("w", "epoch 40, position 1\ninput 'b'\npredicted '<': wrong (target 'e')", "<")
    assert "showing 5 of 40" in "".join(cells.texts)
    empty = _Cells()
    empty.feed(prediction_table_html([EpochRecord(epoch=1, step=1, loss=1.0)]))
    assert not empty.rows and "no predictions recorded yet" in "".join(empty.texts)

def test_topk_figure_bars_are_the_probabilities():
    fig = topk_figure(tokens_pred(list("hxl"), list("hel")))
    assert list(fig.data[0].y) == [0.6] * 3 and list(fig.data[1].y) == [0.3] * 3
    rest = [t for t in fig.data if t.name == "all other tokens"][0]
    assert np.allclose(rest.y, 0.1)  # all other tokens = 1 - top-k
    assert fig.data[0].marker.line.width[0] == 4 and fig.data[0].marker.line.width[1] == 1  # target outlined
    assert len(topk_figure(None).data) == 0


def test_grad_norm_clip_figure():
    fig = grad_norm_clip_figure(recs(4))
    line = [t for t in fig.data if t.type == "scatter"][0]
    assert list(line.y) == [1.0, 2.0, 3.0]  # epoch 1 has norm 0: dropped on the log axis, and said
    assert "not drawn" in figure_text(fig)
    assert len(grad_norm_clip_figure([]).data) == 0


@pytest.mark.parametrize("steps", [6, 12, 35, 60])
def test_the_prediction_table_fits_the_page_down_to_its_smallest_font(steps):
    """seoul's 35 characters were 23 px wider than the page's column: its last letter was hidden."""
    label = len("epoch 1,000")
    size = table_font_px(steps, label)
    wide = steps * (CELL_EM * size + 2) + 2 + (MONO_EM * label + 0.6) * size
    assert wide <= PAGE_WIDTH - 10 or size == 12
    assert 12 <= size <= 28 and table_font_px(6, label) > table_font_px(35, label)
    words = table_font_px(steps, label, cell_chars=4)                 # a word per cell (the words lesson)
    assert steps * ((MONO_EM * 4 + 0.1) * words + 2) + 2 + (MONO_EM * label + 0.6) * words <= PAGE_WIDTH - 10 \
        or words == 12


def test_the_prediction_table_spreads_its_rows_over_the_run_s_epochs():
    """A pretrained run's history kept few early predictions (1, 279, 304, 318, then every epoch): the
    table showed 1, 279, 304, 318, ... and 11 of the last epochs, never how the learning went."""
    kept = [1, 279, 304, 318] + list(range(320, 501))
    rows = [EpochRecord(epoch=e, step=e, loss=1.0, prediction=tokens_pred(list("hxllo"), list("hello"))) for e in kept]
    table = prediction_table(rows, max_rows=6)
    # nearest to 1, 100.8, 200.6, 300.4, 400.2, 500 (100.8's nearest is 1: five rows)
    assert [r.label for r in table.rows[1:]] == [f"epoch {e}" for e in (1, 279, 304, 400, 500)]
    assert "showing 5 of 185 epochs with a prediction, spread over epochs 1 to 500" in table.notes
