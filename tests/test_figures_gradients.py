"""The gradient figures draw the measured norms: ||dL/dh_t|| through time, over training (log10), and the
spectral radius."""
from __future__ import annotations

import numpy as np
from figure_inputs import make_probe, recs

from rnnviz import figures as F
from rnnviz.figures import figure_text, grad_heatmap, grad_norm_figure, spectral_radius_figure, spectral_radius_text
from rnnviz.recorder import EpochRecord
from rnnviz.tasks import make_task


def test_grad_norm_figure_log_axis_drops_zeros():
    a, b = make_probe(seed=1), make_probe(seed=2, grad_scale=10)
    a.grad_h_last[0, :2] = 0.0
    fig = grad_norm_figure({"rnn": a, "lstm": b, "none": None}, list("abcdef"), which="grad_h_last")
    assert [t.name for t in fig.data] == ["rnn", "lstm"] and fig.layout.yaxis.type == "log"
    assert list(fig.data[0].x) == [2, 3, 4, 5] and np.allclose(fig.data[0].y, a.grad_h_last[0, 2:])
    assert "rnn 2 step(s)" in figure_text(fig)
    assert len(grad_norm_figure({"x": None}).data) == 0


def test_grad_heatmap_is_log10_of_the_norms():
    rs = recs(6, probe_every=2)
    rs[0].probe.grad_h[0, 0] = 0.0
    fig = grad_heatmap(rs)
    hm = fig.data[0]
    assert list(hm.y) == [1, 3, 5]
    z = np.asarray(hm.z, dtype=float)
    assert np.isnan(z[0, 0]) and np.allclose(z[1], np.log10(rs[2].probe.grad_h[0]))
    text = figure_text(fig)
    assert "3 of 6 epochs" in text and "zero" in text
    assert len(grad_heatmap([EpochRecord(epoch=1, step=1, loss=1.0)]).data) == 0


def test_spectral_radius():
    rs = recs(3)
    assert "ρ(W_hh) = 0.91" in spectral_radius_text(rs[1].probe)
    fig = spectral_radius_figure(rs)
    assert np.allclose(fig.data[0].y, [0.9, 0.91, 0.92])
    assert "not measured" in spectral_radius_text(None)


def test_grad_heatmap_hover_text_is_each_measured_value():
    rs = recs(8)
    first = grad_heatmap(rs)
    assert first.data[0].customdata[1][0] == f"{float(rs[1].probe.grad_h[0, 0]):.6g}"
    rs[1].probe.grad_h[0, 0] = 5.0
    assert grad_heatmap(rs).data[0].customdata[1][0] == "5"


def test_the_sine_wave_s_gradient_is_drawn_against_the_time_step_with_its_inputs_in_the_hover():
    """The sine lesson's time axis was labelled 0.00, 0.31, 0.59, ... (the inputs), which reads as time."""
    task = make_task("sine")
    labels = task.probe_labels()
    assert not task.tick_inputs and make_task("copy").tick_inputs
    fig = grad_norm_figure({"h carried": make_probe(T=len(labels))}, labels, tick_inputs=task.tick_inputs)
    for width in (585, 825, 1110):
        axis = F.refit(fig, width).layout.xaxis
        assert axis.title.text == "time step t" and axis.tickmode is None and axis.ticktext is None
    assert list(fig.data[0].customdata) == labels and "(input %{customdata})" in fig.data[0].hovertemplate
    tokens = grad_norm_figure({"lstm": make_probe()}, list("abcdef"))           # tokens label the ticks
    assert list(tokens.layout.xaxis.ticktext) == list("abcdef")
