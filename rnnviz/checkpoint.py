"""Checkpoints: a directory with model.safetensors, config.json and history.json.

Saving is atomic: everything is written into a temporary sibling directory which then replaces the
target in one rename, so a crash never leaves a half-written checkpoint. A save writes only to a new
path, an empty directory or (when asked: replace=True) over an rnnviz checkpoint, never over anything
else; save_new picks a name no other save has. Loading never unpickles: weights are safetensors,
everything else JSON; every name, dtype and shape is checked against the config, and the config
against the size limits (rnnviz.limits), before a tensor is allocated (rnnviz.checkpoint_io).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from . import __version__
from .checkpoint_io import (FILES, LIMITS, MAX_ZIP_BYTES, SAFETENSORS_DTYPES, CheckpointError,  # noqa: F401
                            from_zip, read_json, tensor_header, to_zip, write_file, write_json)
from .checkpoint_target import check_writable, move_into_place, target_kind  # noqa: F401
from .config import ModelConfig, TrainConfig, from_dict, shown, to_dict
from .engine import build_model
from .limits import check_model_size, read_file, weight_shapes
from .recorder import History
from .tasks import Task, task_from_config
from .engines import Resume, make_engine

# config.json entries besides task/model/train that code reads: their JSON types
EXTRAS = {"status": str, "reason": str, "lesson": str, "run": str, "saved_at": str, "rnnviz_version": str,
          "loss": (int, float, type(None)), "epochs": int, "steps_done": int, "epochs_done": int,
          "optimizer_state": dict, "bugs": list, "progress": dict}
OPTIMIZER_SLOTS = ("exp_avg", "exp_avg_sq", "momentum_buffer", "square_avg")


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
         optimizer: tuple[dict[str, torch.Tensor], dict] | None = None, replace: bool = False,
         private: bool = False, **extra) -> Path:
    """Write a checkpoint directory atomically; `optimizer` = engine.optimizer_state() to resume exactly;
    `extra` goes into config.json (status, epochs done...).

    path must be new, an empty directory, or (only with replace=True) an rnnviz checkpoint, which is then
    replaced; anything else (a file, a folder of other files) is refused with CheckpointError and left
    as it is. The directory is 0o755 so that a checkpoint can be shared; private=True makes it 0o700
    and its files 0o600 (a checkpoint of a text only its owner may read). Non-finite weights are
    refused: they are of no use to anyone."""
    path = Path(path)
    check_writable(path, replace)      # refuses what may not be replaced, before any work
    weights = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    if not all(bool(torch.isfinite(v).all()) for v in weights.values()):
        raise CheckpointError("the weights are not all finite (NaN or infinite): not saved")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))   # 0o700
    try:
        if not private:
            tmp.chmod(0o755)
        write_file(tmp / "model.safetensors", st_save(weights, metadata={"format": "rnnviz"}), private)
        if optimizer is not None:
            tensors, meta = optimizer
            write_file(tmp / "optimizer.safetensors",
                       st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}), private)
            extra["optimizer_state"] = meta
        write_json(tmp / "config.json", make_config(task, mcfg, tcfg, **extra), private)
        # the whole history, but as few probes as it takes to stay readable by load()
        kept = history.to_json(max_bytes=LIMITS["history.json"] - 2**10) if history is not None else {"records": []}
        write_json(tmp / "history.json", kept, private)
        move_into_place(tmp, path, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def save_new(parent: str | os.PathLike, stem: str, *args, **kwargs) -> Path:
    """save() into a new directory under parent named stem, or stem-2, stem-3, ... : the name is taken
    with an exclusive mkdir, so two saves (two sessions in the same second) never share it."""
    if not stem or stem in (".", "..") or "/" in stem or "\0" in stem or stem.startswith("."):
        raise ValueError(f"a checkpoint name must be a plain file name, got {shown(stem)}")
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        path = parent / (stem if i == 1 else f"{stem}-{i}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        try:
            return save(path, *args, **kwargs)
        except BaseException:
            try:
                os.rmdir(path)
            except OSError:
                pass
            raise
    raise CheckpointError(f"no free checkpoint name for {stem} under {parent}")


# ---- loading ---------------------------------------------------------------------------------
def load(path: str | os.PathLike, with_history: bool = True) -> Checkpoint:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint directory at {path}")
    names = [n for n in FILES if (path / n).exists() and (with_history or n != "history.json")]
    try:
        blobs = {n: read_file(path / n, LIMITS[n], n) for n in names}
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    return from_bytes(blobs, path=path)


def from_bytes(blobs: dict[str, bytes], path: Path | None = None) -> Checkpoint:
    """Validate and decode checkpoint files given as bytes (uploads go through here too): the config
    first, then the model's size, then every tensor's name, dtype and shape from the safetensors
    headers, and only then the tensors themselves (which must be finite)."""
    for name in ("model.safetensors", "config.json"):
        if name not in blobs:
            raise CheckpointError(f"the checkpoint has no {name}")
    for name, blob in blobs.items():
        if name in LIMITS and len(blob) > LIMITS[name]:
            raise CheckpointError(f"{name} is larger than {LIMITS[name] // 2**20} MB")
    config = _object(read_json("config.json", blobs["config.json"]), "config.json")
    task, mcfg, tcfg = _configs(config)
    try:
        check_model_size(task, mcfg, tcfg)
        shapes = weight_shapes(mcfg, task.input_size, task.output_size, task.tokens)
    except ValueError as e:
        raise CheckpointError(f"config.json describes a model that cannot be loaded: {e}") from None
    state = _tensors("model.safetensors", blobs["model.safetensors"], shapes, SAFETENSORS_DTYPES[tcfg.dtype])
    optimizer = None
    if "optimizer.safetensors" in blobs and config.get("optimizer_state"):
        slots = {f"{n}:{slot}": shapes[n] for n in shapes for slot in OPTIMIZER_SLOTS}
        slots.update({f"{n}:step": () for n in shapes})
        optimizer = (_tensors("optimizer.safetensors", blobs["optimizer.safetensors"], slots, None),
                     config["optimizer_state"])
    history = None
    if "history.json" in blobs:
        try:
            history = History.from_json(read_json("history.json", blobs["history.json"]))
        except CheckpointError:
            raise
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"history.json cannot be read: {str(e)[:100]}") from None
    return Checkpoint(path, config, task, mcfg, tcfg, state, history, optimizer)


def _configs(config: dict) -> tuple[Task, ModelConfig, TrainConfig]:
    """The task and configs of a config.json, every entry checked for its type."""
    for key in ("task", "model"):
        if key not in config:
            raise CheckpointError(f"config.json is not an rnnviz config: it has no {key!r} entry")
    for key, types in EXTRAS.items():
        if key in config and (isinstance(config[key], bool) or not isinstance(config[key], types)):
            raise CheckpointError(f"config.json is not an rnnviz config: {key} has the wrong type ({shown(config[key])})")
    if not all(isinstance(b, str) for b in config.get("bugs") or ()):
        raise CheckpointError("config.json is not an rnnviz config: bugs must be a list of names")
    if "progress" in config:
        try:
            Resume.check_counters(config["progress"])
        except ValueError as e:
            raise CheckpointError(f"config.json is not an rnnviz config: {e}") from None
    try:
        task = task_from_config(config["task"])
        mcfg = from_dict(ModelConfig, _object(config["model"], "the model entry"))
        tcfg = from_dict(TrainConfig, config.get("train"))
    except (ValueError, KeyError, TypeError) as e:   # TypeError: a safety net, the configs raise ValueError
        raise CheckpointError(f"config.json is not an rnnviz config: {str(e)[:200]}") from None
    saved_vocab = config["task"].get("vocab")
    if saved_vocab is not None and (not isinstance(saved_vocab, list) or saved_vocab != list(task.vocab)):
        raise CheckpointError("the checkpoint's vocabulary differs from the one its task builds")
    return task, mcfg, tcfg


def _tensors(name: str, blob: bytes, expected: dict[str, tuple], dtype: str | None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file once its header matches `expected` (name -> shape, every one
    present for the model; for the optimizer, any subset) and `dtype` (None: float32 or float64)."""
    header = tensor_header(name, blob)
    unknown = sorted(set(header) - set(expected))
    missing = sorted(set(expected) - set(header)) if name == "model.safetensors" else []
    if missing or unknown:
        raise CheckpointError(f"{name} does not match the config (missing {missing[:4]}, unexpected "
                              f"{[k[:60] for k in unknown[:4]]})")
    for k, (dt, shape) in header.items():
        if shape != tuple(expected[k]):
            raise CheckpointError(f"{name}: {k} has shape {shape}, the config needs {tuple(expected[k])}")
        if dtype is not None and dt != dtype:
            raise CheckpointError(f"{name}: {k} is {dt}, the config's dtype needs {dtype} (not converted)")
    try:
        tensors = st_load(blob)
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{name} cannot be read: {str(e)[:100]}") from None
    bad = [k for k, v in tensors.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{name}: {bad[0]} holds values that are not finite (NaN or infinite)")
    return tensors


def list_runs(root: str | os.PathLike = "checkpoints") -> list[dict]:
    """Summaries of the checkpoint directories under root (newest first); unreadable ones say why."""
    out = []
    root = Path(root)
    if not root.is_dir():
        return out
    for cfg_path in sorted(root.glob("**/config.json")):
        d = cfg_path.parent
        if any(part.startswith(".") for part in d.relative_to(root).parts):
            continue  # temporary or old directories of an atomic save
        entry = {"path": str(d), "name": str(d.relative_to(root))}
        try:
            cfg = read_json("config.json", read_file(cfg_path, LIMITS["config.json"], "config.json"))
            task, model = _object(cfg, "config.json")["task"], _object(cfg["model"], "model")
            entry.update(task=_typed(_object(task, "task")["name"], str, "task name"),
                         cell=_typed(model["cell"], str, "cell"), hidden=_typed(model["hidden_size"], int, "hidden_size"),
                         layers=_typed(model["num_layers"], int, "num_layers"),
                         saved_at=_typed(cfg.get("saved_at", ""), str, "saved_at"),
                         status=_typed(cfg.get("status", ""), str, "status"),
                         loss=_typed(cfg.get("loss"), (int, float, type(None)), "loss"), mtime=cfg_path.stat().st_mtime)
        except KeyError as e:
            entry.update(error=f"config.json has no {e.args[0]!r} entry", mtime=0)
        except (ValueError, OSError) as e:
            entry.update(error=str(e), mtime=0)
        out.append(entry)
    return sorted(out, key=lambda r: -r["mtime"])


def _object(v, what: str) -> dict:
    if not isinstance(v, dict):
        raise CheckpointError(f"{what} must be a JSON object, got {shown(v)}")
    return v


def _typed(v, types, what: str):
    if isinstance(v, bool) or not isinstance(v, types):
        raise CheckpointError(f"{what} has the wrong type: {shown(v)}")
    return v
