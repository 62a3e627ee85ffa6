"""The command line takes the new model and training options by itself (flags from the config fields):
--bidirectional, --proj-size and --tbptt train runs whose checkpoints load into plain torch.nn."""
import json

import pytest
import torch
from safetensors.torch import load_file

from rnnviz import checkpoint
from rnnviz.cli import main


def test_cli_trains_a_bidirectional_projected_lstm(tmp_path, capsys):
    out = tmp_path / "bi"
    assert main(["train", "--task", "hihell", "--cell", "lstm", "--hidden", "6", "--bidirectional",
                 "--proj-size", "3", "--epochs", "30", "--lr", "0.05", "--quiet", "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())["model"]
    assert cfg["bidirectional"] is True and cfg["proj_size"] == 3
    sd = load_file(out / "model.safetensors")
    lstm = torch.nn.LSTM(5, 6, batch_first=True, bidirectional=True, proj_size=3)
    lstm.load_state_dict({k.removeprefix("rnn."): v for k, v in sd.items() if k.startswith("rnn.")})  # plain torch.nn
    ck = checkpoint.load(out)
    x = ck.task.probe().x
    model = ck.build_model()
    seq, _ = lstm(torch.nn.functional.one_hot(x, 5).float())
    assert seq.shape == (1, 6, 6)
    assert torch.allclose(model.head(seq), model(x)[0], atol=1e-6)
    hist = json.loads((out / "history.json").read_text())
    assert hist["records"][-1]["loss"] < hist["records"][0]["loss"]
    capsys.readouterr()
    assert main(["probe", "--checkpoint", str(out)]) == 0
    probed = json.loads(capsys.readouterr().out)
    assert probed["cell"] == "lstm"      # both directions, each as torch.nn's output halves have them
    assert torch.allclose(torch.tensor(probed["hidden"]), seq[0, :, :3], atol=1e-5)
    assert torch.allclose(torch.tensor(probed["reverse"]["hidden"]), seq[0, :, 3:], atol=1e-5)


def test_cli_trains_sine_with_tbptt(tmp_path):
    out = tmp_path / "sine"
    assert main(["train", "--task", "sine", "--tbptt", "5", "--epochs", "2", "--n-windows", "4", "--quiet",
                 "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["tbptt"] == 5 and cfg["steps_done"] == 2 * 4 * 4     # 20 steps per window: 4 pieces
    probe = json.loads((out / "history.json").read_text())["records"][-1]["probe"]
    assert probe["tbptt"] == 5


@pytest.mark.parametrize("args,msg", [
    (["--engine", "numpy", "--bidirectional"], "torch engine"),
    (["--cell", "gru", "--proj-size", "2"], "proj_size"),
    (["--tbptt", "3"], "sequential"),
])
def test_cli_refuses_what_cannot_train_in_one_line(tmp_path, capsys, args, msg):
    assert main(["train", "--task", "hihell", "--epochs", "2", "--quiet", "--out", str(tmp_path / "x"), *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0] and not (tmp_path / "x").exists()


def test_cli_trains_dinosaur_names_on_the_numpy_engine(tmp_path):
    out = tmp_path / "dinos"
    assert main(["train", "--task", "dinos", "--engine", "numpy", "--dtype", "float64", "--epochs", "2",
                 "--hidden", "16", "--quiet", "--out", str(out)]) == 0
    assert main(["sample", "--checkpoint", str(out), "--prime", "a", "--length", "40"]) == 0
