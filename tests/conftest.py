import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(1)  # small models: one thread is fastest and keeps timings stable


@pytest.fixture
def tmp_ckpt_root(tmp_path):
    return tmp_path / "checkpoints"
