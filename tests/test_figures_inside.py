"""The figures of the inside of the model draw the probe: the PCA trajectory in one basis for every
epoch, the hidden state and the gates as heatmaps."""
from __future__ import annotations

import numpy as np
import pytest
from figure_inputs import make_probe

from rnnviz import figures as F
from rnnviz.figures import (figure_text, fit_pca_basis, gate_heatmaps, gate_means_figure, hidden_heatmap, project,
                            trajectory_figure)
from rnnviz.figures import fit
from rnnviz.figures.style import SUBTITLE_SIZE, TITLE_SIZE


def test_pca_basis_and_projection():
    probes = [make_probe(seed=s, L=2, H=10, T=7) for s in range(4)]
    mean, comps, ratio = fit_pca_basis(probes, layer=-1, dims=3)
    X = np.concatenate([p.hidden[1] for p in probes]).astype(np.float64)
    Xc = X - X.mean(0)
    assert np.allclose(mean, X.mean(0))
    evals = np.sort(np.linalg.eigvalsh(Xc.T @ Xc))[::-1]
    assert np.allclose(ratio, evals[:3] / evals.sum())
    assert np.allclose(np.abs(comps @ comps.T), np.eye(3), atol=1e-8)
    basis = fit_pca_basis(probes, layer=-1, dims=3)
    for ep, p in enumerate(probes):
        fig = trajectory_figure(p, basis, list("abcdefg"), layer=-1, dims=2, title_epoch=ep)
        expected = (p.hidden[1].astype(np.float64) - mean) @ comps[:2].T
        assert np.allclose(fig.data[0].x, expected[:, 0]) and np.allclose(fig.data[0].y, expected[:, 1])
        assert list(fig.layout.xaxis.range) == list(trajectory_figure(probes[0], basis, dims=2).layout.xaxis.range)
        text = figure_text(fig)
        assert "PCA projection" in text and f"{ratio[:2].sum():.0%} of variance" in text
    fig3 = trajectory_figure(probes[0], basis, list("abcdefg"), dims=3)
    assert np.allclose(fig3.data[0].z, project(probes[0], basis, dims=3)[:, 2])
    assert fig3.layout.scene.xaxis.range is not None


def test_pca_basis_is_one_for_all_epochs():
    probes = [make_probe(seed=s, H=10) for s in range(5)]
    a, b = fit_pca_basis(probes), fit_pca_basis(probes[::-1])
    for x, y in zip(a, b):  # pooled: the order of the epochs does not matter
        assert np.allclose(x, y)
    assert a.n_probes == 5 and "one basis fitted on 5 probes pooled" in figure_text(trajectory_figure(probes[0], a))
    one = figure_text(trajectory_figure(probes[0], fit_pca_basis(probes[:1])))
    assert "one basis fitted on 1 probe" in one and "pooled" not in one and "(s)" not in one
    sub = make_probe(H=3)  # H = 3 but 2-D view: a subset of raw units, and said so
    assert "2 of 3 units" in figure_text(trajectory_figure(sub, fit_pca_basis([sub]), dims=2))


def test_trajectory_raw_units_small_h_and_t1():
    p = make_probe(H=2, T=1)
    basis = fit_pca_basis([p], dims=3)
    fig = trajectory_figure(p, basis, ["a"], dims=3)
    assert "raw hidden units" in figure_text(fig) and "PCA" not in figure_text(fig)
    assert np.allclose(fig.data[0].x, p.hidden[0, :, 0]) and np.allclose(fig.data[0].y, p.hidden[0, :, 1])
    assert len(trajectory_figure(None, None).data) == 0 and fit_pca_basis([]) is None


def test_hidden_heatmap_values_are_the_probe():
    p = make_probe(L=2, H=8, T=5)
    fig = hidden_heatmap(p, list("abcde"), layer=-1)
    assert np.array_equal(np.asarray(fig.data[0].z), p.hidden[1].T)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)
    assert list(fig.layout.xaxis.ticktext) == list("abcde")
    big = make_probe(H=100)
    fig = hidden_heatmap(big, None, max_units=64)
    assert np.asarray(fig.data[0].z).shape == (64, 6) and "showing units 0–63 of 100" in figure_text(fig)
    big.hidden *= 3  # outside [-1, 1]: true range, said
    fig = hidden_heatmap(big, None)
    assert fig.data[0].zmax == pytest.approx(np.abs(big.hidden[0, :, :64]).max()) and "exceed" in figure_text(fig)


def test_gate_heatmaps_and_means():
    p = make_probe(cell="lstm")
    fig = gate_heatmaps(p, list("abcdef"), "lstm")
    assert len(fig.data) == 5
    for tr, g in zip(fig.data, "ifgo"):
        assert np.array_equal(np.asarray(tr.z), p.gates[g][0].T)
    assert np.array_equal(np.asarray(fig.data[4].z), p.cell[0].T)
    titles = [a.text for a in fig.layout.annotations]
    assert "forget gate f" in titles and "cell state c" in titles
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1
    g = make_probe(cell="gru")
    assert len(gate_heatmaps(g, None, "gru").data) == 3
    assert len(gate_heatmaps(make_probe(cell="rnn"), None, "rnn").data) == 0
    m = gate_means_figure(p, None, "lstm")
    assert np.allclose(m.data[1].y, p.gates["f"][0].mean(1))


def test_a_label_above_the_highest_point_is_drawn_whole_in_the_top_margin():
    """The trajectory writes each point's token above it: a point at the top of the axis range had its label
    cut off by the plot's edge. The labels are not clipped, and the top margin holds the title's and
    subtitle's lines and a label's height above them, whatever the width the figure is drawn at."""
    probes = [make_probe(seed=s, H=10, T=7) for s in range(3)]
    fig = trajectory_figure(probes[0], fit_pca_basis(probes), list("abcdefg"))
    pts = fig.data[0]
    assert pts.cliponaxis is False and pts.textposition == "top center"
    label = fit.LINE * pts.textfont.size + pts.marker.size / 2              # px above the point
    for width in (300, 585, 790, 1110):
        t = F.refit(fig, width).layout
        words = fit.top_margin(len(t.title.text.split(fit.BREAK)), TITLE_SIZE,
                               len(t.title.subtitle.text.split(fit.BREAK)), SUBTITLE_SIZE)
        assert t.margin.t >= words + label, width
    assert trajectory_figure(probes[0], fit_pca_basis(probes, dims=3), dims=3).data[0].type == "scatter3d"
