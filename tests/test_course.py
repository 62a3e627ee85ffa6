"""The course results, with each task's own defaults, for seeds 0..4."""
import dataclasses

import pytest

from rnnviz.callbacks import Recorder
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer

SEEDS = range(5)


def train(task, seed, probe_every=1000, **changes):
    m, t = task.suggested()
    m = dataclasses.replace(m, **{k: v for k, v in changes.items() if hasattr(m, k)})
    t = dataclasses.replace(t, seed=seed, **{k: v for k, v in changes.items() if hasattr(t, k)})
    rec = Recorder(probe_every=probe_every)
    tr = Trainer(task, m, t, [rec])
    assert tr.run() == "finished", tr.reason
    return tr, rec.history.records


def first_exact(records):
    return next((r.epoch for r in records if r.prediction["text"] == r.prediction["target_text"]), None)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("seed", SEEDS)
def test_hihell_predicts_ihello_within_100_epochs(cell, seed):
    _, recs = train(make_task("hihell"), seed, cell=cell, epochs=100)
    assert first_exact(recs) is not None
    assert recs[-1].prediction["text"] == "ihello"


@pytest.mark.parametrize("seed", SEEDS)
def test_seoul_reproduces_the_sentence_within_500_epochs(seed):
    _, recs = train(make_task("seoul"), seed, epochs=500)
    assert recs[-1].prediction["text"] == "seoul is the capital of south korea"


@pytest.mark.parametrize("seed", SEEDS)
def test_words_gets_all_six_third_words(seed):
    task = make_task("words")
    tr, recs = train(task, seed)
    batch = next(iter(task.train_batches(1, __import__("numpy").random.default_rng(0))))
    out, _ = tr.engine.predict(batch.x)
    right, counted = task.accuracy(out, batch)
    assert counted == 6 and right == 6


@pytest.mark.parametrize("seed", SEEDS)
def test_anbn_lstm_predicts_every_deterministic_position(seed):
    task = make_task("anbn")
    tr, _ = train(task, seed, cell="lstm")
    right = counted = 0
    for b in task.test_batches():
        out, _ = tr.engine.predict(b.x)
        r, c = task.accuracy(out, b)
        right, counted = right + r, counted + c
    assert counted > 0 and right == counted


@pytest.mark.parametrize("seed", SEEDS)
def test_sine_validation_mse_below_001(seed):
    _, recs = train(make_task("sine"), seed)
    assert recs[-1].val_loss < 0.01


def test_text_short_run_beats_unigram_entropy():
    task = make_task("text", max_chars=60_000)
    tr, recs = train(task, 0, steps=300, probe_every=50)
    h = task.unigram_entropy()
    assert recs[-1].val_loss < 0.8 * h, (recs[-1].val_loss, h)
    assert recs[-1].val_loss < recs[0].val_loss
