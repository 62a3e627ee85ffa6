"""A sweep's results: the table's rows, the output folder, and the loop that fills both.

    OUT/sweep.json                    what the sweep is; it marks the folder as a sweep of ours
    OUT/results.csv, results.json     one row per run, rewritten (atomically) after every finished run
    OUT/runs/<name>/                  each run's checkpoint (rnnviz.checkpoint.save)

An existing folder is used only when it is empty, or when it holds a previous sweep and `force` is
given; then exactly what that sweep wrote is removed (its runs' checkpoints, its tables), nothing else.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from . import __version__
from .checkpoint import save
from .recorder import History
from .sweep import METRICS, RunSpec, SweepError
from .tasks import make_task

MARK = "rnnviz-sweep"
NAME = re.compile(r"^[0-9]{3,}[A-Za-z0-9.=_-]*$")   # what sweep.run_name makes (no separators, no "..")
MAX_MARK_BYTES = 2**20
COLUMNS_AFTER = ("status", *METRICS, "epochs_done", "steps_done", "seconds", "error")


@dataclass
class Row:
    """One line of the results table: a run and what became of it."""
    spec: RunSpec
    status: str = "not run"      # not run | finished | diverged | error
    metrics: dict = field(default_factory=lambda: dict.fromkeys(METRICS))
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    error: str = "the sweep was stopped before this run finished"

    def fill(self, result: dict) -> "Row":
        self.status, self.metrics = result["status"], dict(result["metrics"])
        self.epochs, self.steps, self.seconds = result["epochs"], result["steps"], round(result["seconds"], 3)
        self.error = result["reason"] if result["status"] != "finished" else ""
        return self

    def as_dict(self) -> dict:
        return {"index": self.spec.index, "name": self.spec.name, **self.spec.values, "status": self.status,
                **self.metrics, "epochs_done": self.epochs, "steps_done": self.steps, "seconds": self.seconds,
                "error": self.error}


# ---- the folder -------------------------------------------------------------------------------
def read_mark(out: Path) -> dict | None:
    """The sweep.json of a previous sweep of ours in `out`, or None when `out` holds something else."""
    p = out / "sweep.json"
    try:
        if not p.is_file() or p.stat().st_size > MAX_MARK_BYTES:
            return None
        mark = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(mark, dict) or mark.get("format") != MARK or not isinstance(mark.get("runs"), list):
        return None
    return mark


def _remove_previous(out: Path, mark: dict) -> None:
    for name in mark["runs"]:
        run = out / "runs" / str(name)
        if NAME.match(str(name)) and run.is_dir() and not run.is_symlink() and (run / "config.json").is_file():
            shutil.rmtree(run)
    for f in ("results.csv", "results.json", "sweep.json"):
        if (out / f).is_file() and not (out / f).is_symlink():
            (out / f).unlink()
    if (out / "runs").is_dir() and not any((out / "runs").iterdir()):
        (out / "runs").rmdir()


def prepare(out: str | os.PathLike, specs: Sequence[RunSpec], force: bool = False, about: dict | None = None) -> Path:
    """Make `out` ready for this sweep and mark it; SweepError (nothing changed) when it is not ours."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} is a file, not a folder: choose another --out")
    if out.is_dir() and any(out.iterdir()):
        mark = read_mark(out)
        if mark is None:
            raise SweepError(f"{out} exists and is not an rnnviz sweep: choose another --out (nothing was changed)")
        if not force:
            raise SweepError(f"{out} holds a previous sweep: add --force to replace it, or choose another --out")
        _remove_previous(out, mark)
    taken = [s.name for s in specs if (out / "runs" / s.name).exists()]
    if taken:
        raise SweepError(f"{out / 'runs' / taken[0]} exists and is not from the previous sweep: choose another --out")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    mark = {"format": MARK, "rnnviz_version": __version__, **(about or {}), "runs": [s.name for s in specs]}
    _write(out / "sweep.json", json.dumps(mark, indent=1))
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_table(out: Path, rows: Sequence[Row], about: dict | None = None) -> None:
    """results.json (the rows, and what the sweep was) and results.csv (the rows), each replaced whole."""
    dicts = [r.as_dict() for r in rows]
    grid_keys = list(dict.fromkeys(k for r in rows for k in r.spec.values))   # every run's, in order
    columns = ["index", "name", *grid_keys, *COLUMNS_AFTER]
    _write(out / "results.json", json.dumps({"format": MARK, **(about or {}), "columns": columns, "rows": dicts},
                                            indent=1, allow_nan=False))
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if v is None else v) for k, v in d.items()} for d in dicts)
    _write(out / "results.csv", buf.getvalue())


def save_run(out: Path, spec: RunSpec, result: dict) -> Path:
    """The run's checkpoint in OUT/runs/<name>, loadable with rnnviz.checkpoint.load."""
    task = make_task(spec.task, **spec.options)
    weights = {k: torch.from_numpy(v) for k, v in result["weights"].items()}
    history = History.from_json(result["history"]) if result["history"] else None
    last = history.records[-1] if history and history.records else None
    return save(out / "runs" / spec.name, task, spec.mcfg, spec.tcfg, weights, history,
                status=result["status"], reason=result["reason"], steps_done=result["steps"],
                epochs_done=result["epochs"], loss=last.loss if last else None,
                sweep={"name": spec.name, "values": spec.values, "metrics": result["metrics"]})


# ---- the loop -----------------------------------------------------------------------------------
def run_sweep(specs: Sequence[RunSpec], executor, out: Path | None = None, about: dict | None = None,
              on_row: Callable[[Row, list[Row]], None] | None = None, rows: list[Row] | None = None) -> list[Row]:
    """Run every spec on `executor`; with `out` (made ready by prepare()) save each run's checkpoint and
    the table as runs finish. Ctrl-C (or executor.cancel() from another thread) keeps what finished: the
    rest stay "not run". on_row(row, rows) is called after each finished run."""
    rows = rows if rows is not None else [Row(s) for s in specs]
    by_index = {r.spec.index: r for r in rows}
    try:
        if out is not None:
            write_table(out, rows, about)    # every run "not run" until it finishes
        for spec, result in executor.run(specs):
            row = by_index[spec.index].fill(result)
            if out is not None:
                if result["weights"] is not None:
                    save_run(out, spec, result)
                write_table(out, rows, about)
            if on_row is not None:
                on_row(row, rows)
    except KeyboardInterrupt:
        executor.cancel()
    finally:
        if out is not None:
            write_table(out, rows, about)
    return rows


class Background:
    """A sweep running in a thread (the lab): `rows` fill in as runs finish; stop() keeps what finished."""

    def __init__(self, specs: Sequence[RunSpec], executor, out: Path | None = None, about: dict | None = None,
                 on_row: Callable[[Row, list[Row]], None] | None = None):
        self.executor, self.rows = executor, [Row(s) for s in specs]
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(specs, out, about, on_row),
                                        name="rnnviz-sweep", daemon=True)
        self._thread.start()

    def _run(self, specs, out, about, on_row) -> None:
        try:
            run_sweep(specs, self.executor, out, about, on_row, self.rows)
        except Exception as e:  # noqa: BLE001 - shown by the page; the runs that finished are kept
            self.error = f"{type(e).__name__}: {e}"

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        self.executor.cancel()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
