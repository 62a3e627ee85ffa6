"""One step by hand (rnnviz.numpy_engine.step_by_hand): its h_t is the torch model's h_t at that step
(float64, 1e-12), each gate the probe's, and the lines it shows are the code that ran."""
import numpy as np
import pytest
import torch

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine
from rnnviz.numpy_engine import network
from rnnviz.numpy_engine.step_by_hand import Entry, one_step, sigmoid
from rnnviz.tasks import make_task

CASES = [("rnn", "tanh", 1, 0, "hihell"), ("rnn", "relu", 2, 0, "hihell"), ("lstm", "tanh", 1, 0, "anbn"),
         ("lstm", "tanh", 2, 3, "anbn"), ("gru", "tanh", 2, 0, "seoul"), ("gru", "tanh", 1, 0, "sine"),
         ("lstm", "tanh", 1, 0, "sine")]


def _setup(cell, nonlin, layers, emb, task_name):
    task = make_task(task_name)
    mcfg = ModelConfig(cell=cell, nonlinearity=nonlin, hidden_size=5, num_layers=layers,
                       embedding_dim=emb if task.tokens else 0)
    eng = TorchEngine(task, mcfg, TrainConfig(dtype="float64", seed=4))
    params = network.params_from_state_dict(eng.state_dict(), dtype=np.float64)
    cfg = network.NetConfig.from_model_config(mcfg, task.input_size, task.output_size, task.kind)
    batch = task.probe()
    x = batch.x[0].numpy() if task.tokens else batch.x[0].double().numpy()
    return eng, params, cfg, batch, x


@pytest.mark.parametrize("cell,nonlin,layers,emb,task_name", CASES)
def test_h_t_by_hand_is_the_torch_models(cell, nonlin, layers, emb, task_name):
    eng, params, cfg, batch, x = _setup(cell, nonlin, layers, emb, task_name)
    out, _, traces = eng.model.forward_recorded(batch.x)
    probe = eng.probe(batch)
    for t in sorted({0, 1, len(x) // 2, len(x) - 1}):
        entries = one_step(params, cfg, x, t)
        for k in range(layers):
            mine = {e.source.split(" = ")[0]: e.value for e in entries if e.layer == k}
            assert np.abs(mine["h"] - traces[k].h[t][0].detach().numpy()).max() < 1e-12, (t, k)
            for g in probe.gates:
                assert np.abs(mine[g] - probe.gates[g][k, t]).max() < 1e-12, (t, k, g)
            if cell == "lstm":
                assert np.abs(mine["c"] - probe.cell[k, t]).max() < 1e-12
        head = {e.source.split(" = ")[0]: e.value for e in entries if e.layer is None}
        assert np.abs(head["y"] - out[0, t].detach().numpy()).max() < 1e-12
        if "p" in head:
            assert np.abs(head["p"] - torch.softmax(out[0, t], -1).detach().numpy()).max() < 1e-12


@pytest.mark.parametrize("cell,nonlin,layers,emb,task_name", CASES[:5])
def test_the_lines_shown_are_the_code_that_ran(cell, nonlin, layers, emb, task_name):
    """Running the shown lines again, in order, in a namespace of only the step's inputs gives every
    value shown: nothing else computed them."""
    _, params, cfg, _, x = _setup(cell, nonlin, layers, emb, task_name)
    t = 3
    entries = one_step(params, cfg, x, t)
    _, cache = network.forward(params, cfg, np.asarray(x)[None, :t])
    ns = {"np": np, "sigmoid": sigmoid, "X": x, "t": t, "H": 5, "V": cfg.input_size,
          "before_h": cache.hidden[:, -1, 0], "before_c": cache.cell[:, -1, 0] if cache.cell is not None else None,
          "E": params.get("embedding.weight"), "W_hy": params["head.weight"], "b_y": params["head.bias"]}
    for e in entries:
        assert isinstance(e, Entry) and e.source.count(" = ") == 1
        if e.layer is not None:
            ns.update(k=e.layer, **{n: params[f"rnn.{w}_l{e.layer}"] for n, w in
                                    (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"),
                                     ("b_hh", "bias_hh"))})
        exec(e.source, {}, ns)
        assert np.array_equal(ns[e.source.split(" = ")[0]], e.value), e.source
    labels = [e.label for e in entries]
    assert labels[0].startswith("input x_t") and any(s.startswith("h_{t-1}") for s in labels)


def test_bad_steps_raise():
    _, params, cfg, _, x = _setup("rnn", "tanh", 1, 0, "hihell")
    for t in (-1, len(x)):
        with pytest.raises(ValueError, match="t must be in"):
            one_step(params, cfg, x, t)
    with pytest.raises(ValueError, match="one sequence"):
        one_step(params, cfg, np.zeros((2, 3, 4)), 0)
