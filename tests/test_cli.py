"""The command line: train writes a checkpoint, probe prints the promised JSON, errors are one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.tasks.memory import Copy, CopyOptions

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "rnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_tasks_lists_every_task():
    out = cli("tasks").stdout
    for name in ["hihell", "seoul", "ship", "words", "anbn", "sine", "text", "copy", "adding", "dinos"]:
        assert name in out


def test_train_probe_round_trip(tmp_path):
    out = tmp_path / "ck"
    r = cli("train", "--task", "hihell", "--cell", "gru", "--hidden", "6", "--epochs", "60", "--lr", "0.1",
            "--optimizer", "adam", "--clip", "5", "--seed", "2", "--out", str(out))
    assert "ihello" in r.stdout and out.is_dir()
    p = json.loads(cli("probe", "--checkpoint", str(out)).stdout)
    assert p["prediction"] == "ihello"
    assert len(p["hidden"]) == 6 and len(p["hidden"][0]) == 6
    assert set(p["gates"]) == {"r", "z", "n"} and len(p["gates"]["z"]) == 6
    assert len(p["grad_norms"]) == 6 and len(p["grad_norms_last"]) == 6
    assert all(g > 0 for g in p["grad_norms"])
    # grad_norms_last: steps after... the final step's loss reaches every earlier h_t through the recurrence
    assert p["grad_norms_last"][-1] > 0


def test_probe_every_sets_which_records_carry_a_probe(tmp_path):
    probed = {}
    for n in (1, 3):
        out = tmp_path / f"p{n}"
        cli("train", "--task", "hihell", "--epochs", "12", "--probe-every", str(n), "--quiet", "--out", str(out))
        recs = json.loads((out / "history.json").read_text())["records"]
        probed[n] = [r["epoch"] for r in recs if r.get("probe")]
    assert probed[1] == list(range(1, 13))
    assert probed[3] == [1, 4, 7, 10, 12]     # every third record point, and the last


def test_sample_from_text_checkpoint(tmp_path):
    out = tmp_path / "txt"
    cli("train", "--task", "text", "--corpus", "dinos", "--max-chars", "5000", "--steps", "20",
        "--hidden", "16", "--quiet", "--out", str(out))
    r = cli("sample", "--checkpoint", str(out), "--prime", "a", "--length", "30", "--temperature", "0.8",
            "--top-k", "5")
    assert r.stdout.startswith("a") and len(r.stdout.strip()) >= 20


@pytest.mark.parametrize("args,msg", [
    (["train", "--task", "hihell", "--hidden", "0", "--out", "x"], "hidden_size"),
    (["train", "--task", "hihell", "--lag", "4", "--out", "x"], "no option"),
    (["train", "--task", "nope", "--out", "x"], "invalid choice"),
    (["probe", "--checkpoint", "/nonexistent"], "no checkpoint"),
    (["train", "--task", "hihell", "--lr", "abc", "--out", "x"], "invalid float"),
    (["train", "--task", "hihell", "--probe-every", "0", "--out", "x"], "--probe-every"),
])
def test_bad_arguments_one_line_no_traceback(args, msg):
    r = cli(*args, check=False)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- seeds: --seed for training, --data-seed for the task's data ------------------------------
QUICK = {
    "hihell": ["--epochs", "3"],
    "seoul": ["--epochs", "3"],
    "ship": ["--epochs", "2", "--hidden", "8"],
    "words": ["--epochs", "3"],
    "anbn": ["--epochs", "1", "--hidden", "8", "--num-sequences", "40"],
    "sine": ["--epochs", "2", "--hidden", "8", "--n-windows", "5", "--noise", "0.1"],
    "text": ["--steps", "3", "--hidden", "8", "--corpus", "dinos", "--max-chars", "3000", "--seq-len", "16",
             "--batch-size", "4"],
    "copy": ["--epochs", "1", "--hidden", "8", "--batches-per-epoch", "2", "--val-size", "8"],
    "adding": ["--epochs", "1", "--hidden", "8", "--batches-per-epoch", "2", "--val-size", "8", "--lag", "10"],
}


def _train_here(tmp_path, task, *flags, name=""):
    """cli.main in this process; the weights, the record losses and the config written."""
    from safetensors.torch import load_file
    from rnnviz.cli import main
    out = tmp_path / ("-".join([task, *flags]).replace("--", "") + name)
    assert main(["train", "--task", task, *QUICK[task], *flags, "--quiet", "--out", str(out)]) == 0
    records = json.loads((out / "history.json").read_text())["records"]
    return (load_file(out / "model.safetensors"), [(r["loss"], r["val_loss"]) for r in records],
            json.loads((out / "config.json").read_text()))


@pytest.mark.parametrize("task", list(QUICK))
def test_seed_seeds_training_on_every_task(tmp_path, task):
    w1, h1, c1 = _train_here(tmp_path, task, "--seed", "1")
    w2, h2, c2 = _train_here(tmp_path, task, "--seed", "2")
    again, h1b, _ = _train_here(tmp_path, task, "--seed", "1", name="again")
    assert c1["train"]["seed"] == 1 and c2["train"]["seed"] == 2
    assert c1["task"]["options"] == c2["task"]["options"]          # the data's seed is not touched
    assert any(not torch.equal(w1[k], w2[k]) for k in w1) and h1 != h2
    assert all(torch.equal(w1[k], again[k]) for k in w1) and h1 == h1b   # and a seed is reproducible


@pytest.mark.parametrize("task", ["anbn", "sine", "copy", "adding"])
def test_data_seed_changes_the_data_only(tmp_path, task):
    _, h1, c1 = _train_here(tmp_path, task, "--seed", "3", "--data-seed", "1")
    _, h2, c2 = _train_here(tmp_path, task, "--seed", "3", "--data-seed", "2")
    assert (c1["task"]["options"]["seed"], c2["task"]["options"]["seed"]) == (1, 2)
    assert c1["train"]["seed"] == c2["train"]["seed"] == 3
    assert h1[0][1] != h2[0][1]       # another validation set: another validation loss


# ---- numbers keep their significant digits ----------------------------------------------------
def test_tiny_numbers_survive_history_json():
    import numpy as np
    from rnnviz.probes import Probe
    from rnnviz.recorder import EpochRecord, History
    tiny = np.array([[1e-30, 3.6e-14, 0.5, 1e-45]], dtype=np.float32)              # [L, T]
    p = Probe(hidden=np.zeros((1, 4, 2), np.float32), cell=None, gates={}, grad_h=tiny, grad_c=None,
              grad_h_last=tiny, out=np.zeros((4, 3), np.float32), loss=1e-30)
    h = History()
    h.add(EpochRecord(epoch=1, step=1, loss=3.6e-14, grad_norm=1e-30, probe=p))
    back = History.from_json(json.loads(json.dumps(h.to_json())))
    assert np.array_equal(back.records[0].probe.grad_h, tiny) and back.records[0].probe.grad_h[0, 0] > 0
    assert back.records[0].loss == 3.6e-14 and back.records[0].grad_norm == 1e-30
    old = h.to_json()   # a file written with 6 decimals, as before, still loads
    old["records"][0]["probe"]["grad_h"] = [[0.0, 0.0, 0.5, 0.0]]
    assert History.from_json(json.loads(json.dumps(old))).records[0].probe.grad_h[0, 2] == 0.5


def test_probe_prints_vanishing_gradients_as_measured(tmp_path):
    """An rnn whose recurrent weights are tiny: ||dL_last/dh_0|| is ~1e-20, not 0."""
    from rnnviz import checkpoint as ck
    from rnnviz.config import ModelConfig, TrainConfig
    from rnnviz.engine import TorchEngine
    from rnnviz.tasks import make_task
    task, m, t = make_task("hihell"), ModelConfig(cell="rnn", hidden_size=5), TrainConfig(seed=1)
    eng = TorchEngine(task, m, t)
    with torch.no_grad():
        eng.model.rnn.weight_hh_l0.mul_(1e-4)
    expected = eng.probe(task.probe()).grad_h_last[-1]                              # [T]
    assert 0 < expected[0] < 1e-12
    ck.save(tmp_path / "ck", task, m, t, eng.state_dict())
    got = json.loads(cli("probe", "--checkpoint", str(tmp_path / "ck")).stdout)["grad_norms_last"]
    assert torch.equal(torch.tensor(got, dtype=torch.float32), torch.from_numpy(expected))


# ---- --help shows the task's own defaults ---------------------------------------------------------
def _help(capsys, *args) -> str:
    from rnnviz.cli import main
    with pytest.raises(SystemExit) as e:
        main(["train", *args, "--help"])
    assert e.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_shows_each_tasks_defaults(capsys):
    every = _help(capsys)
    assert "--cell {rnn,lstm,gru} default per task: 'rnn' (hihell, seoul, words, sine, dinos); 'lstm' (ship," in every
    assert "--lr LR default per task: 0.1 (hihell);" in every and "0.003 (text)" in every
    sine = _help(capsys, "--task", "sine")
    assert "--cell {rnn,lstm,gru} default for sine: 'rnn'" in sine
    assert "--hidden HIDDEN_SIZE default for sine: 32" in sine and "--carry-state, --no-carry-state default for sine: True" in sine
    assert "--data-seed DATA_SEED seeds the task's data; default for sine: 0" in sine
    assert "--max-n MAX_N not an option of sine" in sine
    assert "default for text: 'lstm'" in _help(capsys, "--task=text")


def test_help_and_tasks_show_the_copy_tasks_own_defaults(capsys):
    """The gradients lesson's defaults are the copy task's: `train --task copy --help` shows them, not
    ModelConfig's or another task's, and `tasks` lists them."""
    m, t = Copy.suggested()
    assert (m.hidden_size, t.lr, t.epochs, t.forget_bias) != (ModelConfig().hidden_size, TrainConfig().lr,
                                                             TrainConfig().epochs, TrainConfig().forget_bias)
    copy = _help(capsys, "--task", "copy")
    for flag, value in [("--hidden HIDDEN_SIZE", m.hidden_size), ("--lr LR", t.lr), ("--epochs EPOCHS", t.epochs),
                        ("--clip CLIP", t.clip), ("--forget-bias FORGET_BIAS", t.forget_bias),
                        ("--lag LAG", CopyOptions().lag), ("--length LENGTH", CopyOptions().length)]:
        assert f"{flag} default for copy: {value!r}" in copy, flag
    every = _help(capsys)
    assert f"{t.forget_bias!r} (copy)" in every          # the per-task list without --task
    line = next(x for x in cli("tasks").stdout.splitlines()[1:] if "forget_bias" in x)
    assert f"hidden={m.hidden_size}" in line and f"lr={t.lr}" in line and f"forget_bias={t.forget_bias}" in line
