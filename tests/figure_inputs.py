"""What the figure tests draw: made-up probes and records, a real tiny LSTM run, every figure function's
figures (the usual and the odd cases), and the rows of the HTML table of predictions."""
from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import torch

from rnnviz.figures import (accuracy_figure, char_probs_figure, fit_pca_basis, gate_heatmaps, gate_means_figure,
                            grad_heatmap, grad_norm_clip_figure, grad_norm_figure, hidden_heatmap, loss_figure,
                            prediction_table_figure, sine_figure, spectral_radius_figure, topk_figure,
                            trajectory_figure)
from rnnviz.probes import Probe
from rnnviz.recorder import EpochRecord


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
                             grad_norm_figure({"bi": bi, "cut": cut}), grad_norm_figure({"b": b}, tick_inputs=False)],
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
