"""How large a model may be, computed from its config alone, before anything is allocated.

The server is shared, so every model is checked against MAX_PARAMS parameters and MAX_MODEL_BYTES
of weights (at its dtype), and MAX_ACTIVATION_BYTES of activations over the task's largest batch,
where it is built (rnnviz.engine.build_model) and where a checkpoint's weights are checked
(rnnviz.checkpoint). Each limit is a module constant read once from its environment variable
(RNNVIZ_MAX_PARAMS, RNNVIZ_MAX_MODEL_BYTES, RNNVIZ_MAX_ACTIVATION_BYTES); the defaults leave room above the
largest model of the benchmarks (lstm 512 x 2 on Shakespeare's 65 characters: 3.3 M parameters,
and 4.5 M with the text task's largest vocabulary of 512 characters).

The weights' names and shapes follow rnnviz.model.RecurrentNet (torch.nn's layout), one formula per
layer from the cell registry (CellSpec.gates): tests/test_bad_inputs.py compares them with a built
model for every cell and option.
"""
from __future__ import annotations

import math
import os
import stat

from .cells import CELL_SPECS
from .config import ModelConfig, TrainConfig, shown

ITEMSIZE = {"float32": 4, "float64": 8}


def env_limit(name: str, default: int) -> int:
    """A positive integer limit from the environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {raw[:40]!r}")
    return int(raw)


def bytes_under(path) -> int:
    """The size of the files under `path` (links not followed; a file deleted meanwhile counts 0)."""
    total = 0
    for folder, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(folder, f)).st_size
            except OSError:
                pass
    return total


MAX_PARAMS = env_limit("RNNVIZ_MAX_PARAMS", 8_000_000)
MAX_MODEL_BYTES = env_limit("RNNVIZ_MAX_MODEL_BYTES", 64 * 2**20)
MAX_ACTIVATION_BYTES = env_limit("RNNVIZ_MAX_ACTIVATION_BYTES", 2**30)


def _layer_shapes(k: int, fan_in: int, gates: int, hidden: int, state: int, peephole: bool,
                  suffix: str = "") -> dict[str, tuple[int, ...]]:
    """Layer k of the recurrent stack, one direction (suffix "_reverse" for the second):
    W_ih [G*H, fan_in], W_hh [G*H, P], b_ih, b_hh [G*H], with P the state size; W_hr [P, H] when the
    lstm is projected (P < H); the peephole lstm's diagonal p_i, p_f, p_o [H]."""
    gh = gates * hidden
    shapes = {f"rnn.weight_ih_l{k}{suffix}": (gh, fan_in), f"rnn.weight_hh_l{k}{suffix}": (gh, state),
              f"rnn.bias_ih_l{k}{suffix}": (gh,), f"rnn.bias_hh_l{k}{suffix}": (gh,)}
    if state != hidden:
        shapes[f"rnn.weight_hr_l{k}{suffix}"] = (state, hidden)
    if peephole:
        shapes.update({f"rnn.peephole_{g}_l{k}{suffix}": (hidden,) for g in "ifo"})
    return shapes


def weight_shapes(mcfg: ModelConfig, input_size: int, output_size: int, tokens: bool) -> dict[str, tuple[int, ...]]:
    """name -> shape of every weight of the model, in state_dict order; ValueError for a model that
    cannot exist (no head and a layer output that is not the output size)."""
    spec, H, P, D = CELL_SPECS[mcfg.cell], mcfg.hidden_size, mcfg.state_size, mcfg.directions
    shapes: dict[str, tuple[int, ...]] = {}
    rnn_in = input_size
    if tokens and mcfg.embedding_dim > 0:
        shapes["embedding.weight"] = (input_size, mcfg.embedding_dim)
        rnn_in = mcfg.embedding_dim
    for k in range(mcfg.num_layers):
        for suffix in ("", "_reverse")[:D]:
            shapes.update(_layer_shapes(k, rnn_in if k == 0 else D * P, spec.gates, H, P, mcfg.peephole, suffix))
    if mcfg.head:
        shapes.update({"head.weight": (output_size, D * P), "head.bias": (output_size,)})
    elif D * P != output_size:
        raise ValueError(f"without a head the hidden state is the output, so hidden_size must equal "
                         f"the output size ({output_size}); got {D * P}")
    return shapes


def parameter_count(mcfg: ModelConfig, input_size: int, output_size: int, tokens: bool) -> int:
    return sum(math.prod(s) for s in weight_shapes(mcfg, input_size, output_size, tokens).values())


def activation_bytes(task, mcfg: ModelConfig, tcfg: TrainConfig) -> int:
    """What one forward pass over the task's largest batch keeps for the backward pass, at least: per
    position, every layer and direction's gates (G x H) and its c_t and h_t (2H), the embedding and the
    outputs. An estimate from below (autograd keeps some more), from the configs alone."""
    rows, steps = task.largest_batch()
    per_position = (mcfg.num_layers * mcfg.directions * (CELL_SPECS[mcfg.cell].gates + 2) * mcfg.hidden_size
                    + mcfg.embedding_dim * task.tokens + task.output_size)
    return rows * steps * per_position * ITEMSIZE[tcfg.dtype]


def check_model_size(task, mcfg: ModelConfig, tcfg: TrainConfig) -> int:
    """The model's parameter count; ValueError when it exceeds MAX_PARAMS or its weights MAX_MODEL_BYTES,
    or its activations over the task's largest batch MAX_ACTIVATION_BYTES."""
    n = parameter_count(mcfg, task.input_size, task.output_size, task.tokens)
    size = n * ITEMSIZE[tcfg.dtype]
    if n > MAX_PARAMS or size > MAX_MODEL_BYTES:
        raise ValueError(
            f"this model would have {n:,} parameters ({size / 2**20:,.0f} MB as {tcfg.dtype}); the limit is "
            f"{MAX_PARAMS:,} parameters and {MAX_MODEL_BYTES / 2**20:,.0f} MB (RNNVIZ_MAX_PARAMS, "
            f"RNNVIZ_MAX_MODEL_BYTES): lower hidden_size, num_layers or embedding_dim")
    act = activation_bytes(task, mcfg, tcfg)
    if act > MAX_ACTIVATION_BYTES:
        rows, steps = task.largest_batch()
        raise ValueError(
            f"this model's activations over a batch of {rows:,} x {steps:,} would take {act / 2**20:,.0f} MB; "
            f"the limit is {MAX_ACTIVATION_BYTES / 2**20:,.0f} MB (RNNVIZ_MAX_ACTIVATION_BYTES): lower "
            f"batch_size, the sequence length, hidden_size or num_layers")
    return n


def read_file(path: str | os.PathLike, limit: int, what: str = "the file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes: a FIFO, a device (/dev/zero) or a directory
    is refused before anything is read, and no more than limit + 1 bytes are ever read (the size is
    read from the file, not from stat, which a growing file or /proc would get wrong)."""
    # O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting forever
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ValueError(f"cannot read {what} {shown(os.fspath(path))}: {e.strerror or e}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{what} {shown(os.fspath(path))} is not a regular file")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(2**20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise ValueError(f"{what} {shown(os.fspath(path))} is larger than {limit:,} bytes")
    return b"".join(chunks)
