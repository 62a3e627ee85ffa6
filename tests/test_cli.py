"""The command line: train writes a checkpoint, probe prints the promised JSON, errors are one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
