"""Figures of the course additions draw the numbers they are given: both directions of a bidirectional
probe, the cuts of truncated BPTT, one step by hand."""
import html

import numpy as np

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine
from rnnviz.figures import (figure_text, fit_pca_basis, gate_heatmaps, grad_heatmap, grad_norm_figure, hidden_heatmap,
                            spectral_radius_text, step_table_html, trajectory_figure)
from rnnviz.numpy_engine import network
from rnnviz.numpy_engine.step_by_hand import one_step
from rnnviz.recorder import EpochRecord
from rnnviz.tasks import make_task


def _bidirectional_probe(layers=2):
    task = make_task("hihell")
    eng = TorchEngine(task, ModelConfig(cell="lstm", hidden_size=4, num_layers=layers, bidirectional=True),
                      TrainConfig(dtype="float64"))
    return eng.probe(task.probe()), task.probe_labels()


def test_gradient_lines_per_direction():
    p, labels = _bidirectional_probe()
    fig = grad_norm_figure({"lstm": p}, labels)
    assert [t.name for t in fig.data] == ["lstm · forward", "lstm · reverse"]
    for d, trace in enumerate(fig.data):
        g = p.grad_h[p.row(-1, d)]
        assert np.array_equal(np.asarray(trace.y), g[g > 0])
    assert fig.data[1].line.dash == "dash" and "reverse direction" in figure_text(fig)
    last = grad_norm_figure({"lstm": p}, labels, which="grad_h_last")
    assert "lstm · reverse 5 step(s)" in figure_text(last)     # the last step's loss reaches only h_{T-1} back


def test_hidden_state_of_both_directions_and_gates_of_each():
    p, labels = _bidirectional_probe()
    fig = hidden_heatmap(p, labels)
    both = np.concatenate([p.hidden[p.row(-1, 0)], p.hidden[p.row(-1, 1)]], -1).T
    assert np.array_equal(np.asarray(fig.data[0].z), both)
    assert list(fig.layout.yaxis.ticktext[:1]) == ["→0"] and "←0" in fig.layout.yaxis.ticktext
    assert "both directions" in figure_text(fig)
    rev = gate_heatmaps(p, labels, "lstm", layer=0, direction=1)
    assert np.array_equal(np.asarray(rev.data[0].z), p.gates["i"][p.row(0, 1)].T)
    assert "layer 1 of 2, reverse" in figure_text(rev)
    basis = fit_pca_basis([p], dims=3)
    assert basis.n_units == 8                      # [h_fwd; h_rev]
    assert "both directions" in figure_text(trajectory_figure(p, basis, labels))
    assert "ρ(i, reverse)" in spectral_radius_text(TorchEngine(make_task("hihell"), ModelConfig(
        cell="lstm", hidden_size=4, bidirectional=True), TrainConfig()).probe(make_task("hihell").probe()))


def test_the_cuts_of_truncated_bptt_are_marked():
    task = make_task("sine")
    eng = TorchEngine(task, ModelConfig(cell="rnn", hidden_size=8), TrainConfig(tbptt=5, dtype="float64"))
    p = eng.probe(task.probe())
    fig = grad_norm_figure({"h carried": p}, task.probe_labels())
    assert [s.x0 for s in fig.layout.shapes] == [4.5, 9.5, 14.5]
    assert "truncated BPTT every 5 steps" in figure_text(fig) and "✂ cut" in figure_text(fig)
    assert np.array_equal(np.asarray(fig.data[0].y), p.grad_h[0])
    recs = [EpochRecord(epoch=1, step=1, loss=1.0, probe=p), EpochRecord(epoch=2, step=2, loss=0.5, probe=p)]
    heat = grad_heatmap(recs)
    assert len(heat.layout.shapes) == 3 and np.allclose(np.asarray(heat.data[0].z)[0], np.log10(p.grad_h[0]))
    whole = TorchEngine(task, ModelConfig(cell="rnn", hidden_size=8), TrainConfig(dtype="float64"))
    assert not grad_norm_figure({"x": whole.probe(task.probe())}).layout.shapes


def test_step_table_shows_each_line_and_its_numbers():
    task = make_task("anbn")
    mcfg = ModelConfig(cell="lstm", hidden_size=20)
    eng = TorchEngine(task, mcfg, TrainConfig(dtype="float64"))
    params = network.params_from_state_dict(eng.state_dict())
    cfg = network.NetConfig.from_model_config(mcfg, task.input_size, task.output_size, task.kind)
    entries = one_step(params, cfg, task.probe().x[0].numpy(), 2)
    page = step_table_html(entries, 2, "b", max_numbers=12)
    for e in entries:
        assert html.escape(e.source) in page
        assert f'title="{float(e.value.ravel()[0]):.17g}"' in page
    assert "… 68 more of 80" in page and "t = 2 (input b)" in page       # the 4H = 80 pre-activations
    assert page.count("<tr>") == len(entries) + 2                          # a heading row per layer and the head
