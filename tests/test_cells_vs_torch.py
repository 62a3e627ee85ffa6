"""The instrumented loop must be torch.nn, step for step: outputs, states, parameter gradients,
and ||dL/dh_t|| equal to torch.autograd.grad of the same loss with respect to h_t."""
import itertools
import pickle

import pytest
import torch
import torch.nn.functional as F

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine
from rnnviz.model import RecurrentNet
from rnnviz.tasks import make_task

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
SHAPES = [(1, 1, 3, 4), (3, 7, 5, 4), (2, 12, 16, 6)]  # (B, T, H, V)


def _model(cell, layers, H, V, dtype, nonlin="tanh", embedding=0, head=True, seed=0):
    torch.manual_seed(seed)
    return RecurrentNet(ModelConfig(cell=cell, hidden_size=H, num_layers=layers, nonlinearity=nonlin,
                                    embedding_dim=embedding, head=head), V, V if head else H, True).to(dtype)


@pytest.mark.parametrize("cell,layers,dtype,shape", [
    (c, L, d, s) for c, L, d, s in itertools.product(["rnn", "lstm", "gru"], [1, 2], [torch.float64, torch.float32], SHAPES)])
def test_recorded_forward_and_grads_equal_torch_nn(cell, layers, dtype, shape):
    B, T, H, V = shape
    model = _model(cell, layers, H, V, dtype)
    x = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(2))
    h0 = model.zero_state(B)
    h0 = tuple(torch.randn_like(s) * 0.5 for s in h0) if isinstance(h0, tuple) else torch.randn_like(h0) * 0.5

    out_f, st_f = model(x, h0)  # fused torch.nn path
    loss_f = F.cross_entropy(out_f.reshape(-1, V), y.reshape(-1))
    g_f = torch.autograd.grad(loss_f, list(model.parameters()))
    out_r, st_r, traces = model.forward_recorded(x, h0)
    loss_r = F.cross_entropy(out_r.reshape(-1, V), y.reshape(-1))
    g_r = torch.autograd.grad(loss_r, list(model.parameters()))

    tol = TOL[dtype]
    assert (out_f - out_r).abs().max() < tol
    for a, b in zip(st_f if isinstance(st_f, tuple) else [st_f], st_r if isinstance(st_r, tuple) else [st_r]):
        assert (a - b).abs().max() < tol
    for (name, _), a, b in zip(model.named_parameters(), g_f, g_r):
        assert (a - b).abs().max() < tol * max(1.0, a.abs().max().item()), name
    # the recorded h_t of the last layer are the torch.nn output sequence
    assert (torch.stack(traces[-1].h, 1) - model.rnn(model.encode(x), h0)[0]).abs().max() < tol
    if cell != "rnn":
        assert set(traces[0].gates) == set("ifgo" if cell == "lstm" else "rzn")
        assert len(traces[0].gates[next(iter(traces[0].gates))]) == T


@pytest.mark.parametrize("nonlin", ["tanh", "relu"])
def test_rnn_relu_and_embedding(nonlin):
    model = _model("rnn", 2, 6, 5, torch.float64, nonlin=nonlin, embedding=3)
    x = torch.randint(0, 5, (2, 8))
    a, _ = model(x)
    b, _, _ = model.forward_recorded(x)
    assert (a - b).abs().max() < 1e-12


def _cell_reference(model, x, y, kind_loss):
    """An independent implementation with torch.nn.*Cell modules on the same weights; returns the
    per-layer list of h_t tensors (differentiable) and the loss."""
    cfg = model.cfg
    cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cfg.cell]
    inp = model.encode(x)
    hs_all = []
    for k in range(cfg.num_layers):
        cell = cls(inp.shape[-1], cfg.hidden_size, **({"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}))
        cell = cell.to(inp.dtype)
        with torch.no_grad():
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, n).copy_(getattr(model.rnn, f"{n}_l{k}"))
        h = torch.zeros(x.shape[0], cfg.hidden_size, dtype=inp.dtype)
        c = torch.zeros_like(h)
        hs = []
        for t in range(inp.shape[1]):
            if cfg.cell == "lstm":
                h, c = cell(inp[:, t], (h, c))
            else:
                h = cell(inp[:, t], h)
            hs.append(h)
        hs_all.append(hs)
        inp = torch.stack(hs, 1)
    out = model.output(inp)
    return hs_all, out


@pytest.mark.parametrize("cell,layers", list(itertools.product(["rnn", "lstm", "gru"], [1, 2])))
def test_grad_norms_equal_autograd(cell, layers):
    task = make_task("seoul")
    m, t = task.suggested()
    eng = TorchEngine(task, ModelConfig(cell=cell, hidden_size=9, num_layers=layers),
                      TrainConfig(dtype="float64", seed=3))
    batch = task.probe()
    probe = eng.probe(batch)
    hs, out = _cell_reference(eng.model, batch.x, batch.y, "classify")
    V = out.shape[-1]
    loss = F.cross_entropy(out.reshape(-1, V), batch.y.reshape(-1), ignore_index=-100)
    assert abs(loss.item() - probe.loss) < 1e-10
    flat = [h for layer in hs for h in layer]
    grads = torch.autograd.grad(loss, flat, retain_graph=True)
    T = batch.steps
    for k in range(layers):
        ref = torch.stack([g[0].norm() for g in grads[k * T:(k + 1) * T]]).numpy()
        assert abs(probe.grad_h[k] - ref).max() < 1e-10
    # L = loss of the final step only
    last = F.cross_entropy(out[0, -1:], batch.y[0, -1:])
    g_last = torch.autograd.grad(last, flat)
    ref_last = torch.stack([g[0].norm() for g in g_last[(layers - 1) * T:]]).numpy()
    assert abs(probe.grad_h_last[-1] - ref_last).max() < 1e-10
    # the hidden states recorded are the reference's
    assert abs(probe.hidden[-1] - torch.stack([h[0] for h in hs[-1]]).detach().numpy()).max() < 1e-10


def _step_probe_and_autograd(eng, task):
    """The probe a training step records on the probe batch, and autograd's at the weights before the
    update; asserts their states, gradients, outputs and gates agree. (step's result, autograd's probe)"""
    batch = task.probe()
    expected = eng.probe_autograd(batch, last=False)  # before the update
    res = eng.train_step(batch, record=True)
    for name in ("hidden", "cell", "grad_h", "grad_c", "out"):
        a, b = getattr(res.probe, name), getattr(expected, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert abs(a - b).max() < 1e-10, name
    assert res.probe.gates.keys() == expected.gates.keys()
    for g in expected.gates:
        assert abs(res.probe.gates[g] - expected.gates[g]).max() < 1e-12
    return res, expected


@pytest.mark.parametrize("cell,layers,peephole", [
    ("rnn", 1, False), ("rnn", 2, False), ("lstm", 1, False), ("lstm", 2, False), ("gru", 1, False),
    ("gru", 2, False), ("lstm", 2, True)])
def test_grad_norms_recorded_in_training_step_equal_autograd(cell, layers, peephole):
    """When the probe is the training batch, the trainer reads the probe from the step itself: the same
    numbers as torch.autograd.grad with respect to every h_t and c_t at the weights before the update."""
    task = make_task("hihell")
    eng = TorchEngine(task, ModelConfig(cell=cell, hidden_size=5, num_layers=layers, peephole=peephole),
                      TrainConfig(dtype="float64", lr=0.1))
    res, expected = _step_probe_and_autograd(eng, task)
    assert abs(res.probe.loss - expected.loss) < 1e-12
    assert abs(res.probe.grad_h).min() > 0


def test_regression_task_grad_norms_with_mask():
    task = make_task("adding", lag=12)
    eng = TorchEngine(task, ModelConfig(cell="gru", hidden_size=6), TrainConfig(dtype="float64"))
    batch = task.probe()
    p = eng.probe(batch)
    # the loss sits on the last step only, so both definitions agree
    assert abs(p.grad_h - p.grad_h_last).max() < 1e-10
    assert p.grad_h[-1, 0] < p.grad_h[-1, -1] * 10  # finite, positive numbers
    assert (p.grad_h > 0).all()


def test_peephole_lstm_gradients_match_finite_differences():
    torch.manual_seed(0)
    model = RecurrentNet(ModelConfig(cell="lstm", peephole=True, hidden_size=4, num_layers=2), 3, 3, True).double()
    x = torch.randint(0, 3, (2, 5))
    y = torch.randint(0, 3, (2, 5))

    def loss_fn():
        out, _ = model(x)
        return F.cross_entropy(out.reshape(-1, 3), y.reshape(-1))
    params = dict(model.named_parameters())
    grads = dict(zip(params, torch.autograd.grad(loss_fn(), list(params.values()))))
    assert any("peephole" in n for n in params)
    eps = 1e-6
    with torch.no_grad():
        for name, p in params.items():
            flat = p.view(-1)
            for i in range(0, flat.numel(), max(1, flat.numel() // 5)):
                old = flat[i].item()
                flat[i] = old + eps
                up = loss_fn().item()
                flat[i] = old - eps
                down = loss_fn().item()
                flat[i] = old
                num = (up - down) / (2 * eps)
                ana = grads[name].view(-1)[i].item()
                assert abs(num - ana) <= 1e-6 * max(1.0, abs(num) + abs(ana)), (name, i, num, ana)
    # the peepholes matter: the gradient reaches them
    assert grads["rnn.peephole_f_l0"].abs().sum() > 0


@pytest.mark.parametrize("cell,layers,dtype,emb", [
    ("rnn", 1, "float64", 0), ("lstm", 2, "float64", 3), ("gru", 2, "float64", 0),
    ("lstm", 1, "float32", 0), ("gru", 1, "float32", 4)])
def test_engine_probe_equals_autograd_probe(cell, layers, dtype, emb):
    """The torch engine probes with NumPy BPTT on views of its weights; it must be autograd's numbers."""
    task = make_task("anbn")
    eng = TorchEngine(task, ModelConfig(cell=cell, hidden_size=7, num_layers=layers, embedding_dim=emb,
                                        dropout=0.3 if layers > 1 else 0.0), TrainConfig(dtype=dtype, seed=5))
    batch = task.probe()
    a, b = eng.probe(batch), eng.probe_autograd(batch)
    tol = 1e-10 if dtype == "float64" else 1e-5
    for name in ("hidden", "cell", "grad_h", "grad_c", "grad_h_last", "out"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert abs(x - y).max() < tol * max(1.0, abs(y).max()), name
    for g in b.gates:
        assert abs(a.gates[g] - b.gates[g]).max() < tol
    assert abs(a.loss - b.loss) < tol


def test_one_hot_input_is_kept_while_unchanged():
    """The one-hot of the same unchanged batch is built once (the small tasks feed one batch at every
    step); a change in place, a new dtype or another batch builds it again; pickles leave it out."""
    model = _model("rnn", 1, 4, 5, torch.float32)
    x = torch.tensor([[0, 1, 2]])
    a = model.encode(x)
    assert model.encode(x) is a
    assert model.encode(x.clone()) is not a
    x[0, 0] = 3
    assert model.encode(x)[0, 0].tolist() == [0, 0, 0, 1, 0]
    model.double()
    assert model.encode(x).dtype == torch.float64
    assert "_kept_one_hot" not in pickle.loads(pickle.dumps(model)).__dict__


# ---- two directions and a projection (torch.nn's bidirectional=True, proj_size=P) -------------------
DIRECTED = [("rnn", True, 0), ("gru", True, 0), ("lstm", True, 0), ("lstm", False, 2), ("lstm", True, 2)]


def _directed(cell, bidirectional, proj, layers, H, V, dtype, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(cell=cell, hidden_size=H, num_layers=layers, bidirectional=bidirectional, proj_size=proj)
    return RecurrentNet(cfg, V, V, True).to(dtype)


def _plain_module(model):
    """A plain torch.nn module of the same kind, loaded with the model's weights by name (what a
    checkpoint's weights load into)."""
    cfg = model.cfg
    kw = {"proj_size": cfg.proj_size} if cfg.proj_size else {}
    plain = model.spec.torch_cls(model.rnn.input_size, cfg.hidden_size, cfg.num_layers, batch_first=True,
                                 bidirectional=cfg.bidirectional, **kw).to(model.dtype)
    plain.load_state_dict({k.removeprefix("rnn."): v for k, v in model.state_dict().items() if k.startswith("rnn.")})
    return plain


def _stepwise_reference(model, x, state=None):
    """An independent implementation: for every layer and direction a ONE-layer, one-direction torch.nn
    module of the same class with those weights, fed one time step at a time (the reverse direction from
    the last step to the first). Returns per row (layer * D + direction) the list of h_t in time order,
    each a differentiable tensor [B, P], and the model's output."""
    cfg = model.cfg
    D, P = cfg.directions, cfg.state_size
    inp = model.encode(x)
    B, T = inp.shape[:2]
    rows = []
    for k in range(cfg.num_layers):
        seqs = []
        for d in range(D):
            kw = {"proj_size": cfg.proj_size} if cfg.proj_size else {}
            one = model.spec.torch_cls(inp.shape[-1], cfg.hidden_size, 1, batch_first=True, **kw).to(inp.dtype)
            sfx = "_reverse" if d else ""
            with torch.no_grad():
                for name, p in one.named_parameters():
                    p.copy_(getattr(model.rnn, name.replace("_l0", f"_l{k}{sfx}")))
            h = torch.zeros(1, B, P, dtype=inp.dtype)
            st = (h, torch.zeros(1, B, cfg.hidden_size, dtype=inp.dtype)) if cfg.cell == "lstm" else h
            hs = [None] * T
            for t in (reversed(range(T)) if d else range(T)):
                _, st = one(inp[:, t:t + 1], st)
                # the next step must read the very tensor kept here, so its gradient is the total one
                hs[t] = h = (st[0] if cfg.cell == "lstm" else st)[0]
                st = (h[None], st[1]) if cfg.cell == "lstm" else h[None]
            rows.append(hs)
            seqs.append(torch.stack(hs, 1))
        inp = torch.cat(seqs, -1)
    return rows, model.output(inp)


@pytest.mark.parametrize("cell,bidirectional,proj", DIRECTED)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_bidirectional_and_projected_forward_and_grads_equal_torch_nn(cell, bidirectional, proj, layers, dtype):
    B, T, H, V = 3, 7, 5, 4
    model = _directed(cell, bidirectional, proj, layers, H, V, dtype)
    names = [n for n, _ in model.named_parameters()]
    assert ("rnn.weight_ih_l0_reverse" in names) == bidirectional
    assert ("rnn.weight_hr_l0" in names) == bool(proj)
    x = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(2))
    h0 = model.zero_state(B)
    h0 = tuple(torch.randn_like(s) * 0.5 for s in h0) if isinstance(h0, tuple) else torch.randn_like(h0) * 0.5

    out_f, st_f = model(x, h0)                       # the fused torch.nn module
    out_r, st_r, traces = model.forward_recorded(x, h0)
    tol = TOL[dtype]
    assert (out_f - out_r).abs().max() < tol
    for a, b in zip(st_f if isinstance(st_f, tuple) else [st_f], st_r if isinstance(st_r, tuple) else [st_r]):
        assert a.shape == b.shape and (a - b).abs().max() < tol
    g_f = torch.autograd.grad(F.cross_entropy(out_f.reshape(-1, V), y.reshape(-1)), list(model.parameters()))
    g_r = torch.autograd.grad(F.cross_entropy(out_r.reshape(-1, V), y.reshape(-1)), list(model.parameters()))
    for name, a, b in zip(names, g_f, g_r):
        assert (a - b).abs().max() < tol * max(1.0, a.abs().max().item()), name
    # the weights, as a checkpoint saves them, load into plain torch.nn and give its output sequence
    seq, _ = _plain_module(model)(model.encode(x), h0)
    D, P = model.cfg.directions, model.cfg.state_size
    assert seq.shape == (B, T, D * P)
    top = [tr for tr in traces[-D:]]
    mine = torch.cat([torch.stack(tr.h[::-1] if tr.reverse else tr.h, 1) for tr in top], -1)
    assert (seq - mine).abs().max() < tol
    assert len(traces) == layers * D and [tr.reverse for tr in traces] == [bool(i % D) for i in range(layers * D)]


@pytest.mark.parametrize("cell,bidirectional,proj", DIRECTED)
@pytest.mark.parametrize("layers", [1, 2])
def test_bidirectional_and_projected_probe_equals_autograd(cell, bidirectional, proj, layers):
    """Both directions in the probe: h_t, and ||dL/dh_t|| (mean loss, last step's loss) of every row
    equal autograd.grad with respect to the h_t of the step-by-step reference, in time order."""
    task = make_task("seoul")
    eng = TorchEngine(task, ModelConfig(cell=cell, hidden_size=6, num_layers=layers, bidirectional=bidirectional,
                                        proj_size=proj), TrainConfig(dtype="float64", seed=3))
    batch = task.probe()
    probe = eng.probe(batch)
    rows, out = _stepwise_reference(eng.model, batch.x)
    V = out.shape[-1]
    loss = F.cross_entropy(out.reshape(-1, V), batch.y.reshape(-1), ignore_index=-100)
    assert abs(loss.item() - probe.loss) < 1e-10
    D, T = eng.mcfg.directions, batch.steps
    assert probe.directions == D and probe.layers == layers and probe.hidden.shape == (layers * D, T, eng.mcfg.state_size)
    flat = [h for row in rows for h in row]
    grads = torch.autograd.grad(loss, flat, retain_graph=True)
    last = F.cross_entropy(out[0, -1:], batch.y[0, -1:])
    g_last = torch.autograd.grad(last, flat, allow_unused=True)
    for i in range(layers * D):
        ref = torch.stack([g[0].norm() for g in grads[i * T:(i + 1) * T]]).numpy()
        assert abs(probe.grad_h[i] - ref).max() < 1e-10, i
        ref_last = torch.stack([torch.zeros(()) if g is None else g[0].norm() for g in g_last[i * T:(i + 1) * T]])
        assert abs(probe.grad_h_last[i] - ref_last.numpy()).max() < 1e-10, i
        assert abs(probe.hidden[i] - torch.stack([h[0] for h in rows[i]]).detach().numpy()).max() < 1e-10, i
    if bidirectional:   # the reverse direction's h_t reads the steps after t: the last step's loss reaches
        rev = probe.grad_h_last[probe.row(-1, 1)]          # only its h_{T-1}, the forward direction's every h_t
        assert (rev[:-1] == 0).all() and rev[-1] > 0 and (probe.grad_h_last[probe.row(-1, 0)] > 0).all()
        assert probe.row(-1, 1) == layers * 2 - 1 and probe.row(0, 0) == 0
    if cell == "lstm":
        assert probe.cell.shape == (layers * D, T, 6) and probe.gates["f"].shape == (layers * D, T, 6)


@pytest.mark.parametrize("cell,bidirectional,proj", DIRECTED)
def test_bidirectional_and_projected_training_step_probe_equals_autograd(cell, bidirectional, proj):
    task = make_task("hihell")
    eng = TorchEngine(task, ModelConfig(cell=cell, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                                        proj_size=proj), TrainConfig(dtype="float64", lr=0.1))
    res, expected = _step_probe_and_autograd(eng, task)
    assert res.probe.directions == expected.directions == (2 if bidirectional else 1)


def test_spectral_radius_of_projected_and_reverse_blocks():
    task = make_task("hihell")
    eng = TorchEngine(task, ModelConfig(cell="lstm", hidden_size=5, bidirectional=True, proj_size=3), TrainConfig())
    rho = eng.spectral_radius()
    assert set(rho) == {"i", "f", "g", "o", "i reverse", "f reverse", "g reverse", "o reverse"}
    sd = eng.state_dict()
    blk = sd["rnn.weight_hh_l0_reverse"].double()[5:10] @ sd["rnn.weight_hr_l0_reverse"].double()   # f, [H, H]
    assert rho["f reverse"][0] == pytest.approx(torch.linalg.eigvals(blk).abs().max().item(), rel=1e-9)


def test_old_probes_load_as_one_direction():
    from rnnviz.probes import Probe
    eng = TorchEngine(make_task("hihell"), ModelConfig(cell="gru", hidden_size=4), TrainConfig())
    d = eng.probe(eng.task.probe()).to_json()
    del d["directions"], d["tbptt"]                   # as history.json files written before them
    p = Probe.from_json(d)
    assert p.directions == 1 and p.tbptt == 0 and p.layers == 1 and p.row(-1) == 0


@pytest.mark.parametrize("bad,msg", [
    (dict(cell="gru", proj_size=2), "only for the lstm"), (dict(cell="lstm", hidden_size=4, proj_size=4), "proj_size"),
    (dict(cell="lstm", peephole=True, bidirectional=True), "peephole"), (dict(cell="lstm", proj_size=-1), "proj_size")])
def test_bad_direction_and_projection_settings_raise(bad, msg):
    with pytest.raises(ValueError, match=msg):
        ModelConfig(**bad).validate()


def test_numpy_engine_refuses_two_directions_and_projections():
    from rnnviz.numpy_engine.adapter import NumpyEngine
    task = make_task("hihell")
    for m in (ModelConfig(cell="rnn", bidirectional=True), ModelConfig(cell="lstm", proj_size=3)):
        with pytest.raises(ValueError, match="torch engine"):
            NumpyEngine(task, m, TrainConfig(engine="numpy"))


def test_orthogonal_init_of_projected_bidirectional_blocks():
    """init=orthogonal: each [H, P] gate block of W_hh has orthonormal columns, in both directions; the
    forget bias reaches the reverse direction too."""
    from rnnviz.engine import build_model
    task = make_task("hihell")
    model = build_model(task, ModelConfig(cell="lstm", hidden_size=6, proj_size=4, bidirectional=True),
                        TrainConfig(init="orthogonal", forget_bias=1.0, dtype="float64"))
    for sfx in ("", "_reverse"):
        w = getattr(model.rnn, f"weight_hh_l0{sfx}").detach().view(4, 6, 4)
        for blk in w:
            assert torch.allclose(blk.T @ blk, torch.eye(4, dtype=torch.float64), atol=1e-12)
        b = getattr(model.rnn, f"bias_ih_l0{sfx}").detach()
        assert b[6:12].min() > 1.0 - 1 / 6 ** 0.5 - 1e-12 and b[:6].max() < 1 / 6 ** 0.5
