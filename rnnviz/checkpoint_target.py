"""Where a checkpoint save may write: a new path, an empty directory, or an rnnviz checkpoint that the
caller asked to replace; never a file or a folder holding anything else (a user's thesis.txt).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from .checkpoint_io import FILES, LIMITS, CheckpointError, read_json
from .limits import read_file


def target_kind(path: Path) -> str:
    """What is at path: "new" (nothing), "empty" (an empty directory), "checkpoint" (an rnnviz
    checkpoint directory: only checkpoint files, a readable rnnviz config.json); else CheckpointError."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):   # (a file above it: check_writable says so)
        return "new"
    if os.path.islink(path) or not os.path.isdir(path):
        raise CheckpointError(f"{path} exists and is not a checkpoint directory; rnnviz does not replace it")
    entries = sorted(os.listdir(path))
    if not entries:
        return "empty"
    foreign = [e for e in entries if e not in FILES]
    if foreign:
        raise CheckpointError(f"{path} holds files that are not part of an rnnviz checkpoint "
                              f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); rnnviz does not replace it")
    try:
        config = read_json("config.json", read_file(path / "config.json", LIMITS["config.json"], "config.json"))
    except (ValueError, OSError):
        config = None
    if not (isinstance(config, dict) and "rnnviz_version" in config and "format" in config):
        raise CheckpointError(f"{path} is not an rnnviz checkpoint (no readable rnnviz config.json); "
                              "rnnviz does not replace it")
    return "checkpoint"


def check_writable(path: str | os.PathLike, replace: bool = False) -> str:
    """Whether save(path, replace=replace) can write there, before a run spends time training: what is
    at path must be replaceable (see save) and its directory writable. Returns "new", "empty" or
    "checkpoint" (an existing checkpoint that replace=True will replace); CheckpointError if not."""
    path = Path(path)
    kind = target_kind(path)
    if kind == "checkpoint" and not replace:
        raise CheckpointError(f"{path} is an existing rnnviz checkpoint; replacing it must be asked for "
                              "(--force on the command line)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CheckpointError(f"cannot write {path}: {parent} is not a directory")
    try:
        if parent == path.parent:   # the real test: make (and remove) a directory where the save will
            os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.check.", dir=parent))
        elif not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(f"permission denied in {parent}")
    except OSError as e:
        raise CheckpointError(f"cannot write {path}: {e.strerror or e}") from None
    return kind


def move_into_place(tmp: Path, path: Path, replace: bool) -> None:
    kind = target_kind(path)             # again, just before the rename: it may have changed while writing
    if kind == "checkpoint" and not replace:
        raise CheckpointError(f"{path} became a checkpoint while saving; not replaced")
    if kind != "checkpoint":
        os.replace(tmp, path)        # onto nothing or an empty directory: one rename
        return
    old = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
