"""Runs on disk, so that a restart loses none: each is a checkpoint of its own (rnnviz.checkpoint).

    <root>/<owner>/<lesson>/<group>-<name>/   model.safetensors, optimizer.safetensors, config.json,
                                              history.json
    <root>/<owner>/<lesson>/.shelved          the group Reset took off screen last

config.json keeps, beside the settings, what the lab needs to show the run again and to go on from it:
its place (owner, lesson, group, name), its state and reason, and the trainer's counters and data
stream (engines.Resume). A run is written where it stands (its Resume) when it ends; one that never
trained has nothing to write.
"""
from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Collection
from pathlib import Path

from . import checkpoint
from .engines import Resume
from .recorder import History
from .limits import bytes_under
from .run import ENDED, Run

log = logging.getLogger("rnnviz.run_store")
SHELVED = ".shelved"    # in a lesson's folder: the group Reset took off screen last (run_store.shelve)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_")[:40] or "run"


def folder(root: Path, run: Run) -> Path:
    return Path(root) / run.owner / run.lesson / f"{run.group}-{slug(run.name)}"


def save(run: Run, root: Path) -> Path | None:
    """Write the run where it stands (replacing its own earlier copy); None when it has nothing yet."""
    if run.resume is None:
        return None
    path = folder(root, run)
    state = run.state if run.state in ENDED else "stopped"
    checkpoint.save(path, run.task, run.mcfg, run.tcfg, run.resume.weights, run.history, replace=True,
                    optimizer=run.resume.optimizer, lesson=run.lesson, group=run.group, run=run.name,
                    owner=run.owner, status=state, reason=run.reason, origin=run.origin, bugs=list(run.bugs),
                    progress=run.resume.counters(), loss=run.history.last.loss if run.history.last else None,
                    epochs=run.last_epoch)
    return path


def from_checkpoint(ck: checkpoint.Checkpoint) -> Run:
    """A Run where a loaded checkpoint stands: its settings, history, weights and optimizer state (the
    counters of a checkpoint without them: those of its last record)."""
    history = ck.history or History()
    last = history.last
    counters = ck.config.get("progress") or {"step": last.step if last else 0, "epoch": last.epoch if last else 0,
                                             "done": last.epoch if last else 0, "seconds": last.seconds if last else 0}
    resume = Resume.from_parts(ck.state_dict, ck.optimizer, counters)
    run = Run(ck.task, ck.model_cfg, ck.train_cfg, bugs=ck.bugs, history=history, resume=resume, done=resume.done,
              step=resume.step)
    run.weights.keep(run.last_epoch, ck.state_dict)
    return run


def load(path: Path) -> Run:
    """A saved run, as it ended (CheckpointError for a broken one)."""
    ck = checkpoint.load(path)
    c = ck.config
    run = from_checkpoint(ck)
    run.owner, run.lesson, run.group, run.name = (str(c.get(k, "")) for k in ("owner", "lesson", "group", "run"))
    run.origin, run.reason = str(c.get("origin", "")), str(c.get("reason", ""))
    run.state = c.get("status") if c.get("status") in ENDED else "stopped"
    run.saved = (Path(path) / "config.json").stat().st_mtime    # on disk as it stands: it may leave memory
    return run


def load_lesson(root: Path, owner: str, lesson: str) -> list[Run]:
    """A student's saved runs of a lesson, newest group first; a broken one is skipped (and logged)."""
    where = Path(root) / owner / lesson
    runs = []
    for path in sorted(where.glob("*/config.json")) if where.is_dir() else []:
        try:
            runs.append(load(path.parent))
        except (checkpoint.CheckpointError, OSError, ValueError) as e:
            log.warning("skipped a saved run that cannot be read, %s: %s", path.parent, e)
    return sorted(runs, key=lambda r: r.group, reverse=True)


def shelve(root: Path, owner: str, lesson: str, group: str) -> None:
    """Note that the student took `group` off screen (Reset): read back, the lesson shows none of the
    groups placed up to it (a group's name sorts by placement), only among the earlier runs."""
    where = Path(root) / owner / lesson
    where.mkdir(parents=True, exist_ok=True)
    (where / SHELVED).write_text(group, encoding="utf-8")


def shelved(root: Path, owner: str, lesson: str) -> str:
    """The name of the group last taken off screen in the lesson ("" if none)."""
    try:
        return (Path(root) / owner / lesson / SHELVED).read_text(encoding="utf-8")[:100]
    except (OSError, UnicodeDecodeError):
        return ""


def trim(root: Path, owner: str, max_bytes: int, keep: Collection[str]) -> set[tuple[str, str]]:
    """Delete a student's oldest runs, a group at a time, until their runs take at most max_bytes on
    disk; never a lesson's newest group, nor the groups in `keep` (those on screen: a clock set back
    can name a later group older). Returns the (lesson, group)s deleted. (A group's name starts with
    its time, so names sort by age; a run's name has no "-".)"""
    found: dict[tuple[str, str], list[Path]] = {}
    for config in Path(root, owner).glob("*/*/config.json"):
        if config.parent.parent.name != "sweeps":
            found.setdefault((config.parent.parent.name, config.parent.name.rsplit("-", 1)[0]), []).append(config.parent)
    size = {key: sum(map(bytes_under, paths)) for key, paths in found.items()}
    total = sum(size.values())
    newest = {lesson: max(g for les, g in found if les == lesson) for lesson, _ in found}
    gone = set()
    for lesson, group in sorted(found, key=lambda key: key[1]):
        if total <= max_bytes:
            break
        if group not in keep and group != newest[lesson]:
            for path in found[(lesson, group)]:
                shutil.rmtree(path, ignore_errors=True)
            total -= size[(lesson, group)]
            gone.add((lesson, group))
    return gone


def forget(root: Path, run: Run) -> None:
    """Delete a run's saved copy (the student asked to)."""
    path = folder(root, run)
    if (path / "config.json").is_file():
        shutil.rmtree(path, ignore_errors=True)
