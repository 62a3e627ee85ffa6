"""The registry of tasks: one dict, name -> Task class."""
from __future__ import annotations

from ..config import shown
from .base import IGNORE, Batch, Task, masked_loss, step_losses  # noqa: F401

TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls


def make_task(name: str, **options) -> Task:
    """Build a task by name; unknown option names and values of the wrong type raise a clear ValueError."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {shown(name)}; choose one of {', '.join(TASKS)}")
    cls = TASKS[name]
    fields = set(cls.Options.__dataclass_fields__)
    bad = sorted(shown(k) for k in options if k not in fields)
    if bad:
        more = f" and {len(bad) - 5:,} more" if len(bad) > 5 else ""
        raise ValueError(f"task {name} has no option{'s' if len(bad) > 1 else ''} {', '.join(bad[:5])}{more}; its options are {sorted(fields)}")
    return cls(cls.Options(**options))


def task_from_config(cfg: dict) -> Task:
    """The task a checkpoint's config.json "task" entry describes: {"name": ..., "options": {...}}."""
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise ValueError(f"the task must be a JSON object with a name, got {shown(cfg)}")
    options = cfg.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"the task's options must be a JSON object, got {shown(options)}")
    return make_task(cfg["name"], **options)


# importing the modules fills TASKS (each class is decorated with @register)
from . import chars, words, anbn, sine, text, memory  # noqa: E402,F401
