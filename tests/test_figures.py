"""The figures draw true measurements and say what they project, thin or leave out: the sequence figures,
every figure of a real run, and every figure valid under plotly's validation (built as plain dicts)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from figure_inputs import every_figure, tiny_lstm_run

from rnnviz.config import counted
from rnnviz.figures import (char_probs_figure, figure_text, fit_pca_basis, gate_heatmaps, grad_heatmap,
                            grad_norm_figure, hidden_heatmap, loss_figure, prediction_table_figure, sine_figure,
                            spectral_radius_figure, topk_figure, trajectory_figure)
from rnnviz.figures.theme import TEMPLATE_DARK_DICT


# ---- sequences -------------------------------------------------------------------------------------
def test_sine_figure_with_free_running():
    x = np.sin(np.linspace(0, 6, 20))
    pred = {"kind": "values", "input": x[:-1].tolist(), "target": x[1:].tolist(),
            "predicted": (x[1:] + 0.01).tolist(), "mse": 1e-4}
    fig = sine_figure(pred, free_running=[0.1, 0.2, 0.3])
    assert [t.name for t in fig.data][:3] == ["input", "target", "prediction (teacher-forced)"]
    fr = fig.data[3]
    assert list(fr.y[1:]) == [0.1, 0.2, 0.3] and list(fr.x[1:]) == [19.0, 20.0, 21.0]
    assert fr.line.dash == "dot" and "free" in figure_text(fig)
    assert len(sine_figure({"kind": "tokens"}).data) == 0
    assert sine_figure(pred, name="h carried").layout.title.text == "h carried: sequence prediction"   # its run


def test_char_probs_figure():
    fig = char_probs_figure([{"a": 0.7, "b": 0.3}, {"a": 0.1, "c": 0.9}], chosen=["a", "c"])
    assert np.allclose(fig.data[0].z, [[0.7, 0.1], [0.3, 0.0], [0.0, 0.9]])


def test_real_lstm_run_figures():
    records, labels = tiny_lstm_run(epochs=12)
    probed = [r for r in records if r.probe is not None]
    basis = fit_pca_basis([r.probe for r in probed])
    figs = [loss_figure({"lstm": records}), prediction_table_figure(records), topk_figure(records[-1].prediction),
            trajectory_figure(probed[-1].probe, basis, labels), hidden_heatmap(probed[-1].probe, labels),
            gate_heatmaps(probed[-1].probe, labels, "lstm"), grad_heatmap(records),
            grad_norm_figure({"lstm": probed[-1].probe}, labels), spectral_radius_figure(records)]
    assert all(isinstance(f, go.Figure) and len(f.data) for f in figs)
    assert np.array_equal(np.asarray(figs[4].data[0].z), probed[-1].probe.hidden[0].T)
    assert records[-1].loss < records[0].loss


# ---- the figures are built as plain dicts and wrapped unvalidated (speed): they must still be valid ----------
def _same(a, b, path="fig") -> None:
    """Deep equality of two to_dict() results (nan == nan; numpy arrays element by element)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys differ {sorted(set(a) ^ set(b))}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        same = a.tolist() == b.tolist() if a.dtype == object else np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        assert same, path
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} vs {b!r}"


def test_every_figure_is_what_plotly_would_have_built():
    """Rebuilding each figure from its dict WITH plotly's validation neither raises (every property name
    and value is valid) nor changes anything (the dicts hold plotly's own coerced values)."""
    import inspect

    from rnnviz import figures as F
    built = every_figure()
    functions = {n for n in F.__all__ if callable(getattr(F, n))
                 and inspect.signature(getattr(F, n)).return_annotation == "go.Figure"}
    assert set(built) == functions  # a new figure function must be added to every_figure()
    for name, figs in built.items():
        for i, fig in enumerate(figs):
            assert isinstance(fig, go.Figure)
            d = fig.to_dict()
            assert d["layout"]["template"] == (TEMPLATE_DARK_DICT if name == "themed" else F.TEMPLATE.to_plotly_json())
            _same(go.Figure(d).to_dict(), d, f"{name}[{i}]")
    with pytest.raises(ValueError):  # the check bites: an invalid property does not pass
        go.Figure({"data": [{"type": "heatmap", "zz": [1]}], "layout": {}})


def test_counts_in_words_agree_with_their_number():
    assert [counted(n, "run") for n in (0, 1, 2, 1200)] == ["0 runs", "1 run", "2 runs", "1,200 runs"]
    assert counted(1, "value") == "1 value" and counted(3, "sample", "samples so far") == "3 samples so far"
