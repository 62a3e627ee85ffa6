"""The figures draw true measurements and say what they project, thin or leave out."""
from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from rnnviz.config import counted
from rnnviz.figures import (accuracy_figure, fit_pca_basis, figure_text, gate_heatmaps, gate_means_figure,
                            grad_heatmap, grad_norm_clip_figure, grad_norm_figure, hidden_heatmap, loss_figure,
                            prediction_table_figure, prediction_table_html, project, sine_figure, spectral_radius_figure,
                            spectral_radius_text, topk_figure, trajectory_figure, char_probs_figure)
from rnnviz.figures.fit import MONO_EM, PAGE_WIDTH
from rnnviz.figures.style import RIGHT, WRONG, NO_TARGET
from rnnviz.figures.tables import CELL_EM, prediction_table, table_font_px
from rnnviz.figures.theme import TEMPLATE_DARK_DICT
from rnnviz.probes import Probe
from rnnviz.recorder import Deferred, EpochRecord


def make_probe(L=1, T=6, H=8, cell="lstm", seed=0, grad_scale=1.0) -> Probe:
    rng = np.random.default_rng(seed)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    names = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}[cell]
    gates = {g: (np.tanh(rng.normal(size=(L, T, H))) if g in "gn" else sig(rng.normal(size=(L, T, H))))
             .astype(np.float32) for g in names}
    g = (grad_scale * np.exp(-np.arange(T)[::-1] / 2.0) * np.ones((L, 1))).astype(np.float32)
    return Probe(hidden=np.tanh(rng.normal(size=(L, T, H))).astype(np.float32),
                 cell=rng.normal(scale=2, size=(L, T, H)).astype(np.float32) if cell == "lstm" else None,
                 gates=gates, grad_h=g, grad_c=None, grad_h_last=g.copy(), out=rng.normal(size=(T, 3)),
                 loss=1.0, spectral_radius={"W_hh": [0.9 + 0.01 * seed] * L})


def tokens_pred(predicted, target):
    return {"kind": "tokens", "input": list("abcdef")[:len(target)], "target": target, "predicted": predicted,
            "correct": [None if t is None else p == t for p, t in zip(predicted, target)],
            "topk": [[[p, 0.6], ["x", 0.3]] for p in predicted], "text": "", "target_text": "", "sep": ""}


def recs(n=5, probe_every=1, **kw):
    return [EpochRecord(epoch=e + 1, step=10 * (e + 1), loss=2.0 / (e + 1), val_loss=2.5 / (e + 1) if e % 2 else None,
                        grad_norm=float(e), clipped=0.1 * e,
                        prediction=tokens_pred(list("hxllo"), list("hello")),
                        probe=make_probe(seed=e, **kw) if e % probe_every == 0 else None) for e in range(n)]


# ---- training ------------------------------------------------------------------------------------
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


class _Cells(HTMLParser):
    """The rows of prediction_table_html: [(label, [(class, title, text), ...]), ...]."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell, self.texts = [], None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.rows.append(["", []])
        elif tag in ("th", "td"):
            self._cell = [tag, a.get("class"), a.get("title"), ""]

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell:
            kind, cls, title, text = self._cell
            if kind == "th":
                self.rows[-1][0] = text
            else:
                self.rows[-1][1].append((cls, title, text))
            self._cell = None

    def handle_data(self, data):
        if self._cell:
            self._cell[3] += data
        else:
            self.texts.append(data)


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


# ---- inside ----------------------------------------------------------------------------------------
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


# ---- gradients -------------------------------------------------------------------------------------
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


def test_char_probs_figure():
    fig = char_probs_figure([{"a": 0.7, "b": 0.3}, {"a": 0.1, "c": 0.9}], chosen=["a", "c"])
    assert np.allclose(fig.data[0].z, [[0.7, 0.1], [0.3, 0.0], [0.0, 0.9]])


# ---- a real tiny torch LSTM ------------------------------------------------------------------------
def tiny_lstm_run(epochs=30, H=12, text="hello world ", every=3, seed=0):
    """Train a hand-written LSTM (torch gate order i, f, g, o) on one repeated string, recording probes."""
    torch.manual_seed(seed)
    vocab = sorted(set(text))
    V = len(vocab)
    ids = torch.tensor([vocab.index(c) for c in text * 2])
    x, y = ids[:-1], ids[1:]
    W = torch.nn.Parameter(torch.randn(4 * H, V + H) * 0.3)
    b = torch.nn.Parameter(torch.zeros(4 * H))
    head = torch.nn.Linear(H, V)
    opt = torch.optim.Adam([W, b, *head.parameters()], lr=0.05)
    records = []
    for ep in range(1, epochs + 1):
        h, c = torch.zeros(H), torch.zeros(H)
        hs, cs, gs, outs = [], [], [], []
        for t in range(len(x)):
            z = W @ torch.cat([torch.nn.functional.one_hot(x[t], V).float(), h]) + b
            i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            h.retain_grad()
            hs.append(h), cs.append(c), gs.append((i, f, g, o)), outs.append(head(h))
        out = torch.stack(outs)
        loss = torch.nn.functional.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        gn = float(torch.sqrt(sum((p.grad ** 2).sum() for p in [W, b, *head.parameters()])))
        probe = pred = None
        if ep % every == 0 or ep == 1:
            probs = torch.softmax(out.detach(), -1)
            tp, ti = probs.topk(3, -1)
            predicted = [vocab[k] for k in probs.argmax(-1).tolist()]
            target = [vocab[k] for k in y.tolist()]
            pred = {"kind": "tokens", "input": [vocab[k] for k in x.tolist()], "target": target,
                    "predicted": predicted, "correct": [p_ == t_ for p_, t_ in zip(predicted, target)],
                    "topk": [[[vocab[k], float(p_)] for p_, k in zip(a, bb)] for a, bb in zip(tp.tolist(), ti.tolist())],
                    "text": "".join(predicted), "target_text": "".join(target), "sep": ""}
            st = lambda seq: torch.stack(seq).detach().numpy()[None]  # noqa: E731
            Whh = W.detach()[:, V:]
            probe = Probe(hidden=st(hs), cell=st(cs), gates={n: st([gg[k] for gg in gs]) for k, n in enumerate("ifgo")},
                          grad_h=np.array([[float(hh.grad.norm()) for hh in hs]]), grad_c=None, grad_h_last=None,
                          out=out.detach().numpy(), loss=loss.item(),
                          spectral_radius={f"W_h{n}": [float(np.abs(np.linalg.eigvals(Whh[k * H:(k + 1) * H].numpy())).max())]
                                           for k, n in enumerate("ifgo")})
        opt.step()
        records.append(EpochRecord(epoch=ep, step=ep, loss=loss.item(), grad_norm=gn, prediction=pred, probe=probe))
    return records, [vocab[k] for k in x.tolist()]


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


def every_figure() -> dict[str, list[go.Figure]]:
    """Each figure function of rnnviz.figures -> figures it built, from the usual and the odd cases."""
    from rnnviz import figures as F
    rs, (lstm, labels) = recs(6, probe_every=2), tiny_lstm_run(epochs=6, every=2)
    probes = [r.probe for r in lstm if r.probe is not None]
    basis = fit_pca_basis(probes, dims=3)
    rs[0].probe.grad_h[0, 0] = 0.0
    a, b = make_probe(L=2, H=100, seed=1), make_probe(seed=2, grad_scale=10)
    b.grad_h_last[0, :2] = 0.0
    bi = make_probe(L=2, seed=3)          # as a bidirectional probe: 1 layer, 2 directions
    bi.directions = 2
    cut = make_probe(T=12, seed=4)
    cut.tbptt = 5
    x = np.sin(np.linspace(0, 6, 20))
    sine = {"kind": "values", "input": x[:-1].tolist(), "target": x[1:].tolist(), "predicted": x[1:].tolist(),
            "mse": 1e-4}
    twin = [EpochRecord(epoch=r.epoch, step=r.step, loss=r.loss * (1 + 1e-9 * (r.epoch % 2))) for r in lstm]
    return {
        "loss_figure": [loss_figure({"rnn": rs, "lstm": lstm}), loss_figure({"a": rs}, log_y=True, thinned=True),
                        loss_figure({})],
        "accuracy_figure": [accuracy_figure({"a": [EpochRecord(epoch=1, step=1, loss=1.0, train_acc=0.5,
                                                               val_acc=0.25)]})],
        "prediction_table_figure": [prediction_table_figure(lstm), prediction_table_figure(recs(30), max_rows=4)],
        "topk_figure": [topk_figure(lstm[-1].prediction), topk_figure(tokens_pred(list("ab"), [None, None]))],
        "grad_norm_clip_figure": [grad_norm_clip_figure(rs, thinned=True, clip=2.0), grad_norm_clip_figure([])],
        "trajectory_figure": [trajectory_figure(probes[-1], basis, labels),
                              trajectory_figure(probes[-1], basis, labels, dims=3),
                              trajectory_figure(make_probe(H=1), fit_pca_basis([make_probe(H=1)]))],
        "hidden_heatmap": [hidden_heatmap(probes[-1], labels), hidden_heatmap(a, None, layer=0, max_units=10),
                           hidden_heatmap(bi, None)],
        "gate_heatmaps": [gate_heatmaps(probes[-1], labels, "lstm"), gate_heatmaps(make_probe(cell="gru"), None, "gru"),
                          gate_heatmaps(make_probe(cell="rnn"), None, "rnn")],
        "gate_means_figure": [gate_means_figure(probes[-1], labels, "lstm")],
        "grad_norm_figure": [grad_norm_figure({"lstm": probes[-1], "b": b}, labels, which="grad_h_last"),
                             grad_norm_figure({"bi": bi, "cut": cut})],
        "grad_heatmap": [grad_heatmap(rs, thinned=True), grad_heatmap(lstm, labels=labels),
                         grad_heatmap([EpochRecord(epoch=1, step=1, loss=1.0, probe=bi)], direction=1),
                         grad_heatmap([EpochRecord(epoch=1, step=1, loss=1.0, probe=cut)])],
        "spectral_radius_figure": [spectral_radius_figure(lstm), spectral_radius_figure(rs, thinned=True)],
        "sine_figure": [sine_figure(sine, free_running=[0.1, 0.2]), sine_figure(None)],
        "char_probs_figure": [char_probs_figure([{"a": 0.7, "b": 0.3}, {"a": 0.1, "c": 0.9}], chosen=["a", "c"])],
        "word_tensor_figure": [F.word_tensor_figure(["hello", "eolll"], np.eye(4)[[[0, 1, 2, 2, 3], [1, 3, 2, 2, 2]]],
                                                    "one-hot", list("helo")),
                               F.word_tensor_figure(["ab"], np.array([[[0.5, -1.0], [2.0, 0.0]]]), "embedding"),
                               F.word_tensor_figure([], np.zeros((0,)), "nothing")],
        "gradcheck_figure": [F.gradcheck_figure({"W": 1e-9, "b": 0.0, "U": 1e-3}, 1e-6),
                             F.gradcheck_figure({"0": 1e-9, "1": 1e-3}, 1e-6, "t", "time step t", horizontal=False)],
        "loss_difference_figure": [F.loss_difference_figure(twin, lstm, thinned=True)],
        "empty_figure": [F.empty_figure("nothing yet", "A title")],
        "themed": [F.themed(topk_figure(lstm[-1].prediction), "dark"), F.themed(sine_figure(sine), "dark")],
        "refit": [F.refit(grad_norm_figure({"cut": cut}), 380), F.refit(F.empty_figure("nothing"), 300)],
        "apply_style": [F.apply_style(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "A title", ["a note"], height=300)],
    }


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


def test_grad_heatmap_hover_text_is_each_measured_value():
    rs = recs(8)
    first = grad_heatmap(rs)
    assert first.data[0].customdata[1][0] == f"{float(rs[1].probe.grad_h[0, 0]):.6g}"
    rs[1].probe.grad_h[0, 0] = 5.0
    assert grad_heatmap(rs).data[0].customdata[1][0] == "5"


def test_counts_in_words_agree_with_their_number():
    assert [counted(n, "run") for n in (0, 1, 2, 1200)] == ["0 runs", "1 run", "2 runs", "1,200 runs"]
    assert counted(1, "value") == "1 value" and counted(3, "sample", "samples so far") == "3 samples so far"


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
