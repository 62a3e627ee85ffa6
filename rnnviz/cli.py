"""Command line: `python -m rnnviz {tasks,train,probe,sample}`.

Every ModelConfig / TrainConfig field and every task option is a flag (underscores become dashes);
what is not given comes from the task's suggested defaults. Errors are one line and a non-zero exit.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .callbacks import PrintProgress, Recorder
from .checkpoint import CheckpointError, load, save
from .config import CELLS, INITS, OPTIMIZERS, ModelConfig, TrainConfig
from .generate import sample_text
from .sweep_cli import add_parser as add_sweep_parser
from .sweep_cli import cmd_sweep
from .tasks import TASKS, make_task
from .trainer import Trainer

ALIASES = {"hidden_size": ["--hidden"], "num_layers": ["--layers"], "embedding_dim": ["--embedding"]}
CHOICES = {"cell": CELLS, "optimizer": OPTIMIZERS, "init": INITS, "nonlinearity": ("tanh", "relu"),
           "dtype": ("float32", "float64"), "engine": ("torch", "numpy")}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the whole usage; one line is easier to read
        self.exit(2, f"rnnviz: error: {message} (see --help)\n")


def _add_fields(group, cls, seen: set) -> None:
    for f in dataclasses.fields(cls):
        if f.name in seen:
            continue
        seen.add(f.name)
        flags = [f"--{f.name.replace('_', '-')}", *ALIASES.get(f.name, [])]
        kw = dict(dest=f.name, default=argparse.SUPPRESS, help=f"default: task's suggestion ({f.default!r})")
        if f.type in (bool, "bool"):
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
        else:
            typ = {"int": int, "float": float, "str": str}.get(str(f.type), type(f.default))
            group.add_argument(*flags, type=typ, choices=CHOICES.get(f.name), **kw)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m rnnviz", description="Train and look inside small RNN/LSTM/GRU models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("tasks", help="list the tasks and their defaults")
    t = sub.add_parser("train", help="train a model and write a checkpoint directory")
    t.add_argument("--task", required=True, choices=list(TASKS))
    t.add_argument("--out", required=True, help="checkpoint directory to write")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--probe-every", type=int, default=10, metavar="N",
                   help="record the probe (hidden states, gates, dL/dh_t) every N record points (the app: 1)")
    seen: set = set()
    _add_fields(t.add_argument_group("model"), ModelConfig, seen)
    _add_fields(t.add_argument_group("training"), TrainConfig, seen)
    opts = t.add_argument_group("task options (each task takes its own; see `tasks`)")
    for cls in TASKS.values():
        _add_fields(opts, cls.Options, seen)
    t.add_argument("--text-file", help="text task: read the custom corpus from this file")
    pr = sub.add_parser("probe", help="print JSON of the probe input seen through a checkpoint")
    pr.add_argument("--checkpoint", required=True)
    s = sub.add_parser("sample", help="sample text from a checkpoint of a token task")
    s.add_argument("--checkpoint", required=True)
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
              f" clip={t.clip}")
    return 0


def cmd_train(args) -> int:
    given = vars(args)
    cls = TASKS[args.task]
    task_fields = {f.name for f in dataclasses.fields(cls.Options)}
    all_task_fields = {f.name for c in TASKS.values() for f in dataclasses.fields(c.Options)}
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    foreign = sorted(k for k in given if k in all_task_fields - task_fields - model_fields - train_fields)
    if foreign:
        raise ValueError(f"task {args.task} has no option(s) {', '.join(foreign)}")
    options = {k: v for k, v in given.items() if k in task_fields}
    if args.text_file:
        options.update(corpus="custom", text=Path(args.text_file).read_text(encoding="utf-8", errors="replace"))
    task = make_task(args.task, **options)
    m, t = task.suggested()
    # a field shared by a task option and a config (none today) would go to the task only
    mcfg = dataclasses.replace(m, **{k: v for k, v in given.items() if k in model_fields and k not in task_fields})
    tcfg = dataclasses.replace(t, **{k: v for k, v in given.items() if k in train_fields and k not in task_fields})
    if args.probe_every < 1:
        raise ValueError(f"--probe-every must be at least 1, got {args.probe_every}")
    rec = Recorder(probe_every=args.probe_every, spectral=True)
    callbacks = [rec] if args.quiet else [rec, PrintProgress(every=max(1, (tcfg.steps or tcfg.epochs) // 25))]
    trainer = Trainer(task, mcfg, tcfg, callbacks)
    status = trainer.run()
    last = rec.history.last
    opt = trainer.engine.optimizer_state() if hasattr(trainer.engine, "optimizer_state") else None
    out = save(args.out, task, mcfg, tcfg, trainer.engine.state_dict(), rec.history, optimizer=opt, status=status,
               reason=trainer.reason, steps_done=trainer.step, epochs_done=trainer.epoch,
               loss=last.loss if last else None)
    print(f"{status}: {trainer.reason}; checkpoint written to {out}")
    return 0 if status in ("finished", "stopped") else 3


def _engine_for(ckpt):
    return ckpt.engine()


def cmd_probe(args) -> int:
    ckpt = load(args.checkpoint, with_history=False)
    task, engine = ckpt.task, _engine_for(ckpt)
    batch = task.probe()
    p = engine.probe(batch)
    import torch
    desc = task.describe(torch.from_numpy(p.out)[None], batch)
    r = lambda a: None if a is None else a.round(8).tolist()  # noqa: E731
    result = {
        "task": task.name, "cell": ckpt.model_cfg.cell, "labels": task.probe_labels(), "loss": p.loss,
        "prediction": desc.get("text", desc.get("predicted")), "target": desc.get("target_text", desc.get("target")),
        "hidden": r(p.hidden[-1]), "cell_state": r(p.cell[-1]) if p.cell is not None else None,
        "gates": {k: r(v[-1]) for k, v in p.gates.items()},
        "grad_norms": r(p.grad_h[-1]), "grad_norms_last": r(p.grad_h_last[-1]),
        "spectral_radius": p.spectral_radius,
    }
    print(json.dumps(result))
    return 0


def cmd_sample(args) -> int:
    ckpt = load(args.checkpoint, with_history=False)
    if not ckpt.task.tokens or ckpt.task.kind != "classify":
        raise ValueError(f"sampling needs a token task; this checkpoint is {ckpt.task.name}")
    print(args.prime + sample_text(_engine_for(ckpt), ckpt.task, args.prime, args.length, args.temperature,
                                   args.top_k, args.seed))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"tasks": cmd_tasks, "train": cmd_train, "probe": cmd_probe, "sample": cmd_sample,
                "sweep": cmd_sweep}[args.command](args)
    except (ValueError, CheckpointError, OSError) as e:
        print(f"rnnviz: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnviz: interrupted", file=sys.stderr)
        return 130
