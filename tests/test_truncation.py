"""Truncated BPTT with a given length (TrainConfig.tbptt), as the sine lecture (course seed 003) trains:
the trainer's loss history equals the lecture's loop written in plain torch.nn (float64), for both
engines; the probe's ||dL/dh_t|| equals autograd with the state detached every tbptt steps."""
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnviz.callbacks import Recorder
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine, build_model
from rnnviz.numpy_engine.adapter import NumpyEngine
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer
from rnnviz.truncation import cut_batches, pieces

K = 7   # the truncation length: a 20-step window is cut 7 + 7 + 6


def _sine(**options):
    return make_task("sine", seq_len=20, n_windows=6, **options)


def lecture_losses(task, mcfg, tcfg, epochs):
    """The lecture's training loop (003), pieces of K steps: rnn(x, hidden), hidden = hidden.data, one
    optimizer step per piece; torch.nn modules and torch.optim, the same initial weights."""
    model = build_model(task, mcfg, tcfg)
    rnn = torch.nn.RNN(1, mcfg.hidden_size, batch_first=True).double()
    fc = torch.nn.Linear(mcfg.hidden_size, 1).double()
    rnn.load_state_dict({k.removeprefix("rnn."): v for k, v in model.state_dict().items() if k.startswith("rnn.")})
    fc.load_state_dict({k.removeprefix("head."): v for k, v in model.state_dict().items() if k.startswith("head.")})
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = (torch.optim.SGD(params, lr=tcfg.lr) if tcfg.optimizer == "sgd" else torch.optim.Adam(params, lr=tcfg.lr))
    losses = []
    for epoch in range(1, epochs + 1):
        hidden, total, n = None, 0.0, 0
        for window in task.train_batches(epoch, np.random.default_rng(0)):
            for s in range(0, window.steps, K):
                x, y = window.x[:, s:s + K].double(), window.y[:, s:s + K].double()
                out, hidden = rnn(x, hidden)
                hidden = hidden.data                   # avoid backpropagating through the entire history
                loss = F.mse_loss(fc(out), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, n = total + loss.item(), n + 1
        losses.append(total / n)
    return losses


@pytest.mark.parametrize("engine,optimizer", [("torch", "adam"), ("torch", "sgd"), ("numpy", "sgd")])
def test_training_with_tbptt_is_the_lectures_loop(engine, optimizer):
    task = _sine()
    mcfg = ModelConfig(cell="rnn", hidden_size=8)
    tcfg = TrainConfig(optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.1, epochs=3, dtype="float64",
                       carry_state=True, tbptt=K, engine=engine)
    rec = Recorder()
    tr = Trainer(task, mcfg, tcfg, [rec])
    assert tr.run() == "finished"
    assert tr.step == 3 * 6 * 3                        # 3 epochs x 6 windows x 3 pieces: a step per piece
    ours = [r.loss for r in rec.history.records]
    ref = lecture_losses(task, mcfg, tcfg, 3)
    assert np.max(np.abs(np.array(ours) - ref) / np.abs(ref)) < 1e-10
    assert ours[-1] < ours[0]
    # without the cuts the run is another one (one step per window)
    whole = Trainer(task, mcfg, dataclasses.replace(tcfg, tbptt=0), [Recorder()])
    whole.run()
    assert whole.step == 3 * 6


def _reference_grads(model, batch, k):
    """||dL_p/dh_t|| with torch.nn cells step by step, h detached every k steps, L_p the mean loss of the
    piece holding t; and the same for the final step's loss (reaches the last piece only)."""
    cfg = model.cfg
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cfg.cell]
    cell = cls(1, cfg.hidden_size).double()
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(model.rnn, f"{n}_l0"))
    x, y = batch.x.double(), batch.y.double()
    h = torch.zeros(1, cfg.hidden_size, dtype=torch.float64)
    c = torch.zeros_like(h)
    norms, last, outs = [], [], []
    for s in range(0, batch.steps, k):
        h, c = h.detach(), c.detach()
        hs = []
        for t in range(s, min(s + k, batch.steps)):
            if cfg.cell == "lstm":
                h, c = cell(x[:, t], (h, c))
            else:
                h = cell(x[:, t], h)
            hs.append(h)
        out = model.output(torch.stack(hs, 1))
        outs.append(out)
        loss = F.mse_loss(out, y[:, s:s + k])
        norms += [g[0].norm().item() for g in torch.autograd.grad(loss, hs, retain_graph=True)]
        if s + k >= batch.steps:
            g = torch.autograd.grad(F.mse_loss(out[:, -1], y[:, -1]), hs)
            last = [0.0] * s + [v[0].norm().item() for v in g]
    full = F.mse_loss(torch.cat(outs, 1), y).item()
    return np.array(norms), np.array(last), full


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("engine", ["torch", "numpy", "autograd"])
def test_probe_with_tbptt_equals_autograd_with_the_cuts(cell, engine):
    task = _sine()
    mcfg, tcfg = ModelConfig(cell=cell, hidden_size=6), TrainConfig(dtype="float64", tbptt=K, seed=2)
    eng = NumpyEngine(task, mcfg, tcfg) if engine == "numpy" else TorchEngine(task, mcfg, tcfg)
    batch = task.probe()
    if engine == "autograd":          # the path of what the NumPy twin cannot run
        eng._net = None
    p = eng.probe(batch)
    ref, ref_last, loss = _reference_grads(eng.model if engine != "numpy" else TorchEngine(task, mcfg, tcfg).model,
                                           batch, K)
    assert p.tbptt == K and abs(p.loss - loss) < 1e-12
    assert np.abs(p.grad_h[0] - ref).max() < 1e-10
    assert np.abs(p.grad_h_last[0] - ref_last).max() < 1e-10
    assert (p.grad_h_last[0, :14] == 0).all() and (p.grad_h_last[0, 14:] > 0).all()
    # the forward is the one without cuts: the same h_t
    whole = (NumpyEngine if engine == "numpy" else TorchEngine)(task, mcfg, dataclasses.replace(tcfg, tbptt=0))
    q = whole.probe(batch)
    assert np.abs(p.hidden - q.hidden).max() < 1e-12 and q.tbptt == 0
    assert np.abs(p.grad_h[0, [6, 13]] - q.grad_h[0, [6, 13]]).min() > 1e-6   # the cut changes the gradient there


def test_pieces_and_their_continuation():
    b = _sine().probe()
    ps = pieces(b, K)
    assert [p.steps for p in ps] == [7, 7, 6] and torch.equal(torch.cat([p.x for p in ps], 1), b.x)
    assert pieces(b, 0) == [b] and pieces(b, 20) == [b]
    batches, cont = cut_batches([b, b], K)
    assert len(batches) == 6 and cont == [False, True, True, False, True, True]


def test_tbptt_needs_a_sequential_task_and_a_sane_length():
    with pytest.raises(ValueError, match="sequential"):
        Trainer(make_task("hihell"), ModelConfig(), TrainConfig(tbptt=3))
    with pytest.raises(ValueError, match="tbptt"):
        TrainConfig(tbptt=-1).validate()
