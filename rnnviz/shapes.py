"""The shapes torch.nn's recurrent modules take and give, measured by running the module itself
(course seed 001: 'hello', 'eolll', 'lleel' batched as a [3, 5, 4] one-hot tensor; seed 002 lists
nn.LSTM's options and the shapes of input, output, h_n and c_n).

    q = ShapeQuery(cell="lstm", batch=3, seq_len=5, hidden_size=2)     # validated, with caps
    r = run(q)          # r.input, r.output, r.h_n, r.c_n: torch.Size of what the module took and gave

The input is always the lecture's words (row r is word r mod 3, its letters repeated to seq_len), as
one-hot vectors over h, e, l, o (input_size 4) or through an nn.Embedding of embedding_dim numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cells import CELL_SPECS
from .config import CELLS

WORDS = ("hello", "eolll", "lleel")
VOCAB = ("h", "e", "l", "o")
ENCODINGS = ("one_hot", "embedding")
# caps: the largest tensor a query builds is about 64 * 64 * 2 * 256 numbers (8 MB in float32)
CAPS = {"batch": 64, "seq_len": 64, "embedding_dim": 256, "hidden_size": 256, "num_layers": 4}


@dataclass(frozen=True)
class ShapeQuery:
    cell: str = "lstm"
    batch: int = 3                # N: sequences in the batch
    seq_len: int = 5              # L: steps per sequence
    encoding: str = "one_hot"     # one_hot (input_size = 4, the letters h, e, l, o) | embedding
    embedding_dim: int = 3        # input_size when encoding = embedding
    hidden_size: int = 2
    num_layers: int = 1
    bidirectional: bool = False
    batch_first: bool = True
    proj_size: int = 0            # lstm only, < hidden_size

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        for name, cap in CAPS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= cap:
                raise ValueError(f"{name} must be a whole number in 1..{cap}, got {value!r}")
        if self.proj_size and self.cell != "lstm":
            raise ValueError("proj_size exists only for nn.LSTM")
        if not isinstance(self.proj_size, int) or not 0 <= self.proj_size < self.hidden_size:
            raise ValueError(f"proj_size must be in 0..hidden_size - 1 ({self.hidden_size - 1}), got {self.proj_size!r}")

    @property
    def input_size(self) -> int:
        return len(VOCAB) if self.encoding == "one_hot" else self.embedding_dim

    @property
    def module_name(self) -> str:
        return CELL_SPECS[self.cell].torch_cls.__name__


@dataclass
class ShapeResult:
    query: ShapeQuery
    words: list[str]              # the batch's sequences, one string per row
    ids: np.ndarray               # [N, L] letter ids (indices into VOCAB)
    x: np.ndarray                 # the input as the module took it: [N, L, H_in] (batch_first) or [L, N, H_in]
    input: torch.Size
    output: torch.Size
    h_n: torch.Size
    c_n: torch.Size | None        # nn.LSTM only
    params: dict[str, torch.Size]  # the module's parameters, torch.nn's names
    code: str                     # the lines that built and ran the module


def word_ids(batch: int, seq_len: int) -> tuple[list[str], np.ndarray]:
    """Row r: word r mod 3 of the lecture, its letters repeated to seq_len. -> (strings, ids [N, L])."""
    words = [(WORDS[r % len(WORDS)] * (seq_len // 5 + 1))[:seq_len] for r in range(batch)]
    return words, np.array([[VOCAB.index(c) for c in w] for w in words], dtype=np.int64)


def one_hot(ids: np.ndarray) -> np.ndarray:
    """[N, L] ids -> [N, L, 4] one-hot float32 (h = [1, 0, 0, 0], e = [0, 1, 0, 0], ...)."""
    return F.one_hot(torch.from_numpy(ids), len(VOCAB)).float().numpy()


def embedded(ids: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """[N, L] ids -> [N, L, dim] through an nn.Embedding(4, dim) drawn from N(0, 1) with this seed."""
    emb = nn.Embedding(len(VOCAB), dim)
    with torch.no_grad():
        nn.init.normal_(emb.weight, generator=torch.Generator().manual_seed(seed))
        return emb(torch.from_numpy(ids)).numpy()


def run(q: ShapeQuery, seed: int = 0) -> ShapeResult:
    """Build the module q describes, feed it the words and report the shapes it took and gave."""
    words, ids = word_ids(q.batch, q.seq_len)
    x = one_hot(ids) if q.encoding == "one_hot" else embedded(ids, q.embedding_dim, seed)
    if not q.batch_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    kw = {"proj_size": q.proj_size} if q.proj_size else {}
    with torch.random.fork_rng(devices=[]):       # the module's own init must not move the global RNG
        torch.manual_seed(seed)
        module = CELL_SPECS[q.cell].torch_cls(q.input_size, q.hidden_size, q.num_layers, batch_first=q.batch_first,
                                              bidirectional=q.bidirectional, **kw)
    with torch.no_grad():
        inp = torch.from_numpy(x)
        out, state = module(inp)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    opts = "".join(f", {k}={v!r}" for k, v in (("num_layers", q.num_layers), ("batch_first", q.batch_first),
                                                 ("bidirectional", q.bidirectional), ("proj_size", q.proj_size))
                   if v != {"num_layers": 1, "batch_first": False, "bidirectional": False, "proj_size": 0}[k])
    states = "(h_n, c_n)" if c_n is not None else "h_n"
    code = (f"rnn = nn.{q.module_name}(input_size={q.input_size}, hidden_size={q.hidden_size}{opts})\n"
            f"out, {states} = rnn(x)   # x: {tuple(inp.shape)}")
    return ShapeResult(q, words, ids, x, inp.shape, out.shape, h_n.shape, None if c_n is None else c_n.shape,
                       {n: p.shape for n, p in module.named_parameters()}, code)


def symbols(q: ShapeQuery) -> dict[str, str]:
    """The shapes as torch.nn's documentation writes them (N batch, L length, D directions)."""
    seq = "(N, L, {})" if q.batch_first else "(L, N, {})"
    h_out = "H_out = proj_size" if q.proj_size else "H_out = hidden_size"
    out = {"input": seq.format("H_in"), "output": seq.format("D·H_out"),
           "h_n": "(D·num_layers, N, H_out)"}
    if q.cell == "lstm":
        out["c_n"] = "(D·num_layers, N, H_cell = hidden_size)"
    out["where"] = f"N = {q.batch}, L = {q.seq_len}, H_in = {q.input_size}, D = {2 if q.bidirectional else 1}, " \
                   f"num_layers = {q.num_layers}, {h_out} = {q.proj_size or q.hidden_size}"
    return out
