"""Checkpoints in the lab, each owned: save a lesson's runs, open one in its lesson, upload, delete,
publish to the class. Files are written and read only through rnnviz.checkpoint (safetensors + JSON).

    <root>/pretrained/         shipped with the lab: everyone opens them, nobody deletes them here
    <root>/class/              published by the teacher: everyone opens them, nobody deletes them here
    <root>/students/<owner>/   a student's own saves and uploads: only that browser sees, opens, deletes

<root> is ./checkpoints next to app.py (env RNNVIZ_CHECKPOINTS). The teacher (lab.teacher) may publish
its own checkpoints to the class folder and take them down again; without a teacher key the class
folder is filled on the server by hand.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import streamlit as st

from rnnviz import checkpoint, run_store
from rnnviz.checkpoint import CheckpointError
from rnnviz.limits import bytes_under, env_limit
from rnnviz.run import ACTIVE, Run

from . import identity, registry, teacher
from .messages import say
from .lessons import BY_KEY, TASK_LESSON, Lesson
from .settings import Setup, put_settings

PRETRAINED, CLASS, STUDENTS = "pretrained", "class", "students"
UPLOAD_MB = env_limit("RNNVIZ_MAX_UPLOAD_MB", 100)   # an uploaded zip, at most (Streamlit holds it in memory)
# the disk is shared: a student keeps at most this many checkpoints and this many MB (so that one who
# fills theirs stops nobody else), and all students' folders together (a new browser is a new
# student) at most this many MB
STUDENT_CHECKPOINTS = env_limit("RNNVIZ_STUDENT_CHECKPOINTS", 100)
STUDENT_MB = env_limit("RNNVIZ_STUDENT_CHECKPOINTS_MB", 500)
STUDENTS_MB = env_limit("RNNVIZ_STUDENTS_CHECKPOINTS_MB", 5000)
EXTRAS = ("lesson", "run", "status", "loss", "epochs", "bugs", "progress")   # config.json fields a copy keeps
GOTO = "lab.goto"


class NoRoom(CheckpointError):
    """A checkpoint refused because the student's (or all students') folders are full."""


def root() -> Path:
    return Path(os.environ.get("RNNVIZ_CHECKPOINTS") or Path(__file__).resolve().parents[1] / "checkpoints")


def mine() -> Path:
    return root() / STUDENTS / identity.owner()


def _save_new(parent: Path, stem: str, *args, incoming: int = 0, **kwargs) -> str:
    """A checkpoint under a new name (stem, stem-2, ...: taken exclusively); its name. Into this
    student's folder only while there is room (_check_room): for `incoming` more bytes before it is
    written (an upload's), and for what it measures once written (a run's: its folder goes again)."""
    if parent != mine():
        return checkpoint.save_new(parent, stem, *args, **kwargs).name
    _check_room(incoming)
    path = checkpoint.save_new(parent, stem, *args, **kwargs)
    try:
        _check_room(bytes_under(path), written=path)
    except NoRoom:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path.name


def _mb(size: float) -> str:
    """A size in words: KB under a MB (a small model's checkpoint), else MB."""
    return f"{size / 2**10:,.0f} KB" if size < 2**20 else f"{size / 2**20:,.1f} MB"


def _check_room(adding: int, written: Path | None = None) -> None:
    """NoRoom when this student has STUDENT_CHECKPOINTS checkpoints, or when `adding` more bytes would
    take their folder past STUDENT_MB or all students' folders past STUDENTS_MB. `written`: the
    checkpoint of those bytes is on disk already (under the folders, so not counted twice)."""
    folder = mine()
    own = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p != written] \
        if folder.is_dir() else []
    if len(own) >= STUDENT_CHECKPOINTS:
        raise NoRoom(f"you have {len(own)} checkpoints, the most a student keeps "
                     "(RNNVIZ_STUDENT_CHECKPOINTS): delete some on the Checkpoints page first")
    counted = adding if written is not None else 0
    kept = bytes_under(folder) - counted
    if kept + adding > STUDENT_MB * 2**20:
        raise NoRoom(f"your checkpoints take {_mb(kept)} and this one {_mb(adding)}; a student keeps at most "
                     f"{STUDENT_MB:,.0f} MB (RNNVIZ_STUDENT_CHECKPOINTS_MB): delete some of yours on the "
                     "Checkpoints page first")
    used = bytes_under(root() / STUDENTS) - counted + adding
    if used > STUDENTS_MB * 2**20:
        raise NoRoom(f"the students' checkpoints would take {used / 2**20:,.0f} MB of the "
                     f"{STUDENTS_MB:,.0f} MB the server gives them (RNNVIZ_STUDENTS_CHECKPOINTS_MB): "
                     "delete some of yours, or ask the teacher")


def save_runs(lesson: Lesson, runs: dict[str, Run]) -> list[str]:
    """Save every run of the lesson that has records into this student's folder: where it stands when
    it has ended (with its optimizer's state, so that Continue goes on exactly), else the weights of its
    latest kept record point and the history up to it. Returns the checkpoint names."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = []
    for name, run in runs.items():
        # each read once: the run may train on, end or be thinned (Run.lighten) in another tab meanwhile
        status, resume = run.state, run.resume
        ended = status not in ACTIVE and resume is not None
        got = (run.last_epoch, resume.weights) if ended else run.weights.at(10**12)
        if got is None or run.history.last is None:
            continue
        epoch, state = got
        if run.checkpoint[:2] == (epoch, status) and (mine() / run.checkpoint[2]).is_dir():
            names.append(run.checkpoint[2])     # saved as it stands already (a second click)
            continue
        hist = run.history.until(epoch)     # copies: what thins the run's records does not reach them
        if not hist.records:
            continue
        # each part once: the sine lesson's task is "sine" ("sine-rnn-h_carried-...", not "sine-sine-...")
        parts = list(dict.fromkeys([lesson.key, run.task.name, run.mcfg.cell, run_store.slug(name)]))
        extra = dict(optimizer=resume.optimizer, progress=resume.counters()) if ended else {}
        names.append(_save_new(mine(), "-".join(parts + [stamp]), run.task, run.mcfg, run.tcfg, state, hist,
                               lesson=lesson.key, run=name, status=status, bugs=list(run.bugs),
                               loss=hist.records[-1].loss, epochs=epoch, **extra))
        run.checkpoint = (epoch, status, names[-1])
    if not names:
        raise ValueError("nothing to save yet: train until the first epoch (in step mode: the first "
                         "record) is recorded")
    return names


def listed() -> list[dict]:
    """What this student may open: their own checkpoints, the class's and the shipped ones."""
    rows = []
    for where, kind in ((mine(), "yours"), (root() / CLASS, "class"), (root() / PRETRAINED, "pretrained")):
        for row in checkpoint.list_runs(where):
            rows.append({**row, "kind": kind, "name": f"{kind}/{row['name']}" if kind != "yours" else row["name"]})
    return rows


def _inside(path: str | Path, *folders: Path) -> Path | None:
    """The path, resolved (links and .. followed), if it lies inside one of the folders; else None."""
    p = Path(path).resolve()
    return p if any(f.resolve() in p.parents for f in folders) else None


def _allowed(path: str | Path) -> Path:
    """The checkpoint folder at path if this student may open it (own, class, pretrained, or a run of
    the student's sweeps)."""
    if p := _inside(path, mine(), root() / CLASS, root() / PRETRAINED, registry.get().root / identity.owner()):
        return p
    raise CheckpointError("that checkpoint is not yours to open")


def _run_name(lesson: Lesson, ck: checkpoint.Checkpoint) -> str:
    """The run of the lesson a checkpoint belongs to (a side-by-side lesson has several)."""
    if not lesson.variants:
        return ck.model_cfg.cell
    if ck.config.get("run") in lesson.variants:
        return ck.config["run"]
    for name, (m, t) in lesson.variants.items():
        if all(getattr(ck.model_cfg, k) == v for k, v in m.items()) and \
                all(getattr(ck.train_cfg, k) == v for k, v in t.items()):
            return name
    return next(iter(lesson.variants))


def open_in_lesson(path: str | Path, prefer: str | None = None) -> Lesson:
    """Load a checkpoint as the (not training) run of a lesson and set the lesson's settings to its
    configs: the lesson `prefer` if it trains the checkpoint's task, else the one it was saved from,
    else the task's usual lesson. Call it in an on_click callback (before the widgets draw)."""
    ck = checkpoint.load(_allowed(path))
    key = next((k for k in (prefer, ck.config.get("lesson"), TASK_LESSON.get(ck.task.name))
                if k in BY_KEY and ck.task.name in BY_KEY[k].tasks), None)
    if key is None:
        raise CheckpointError(f"no lesson trains the task {ck.task.name!r}")
    lesson = BY_KEY[key]
    setup = Setup(ck.task.name, ck.task.options, ck.model_cfg, ck.train_cfg)
    run = run_store.from_checkpoint(ck)
    run.task, run.origin, run.state = setup.task, Path(path).name, "loaded"   # the lab's shared copy of the task
    put_settings(lesson, setup, ck.bugs)
    registry.get().place(identity.owner(), lesson.key, {_run_name(lesson, ck): run})
    return lesson


def open_and_go(path: str, lesson_key: str | None) -> None:
    """on_click: open a checkpoint and ask the page to switch to its lesson (or report why not)."""
    try:
        lesson = open_in_lesson(path, prefer=lesson_key)
    except (CheckpointError, ValueError, OSError) as e:
        return say(lesson_key or "checkpoints", "error", f"Could not open {Path(path).name}: {e}")
    if lesson.key != lesson_key:
        st.session_state[GOTO] = lesson.page
    say(lesson.key, "success", f"Opened `{Path(path).name}`: its history is below; **Continue** trains on "
                               "from its weights.")


def follow_goto() -> None:
    """Switch page when a callback asked for it (st.switch_page cannot run inside a callback)."""
    if page := st.session_state.pop(GOTO, None):
        st.switch_page(page, query_params={})   # None would raise on a parameter bound to a widget (present)


def upload(data: bytes, filename: str) -> str:
    """Check an uploaded zip (safetensors + JSON only) and keep it as a new checkpoint of this student."""
    if not data:
        raise CheckpointError("the file is empty")     # (the page names the file, shortened)
    blobs = checkpoint.from_zip(data)
    ck = checkpoint.from_bytes(blobs)
    extra = {k: ck.config[k] for k in EXTRAS if k in ck.config}
    return _save_new(mine(), f"uploaded-{run_store.slug(Path(filename).stem)}", ck.task, ck.model_cfg, ck.train_cfg,
                     ck.state_dict, ck.history, incoming=sum(map(len, blobs.values())), **extra)


def deletable(path: str | Path) -> bool:
    """Only a student's own checkpoints (and, for the teacher, the class's) can be deleted here."""
    p = _inside(path, mine(), *([root() / CLASS] if teacher.is_teacher() else []))
    return p is not None and (p / "config.json").is_file()


def delete(path: str | Path) -> None:
    if not deletable(path):
        raise CheckpointError(f"{Path(path).name} is not a checkpoint of yours that can be deleted")
    shutil.rmtree(Path(path).resolve())


def publish(path: str | Path) -> str:
    """Copy one of the teacher's own checkpoints into the class folder, under a new name."""
    if not teacher.is_teacher():
        raise CheckpointError("only the teacher can publish to the class")
    if (src := _inside(path, mine())) is None:
        raise CheckpointError("publish one of your own checkpoints")
    ck = checkpoint.load(src)
    return _save_new(root() / CLASS, src.name, ck.task, ck.model_cfg, ck.train_cfg, ck.state_dict, ck.history,
                     optimizer=ck.optimizer, **{k: v for k, v in ck.config.items() if k in EXTRAS})
