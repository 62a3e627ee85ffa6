"""What one look inside the model at one moment contains (filled by an engine, read by figures)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import GATES, counted

GATE_NAMES = GATES
DIRECTION_NAMES = ("forward", "reverse")
GATE_TITLES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o",
               "r": "reset gate r", "z": "update gate z", "n": "candidate n"}


def float32_list(a) -> list | None:
    """An array as nested lists of floats, at full float32 precision (float64 arrays stay float64): what
    a JSON file or the CLI writes, so that 3.6e-14 stays 3.6e-14 (rounding to decimals made it 0) and
    reading it back as float32 gives the very same numbers."""
    if a is None:
        return None
    a = np.asarray(a)
    return a.astype(np.float64 if a.dtype == np.float64 else np.float32).astype(np.float64).tolist()


@dataclass
class Probe:
    """The probe input (row 0) seen through the model at one set of weights.

    The first axis of every per-layer array has a row per layer and direction, in the order of
    torch.nn's h_n: row = layer * D + direction (D = `directions`: 2 for a bidirectional model, the
    reverse direction second). Everything is in time order (t = 0 first), for the reverse direction too.
    Below, L stands for those L * D rows.

    hidden:      [L, T, P]  h_t of every layer (P = proj_size of a projected LSTM, else H)
    cell:        [L, T, H]  c_t (lstm) or None
    gates:       {name: [L, T, H]} lstm i, f, g, o; gru r, z, n; {} for rnn
    grad_h:      [L, T]  ||dL/dh_t||, L = mean loss over the counted steps (total derivative: through
                 the output at t and through every later step - earlier ones for the reverse
                 direction), or None when not measured
    grad_c:      [L, T]  ||dL/dc_t|| (lstm) or None
    grad_h_last: [L, T]  ||dL_last/dh_t||, L_last = loss of the final counted step, or None
    out:         [T, O]  the model's outputs (logits or values)
    loss:        the probe's mean loss
    """
    hidden: np.ndarray
    cell: np.ndarray | None
    gates: dict[str, np.ndarray]
    grad_h: np.ndarray | None
    grad_c: np.ndarray | None
    grad_h_last: np.ndarray | None
    out: np.ndarray
    loss: float
    spectral_radius: dict[str, list[float]] = field(default_factory=dict)  # block -> per layer; {} above H = 64
    directions: int = 1           # D: 2 for a bidirectional model
    tbptt: int = 0                # > 0: the gradients were cut every tbptt steps, as training cut them

    @property
    def layers(self) -> int:
        return int(np.shape(self.hidden)[0]) // self.directions

    def row(self, layer: int = -1, direction: int = 0) -> int:
        """The row of `layer` (negative counts from the top, like a list) in `direction` (0 forward,
        1 reverse); IndexError when there is no such layer or direction."""
        n = self.layers
        if not -n <= layer < n:
            raise IndexError(f"layer {layer} out of range for {counted(n, 'layer')}")
        if not 0 <= direction < self.directions:
            raise IndexError(f"direction {direction} out of range for {counted(self.directions, 'direction')}")
        return (layer % n) * self.directions + direction

    def direction_name(self, direction: int) -> str:
        """'forward' / 'reverse' for a bidirectional probe, '' for one direction."""
        return DIRECTION_NAMES[direction] if self.directions > 1 else ""

    def nbytes(self) -> int:
        arrays = [self.hidden, self.cell, self.grad_h, self.grad_c, self.grad_h_last, self.out,
                  *self.gates.values()]
        return sum(a.nbytes for a in arrays if a is not None)

    def to_json(self) -> dict:
        enc = float32_list
        return {"hidden": enc(self.hidden), "cell": enc(self.cell),
                "gates": {k: enc(v) for k, v in self.gates.items()},
                "grad_h": enc(self.grad_h), "grad_c": enc(self.grad_c), "grad_h_last": enc(self.grad_h_last),
                "out": enc(self.out), "loss": self.loss, "spectral_radius": self.spectral_radius,
                "directions": self.directions, "tbptt": self.tbptt}

    @classmethod
    def from_json(cls, d: dict) -> "Probe":
        """The inverse of to_json (files written with 6 decimals load too); ValueError for anything that
        is not a probe: arrays of numbers of the documented ranks, all [L, T] alike."""
        if not isinstance(d, dict):
            raise ValueError("a probe must be a JSON object")

        def dec(a, rank):
            if a is None:
                return None
            arr = np.asarray(a, dtype=np.float32)   # ValueError for text or ragged lists
            if arr.ndim != rank:
                raise ValueError(f"a probe array has {arr.ndim} dimensions, expected {rank}")
            return arr
        gates = d.get("gates") or {}
        radius = d.get("spectral_radius") or {}
        if not isinstance(gates, dict) or not isinstance(radius, dict):
            raise ValueError("a probe's gates and spectral_radius must be JSON objects")
        p = cls(hidden=dec(d["hidden"], 3), cell=dec(d.get("cell"), 3),
                gates={str(k): dec(v, 3) for k, v in gates.items()},
                grad_h=dec(d.get("grad_h"), 2), grad_c=dec(d.get("grad_c"), 2),
                grad_h_last=dec(d.get("grad_h_last"), 2), out=dec(d["out"], 2), loss=float(d["loss"]),
                spectral_radius={str(k): [float(x) for x in v] for k, v in radius.items()},
                directions=int(d.get("directions", 1)), tbptt=int(d.get("tbptt", 0)))
        if p.directions not in (1, 2) or p.tbptt < 0 or p.hidden.shape[0] % p.directions:
            raise ValueError("a probe's directions must be 1 or 2 (and divide its rows), its tbptt >= 0")
        lt = p.hidden.shape[:2]
        if any(a is not None and a.shape[:2] != lt for a in (p.cell, p.grad_h, p.grad_c, p.grad_h_last,
                                                             *p.gates.values())):
            raise ValueError("a probe's arrays do not agree on the number of layers and steps")
        return p
