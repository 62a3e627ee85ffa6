import os
import sys
from pathlib import Path

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(1)  # small models: one thread is fastest and keeps timings stable


@pytest.fixture
def tmp_ckpt_root(tmp_path):
    return tmp_path / "checkpoints"


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    """For AppTest tests of the lab: checkpoints and saved runs in temporary folders, and every run of
    the server's registry stopped afterwards."""
    from lab import registry
    monkeypatch.setenv("RNNVIZ_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("RNNVIZ_RUNS", str(tmp_path / "runs"))
    reg = registry.get()
    monkeypatch.setattr(reg, "root", tmp_path / "runs")
    yield reg
    reg = registry.get()       # (a test may have restarted it)
    runs = [r for groups in list(reg._groups.values()) for g in groups for r in g.values()]
    for run in [r for r in runs if r.active]:
        reg.runner.stop(run, "the test ended")
    for run in runs:
        run.ended.wait(10)
    reg._groups.clear()
