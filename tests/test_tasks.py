"""Properties of the task data: shapes per the base contract, and what each task's data means."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.tasks import IGNORE, TASKS, Batch, make_task, task_from_config
from rnnviz.tasks.anbn import anbn, expected_completion

ALL = sorted(TASKS)


def first_epoch(task, seed=0):
    return list(task.train_batches(0, np.random.default_rng(seed)))


def perfect_output(task, batch: Batch) -> torch.Tensor:
    """Logits that put all the mass on the target (any class where the target is IGNORE)."""
    y = batch.y.clamp(min=0)
    return torch.nn.functional.one_hot(y, task.output_size).float() * 20.0


# ---- the base contract, every task -------------------------------------------------------------
def test_registry_has_all_tasks():
    assert set(ALL) == {"hihell", "seoul", "ship", "words", "anbn", "sine", "text", "copy", "adding", "dinos"}


@pytest.mark.parametrize("name", ALL)
def test_shapes_and_dtypes(name):
    task = make_task(name)
    batches = first_epoch(task) + task.val_batches() + task.test_batches() + [task.probe()]
    assert task.probe().size == 1
    assert len(task.probe_labels()) == task.probe().steps
    assert task.summary and isinstance(task.suggested()[0], ModelConfig)
    assert isinstance(task.suggested()[1], TrainConfig)
    task.suggested()[0].validate()
    task.suggested()[1].validate()
    for b in batches:
        B, T = b.x.shape[:2]
        if task.tokens:
            assert b.x.dtype == torch.long and b.x.dim() == 2
            assert 0 <= int(b.x.min()) and int(b.x.max()) < task.input_size
        else:
            assert b.x.dtype == torch.float32 and b.x.shape == (B, T, task.input_size)
        if task.kind == "classify":
            assert b.y.dtype == torch.long and b.y.shape == (B, T)
            ok = (b.y == IGNORE) | ((b.y >= 0) & (b.y < task.output_size))
            assert bool(ok.all())
        else:
            assert b.y.dtype == torch.float32 and b.y.shape == (B, T, task.output_size)
            assert b.mask is None or b.mask.shape == (B, T)


@pytest.mark.parametrize("name", ALL)
def test_reproducible(name):
    a, b = first_epoch(make_task(name), 3), first_epoch(make_task(name), 3)
    assert all(torch.equal(p.x, q.x) and torch.equal(p.y, q.y) for p, q in zip(a, b))
    cfg = make_task(name).to_config()
    again = task_from_config(cfg)
    assert again.vocab == cfg["vocab"]


@pytest.mark.parametrize("name", [n for n in ALL if TASKS[n].kind == "classify"])
def test_describe_perfect_output(name):
    task = make_task(name)
    batch = task.probe()
    d = task.describe(perfect_output(task, batch), batch)
    assert all(c is not False for c in d["correct"]) and any(c for c in d["correct"])
    assert d["text"] == d["target_text"]
    right, counted = task.accuracy(perfect_output(task, batch), batch)
    assert right == counted > 0


@pytest.mark.parametrize("name", ALL)
def test_describer_reads_any_outputs_of_its_batch(name):
    """A Describer (what records keep to build their prediction when read) gives describe()'s dict for
    outputs as a tensor or an array, also after plain pickling; it does not carry the task's data."""
    task = make_task(name)
    batch = task.probe()
    out = torch.randn(1, batch.steps, task.output_size, generator=torch.Generator().manual_seed(0))
    d = task.describe(out, batch)
    describer = pickle.loads(pickle.dumps(task.describer(batch)))
    assert describer(out[0]) == describer(out[0].numpy()) == d
    assert len(pickle.dumps(describer)) < 4096
    if task.kind == "classify":
        assert d["predicted"] == [task.vocab[i] for i in out[0].argmax(-1).tolist()]
        assert all([p for _, p in top] == sorted((p for _, p in top), reverse=True) for top in d["topk"])
    else:
        assert d["predicted"] == out[0, :, 0].double().tolist()


def test_bad_options_raise():
    with pytest.raises(ValueError):
        make_task("ship", no_such_option=1)
    with pytest.raises(ValueError):
        make_task("ship", seq_len=0)
    with pytest.raises(ValueError):
        make_task("sine", batch_size=0)
    with pytest.raises(ValueError):
        make_task("copy", n_symbols=1)
    with pytest.raises(ValueError):
        make_task("text", corpus="nope")


def test_custom_text():
    with pytest.raises(ValueError, match="empty"):
        make_task("text", corpus="custom", text="")
    with pytest.raises(ValueError):
        make_task("text", corpus="custom", text="x" * 1_000_001)
    task = make_task("text", corpus="custom", text="abcab " * 500, seq_len=8, batch_size=4)
    assert task.vocab == [" ", "a", "b", "c"]


# ---- chars and words -----------------------------------------------------------------------
def test_hihell():
    task = make_task("hihell")
    b = task.probe()
    assert task.vocab == ["h", "i", "e", "l", "o"]
    assert b.x.shape == (1, 6)
    assert task.decode(b.x[0]) == "hihell" and task.decode(b.y[0]) == "ihello"


def test_seoul():
    task = make_task("seoul")
    s = " seoul is the capital of south korea"
    assert task.vocab == sorted(set(s))
    b = first_epoch(task)[0]
    assert task.decode(b.x[0]) == s[:-1] and task.decode(b.y[0]) == s[1:]


def test_ship_windows():
    task = make_task("ship", seq_len=10)
    s = task.sentence
    (b,) = first_epoch(task)
    assert b.x.shape == (len(s) - 10, 10)
    assert task.decode(b.x[3]) == s[3:13] and task.decode(b.y[3]) == s[4:14]
    batched = first_epoch(make_task("ship", seq_len=10, batch_size=32))
    assert [bb.size for bb in batched] == [32] * 5 + [10]
    seen = sorted(task.decode(row) for bb in batched for row in bb.x)
    assert seen == sorted(task.decode(row) for row in b.x)  # a shuffle of all windows
    assert task.decode(task.probe().x[0]) == s[:-1]


def test_words():
    task = make_task("words")
    (b,) = first_epoch(task)
    assert b.x.shape == (6, 2) and bool((b.y[:, 0] == IGNORE).all())
    p = task.probe()
    assert task.decode(p.x[0]) == "i like" and task.vocab[int(p.y[0, 1])] == "dogs"


# ---- anbn --------------------------------------------------------------------------------------
def test_anbn_sequences_and_split():
    task = make_task("anbn")
    assert task.vocab == ["a", "b", "EOS", "UNK"]
    for s in task.sequences:
        n = s.count("b")
        assert 1 <= n <= 5 and s == anbn(n)
    n = task.options.num_sequences
    assert (len(task.train), len(task.val), len(task.test)) == (int(n * .8), int(n * .1), int(n * .1))
    assert task.encode("a x b") == [0, 3, 1]


def test_anbn_padding_and_mask():
    task = make_task("anbn")
    b = task.collate([anbn(1), anbn(2)])
    eos, a, bb = task.vocab.index("EOS"), task.vocab.index("a"), task.vocab.index("b")
    assert b.x.shape == (2, 6)
    assert b.x[0].tolist() == [a, bb, a, eos, eos, eos]
    assert b.y[0].tolist() == [bb, a, eos, IGNORE, IGNORE, IGNORE]
    assert task.decode(b.y[1]) == "a b b a a EOS"
    # n=2: x = a a b b a a -> the next token is fixed from the first b on
    assert task.deterministic_mask(b)[1].tolist() == [False, False, True, True, True, True]
    assert task.deterministic_mask(b)[0].tolist() == [False, True, True, False, False, False]
    for batch in first_epoch(task):
        real = (batch.y != IGNORE)
        assert bool((batch.x[~real] == eos).all())


def test_anbn_completion():
    assert expected_completion(["a", "a", "b"]) == ["b", "a", "a", "EOS"]
    assert expected_completion(["a", "a"]) is None
    assert expected_completion(["a", "b", "b"]) is None


# ---- sine --------------------------------------------------------------------------------------
def test_sine_windows_continue():
    task = make_task("sine")
    bs = first_epoch(task)
    assert len(bs) == task.options.n_windows
    for w, nxt in zip(bs, bs[1:]):
        assert torch.allclose(w.x[0, 1:, 0], w.y[0, :-1, 0])            # y is x shifted by one
        assert torch.allclose(w.y[0, -1], nxt.x[0, 0], atol=1e-6)       # window k+1 continues k
    val = task.val_batches()
    assert torch.allclose(bs[-1].y[0, -1], val[0].x[0, 0], atol=1e-6)   # validation further along
    rows = first_epoch(make_task("sine", batch_size=5))
    assert len(rows) == 10 and rows[0].x.shape == (5, 20, 1)
    for w, nxt in zip(rows, rows[1:]):
        assert torch.allclose(w.y[:, -1], nxt.x[:, 0], atol=1e-6)      # each row stays consecutive


def test_sine_noise_on_inputs_only():
    task = make_task("sine", noise=0.1)
    b = first_epoch(task)[0]
    assert not torch.allclose(b.x[0, 1:], b.y[0, :-1])
    t = task.times(0)
    assert torch.allclose(b.y[0, :, 0], torch.tensor(np.sin(t[1:]), dtype=torch.float32))


# ---- text --------------------------------------------------------------------------------------
def test_text_batches():
    task = make_task("text", max_chars=20_000, seq_len=16, batch_size=8)
    bs = first_epoch(task)
    assert all(b.x.shape == (8, 16) for b in bs)
    for b, nxt in zip(bs, bs[1:]):
        assert torch.equal(b.x[:, 1:], b.y[:, :-1])                      # y = x shifted by one
        assert torch.equal(b.y[:, -1], nxt.x[:, 0])                      # rows continue
    row0 = "".join(task.decode(b.x[0]) for b in bs)
    assert task.train_text.startswith(row0)
    assert task.decode(task.probe().x[0]) == task.val_text[:64]
    assert 0 < task.unigram_entropy() < math.log(len(task.vocab))


def test_text_dinos():
    task = make_task("text", corpus="dinos")
    assert "\n" in task.vocab and task.vocab[-1] == "z"


# ---- memory ------------------------------------------------------------------------------------
def test_copy_target():
    task = make_task("copy", length=5, lag=10)
    for b in first_epoch(task)[:3] + task.val_batches():
        assert b.x.shape[1] == 20
        assert torch.equal(b.y[:, -5:], b.x[:, :5])
        assert bool((b.y[:, :-5] == IGNORE).all())
        assert bool((b.x[:, 15] == task.vocab.index(":")).all())
        assert bool((b.x[:, 5:15] == task.vocab.index("_")).all())


def test_adding_target():
    task = make_task("adding", lag=30)
    for b in first_epoch(task)[:3] + task.val_batches():
        assert bool((b.x[..., 1].sum(1) == 2).all())
        half = b.x[:, :15, 1].sum(1)
        assert bool((half == 1).all())
        expect = torch.tensor([float(row[row[:, 1] == 1.0, 0].sum()) for row in b.x])
        assert torch.allclose(b.y[:, -1, 0], expect)
        assert b.mask.sum().item() == b.size and bool((b.mask[:, -1] == 1).all())
    labels = task.probe_labels()
    assert sum(lab.endswith("*") for lab in labels) == 2
    d = task.describe(task.probe().y, task.probe())
    assert d["mse"] == 0.0
