"""rnnviz.optim against torch.optim: the same parameters and gradients, step for step, give the same
weights and the same state; a state saved from either resumes in the other; and training never
imports torch._dynamo (which torch.optim's first step does, for seconds)."""
import subprocess
import sys

import pytest
import torch

from rnnviz.config import TrainConfig
from rnnviz.optim import OPTIMIZERS

SHAPES = [(4, 3), (4,), (2, 4, 5), (1,)]
NAMES = ["w", "b", "u", "c"]
CASES = [("adam", 0.0, 0.0), ("adam", 0.0, 0.01), ("sgd", 0.0, 0.0), ("sgd", 0.9, 0.01),
         ("rmsprop", 0.0, 0.0), ("rmsprop", 0.5, 0.01)]
TORCH = {"adam": lambda ps, c: torch.optim.Adam(ps, lr=c.lr, weight_decay=c.weight_decay),
         "sgd": lambda ps, c: torch.optim.SGD(ps, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
         "rmsprop": lambda ps, c: torch.optim.RMSprop(ps, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)}


class Pair:
    """Our optimizer on flat-buffer gradients and torch.optim on copies of the same parameters."""

    def __init__(self, name, momentum, wd, dtype, seed=0):
        self.gen = torch.Generator().manual_seed(seed)
        self.cfg = TrainConfig(optimizer=name, lr=0.05, momentum=momentum, weight_decay=wd)
        self.ours = [torch.randn(s, generator=self.gen, dtype=dtype) for s in SHAPES]
        self.theirs = [p.clone().requires_grad_() for p in self.ours]
        self.flat = torch.zeros(sum(p.numel() for p in self.ours), dtype=dtype)
        self.grads = [g.view_as(p) for g, p in zip(self.flat.split([p.numel() for p in self.ours]), self.ours)]
        self.opt = OPTIMIZERS[name](self.ours, self.flat, self.cfg)
        self.ref = TORCH[name](self.theirs, self.cfg)

    def step(self, n=1):
        for _ in range(n):
            for g, p, t in zip(self.grads, self.ours, self.theirs):
                new = torch.randn(g.shape, generator=self.gen, dtype=g.dtype) + torch.sin(3 * p)   # depends on p
                g.copy_(new)
                t.grad = new.clone()
            self.opt.step()
            self.ref.step()

    def set_lr(self, lr):
        self.opt.lr = lr
        for group in self.ref.param_groups:
            group["lr"] = lr

    def assert_same(self, rtol=0.0, atol=0.0):
        for p, t in zip(self.ours, self.theirs):
            torch.testing.assert_close(p, t.detach(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,momentum,wd", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_steps_match_torch_optim(name, momentum, wd, dtype):
    pair = Pair(name, momentum, wd, dtype)
    pair.step(15)
    pair.set_lr(0.02)   # the lab changes the learning rate while a run trains
    pair.step(15)
    assert not torch.equal(pair.ours[0], Pair(name, momentum, wd, dtype).ours[0])   # it did move
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    pair.assert_same(rtol=tol, atol=tol)


@pytest.mark.parametrize("name,momentum,wd", CASES)
def test_state_matches_torch_and_resumes_either_way(name, momentum, wd):
    pair = Pair(name, momentum, wd, torch.float64)
    pair.step(7)
    ours = pair.opt.state_tensors(NAMES)
    theirs = {f"{NAMES[i]}:{slot}": torch.as_tensor(v) for i, st in pair.ref.state_dict()["state"].items()
              for slot, v in st.items() if v is not None}
    assert set(theirs) <= set(ours)   # ours also names SGD's step count
    for k, v in theirs.items():
        torch.testing.assert_close(ours[k].to(v.dtype), v, rtol=1e-12, atol=1e-12)
    # torch's state into a fresh optimizer of ours (a checkpoint written with torch.optim), and on
    fresh = Pair(name, momentum, wd, torch.float64, seed=1)
    for p, q in zip(fresh.ours, pair.ours):
        p.copy_(q)
    fresh.opt.load_state_tensors(NAMES, theirs)
    fresh.gen, fresh.ref, fresh.theirs = pair.gen, pair.ref, pair.theirs
    fresh.step(5)
    fresh.assert_same(rtol=1e-12, atol=1e-12)


def test_a_state_that_does_not_fit_is_refused():
    pair = Pair("adam", 0.0, 0.0, torch.float64)
    pair.step(2)
    state = pair.opt.state_tensors(NAMES)
    with pytest.raises(ValueError, match="unknown parameter"):
        pair.opt.load_state_tensors(NAMES, {**state, "nope:exp_avg": torch.zeros(1)})
    with pytest.raises(ValueError, match="wrong shape"):
        pair.opt.load_state_tensors(NAMES, {**state, "w:exp_avg": torch.zeros(5)})
    with pytest.raises(ValueError, match="missing"):
        pair.opt.load_state_tensors(NAMES, {k: v for k, v in state.items() if k != "b:exp_avg_sq"})


def test_training_does_not_import_dynamo():
    """torch.optim's first step imports torch._dynamo (~800 modules, seconds of CPU in every worker
    process before its first run); rnnviz's optimizers must not bring it back."""
    code = ("import sys; from rnnviz.tasks import make_task; from rnnviz.trainer import Trainer; "
            "from rnnviz.callbacks import Recorder; import dataclasses\n"
            "for opt in ('adam', 'sgd', 'rmsprop'):\n"
            "    task = make_task('hihell'); m, t = task.suggested()\n"
            "    Trainer(task, m, dataclasses.replace(t, epochs=3, optimizer=opt), [Recorder()]).run()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
