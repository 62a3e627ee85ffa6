"""torch.optim's Adam, SGD and RMSprop for the torch engine, working on one flat buffer.

Why not torch.optim itself:
  - its first step imports torch._dynamo (about 800 modules, sympy among them): 2-3 s of CPU that the
    server and every worker process paid before their first run could start;
  - it loops over the parameters in Python, about ten small ops each; here each op runs once on the flat
    buffer of all the gradients (TorchEngine keeps p.grad as views of it) and the state.
The arithmetic is that of torch's single-tensor (CPU) code path, op for op, so a run matches torch.optim
to rounding (tests/test_optim.py). The state saves and loads in torch.optim's per-parameter layout
("<name>:exp_avg", "<name>:step", ...), so checkpoints written with torch.optim still resume.
"""
from __future__ import annotations

import torch
from torch import Tensor


class FlatOptimizer:
    """Updates `params` (the weights' tensors, in place) from `grad`, the flat buffer whose views are
    their gradients. State: one flat tensor per slot, seen per parameter through views."""
    slots: tuple[str, ...] = ()

    def __init__(self, params: list[Tensor], grad: Tensor, lr: float, weight_decay: float = 0.0):
        self.lr, self.weight_decay = lr, weight_decay
        self.steps = 0
        self.state = {s: torch.zeros_like(grad) for s in self.slots}   # each: [n_params_total]
        self.bind(params, grad)

    def bind(self, params: list[Tensor], grad: Tensor) -> None:
        """(Re)attach to the weights and the gradient buffer (an unpickled engine's new views)."""
        self.params, self.grad = params, grad
        self._views: dict[int, list[Tensor]] = {}
        self._scratch: dict[str, Tensor] = {}

    def __getstate__(self) -> dict:   # the engine re-binds its own views after unpickling
        return {k: v for k, v in self.__dict__.items() if k not in ("params", "grad", "_views", "_scratch")}

    def scratch(self, name: str) -> Tensor:
        """A flat work buffer kept between steps (its views are cached, so it must not be reallocated)."""
        if name not in self._scratch:
            self._scratch[name] = torch.empty_like(self.grad)
        return self._scratch[name]

    def view(self, flat: Tensor) -> list[Tensor]:
        """flat -> one view per parameter, shaped like it (cached by the buffer's identity)."""
        key = id(flat)   # only long-lived buffers come here: the gradient, the state and the scratch ones
        if key not in self._views:
            parts = flat.split([p.numel() for p in self.params])
            self._views[key] = [t.view_as(p) for t, p in zip(parts, self.params)]
        return self._views[key]

    def _decayed(self) -> Tensor:
        """The gradient with torch's (coupled) L2 term: grad + weight_decay * param, flat."""
        if not self.weight_decay:
            return self.grad
        p = self.scratch("param")
        torch._foreach_copy_(self.view(p), self.params)
        return torch.add(self.grad, p, alpha=self.weight_decay, out=self.scratch("decayed"))

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        self._update(self._decayed())

    def _update(self, g: Tensor) -> None:
        raise NotImplementedError

    # ---- state in torch.optim's layout ------------------------------------------------------------
    def hyper(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def state_tensors(self, names: list[str]) -> dict[str, Tensor]:
        """{"<param name>:<slot>": tensor} as torch.optim's state_dict has them (step as a float scalar)."""
        if not self.steps:
            return {}
        out = {f"{n}:{slot}": v.clone() for slot in self.slots for n, v in zip(names, self.view(self.state[slot]))}
        out.update({f"{n}:step": torch.tensor(float(self.steps)) for n in names})
        return out

    def load_state_tensors(self, names: list[str], tensors: dict[str, Tensor]) -> None:
        """The inverse of state_tensors; ValueError for a state that does not fit these parameters."""
        if not tensors:
            self.steps = 0
            return
        unknown = {k.rsplit(":", 1)[0] for k in tensors} - set(names)
        if unknown:
            raise ValueError(f"optimizer state names an unknown parameter {sorted(unknown)[0]!r}")
        steps = {float(tensors[f"{n}:step"]) for n in names if f"{n}:step" in tensors}
        if len(steps) > 1:
            raise ValueError("the parameters' step counts differ")
        for slot in self.slots:
            for n, v in zip(names, self.view(self.state[slot])):
                saved = tensors.get(f"{n}:{slot}")
                if saved is None or saved.shape != v.shape:
                    raise ValueError(f"optimizer state {n}:{slot} is missing or has the wrong shape")
                v.copy_(saved)
        self.steps = int(steps.pop()) if steps else 1


class Adam(FlatOptimizer):
    """torch.optim.Adam (amsgrad=False): bias-corrected moments, eps added after the square root."""
    slots = ("exp_avg", "exp_avg_sq")
    betas, eps = (0.9, 0.999), 1e-8

    def _update(self, g: Tensor) -> None:
        (b1, b2), t = self.betas, self.steps
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        step_size = self.lr / (1 - b1 ** t)
        bias_correction2_sqrt = (1 - b2 ** t) ** 0.5
        denom = torch.sqrt(v, out=self.scratch("denom")).div_(bias_correction2_sqrt).add_(self.eps)   # [n]
        torch._foreach_addcdiv_(self.params, self.view(m), self.view(denom), value=-step_size)

    def hyper(self) -> dict:
        return {**super().hyper(), "betas": list(self.betas), "eps": self.eps}


class SGD(FlatOptimizer):
    """torch.optim.SGD (dampening 0, no nesterov): the momentum buffer is the gradient on the first step."""

    def __init__(self, params, grad, lr, momentum: float = 0.0, weight_decay: float = 0.0):
        self.slots = ("momentum_buffer",) if momentum else ()
        super().__init__(params, grad, lr, weight_decay)
        self.momentum = momentum

    def _update(self, g: Tensor) -> None:
        if self.momentum:
            buf = self.state["momentum_buffer"]
            if self.steps == 1:
                buf.copy_(g)
            else:
                buf.mul_(self.momentum).add_(g)
            g = buf
        torch._foreach_add_(self.params, self.view(g), alpha=-self.lr)

    def hyper(self) -> dict:
        return {**super().hyper(), "momentum": self.momentum}


class RMSprop(FlatOptimizer):
    """torch.optim.RMSprop (alpha 0.99, not centered): step g / (sqrt(square_avg) + eps)."""
    alpha, eps = 0.99, 1e-8

    def __init__(self, params, grad, lr, momentum: float = 0.0, weight_decay: float = 0.0):
        self.slots = ("square_avg", "momentum_buffer") if momentum else ("square_avg",)
        super().__init__(params, grad, lr, weight_decay)
        self.momentum = momentum

    def _update(self, g: Tensor) -> None:
        sq = self.state["square_avg"]
        sq.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        avg = torch.sqrt(sq, out=self.scratch("avg")).add_(self.eps)   # [n]
        if self.momentum:
            buf = self.state["momentum_buffer"]
            buf.mul_(self.momentum).addcdiv_(g, avg)
            torch._foreach_add_(self.params, self.view(buf), alpha=-self.lr)
        else:
            torch._foreach_addcdiv_(self.params, self.view(g), self.view(avg), value=-self.lr)

    def hyper(self) -> dict:
        return {**super().hyper(), "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}


OPTIMIZERS = {
    "adam": lambda ps, grad, c: Adam(ps, grad, c.lr, weight_decay=c.weight_decay),
    "sgd": lambda ps, grad, c: SGD(ps, grad, c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "rmsprop": lambda ps, grad, c: RMSprop(ps, grad, c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
}
