"""What differs between runs, in a few words: the labels of curves laid over each other.

Each run is described by one flat dict of its settings (task, task options, model and training
config); a label names the settings whose values are not the same for all runs ("lag 30 · clip 1").
"""
from __future__ import annotations

import dataclasses
from typing import Any

LEFT_OUT = ("text",)      # a pasted corpus is no label


def settings_of(task, mcfg, tcfg) -> dict[str, Any]:
    """task name, options, model and training fields in one dict (options first: they differ most)."""
    out: dict[str, Any] = {"task": task.name}
    out.update({k: v for k, v in dataclasses.asdict(task.options).items() if k not in LEFT_OUT})
    out.update(dataclasses.asdict(mcfg))
    out.update(dataclasses.asdict(tcfg))
    return out


def _word(key: str, value: Any) -> str:
    name = key.replace("_", " ")
    if isinstance(value, bool):
        return name if value else f"no {name}"
    if key == "task":
        return str(value)
    return f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"


def labels(settings: list[dict[str, Any]], ignore: tuple[str, ...] = ()) -> list[str]:
    """One label per run: what sets it apart from the others; runs alike in every setting are
    numbered in order ("run 1", "run 2")."""
    keys = [k for k in dict.fromkeys(k for s in settings for k in s)
            if k not in ignore and len({repr(s.get(k)) for s in settings}) > 1]
    out = [" · ".join(_word(k, s.get(k)) for k in keys) for s in settings]
    if len(set(out)) < len(out):
        out = [f"{label + ' · ' if label else ''}run {i + 1}" for i, label in enumerate(out)]
    return out
