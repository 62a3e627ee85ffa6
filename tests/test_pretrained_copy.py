"""The shipped copy-task model (checkpoints/pretrained/copy-lstm, built by scripts/make_pretrained.py)
is the gradients lesson's LSTM run at the lesson's defaults, and its weights have learned to copy.

The lesson opens it one click away (lab.pretrained): a student compares it with the runs the lesson
trains, so it must be of the same setup, and it must show what the lesson says the LSTM learns.
"""
from __future__ import annotations

from pathlib import Path

import torch

from lab.lessons import BY_KEY
from lab.settings import Setup, defaults
from rnnviz import checkpoint
from rnnviz.engines import make_engine
from rnnviz.tasks import TASKS

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "pretrained" / "copy-lstm"
LESSON = BY_KEY["gradients"]


def test_the_shipped_copy_model_is_the_lessons_lstm_run_at_its_defaults():
    ck = checkpoint.load(SHIPPED, with_history=False)
    setup = Setup("copy", TASKS["copy"].Options(), *defaults(LESSON, "copy"))
    assert ck.task.name == "copy" and ck.task.options == setup.options
    assert (ck.model_cfg, ck.train_cfg) == setup.variants(LESSON)["lstm"]
    assert ck.config["status"] == "finished" and ck.config["epochs_done"] == setup.train.epochs


def test_its_weights_copy_every_symbol_of_the_validation_set_across_the_default_lag():
    ck = checkpoint.load(SHIPPED)
    assert ck.task.options.lag == TASKS["copy"].Options().lag
    engine = make_engine(ck.task, ck.model_cfg, ck.train_cfg, state_dict=ck.state_dict)
    val = ck.task.val_batches()
    loss, right, counted = engine.evaluate(val)
    assert counted == sum(b.x.shape[0] for b in val) * ck.task.options.length
    assert right == counted                          # accuracy 1.0, chance is 1 / n_symbols
    # the same weights in plain torch.nn (one-hot inputs, no embedding) write back every symbol too
    sd, V, H = ck.state_dict, len(ck.task.vocab), ck.model_cfg.hidden_size
    lstm, head = torch.nn.LSTM(V, H, batch_first=True), torch.nn.Linear(H, V)
    lstm.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})
    x, y = val[0].x, val[0].y                        # [B, T]
    with torch.no_grad():
        logits = head(lstm(torch.nn.functional.one_hot(x, V).float())[0])     # [B, T, V]
    scored = y != -100                               # the last K steps
    assert torch.equal(logits.argmax(-1)[scored], y[scored])
    # and the history's last record is this measurement
    last = ck.history.records[-1]
    assert last.val_acc == 1.0 and abs(last.val_loss - loss) < 1e-5
    # the lesson's views: probes with gradients through time and the spectral radius, start to end
    probed = [r for r in ck.history.records if r.probe is not None]
    assert probed[0].epoch == 1 and probed[-1].epoch == ck.train_cfg.epochs and len(probed) >= 3
    assert all(r.probe.spectral_radius for r in probed)
