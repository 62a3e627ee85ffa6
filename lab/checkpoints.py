"""Checkpoints in the lab: save a lesson's runs, open a checkpoint in its lesson, pretrained models,
uploads and deletion. Files are written and read only through rnnviz.checkpoint (safetensors + JSON).

The directory is ./checkpoints next to app.py (env RNNVIZ_CHECKPOINTS overrides it); shipped models
live in its `pretrained/` folder and are never deleted from the app.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import streamlit as st

from rnnviz import checkpoint
from rnnviz.checkpoint import CheckpointError
from rnnviz.recorder import History

from . import controls, jobs, runs
from .lessons import BY_KEY, TASK_LESSON, Lesson

PRETRAINED = "pretrained"
GOTO = "lab.goto"


def root() -> Path:
    return Path(os.environ.get("RNNVIZ_CHECKPOINTS") or Path(__file__).resolve().parents[1] / "checkpoints")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_")[:40] or "run"


def save_runs(lesson: Lesson, lesson_jobs: dict[str, jobs.Job]) -> list[str]:
    """Save every run of the lesson that has records: weights of its latest kept record point and the
    history up to it. Returns the checkpoint names."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = []
    for name, job in lesson_jobs.items():
        got = job.weights.at(10**12)
        if got is None or job.history.last is None:
            continue
        epoch, state = got
        recs = [r for r in job.history.snapshot() if r.epoch <= epoch]
        hist = History(records=recs, thinned=job.history.thinned, unit=job.history.unit)
        parts = [lesson.key, job.task.name, job.mcfg.cell] + ([_slug(name)] if name != job.mcfg.cell else [])
        path = root() / "-".join(parts + [stamp])
        # the optimizer's state belongs to the engine's current weights: keep it only when those are the
        # weights saved (the run has ended at its last record), so that Continue resumes exactly
        engine = job.trainer.engine
        ended_here = not job.active and epoch == job.history.last.epoch
        opt = engine.optimizer_state() if ended_here and hasattr(engine, "optimizer_state") else None
        checkpoint.save(path, job.task, job.mcfg, job.tcfg, state, hist, optimizer=opt, lesson=lesson.key,
                        run=name, status=job.state, loss=recs[-1].loss if recs else None, epochs=epoch,
                        bugs=list(job.bugs))
        names.append(path.name)
    if not names:
        raise ValueError("nothing to save yet: no record point reached")
    return names


def _run_name(lesson: Lesson, ckpt: checkpoint.Checkpoint) -> str:
    """The run of the lesson a checkpoint belongs to (a side-by-side lesson has several)."""
    if not lesson.variants:
        return ckpt.model_cfg.cell
    if ckpt.config.get("run") in lesson.variants:
        return ckpt.config["run"]
    for name, (m, t) in lesson.variants.items():
        if all(getattr(ckpt.model_cfg, k) == v for k, v in m.items()) and \
                all(getattr(ckpt.train_cfg, k) == v for k, v in t.items()):
            return name
    return next(iter(lesson.variants))


def open_in_lesson(path: str | Path, prefer: str | None = None) -> Lesson:
    """Load a checkpoint as the (not yet training) run of a lesson and set the lesson's settings to
    its configs: the lesson `prefer` if it trains the checkpoint's task, else the one it was saved
    from, else the task's usual lesson. Call it in an on_click callback (before the widgets draw)."""
    ckpt = checkpoint.load(path)
    trains = lambda key: key in BY_KEY and ckpt.task.name in BY_KEY[key].tasks  # noqa: E731
    key = next((k for k in (prefer, ckpt.config.get("lesson"), TASK_LESSON.get(ckpt.task.name)) if trains(k)), None)
    if key is None:
        raise CheckpointError(f"no lesson trains the task {ckpt.task.name!r}")
    lesson = BY_KEY[key]
    task = controls.task_for(ckpt.task.name, ckpt.task.options)
    engine = ckpt.engine()  # saved weights, and the optimizer state when it was saved
    history = ckpt.history or History()
    job = jobs.Job(lesson.key, _run_name(lesson, ckpt), task, ckpt.model_cfg, ckpt.train_cfg, engine=engine,
                   history=history, origin=Path(path).name)
    job.weights.keep(history.last.epoch if history.last else 0, ckpt.state_dict)
    controls.put_settings(lesson, task, ckpt.model_cfg, ckpt.train_cfg)
    if ckpt.bugs and lesson.key == "scratch":     # the bug picker shows the bug the run was trained with
        from .scratch import BUG_KEY
        st.session_state[BUG_KEY] = ckpt.bugs[0]
    runs.replace(lesson.key, {job.name: jobs.keep(job)})
    return lesson


def open_and_go(path: str, lesson_key: str | None = None) -> None:
    """on_click: open a checkpoint and ask the page to switch to its lesson (or report why not)."""
    try:
        lesson = open_in_lesson(path, prefer=lesson_key)
    except (CheckpointError, ValueError, OSError) as e:
        controls.say(lesson_key or "checkpoints", "error", f"Could not open {Path(path).name}: {e}")
        return
    if lesson.key != lesson_key:
        st.session_state[GOTO] = lesson.page
    controls.say(lesson.key, "success", f"Opened `{Path(path).name}`: its history is below; "
                                        "**Continue** trains on from its weights.")


def follow_goto() -> None:
    """Switch page when a callback asked for it (st.switch_page cannot run inside a callback)."""
    if page := st.session_state.pop(GOTO, None):
        st.switch_page(page)


def pretrained_picker(lesson: Lesson) -> None:
    """Sidebar: offer the shipped models of this lesson's tasks, when there are any."""
    found = [r for r in checkpoint.list_runs(root() / PRETRAINED) if r.get("task") in lesson.tasks]
    if not found:
        return
    with st.sidebar.expander("Pretrained models", expanded=False, icon=":material/download_done:"):
        names = {r["name"]: r for r in found}
        pick = st.selectbox("model", list(names), key=f"{lesson.key}.pretrained",
                            format_func=lambda n: f"{n} ({names[n]['task']}, {names[n]['cell']} {names[n]['hidden']})")
        st.button("Load pretrained", key=f"{lesson.key}.load_pretrained", on_click=open_and_go,
                  args=(names[pick]["path"], lesson.key), icon=":material/upload:")


def upload(data: bytes, filename: str) -> str:
    """Check an uploaded zip (safetensors + JSON only) and store it as a new checkpoint; its name."""
    if not data:
        raise CheckpointError(f"{filename} is empty")
    ckpt = checkpoint.from_bytes(checkpoint.from_zip(data))
    extra = {k: ckpt.config[k] for k in ("lesson", "run", "status", "loss", "epochs") if k in ckpt.config}
    path = root() / f"uploaded-{_slug(Path(filename).stem)}-{time.strftime('%Y%m%d-%H%M%S')}"
    checkpoint.save(path, ckpt.task, ckpt.model_cfg, ckpt.train_cfg, ckpt.state_dict, ckpt.history, **extra)
    return path.name


def deletable(path: str | Path) -> bool:
    p, base = Path(path).resolve(), root().resolve()
    return (base in p.parents and (base / PRETRAINED) not in [p, *p.parents]
            and (p / "config.json").is_file())


def delete(path: str | Path) -> None:
    if not deletable(path):
        raise CheckpointError(f"{path} is not a checkpoint of yours that can be deleted")
    shutil.rmtree(Path(path).resolve())
