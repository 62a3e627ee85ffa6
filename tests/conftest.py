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
