"""The NumPy engine and the torch engine are the same model: same initial weights for the same seed,
same loss history over a whole run (SGD, float64), same probes, interchangeable checkpoints."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnviz import checkpoint as ck
from rnnviz.callbacks import Recorder
from rnnviz.engine import TorchEngine
from rnnviz.numpy_engine.adapter import NumpyEngine
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def _configs(task_name, cell, **train):
    task = make_task(task_name)
    m, t = task.suggested()
    m = dataclasses.replace(m, cell=cell)
    t = dataclasses.replace(t, optimizer="sgd", lr=0.1 if task_name == "anbn" else 0.5, dtype="float64", **train)
    return task, m, t


@pytest.mark.parametrize("task_name", ["anbn", "hihell"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_histories_agree_over_a_whole_run(task_name, cell):
    task, m, t = _configs(task_name, cell, epochs=12 if task_name == "anbn" else 100)
    hist = {}
    for engine in ("torch", "numpy"):
        rec = Recorder(probe_every=5)
        tr = Trainer(task, m, dataclasses.replace(t, engine=engine), [rec])
        assert tr.run() == "finished"
        hist[engine] = rec.history.records
    a = np.array([r.loss for r in hist["torch"]])
    b = np.array([r.loss for r in hist["numpy"]])
    assert len(a) == len(b) and a[-1] < a[0]  # it learned, and both ran the whole way
    assert np.max(np.abs(a - b) / np.abs(a)) < 1e-6
    pa, pb = hist["torch"][-1].probe, hist["numpy"][-1].probe
    assert np.abs(pa.hidden - pb.hidden).max() < 1e-8
    assert np.abs(pa.grad_h - pb.grad_h).max() < 1e-8
    assert hist["torch"][-1].prediction["predicted"] == hist["numpy"][-1].prediction["predicted"]


def test_identical_initial_weights_and_probes():
    task, m, t = _configs("anbn", "lstm")
    te, ne = TorchEngine(task, m, t), NumpyEngine(task, m, t)
    for k, v in te.state_dict().items():
        assert torch.equal(v, ne.state_dict()[k])
    b = task.probe()
    p, q = te.probe(b), ne.probe(b)
    for name in ("hidden", "cell", "grad_h", "grad_c", "grad_h_last", "out"):
        assert np.abs(getattr(p, name) - getattr(q, name)).max() < 1e-10, name
    for g in p.gates:
        assert np.abs(p.gates[g] - q.gates[g]).max() < 1e-10
    assert p.spectral_radius.keys() == q.spectral_radius.keys()
    for g in p.spectral_radius:
        assert p.spectral_radius[g] == pytest.approx(q.spectral_radius[g], rel=1e-12)


def test_numpy_checkpoint_loads_into_torch_engine(tmp_path):
    task, m, t = _configs("hihell", "gru", epochs=40)
    tr = Trainer(task, m, dataclasses.replace(t, engine="numpy"), [])
    tr.run()
    path = ck.save(tmp_path / "np", task, m, tr.tcfg, tr.engine.state_dict())
    got = ck.load(path)
    torch_engine = TorchEngine(got.task, got.model_cfg, got.train_cfg, model=got.build_model())
    x = task.probe().x
    a, _ = torch_engine.predict(x)
    b, _ = tr.engine.predict(x)
    assert (a - b).abs().max() < 1e-10


def test_cli_engine_numpy_float64(tmp_path):
    out = tmp_path / "ck"
    r = subprocess.run([sys.executable, "-m", "rnnviz", "train", "--task", "anbn", "--engine", "numpy",
                        "--dtype", "float64", "--epochs", "3", "--quiet", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["engine"] == "numpy" and cfg["train"]["dtype"] == "float64"
