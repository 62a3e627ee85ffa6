"""torch.optim's SGD, Adam and RMSprop, and clip_grad_norm_, for a dict of NumPy arrays.

Each optimizer updates params IN PLACE from a grads dict with the same names, with exactly the
arithmetic of torch's single-tensor (CPU) code path, so float64 runs match torch to ~1e-15 per step.
State (momentum buffers, moments) is kept per parameter name.
"""
from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = lr                      # may be changed between steps (schedules)
        self.weight_decay = weight_decay  # L2 term added to the gradient, as torch (not decoupled)
        self.state: dict[str, dict] = {}
        self.steps = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            self._update(p, g, self.state.setdefault(name, {}))

    def _update(self, p: np.ndarray, g: np.ndarray, st: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * g, with torch's momentum: buf = g on the first step, then momentum * buf + (1 - dampening) * g."""

    def __init__(self, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(lr, weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires a momentum and zero dampening")
        self.momentum, self.dampening, self.nesterov = momentum, dampening, nesterov

    def _update(self, p, g, st):
        if self.momentum:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    """torch.optim.Adam (amsgrad=False): bias-corrected moments, eps added after the square root."""

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def _update(self, p, g, st):
        if not st:
            st.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        st["step"] += 1
        m, v, t = st["exp_avg"], st["exp_avg_sq"], st["step"]
        m += (1 - self.beta1) * (g - m)   # torch: exp_avg.lerp_(grad, 1 - beta1)
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        step_size = self.lr / (1 - self.beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - self.beta2 ** t) + self.eps
        p -= step_size * (m / denom)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: square_avg = alpha * sq + (1 - alpha) g^2; step g / (sqrt(sq) + eps)."""

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(lr, weight_decay)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered

    def _update(self, p, g, st):
        if not st:
            st.update(step=0, square_avg=np.zeros_like(p))
            if self.momentum:
                st["momentum_buffer"] = np.zeros_like(p)
            if self.centered:
                st["grad_avg"] = np.zeros_like(p)
        st["step"] += 1
        sq = st["square_avg"]
        sq *= self.alpha
        sq += (1 - self.alpha) * (g * g)
        if self.centered:
            ga = st["grad_avg"]
            ga += (1 - self.alpha) * (g - ga)     # torch: grad_avg.lerp_(grad, 1 - alpha)
            avg = np.sqrt(sq - ga * ga) + self.eps
        else:
            avg = np.sqrt(sq) + self.eps
        if self.momentum:
            buf = st["momentum_buffer"]
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            p -= self.lr * (g / avg)


def make_optimizer(name: str, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> Optimizer:
    """The three optimizers of rnnviz.config.TrainConfig (adam | sgd | rmsprop) with torch's defaults."""
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay)
    if name == "sgd":
        return SGD(lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSprop(lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose adam, sgd or rmsprop")


def grad_norm(grads: dict[str, np.ndarray]) -> float:
    """Global L2 norm of all gradients together."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> tuple[float, bool]:
    """torch.nn.utils.clip_grad_norm_: scale all grads in place by min(1, max_norm / (norm + 1e-6)).

    Returns (norm before clipping, whether the gradients were scaled down)."""
    norm = grad_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:                        # torch multiplies by the clamped coef (1.0 is a no-op)
        for g in grads.values():
            g *= g.dtype.type(coef)
    return norm, coef < 1.0
