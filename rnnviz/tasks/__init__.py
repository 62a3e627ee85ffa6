"""The registry of tasks: one dict, name -> Task class."""
from __future__ import annotations

from .base import IGNORE, Batch, Task, masked_loss, step_losses  # noqa: F401

TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls


def make_task(name: str, **options) -> Task:
    """Build a task by name; unknown option names raise a clear ValueError."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    cls = TASKS[name]
    fields = set(cls.Options.__dataclass_fields__)
    bad = set(options) - fields
    if bad:
        raise ValueError(f"task {name} has no option(s) {sorted(bad)}; its options are {sorted(fields)}")
    return cls(cls.Options(**options))


def task_from_config(cfg: dict) -> Task:
    return make_task(cfg["name"], **cfg.get("options", {}))


# importing the modules fills TASKS (each class is decorated with @register)
from . import chars, words, anbn, sine, text, memory  # noqa: E402,F401
