"""The NumPy engine against torch, micrograd style: build the same network in both, compare everything.

torch side: nn.RNN/LSTM/GRU(batch_first=True) + nn.Linear (+ nn.Embedding) for outputs, loss and
parameter gradients; the same weights in an nn.*Cell loop for the per-step tensors h_t, c_t whose
autograd.grad is the total dL/dh_t the engine must reproduce.
"""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnnviz.config import ModelConfig
from rnnviz.numpy_engine import (BUGS, IGNORE, SGD, Adam, NetConfig, RMSprop, backward, check_engine,
                                 clip_grad_norm, engine_loss_fn, format_errors, forward, forward_backward,
                                 gradient_check, init_params, loss_and_grad, make_optimizer, param_shapes,
                                 params_from_state_dict)

MODULES = {"rnn": (nn.RNN, nn.RNNCell), "lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
SHAPES = [(1, 1, 3), (3, 5, 7), (1, 9, 7), (3, 9, 3)]   # (B, T, H)
V, F_IN, E, O = 5, 3, 4, 4                               # vocab, real features, embedding dim, head outputs


class Twin(nn.Module):
    """The torch version of a NetConfig."""

    def __init__(self, cfg: NetConfig, dtype):
        super().__init__()
        self.cfg = cfg
        if cfg.embedding_dim:
            self.embedding = nn.Embedding(cfg.input_size, cfg.embedding_dim)
        self.kw = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
        self.rnn = MODULES[cfg.cell][0](cfg.embedding_dim or cfg.input_size, cfg.hidden_size,
                                        num_layers=cfg.num_layers, batch_first=True, **self.kw)
        if cfg.head:
            self.head = nn.Linear(cfg.hidden_size, cfg.output_size)
        self.dtype = dtype
        self.to(dtype)

    def inputs(self, x):
        if x.dtype != torch.long:
            return x
        return self.embedding(x) if self.cfg.embedding_dim else F.one_hot(x, self.cfg.input_size).to(self.dtype)

    def forward(self, x, h0, c0):
        z, _ = self.rnn(self.inputs(x), (h0, c0) if self.cfg.cell == "lstm" else h0)
        return self.head(z) if self.cfg.head else z

    def stepwise(self, x, h0, c0):
        """Cell by cell, step by step: returns (out, hs, cs) with hs[k][t] the tensor h_t of layer k."""
        cfg, inp = self.cfg, self.inputs(x)
        seq = [inp[:, t] for t in range(inp.shape[1])]
        hs, cs = [], []
        for k in range(cfg.num_layers):
            cell = MODULES[cfg.cell][1](seq[0].shape[-1], cfg.hidden_size, **self.kw).to(self.dtype)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                setattr(cell, name, getattr(self.rnn, f"{name}_l{k}"))   # share the very same Parameters
            h, c = h0[k], (c0[k] if c0 is not None else None)
            hs.append([]), cs.append([])
            for x_t in seq:
                if cfg.cell == "lstm":
                    h, c = cell(x_t, (h, c))
                    cs[k].append(c)
                else:
                    h = cell(x_t, h)
                hs[k].append(h)
            seq = hs[k]
        top = torch.stack(seq, 1)
        return (self.head(top) if cfg.head else top), hs, cs


def torch_loss(cfg, out, y, mask, reduce="mean"):
    """The rnnviz.tasks definition (masked_loss / step_losses), written again in torch."""
    if cfg.kind == "classify":
        per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE,
                              reduction="none").view(y.shape)
        counted = (y != IGNORE).to(out.dtype)
    else:
        per = ((out - y) ** 2).mean(-1)
        counted = torch.ones_like(per) if mask is None else mask
    if reduce == "mean":
        return (per * counted).sum() / counted.sum()
    last = [int(torch.nonzero(row)[-1]) for row in counted]      # each row's final counted step
    return torch.stack([per[b, t] for b, t in enumerate(last)]).mean()


def make_case(cell, nonlin, layers, head, inp, kind, B, T, H, dtype=torch.float64, seed=0, given_state=None):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    cfg = NetConfig(cell=cell, nonlinearity=nonlin, num_layers=layers, hidden_size=H, head=head,
                    input_size=F_IN if inp == "real" else V, embedding_dim=E if inp == "embed" else 0,
                    output_size=O if head else H, kind=kind)
    twin = Twin(cfg, dtype)
    with torch.no_grad():                                # larger weights: gates far from 0.5, relu alive
        for p in twin.rnn.parameters():
            p.mul_(2.0)
    x = rng.standard_normal((B, T, F_IN)) if inp == "real" else rng.integers(0, V, (B, T))
    mask = None
    if kind == "classify":
        y = rng.integers(0, cfg.output_size, (B, T))
        y[rng.random((B, T)) < 0.3] = IGNORE
        y[:, -1] = rng.integers(0, cfg.output_size, B)    # every row counts at least once
    else:
        y = rng.standard_normal((B, T, cfg.output_size))
        if T > 1:
            mask = (rng.random((B, T)) < 0.7).astype(float)
            mask[:, 0] = 1.0
    given_state = B == 3 if given_state is None else given_state
    h0 = rng.standard_normal((layers, B, H)) * 0.5 if given_state else np.zeros((layers, B, H))
    c0 = (rng.standard_normal((layers, B, H)) * 0.5 if given_state else np.zeros((layers, B, H))) \
        if cell == "lstm" else None
    npdt = np.float64 if dtype == torch.float64 else np.float32
    x = x.astype(npdt) if inp == "real" else x
    tt = lambda a, d=dtype: None if a is None else torch.tensor(a, dtype=d)
    case = dict(x=tt(x, None if inp != "real" else dtype), y=tt(y, torch.long if kind == "classify" else dtype),
                mask=tt(mask), h0=tt(h0), c0=tt(c0))
    npcase = dict(x=x, y=y, mask=mask, h0=h0.astype(npdt), c0=None if c0 is None else c0.astype(npdt))
    params = params_from_state_dict(twin.state_dict())
    assert set(params) == set(param_shapes(cfg)) and all(p.dtype == npdt for p in params.values())
    return cfg, twin, case, npcase, params


def compare_with_torch(cfg, twin, case, npcase, params, tol, reduce="mean"):
    # engine: forward + loss + backward
    loss, grads, cache, out = forward_backward(params, cfg, npcase["x"], npcase["y"], npcase["mask"],
                                               npcase["h0"], npcase["c0"], reduce=reduce)
    # torch: the fused module for outputs, loss and parameter gradients
    t_out = twin(case["x"], case["h0"], case["c0"])
    t_loss = torch_loss(cfg, t_out, case["y"], case["mask"], reduce)
    twin.zero_grad()
    t_loss.backward()
    close = lambda a, b, what: np.testing.assert_allclose(a, b.detach().numpy(), rtol=tol, atol=tol, err_msg=what)
    close(out, t_out, "out")
    close(loss, t_loss, "loss")
    for name, p in twin.named_parameters():
        close(grads[name], p.grad, f"grad {name}")
        assert grads[name].dtype == params[name].dtype
    # torch: the cell loop for the per-step tensors; dL/dh_t is autograd.grad of the loss w.r.t. them
    h0 = case["h0"].clone().requires_grad_()
    c0 = case["c0"].clone().requires_grad_() if case["c0"] is not None else None
    s_out, hs, cs = twin.stepwise(case["x"], h0, c0)
    close(s_out.detach().numpy(), t_out, "stepwise torch vs fused torch")
    s_loss = torch_loss(cfg, s_out, case["y"], case["mask"], reduce)
    flat_h = [h for layer in hs for h in layer]
    flat_c = [c for layer in cs for c in layer]
    extra = [h0] + ([c0] if c0 is not None else [])
    g = torch.autograd.grad(s_loss, flat_h + flat_c + extra)
    L, T = cfg.num_layers, len(hs[0])
    for k in range(L):
        for t in range(T):
            close(cache.hidden[k, t], hs[k][t], f"h layer {k} step {t}")
            close(cache.dL_dh[k, t], g[k * T + t], f"dL/dh layer {k} step {t}")
            if cfg.cell == "lstm":
                close(cache.cell[k, t], cs[k][t], f"c layer {k} step {t}")
                close(cache.dL_dc[k, t], g[L * T + k * T + t], f"dL/dc layer {k} step {t}")
    close(cache.dL_dh0, g[len(flat_h) + len(flat_c)], "dL/dh0")
    if c0 is not None:
        close(cache.dL_dc0, g[-1], "dL/dc0")
    assert cache.dL_dh.dtype == out.dtype == cache.hidden.dtype == params["rnn.weight_hh_l0"].dtype


@pytest.mark.parametrize("cell,nonlin", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("head", [True, False])
@pytest.mark.parametrize("inp,kind", [("onehot", "classify"), ("embed", "classify"), ("real", "regress"),
                                      ("real", "classify"), ("onehot", "regress")])
def test_matches_torch_float64(cell, nonlin, layers, head, inp, kind):
    for seed, (B, T, H) in enumerate(SHAPES):
        compare_with_torch(*make_case(cell, nonlin, layers, head, inp, kind, B, T, H, seed=seed), tol=1e-10)


@pytest.mark.parametrize("cell,nonlin", CELLS)
@pytest.mark.parametrize("inp,kind", [("onehot", "classify"), ("real", "regress")])
def test_loss_of_last_step_matches_torch(cell, nonlin, inp, kind):
    compare_with_torch(*make_case(cell, nonlin, 2, True, inp, kind, 3, 6, 5, seed=7), tol=1e-10, reduce="last")


@pytest.mark.parametrize("cell,nonlin", CELLS)
@pytest.mark.parametrize("inp,kind", [("onehot", "classify"), ("embed", "classify"), ("real", "regress")])
def test_matches_torch_float32(cell, nonlin, inp, kind):
    compare_with_torch(*make_case(cell, nonlin, 2, True, inp, kind, 3, 9, 7, dtype=torch.float32), tol=1e-5)


def test_backward_with_caller_d_out_is_reusable():
    """A second backward for another loss (the final step's) on the same cache, as the probe does."""
    cfg, twin, case, npcase, params = make_case("lstm", "tanh", 2, True, "onehot", "classify", 1, 8, 6)
    loss, _, cache, out = forward_backward(params, cfg, npcase["x"], npcase["y"])
    _, d_last = loss_and_grad(cfg, out, npcase["y"], reduce="last")
    assert not d_last[:, :-1].any()                      # y counts at the final step in this case
    res = backward(params, cfg, cache, d_last)
    _, grads2, cache2, _ = forward_backward(params, cfg, npcase["x"], d_out=d_last)
    np.testing.assert_array_equal(res.dL_dh, cache2.dL_dh)
    assert not np.allclose(res.dL_dh, cache.dL_dh)       # the first backward's record is untouched


def test_gates_are_named_in_torch_order():
    cfg, twin, case, npcase, params = make_case("lstm", "tanh", 1, True, "real", "regress", 2, 4, 3)
    _, cache = forward(params, cfg, npcase["x"], npcase["h0"], npcase["c0"])
    W, U, b = params["rnn.weight_ih_l0"], params["rnn.weight_hh_l0"], params["rnn.bias_ih_l0"] + params["rnn.bias_hh_l0"]
    H, t = 3, 2
    a = npcase["x"][:, t] @ W.T + cache.hidden[0, t - 1] @ U.T + b
    sig = lambda v: 1 / (1 + np.exp(-v))
    for j, (name, act) in enumerate([("i", sig), ("f", sig), ("g", np.tanh), ("o", sig)]):
        np.testing.assert_allclose(cache.gates[name][0, t], act(a[:, j * H:(j + 1) * H]), atol=1e-12)
    cfg, twin, case, npcase, params = make_case("gru", "tanh", 1, True, "real", "regress", 2, 4, 3)
    _, cache = forward(params, cfg, npcase["x"], npcase["h0"])
    W, U = params["rnn.weight_ih_l0"], params["rnn.weight_hh_l0"]
    bi, bh, h_prev = params["rnn.bias_ih_l0"], params["rnn.bias_hh_l0"], cache.hidden[0, t - 1]
    gi, gh = npcase["x"][:, t] @ W.T + bi, h_prev @ U.T + bh
    r, z = sig(gi[:, :H] + gh[:, :H]), sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    for name, want in (("r", r), ("z", z), ("n", n)):
        np.testing.assert_allclose(cache.gates[name][0, t], want, atol=1e-12)
    np.testing.assert_allclose(cache.hidden[0, t], (1 - z) * n + z * h_prev, atol=1e-12)


@pytest.mark.parametrize("cell,nonlin", CELLS)
@pytest.mark.parametrize("inp,kind", [("onehot", "classify"), ("embed", "regress"), ("real", "regress")])
def test_finite_differences(cell, nonlin, inp, kind):
    cfg, _, _, c, params = make_case(cell, nonlin, 2, True, inp, kind, 2, 4, 3, seed=3, given_state=True)
    errors = check_engine(params, cfg, c["x"], c["y"], c["mask"], c["h0"], c["c0"])
    assert max(errors.values()) < 1e-6, format_errors(errors)


def test_gradient_check_with_engine_loss_fn_on_float32_params():
    cfg, _, _, c, params = make_case("gru", "tanh", 1, True, "real", "regress", 2, 3, 4, dtype=torch.float32)
    errors = gradient_check(params, engine_loss_fn(cfg, c["x"], c["y"], c["mask"]), max_checks=8)
    assert set(errors) == set(params) and max(errors.values()) < 1e-6, format_errors(errors)


def test_gradient_check_on_a_users_own_function():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}
    x = rng.standard_normal(4)
    loss_fn = lambda p: float(np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2))
    t = np.tanh(params["W"] @ x + params["b"])
    good = {"b": 2 * t * (1 - t ** 2), "W": np.outer(2 * t * (1 - t ** 2), x)}
    bad = {"b": 2 * t * (1 - t), "W": good["W"]}      # the classic slip: tanh' written as 1 - t
    assert max(gradient_check(params, loss_fn, grads=good).values()) < 1e-7
    errors = gradient_check(params, loss_fn, grads=bad)
    assert errors["W"] < 1e-7 and errors["b"] > 1e-3 and "WRONG" in format_errors(errors)


@pytest.mark.parametrize("cell,nonlin,bug", [("lstm", "tanh", "output_sign"), ("gru", "tanh", "output_sign"),
                                             ("rnn", "relu", "output_sign"), ("lstm", "tanh", "forget_derivative"),
                                             ("lstm", "tanh", "tanh_derivative"), ("gru", "tanh", "tanh_derivative"),
                                             ("rnn", "tanh", "tanh_derivative"), ("rnn", "tanh", "no_bptt"),
                                             ("lstm", "tanh", "no_bptt"), ("gru", "tanh", "no_bptt")])
def test_injected_bugs_fail_the_gradient_check(cell, nonlin, bug):
    assert bug in BUGS
    cfg, _, _, c, params = make_case(cell, nonlin, 1, True, "onehot", "classify", 2, 5, 3, seed=4)
    errors = check_engine(params, cfg, c["x"], c["y"], bugs=(bug,))
    assert max(errors.values()) > 1e-3, format_errors(errors)


def test_config_from_model_config_and_default_init():
    model = ModelConfig(cell="gru", hidden_size=6, num_layers=2, embedding_dim=3)
    cfg = NetConfig.from_model_config(model, input_size=5, output_size=5, kind="classify")
    params = init_params(cfg, seed=0)
    assert {k: v.shape for k, v in params.items()} == param_shapes(cfg)
    loss, grads, cache, out = forward_backward(params, cfg, np.zeros((2, 3), int), np.ones((2, 3), int))
    assert out.shape == (2, 3, 5) and cache.gates["n"].shape == (2, 3, 2, 6) and cache.dL_dh.shape == (2, 3, 2, 6)
    assert out.dtype == cache.dL_dh.dtype == grads["embedding.weight"].dtype == np.float32
    with pytest.raises(ValueError, match="peephole"):
        NetConfig.from_model_config(ModelConfig(peephole=True), 4, 4, "classify")


def test_bad_bug_names_and_configs_raise():
    cfg, _, _, c, params = make_case("gru", "tanh", 1, True, "onehot", "classify", 1, 3, 3)
    for bugs in (("typo",), ("forget_derivative",)):
        with pytest.raises(ValueError):
            forward_backward(params, cfg, c["x"], c["y"], bugs=bugs)
    with pytest.raises(ValueError, match="dropout"):
        NetConfig(dropout=0.2)
    with pytest.raises(ValueError, match="output_size"):
        NetConfig(head=False, hidden_size=8, output_size=4)
    with pytest.raises(ValueError, match="parameters"):
        forward({k: v for k, v in params.items() if k != "head.bias"}, cfg, c["x"])


def _train(bugs, steps=150):
    """Predict the previous token (needs memory of one step): a tiny task a correct lstm learns fast."""
    cfg = NetConfig(cell="lstm", input_size=3, hidden_size=8, output_size=3)
    params = init_params(cfg, seed=1, dtype=np.float64)
    opt, rng, losses = Adam(lr=0.03), np.random.default_rng(0), []
    for _ in range(steps):
        x = rng.integers(0, 3, (8, 6))
        y = np.concatenate([np.full((8, 1), IGNORE), x[:, :-1]], 1)
        loss, grads, _, _ = forward_backward(params, cfg, x, y, bugs=bugs)
        opt.step(params, grads)
        losses.append(loss)
    return np.mean(losses[:10]), np.mean(losses[-10:])


def test_training_learns_and_a_sign_bug_does_not():
    first, last = _train(())
    assert last < 0.2 * first
    first, last = _train(("output_sign",))
    assert last > first


def _torch_opt(name, params, **kw):
    return {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[name](params, **kw)


@pytest.mark.parametrize("name,kw", [("sgd", dict(lr=0.1)), ("sgd", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
                                     ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.1)),
                                     ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True)),
                                     ("adam", dict(lr=1e-2)), ("adam", dict(lr=3e-3, weight_decay=0.1)),
                                     ("adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
                                     ("rmsprop", dict(lr=1e-2)),
                                     ("rmsprop", dict(lr=1e-3, momentum=0.9, weight_decay=0.05)),
                                     ("rmsprop", dict(lr=1e-3, centered=True, momentum=0.5))])
def test_optimizers_match_torch(name, kw):
    rng = np.random.default_rng(0)
    params = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal(5)}
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ours = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}[name](**kw)
    theirs = _torch_opt(name, list(tparams.values()), **kw)
    for _ in range(25):
        grads = {k: rng.standard_normal(v.shape) * (1 + params[k] ** 2) for k, v in params.items()}
        ours.step(params, grads)
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k])
        theirs.step()
    for k in params:
        np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=0, atol=1e-12)


def test_make_optimizer_uses_torch_defaults():
    assert isinstance(make_optimizer("adam", 0.01), Adam) and make_optimizer("adam", 0.01).eps == 1e-8
    assert make_optimizer("rmsprop", 0.01, momentum=0.5).alpha == 0.99
    with pytest.raises(ValueError):
        make_optimizer("lbfgs", 0.1)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clipping_matches_clip_grad_norm(max_norm):
    rng = np.random.default_rng(1)
    grads = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal(7)}
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for p, g in zip(tp, grads.values()):
        p.grad = torch.tensor(g)
    norm_t = torch.nn.utils.clip_grad_norm_(tp, max_norm)
    norm, clipped = clip_grad_norm(grads, max_norm)
    assert abs(norm - float(norm_t)) < 1e-12 and clipped == (max_norm < norm)
    for p, g in zip(tp, grads.values()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=0, atol=1e-14)
