"""Checkpoints: a directory with model.safetensors, config.json and history.json.

Saving is atomic: everything is written into a temporary sibling directory which then replaces the
target in one rename, so a crash never leaves a half-written checkpoint. Loading never unpickles:
weights are safetensors, everything else JSON; names and shapes are checked against the model that
the config describes before anything is used.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from . import __version__
from .config import ModelConfig, TrainConfig, from_dict, to_dict
from .engine import build_model
from .recorder import History
from .tasks import Task, task_from_config
from .engines import make_engine

FILES = ("model.safetensors", "config.json", "history.json", "optimizer.safetensors")
MAX_WEIGHTS_BYTES = 200 * 2**20
MAX_JSON_BYTES = 50 * 2**20
MAX_ZIP_BYTES = 250 * 2**20


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why in plain words."""


@dataclass
class Checkpoint:
    path: Path | None
    config: dict
    task: Task
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    state_dict: dict[str, torch.Tensor]
    history: History | None
    optimizer: tuple[dict[str, torch.Tensor], dict] | None = None  # flat state tensors, metadata

    def build_model(self):
        model = build_model(self.task, self.model_cfg, self.train_cfg)
        model.load_state_dict(self.state_dict)
        return model

    @property
    def bugs(self) -> tuple[str, ...]:
        """The slips injected into the NumPy backward of the run that was saved (config "bugs")."""
        return tuple(self.config.get("bugs") or ())

    def engine(self, train_cfg: TrainConfig | None = None):
        """The engine the run trained on (torch, or NumPy with its injected bugs) at the saved weights,
        with the saved optimizer state when the optimizer is the same kind (so training resumes where it
        stopped); train_cfg may change training settings."""
        tcfg = train_cfg or self.train_cfg
        eng = make_engine(self.task, self.model_cfg, tcfg, state_dict=self.state_dict, bugs=self.bugs)
        if self.optimizer is not None and hasattr(eng, "load_optimizer_state"):
            try:
                eng.load_optimizer_state(*self.optimizer)
            except (ValueError, KeyError, RuntimeError):
                pass  # an optimizer state that does not fit: resume with a fresh optimizer
        return eng


def make_config(task: Task, mcfg: ModelConfig, tcfg: TrainConfig, **extra) -> dict:
    return {"rnnviz_version": __version__, "format": 1, "task": task.to_config(), "model": to_dict(mcfg),
            "train": to_dict(tcfg), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}


def save(path: str | os.PathLike, task: Task, mcfg: ModelConfig, tcfg: TrainConfig,
         state_dict: dict[str, torch.Tensor], history: History | None = None,
         optimizer: tuple[dict[str, torch.Tensor], dict] | None = None, **extra) -> Path:
    """Write a checkpoint directory atomically; `optimizer` = engine.optimizer_state() to resume exactly;
    `extra` goes into config.json (status, epochs done...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a checkpoint is meant to be shared
        weights = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
        (tmp / "model.safetensors").write_bytes(st_save(weights, metadata={"format": "rnnviz"}))
        if optimizer is not None:
            tensors, meta = optimizer
            (tmp / "optimizer.safetensors").write_bytes(
                st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}))
            extra["optimizer_state"] = meta
        _write_json(tmp / "config.json", make_config(task, mcfg, tcfg, **extra))
        _write_json(tmp / "history.json", history.to_json() if history is not None else {"records": []})
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _write_json(p: Path, obj) -> None:
    with open(p, "w") as f:
        json.dump(obj, f, allow_nan=True)
        f.flush()
        os.fsync(f.fileno())


def load(path: str | os.PathLike, with_history: bool = True) -> Checkpoint:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint directory at {path}")
    files = {name: path / name for name in FILES if (path / name).exists()}
    return from_bytes({n: p.read_bytes() for n, p in files.items() if with_history or n != "history.json"},
                      path=path)


def from_bytes(blobs: dict[str, bytes], path: Path | None = None) -> Checkpoint:
    """Validate and decode checkpoint files given as bytes (uploads go through here too)."""
    for name in ("model.safetensors", "config.json"):
        if name not in blobs:
            raise CheckpointError(f"the checkpoint has no {name}")
    if len(blobs["model.safetensors"]) > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"model.safetensors is larger than {MAX_WEIGHTS_BYTES // 2**20} MB")
    try:
        config = json.loads(blobs["config.json"].decode("utf-8"))
        task = task_from_config(config["task"])
        mcfg = from_dict(ModelConfig, config["model"])
        tcfg = from_dict(TrainConfig, config.get("train"))
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"config.json is not an rnnviz config: {e}") from None
    saved_vocab = config["task"].get("vocab")
    if saved_vocab is not None and list(saved_vocab) != list(task.vocab):
        raise CheckpointError("the checkpoint's vocabulary differs from the one its task builds")
    try:
        state = st_load(blobs["model.safetensors"])
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"model.safetensors cannot be read: {e}") from None
    try:
        expected = build_model(task, mcfg, tcfg).state_dict()
    except ValueError as e:
        raise CheckpointError(f"config.json describes an impossible model: {e}") from None
    missing, unknown = set(expected) - set(state), set(state) - set(expected)
    if missing or unknown:
        raise CheckpointError(f"weights do not match the config (missing {sorted(missing)[:4]}, "
                              f"unexpected {sorted(unknown)[:4]})")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{k} has shape {tuple(state[k].shape)}, the config needs {tuple(v.shape)}")
        state[k] = state[k].to(v.dtype)
    optimizer = None
    if "optimizer.safetensors" in blobs and config.get("optimizer_state"):
        try:
            optimizer = (st_load(blobs["optimizer.safetensors"]), config["optimizer_state"])
        except Exception as e:
            raise CheckpointError(f"optimizer.safetensors cannot be read: {e}") from None
    history = None
    if "history.json" in blobs:
        if len(blobs["history.json"]) > MAX_JSON_BYTES:
            raise CheckpointError("history.json is too large")
        try:
            history = History.from_json(json.loads(blobs["history.json"].decode("utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"history.json cannot be read: {e}") from None
    return Checkpoint(path, config, task, mcfg, tcfg, state, history, optimizer)


# ---- sharing: a checkpoint as one zip --------------------------------------------------------
def to_zip(path: str | os.PathLike) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in FILES:
            if (Path(path) / name).exists():
                z.write(Path(path) / name, name)
    return buf.getvalue()


def from_zip(data: bytes) -> dict[str, bytes]:
    """The checkpoint files inside an uploaded zip (sizes checked before anything is extracted)."""
    if len(data) > MAX_ZIP_BYTES:
        raise CheckpointError("the file is too large to be an rnnviz checkpoint")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CheckpointError("the file is not a zip archive") from None
    blobs = {}
    for info in z.infolist():
        name = Path(info.filename).name
        if name in FILES:
            limit = MAX_WEIGHTS_BYTES if name.endswith(".safetensors") else MAX_JSON_BYTES
            if info.file_size > limit:
                raise CheckpointError(f"{name} in the zip is too large")
            blobs[name] = z.read(info)
    return blobs


def list_runs(root: str | os.PathLike = "checkpoints") -> list[dict]:
    """Summaries of the checkpoint directories under root (newest first); unreadable ones say so."""
    out = []
    root = Path(root)
    if not root.is_dir():
        return out
    for cfg_path in sorted(root.glob("**/config.json")):
        d = cfg_path.parent
        if any(part.startswith(".") for part in d.relative_to(root).parts):
            continue  # temporary or old directories of an atomic save
        try:
            cfg = json.loads(cfg_path.read_text())
            out.append({"path": str(d), "name": str(d.relative_to(root)), "task": cfg["task"]["name"],
                        "cell": cfg["model"]["cell"], "hidden": cfg["model"]["hidden_size"],
                        "layers": cfg["model"]["num_layers"], "saved_at": cfg.get("saved_at", ""),
                        "status": cfg.get("status", ""), "loss": cfg.get("loss"), "mtime": cfg_path.stat().st_mtime})
        except (ValueError, KeyError, OSError) as e:
            out.append({"path": str(d), "name": str(d.relative_to(root)), "error": str(e), "mtime": 0})
    return sorted(out, key=lambda r: -r["mtime"])
