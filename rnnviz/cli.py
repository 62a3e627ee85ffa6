"""Command line: `python -m rnnviz {tasks,train,probe,sample,sweep}`.

Every ModelConfig / TrainConfig field and every task option is a flag (underscores become dashes);
what is not given comes from the task's suggested defaults, which `train --task X --help` shows. A
task option named like a training field gets a `--data-` flag: `--seed` seeds the weights and the
training stream, `--data-seed` the task's data. Errors are one line and a non-zero exit.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path

import torch

from .callbacks import PrintProgress, Recorder
from .checkpoint import MAX_ZIP_BYTES, CheckpointError, check_writable, from_bytes, from_zip, load, save
from .config import CELLS, INITS, OPTIMIZERS, SHOWN, ModelConfig, TrainConfig, clipped, shown
from .generate import sample_text
from .limits import read_file
from .probes import float32_list
from .sweep_cli import add_parser as add_sweep_parser
from .sweep_cli import cmd_sweep
from .tasks import TASKS, make_task
from .tasks.text import MAX_TEXT_BYTES, read_text_file, readable_by_others
from .trainer import Trainer

ALIASES = {"hidden_size": ["--hidden"], "num_layers": ["--layers"], "embedding_dim": ["--embedding"]}
CHOICES = {"cell": CELLS, "optimizer": OPTIMIZERS, "init": INITS, "nonlinearity": ("tanh", "relu"),
           "dtype": ("float32", "float64"), "engine": ("torch", "numpy")}
MEANING = {"seed": "seeds the weights, the training order and dropout", "data_seed": "seeds the task's data"}
CONFIG_FIELDS = {f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)}
INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors in one line (it prints the whole usage), a long value of the command line
    shortened in them (it quotes the value whole: a pasted megabyte would fill the terminal)."""
    given: tuple[str, ...] = ()

    def parse_known_args(self, args=None, namespace=None):
        self.given = tuple(sys.argv[1:] if args is None else args)   # a subcommand's parser: its own part
        return super().parse_known_args(args, namespace)

    def error(self, message):
        long = {v for a in self.given for v in (a, a.partition("=")[2]) if len(v) > SHOWN}
        for v in sorted(long, key=len, reverse=True):
            message = message.replace(repr(v), shown(v)).replace(v, clipped(v))
        self.exit(2, f"rnnviz: error: {message} (see --help)\n")


def one_line(e: BaseException) -> str:
    """An error as one line of the CLI; the file name of an OSError shortened (its text quotes it whole)."""
    text = str(e)
    if isinstance(e, OSError):
        for name in (e.filename, e.filename2):
            if isinstance(name, str):
                text = text.replace(repr(name), shown(name))
    return " ".join(text.split()) or type(e).__name__


def task_dest(name: str) -> str:
    """The CLI name of a task option: its own, or data_<name> when a config field has that name."""
    return f"data_{name}" if name in CONFIG_FIELDS else name


def _defaults(cls, name: str) -> dict[str, object]:
    """task -> the default of field `name` of cls (ModelConfig, TrainConfig or a task's Options)."""
    out = {}
    for task, tcls in TASKS.items():
        if cls in (ModelConfig, TrainConfig):
            out[task] = getattr(tcls.suggested()[cls is TrainConfig], name)
        elif name in {f.name for f in dataclasses.fields(tcls.Options)}:
            out[task] = getattr(tcls.Options(), name)
    return out


def _default_help(per_task: dict[str, object], chosen: str | None) -> str:
    """'default for sine: 32' after --task sine, else every task's default, grouped by value."""
    if chosen is not None:
        text = f"default for {chosen}: {per_task[chosen]!r}" if chosen in per_task else f"not an option of {chosen}"
    else:
        groups: dict[str, list[str]] = {}
        for task, value in per_task.items():
            groups.setdefault(repr(value), []).append(task)
        text = (f"default: {next(iter(groups))}" if len(groups) == 1 and len(per_task) == len(TASKS) else
                "default per task: " + "; ".join(f"{v} ({', '.join(ts)})" for v, ts in groups.items()))
    return text.replace("%", "%%")


def _add_fields(group, cls, seen: set, chosen: str | None) -> None:
    for f in dataclasses.fields(cls):
        dest = f.name if cls in (ModelConfig, TrainConfig) else task_dest(f.name)
        if dest in seen:
            continue
        seen.add(dest)
        flags = [f"--{dest.replace('_', '-')}", *ALIASES.get(dest, [])]
        meaning = f"{MEANING[dest]}; " if dest in MEANING else ""
        kw = dict(dest=dest, default=argparse.SUPPRESS, help=meaning + _default_help(_defaults(cls, f.name), chosen))
        if str(f.type) == "bool":
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
        else:
            typ = {"int": int, "float": float, "str": str}[str(f.type)]
            group.add_argument(*flags, type=typ, choices=CHOICES.get(dest), **kw)


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m rnnviz", description="Train and look inside small RNN/LSTM/GRU models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("tasks", help="list the tasks and their defaults")
    t = sub.add_parser("train", help="train a model and write a checkpoint directory",
                       description="Train a model and write a checkpoint directory. Each flag's help gives "
                                   "every task's default; after --task X it gives X's.")
    t.add_argument("--task", required=True, choices=list(TASKS))
    t.add_argument("--out", required=True, help="checkpoint directory to write: a new path, an empty directory "
                                                "or (with --force) an rnnviz checkpoint; nothing else is replaced")
    t.add_argument("--force", action="store_true", help="replace the rnnviz checkpoint at --out")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--probe-every", type=int, default=10, metavar="N",
                   help="record the probe (hidden states, gates, dL/dh_t) every N record points (the app: 1)")
    seen: set = set()
    _add_fields(t.add_argument_group("model"), ModelConfig, seen, chosen)
    _add_fields(t.add_argument_group("training"), TrainConfig, seen, chosen)
    opts = t.add_argument_group("task options (each task takes its own; see `tasks`)")
    for cls in TASKS.values():
        _add_fields(opts, cls.Options, seen, chosen)
    t.add_argument("--text-file", help=f"text task: read the corpus from this UTF-8 file (a regular file of at most "
                   f"{MAX_TEXT_BYTES // 2**20} MB). The text is stored in the checkpoint's config.json; when the "
                   "file is not readable by other users, the checkpoint is private too (directory 0700, files 0600)")
    where = "a checkpoint directory, or a shared checkpoint .zip (checked as the app checks uploads)"
    sub.add_parser("probe", help="print JSON of the probe input seen through a checkpoint").add_argument(
        "--checkpoint", required=True, help=where)
    s = sub.add_parser("sample", help="sample text from a checkpoint of a token task")
    s.add_argument("--checkpoint", required=True, help=where)
    s.add_argument("--prime", default="The")
    s.add_argument("--length", type=int, default=200)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    add_sweep_parser(sub)
    return p


def cmd_tasks(_args) -> int:
    for name, cls in TASKS.items():
        m, t = cls.suggested()
        print(f"{name:8} {cls.summary}")
        print(f"{'':8} options: {dataclasses.asdict(cls.Options())}")
        print(f"{'':8} model: cell={m.cell} hidden={m.hidden_size} layers={m.num_layers} embedding={m.embedding_dim}"
              f"  train: {t.optimizer} lr={t.lr} {'steps=' + str(t.steps) if t.steps else 'epochs=' + str(t.epochs)}"
              f" clip={t.clip}" + (f" forget_bias={t.forget_bias}" if t.forget_bias else ""))
    return 0


def _run(trainer: Trainer) -> tuple[str, str]:
    """trainer.run(), where the first Ctrl-C stops the run between two steps (so that it is saved whole,
    optimizer state included) and a second one interrupts at once. Returns (status, interrupted):
    interrupted is "" (not), "between steps", or "abruptly" (the weights are the last good record's)."""
    interrupted = []
    previous = None

    def stop(_signum, _frame):
        interrupted.append("between steps")
        trainer.stop("interrupted (Ctrl-C)")
        signal.signal(signal.SIGINT, previous)

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, stop)
    try:
        return trainer.run(), "".join(interrupted[:1])
    except KeyboardInterrupt:   # mid-step (no handler here, or a second Ctrl-C): the last good weights
        trainer.engine.restore_good()
        trainer.status, trainer.reason = "stopped", "interrupted (Ctrl-C)"
        return "stopped", "abruptly"
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def cmd_train(args) -> int:
    given = vars(args)
    cls = TASKS[args.task]
    task_fields = {task_dest(f.name): f.name for f in dataclasses.fields(cls.Options)}
    all_task_dests = {task_dest(f.name) for c in TASKS.values() for f in dataclasses.fields(c.Options)}
    foreign = sorted(k for k in given if k in all_task_dests - set(task_fields) - CONFIG_FIELDS)
    if foreign:
        raise ValueError(f"task {args.task} has no option{'s' if len(foreign) > 1 else ''} {', '.join('--' + f.replace('_', '-') for f in foreign)}")
    options = {name: given[dest] for dest, name in task_fields.items() if dest in given}
    private = False
    if args.text_file is not None:     # '' too: an unset shell variable must not mean "no file"
        if args.task != "text":
            raise ValueError("--text-file is an option of the text task")
        options.update(corpus="custom", text=read_text_file(args.text_file))
        private = not readable_by_others(args.text_file)
    if args.probe_every < 1:
        raise ValueError(f"--probe-every must be at least 1, got {args.probe_every}")
    task = make_task(args.task, **options)
    m, t = task.suggested_for(task.options)
    mcfg = dataclasses.replace(m, **{k: v for k, v in given.items() if k in {f.name for f in dataclasses.fields(m)}})
    tcfg = dataclasses.replace(t, **{k: v for k, v in given.items() if k in {f.name for f in dataclasses.fields(t)}})
    target = check_writable(args.out, replace=args.force)    # before the run spends time training
    rec = Recorder(probe_every=args.probe_every, spectral=True)
    callbacks = [rec] if args.quiet else [rec, PrintProgress(every=max(1, (tcfg.steps or tcfg.epochs) // 25))]
    trainer = Trainer(task, mcfg, tcfg, callbacks)
    status, interrupted = _run(trainer)
    last = rec.history.last
    engine = trainer.engine
    # the optimizer's state belongs to the engine's weights, which an abrupt interrupt replaced
    opt = engine.optimizer_state() if hasattr(engine, "optimizer_state") and interrupted != "abruptly" else None
    out = save(args.out, task, mcfg, tcfg, engine.state_dict(), rec.history, optimizer=opt, replace=args.force,
               private=private, status=status, reason=trainer.reason, steps_done=trainer.step,
               epochs_done=trainer.epoch, loss=last.loss if last else None)
    replaced = " (it replaced the checkpoint that was there)" if target == "checkpoint" else ""
    if interrupted:
        print(f"rnnviz: interrupted at step {trainer.step}; the run so far is saved in {out}{replaced}", file=sys.stderr)
        return INTERRUPTED
    print(f"{status}: {trainer.reason}; checkpoint written to {out}{replaced}")
    return 0 if status in ("finished", "stopped") else 3


def open_checkpoint(where: str, with_history: bool = False):
    """A checkpoint directory, or a shared .zip through the very checks of the app's upload
    (checkpoint.from_zip, then checkpoint.from_bytes)."""
    p = Path(where)
    if p.is_dir():
        return load(p, with_history=with_history)
    if not p.exists():
        raise CheckpointError(f"no checkpoint directory or zip at {clipped(where)}")
    try:
        data = read_file(p, MAX_ZIP_BYTES, "the checkpoint zip")
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    blobs = from_zip(data)
    if not with_history:
        blobs.pop("history.json", None)
    return from_bytes(blobs)


def cmd_probe(args) -> int:
    ckpt = open_checkpoint(args.checkpoint)
    task, engine = ckpt.task, ckpt.engine()
    batch = task.probe()
    p = engine.probe(batch)
    desc = task.describe(torch.from_numpy(p.out)[None], batch)
    def top(a, direction: int = 0):   # the top layer's row, forward (or reverse) direction
        return None if a is None else float32_list(a[p.row(-1, direction)])

    result = {
        "task": task.name, "cell": ckpt.model_cfg.cell, "labels": task.probe_labels(), "loss": p.loss,
        "prediction": desc.get("text", desc.get("predicted")), "target": desc.get("target_text", desc.get("target")),
        "hidden": top(p.hidden), "cell_state": top(p.cell),
        "gates": {k: top(v) for k, v in p.gates.items()},
        "grad_norms": top(p.grad_h), "grad_norms_last": top(p.grad_h_last),
        "spectral_radius": p.spectral_radius,
    }
    if p.directions == 2:      # a bidirectional model: the reverse direction beside the forward one
        result["reverse"] = {"hidden": top(p.hidden, 1), "cell_state": top(p.cell, 1),
                             "gates": {k: top(v, 1) for k, v in p.gates.items()},
                             "grad_norms": top(p.grad_h, 1), "grad_norms_last": top(p.grad_h_last, 1)}
    print(json.dumps(result))
    return 0


def cmd_sample(args) -> int:
    ckpt = open_checkpoint(args.checkpoint)
    if not ckpt.task.tokens or ckpt.task.kind != "classify":
        raise ValueError(f"sampling needs a token task; this checkpoint is {ckpt.task.name}")
    print(args.prime + sample_text(ckpt.engine(), ckpt.task, args.prime, args.length, args.temperature,
                                   args.top_k, args.seed))
    return 0


def _chosen_task(argv: list[str]) -> str | None:
    """The --task of a train command line, so that --help can show that task's defaults."""
    for i, a in enumerate(argv):
        name = a.split("=", 1)[1] if a.startswith("--task=") else argv[i + 1] if a == "--task" and i + 1 < len(argv) else None
        if name in TASKS:
            return name
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_chosen_task(argv)).parse_args(argv)
    try:
        return {"tasks": cmd_tasks, "train": cmd_train, "probe": cmd_probe, "sample": cmd_sample,
                "sweep": cmd_sweep}[args.command](args)
    except (ValueError, OSError, RecursionError, MemoryError) as e:   # CheckpointError is a ValueError
        print(f"rnnviz: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnviz: interrupted", file=sys.stderr)
        return INTERRUPTED
