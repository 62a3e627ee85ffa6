"""A bounded record of a run, filled by the trainer through callbacks (the trainer knows no plots).

History keeps every epoch until `max_epochs` records, then thins the older half (keeps every other
one), so memory stays bounded for any run length; probes (the big part: hidden states and gates) have
their own byte budget. `thinned` says whether anything was dropped, for figures to say so.

A record's prediction is kept as the probe's raw outputs [T, O] and turned into the readable dict when
it is first read: building the dict in the training loop cost as much as a training step for short
sequences, and the dicts were most of a record's memory (and of what goes to another process).
"""
from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .probes import Probe

MAX_RECORDS = 10_000   # a loaded history.json (a run keeps at most max_epochs, 2,000 by default)


class Deferred:
    """A value built on first use: fn(arg). Picklable when fn and arg are (a tasks.base.Describer and
    an array of outputs, say)."""
    __slots__ = ("fn", "arg")

    def __init__(self, fn: Callable[[Any], Any], arg: Any):
        self.fn, self.arg = fn, arg


class BuiltOnRead:
    """A dataclass field that may be set to a Deferred: the first read builds the value and keeps it,
    so every reader sees the plain value."""

    def __set_name__(self, owner, name: str):
        self.key = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return None                      # the field's default
        value = obj.__dict__[self.key]
        if isinstance(value, Deferred):
            value = obj.__dict__[self.key] = value.fn(value.arg)
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.key] = value


@dataclass
class EpochRecord:
    epoch: int                    # 1-based epoch number (or step number for step-based runs)
    step: int                     # optimizer steps taken so far
    loss: float                   # mean training loss over the epoch's steps
    val_loss: float | None = None
    val_acc: float | None = None  # fraction of counted validation positions predicted right
    train_acc: float | None = None
    lr: float = 0.0
    grad_norm: float = 0.0        # global gradient norm before clipping, mean over the epoch's steps
    clipped: float = 0.0          # fraction of the epoch's steps whose gradient was clipped
    seconds: float = 0.0          # wall time since the run started
    prediction: dict | None = BuiltOnRead()  # task.describe() of the probe at this epoch (may be set Deferred)
    probe: Probe | None = None

    @property
    def has_prediction(self) -> bool:
        """Whether a prediction was recorded, without building it (reading `prediction` builds it)."""
        return self.__dict__.get("_prediction") is not None

    def to_json(self, with_probe: bool = True) -> dict:
        probe = self.probe    # read once: a history's thinning (another thread) may set it to None meanwhile
        d = {k: getattr(self, k) for k in ("epoch", "step", "loss", "val_loss", "val_acc", "train_acc",
                                           "lr", "grad_norm", "clipped", "seconds", "prediction")}
        d["probe"] = probe.to_json() if probe is not None and with_probe else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> "EpochRecord":
        """The inverse of to_json; unknown keys are ignored (newer files), values of the wrong type raise
        ValueError."""
        if not isinstance(d, dict):
            raise ValueError("a record must be a JSON object")
        number = lambda k: None if d.get(k) is None else _number(k, d[k])   # noqa: E731
        prediction = d.get("prediction")
        if prediction is not None and not isinstance(prediction, dict):
            raise ValueError("a record's prediction must be a JSON object")
        probe = d.get("probe")
        return cls(epoch=_whole("epoch", d.get("epoch")), step=_whole("step", d.get("step", 0)),
                   loss=_number("loss", d.get("loss")), val_loss=number("val_loss"), val_acc=number("val_acc"),
                   train_acc=number("train_acc"), lr=_number("lr", d.get("lr", 0.0)),
                   grad_norm=_number("grad_norm", d.get("grad_norm", 0.0)),
                   clipped=_number("clipped", d.get("clipped", 0.0)), seconds=_number("seconds", d.get("seconds", 0.0)),
                   prediction=prediction, probe=Probe.from_json(probe) if probe else None)


def _number(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"a record's {name} must be a number, got {type(v).__name__}")
    return float(v)


def _size(obj) -> int:
    return len(json.dumps(obj, allow_nan=True, ensure_ascii=False).encode())


def _whole(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"a record's {name} must be a whole number, got {type(v).__name__}")
    return v


@dataclass
class History:
    max_epochs: int = 2000
    max_probe_bytes: int = 64 * 2**20
    records: list[EpochRecord] = field(default_factory=list)
    thinned: bool = False
    unit: str = "epoch"           # what EpochRecord.epoch counts: "epoch" or "step"
    probe_bytes: int = 0          # running total of the kept probes' sizes
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rec: EpochRecord) -> None:
        with self.lock:
            self.records.append(rec)
            if len(self.records) > self.max_epochs:
                self._thin_epochs()
            if rec.probe is not None:
                self.probe_bytes += rec.probe.nbytes()
                if self.probe_bytes > self.max_probe_bytes:
                    self._thin_probes()

    def _thin_epochs(self) -> None:
        # keep the newest half whole, every other record of the older half (the first is always kept)
        half = len(self.records) // 2
        old, new = self.records[:half], self.records[half:]
        self.probe_bytes -= sum(r.probe.nbytes() for r in old[1::2] if r.probe is not None)
        self.records = old[::2] + new
        self.thinned = True

    def _thin_probes(self) -> None:
        with_probe = [r for r in self.records if r.probe is not None]
        while self.probe_bytes > self.max_probe_bytes and len(with_probe) > 2:
            # drop the probe of every other record (the first and the newest stay)
            for r in with_probe[1:-1:2]:
                self.probe_bytes -= r.probe.nbytes()
                r.probe = None
            with_probe = [r for r in self.records if r.probe is not None]
            self.thinned = True

    def keep_newest_probe(self) -> None:
        """Drop every probe but the newest. `thinned` stays as it was: every record is still kept, and
        what draws probes over epochs is not shown for such a history (lab: an earlier run)."""
        with self.lock:
            probed = [r for r in self.records if r.probe is not None]
            for r in probed[:-1]:
                r.probe = None
            self.probe_bytes = probed[-1].probe.nbytes() if probed else 0

    def snapshot(self) -> list[EpochRecord]:
        """A copy of the record list that a reader (another thread) can use while training goes on."""
        with self.lock:
            return list(self.records)

    def until(self, epoch: int) -> "History":
        """A History of copies of the records up to `epoch`, taken at once: what thins this one later
        (training's byte budget, keep_newest_probe) leaves the copies' probes alone (a checkpoint is
        written from them while the run goes on)."""
        with self.lock:
            records = [copy.copy(r) for r in self.records if r.epoch <= epoch]
            return History(max_epochs=self.max_epochs, max_probe_bytes=self.max_probe_bytes, records=records,
                           thinned=self.thinned, unit=self.unit,
                           probe_bytes=sum(r.probe.nbytes() for r in records if r.probe is not None))

    def probed(self) -> list[EpochRecord]:
        return [r for r in self.snapshot() if r.probe is not None]

    @property
    def last(self) -> EpochRecord | None:
        with self.lock:
            return self.records[-1] if self.records else None

    @property
    def last_validated(self) -> EpochRecord | None:
        """The newest record with a validation loss (validation runs at every k-th record point only)."""
        with self.lock:
            return next((r for r in reversed(self.records) if r.val_loss is not None), None)

    def to_json(self, max_bytes: int | None = None) -> dict:
        """A JSON object; with max_bytes, probes are left out of every other probed record (the first
        and the newest stay), as many times as it takes for json.dumps of it to fit in max_bytes: a
        probe takes ~5x its memory as JSON text, so the byte budget in memory does not bound the file."""
        with self.lock:     # each record's probe as it is now: a thinning may drop some while this writes
            records = [(r, r.probe) for r in self.records]
        probed = [i for i, (_, p) in enumerate(records) if p is not None]
        had = len(probed)
        if max_bytes is None or not probed:
            return self._json(records, set(probed), self.thinned)
        # the size of one probe's text, times the probes, plus the rest: thin to that estimate first,
        # then by what json.dumps measures (the probes' digits differ a little)
        base = _size(self._json(records, set(), self.thinned))
        each = _size(records[probed[-1]][1].to_json())
        while len(probed) > 2 and base + each * len(probed) > max_bytes:
            probed = probed[:-1:2] + probed[-1:]
        d = self._json(records, set(probed), self.thinned or len(probed) < had)
        while len(probed) > 2 and _size(d) > max_bytes:
            probed = probed[:-1:2] + probed[-1:]
            d = self._json(records, set(probed), True)
        return d

    def _json(self, records: list[tuple[EpochRecord, Probe | None]], probes: set[int], thinned: bool) -> dict:
        rows = []
        for i, (r, p) in enumerate(records):
            row = r.to_json(with_probe=False)
            row["probe"] = p.to_json() if i in probes else None
            rows.append(row)
        return {"thinned": thinned, "max_epochs": self.max_epochs, "unit": self.unit, "records": rows}

    @classmethod
    def from_json(cls, d: dict) -> "History":
        """The inverse of to_json; ValueError for anything else, or for more than MAX_RECORDS records."""
        if not isinstance(d, dict) or not isinstance(d.get("records", []), list):
            raise ValueError("a history must be a JSON object with a list of records")
        records = d.get("records", [])
        if len(records) > MAX_RECORDS:
            raise ValueError(f"the history has {len(records):,} records; at most {MAX_RECORDS:,} are kept")
        h = cls(max_epochs=min(_whole("max_epochs", d.get("max_epochs", 2000)), MAX_RECORDS))
        if h.max_epochs < 2:
            raise ValueError("a history's max_epochs must be at least 2")
        h.records = [EpochRecord.from_json(r) for r in records]
        h.probe_bytes = sum(r.probe.nbytes() for r in h.records if r.probe is not None)
        h.thinned = bool(d.get("thinned", False))
        h.unit = d.get("unit", "epoch")
        if h.unit not in ("epoch", "step"):
            raise ValueError(f"a history's unit must be epoch or step, got {str(h.unit)[:20]!r}")
        return h
