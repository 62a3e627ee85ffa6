"""Checkpoints round-trip, load into plain torch.nn, are written atomically and never unpickled."""
import dataclasses
import io
import json
import os

import pytest
import torch

from rnnviz import checkpoint as ck
from rnnviz.callbacks import Recorder
from rnnviz.recorder import EpochRecord, History
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def _trained(tmp_path, cell="lstm", layers=2, embedding=0, task="seoul"):
    t = make_task(task)
    m = ModelConfig(cell=cell, hidden_size=8, num_layers=layers, embedding_dim=embedding)
    tc = TrainConfig(epochs=5, seed=1)
    rec = Recorder()
    tr = Trainer(t, m, tc, [rec])
    tr.run()
    path = ck.save(tmp_path / "run", t, m, tc, tr.engine.state_dict(), rec.history, status=tr.status)
    return tr, rec, path


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_round_trip_and_load_into_torch_nn(tmp_path, cell):
    tr, rec, path = _trained(tmp_path, cell=cell, embedding=4)
    assert sorted(os.listdir(path)) == ["config.json", "history.json", "model.safetensors"]
    got = ck.load(path)
    assert got.model_cfg == tr.mcfg and got.train_cfg == tr.tcfg and got.task.vocab == tr.task.vocab
    for k, v in tr.engine.state_dict().items():
        assert torch.equal(got.state_dict[k], v)
    assert [r.loss for r in got.history.records] == [r.loss for r in rec.history.records]
    assert got.history.records[-1].prediction == rec.history.records[-1].prediction
    # plain torch.nn modules, no rnnviz code: the names and layout are torch's own
    sd = got.state_dict
    V = len(tr.task.vocab)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = cls(4, 8, 2, batch_first=True)
    rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    head = torch.nn.Linear(8, V)
    head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})
    emb = torch.nn.Embedding(V, 4)
    emb.load_state_dict({"weight": sd["embedding.weight"]})
    x = tr.task.probe().x
    with torch.no_grad():
        ref = head(rnn(emb(x))[0])
        ours, _ = tr.engine.predict(x)
    assert (ref - ours).abs().max() < 1e-6


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    tr, rec, path = _trained(tmp_path)
    before = (path / "model.safetensors").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(ck, "write_json", boom)
    with pytest.raises(OSError):
        ck.save(path, tr.task, tr.mcfg, tr.tcfg, tr.engine.state_dict(), rec.history, replace=True)
    # the old checkpoint is intact and no temporary directory is left behind
    assert (path / "model.safetensors").read_bytes() == before
    assert ck.load(path).model_cfg == tr.mcfg
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_zip_share_round_trip_and_bad_files(tmp_path):
    tr, rec, path = _trained(tmp_path)
    blobs = ck.from_zip(ck.to_zip(path))
    assert ck.from_bytes(blobs).model_cfg == tr.mcfg
    with pytest.raises(ck.CheckpointError, match="not a zip"):
        ck.from_zip(b"garbage")
    with pytest.raises(ck.CheckpointError, match="no model.safetensors"):
        ck.from_bytes({"config.json": blobs["config.json"]})
    with pytest.raises(ck.CheckpointError, match="cannot be read"):
        ck.from_bytes({**blobs, "model.safetensors": b"\x80\x04pickle-like junk"})
    bad_cfg = json.loads(blobs["config.json"])
    bad_cfg["model"]["hidden_size"] = 9
    with pytest.raises(ck.CheckpointError, match="shape"):
        ck.from_bytes({**blobs, "config.json": json.dumps(bad_cfg).encode()})
    with pytest.raises(ck.CheckpointError, match="config.json"):
        ck.from_bytes({**blobs, "config.json": b"{not json"})
    foreign = json.loads(blobs["config.json"])
    foreign["task"]["name"] = "imagenet"
    with pytest.raises(ck.CheckpointError):
        ck.from_bytes({**blobs, "config.json": json.dumps(foreign).encode()})


def test_pickle_files_are_refused(tmp_path):
    """A torch.save (pickle) file named model.safetensors is not loaded."""
    tr, rec, path = _trained(tmp_path)
    buf = io.BytesIO()
    torch.save(tr.engine.state_dict(), buf)
    blobs = ck.from_zip(ck.to_zip(path))
    with pytest.raises(ck.CheckpointError):
        ck.from_bytes({**blobs, "model.safetensors": buf.getvalue()})


def test_list_runs(tmp_path):
    _trained(tmp_path)
    runs = ck.list_runs(tmp_path)
    assert len(runs) == 1 and runs[0]["task"] == "seoul" and runs[0]["cell"] == "lstm"


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_resume_from_checkpoint_continues_exactly(tmp_path, optimizer):
    """10 epochs, save, load, 10 more == 20 epochs in one go (weights and optimizer state restored)."""
    task = make_task("hihell")
    m = ModelConfig(cell="lstm", hidden_size=5)
    tc = TrainConfig(epochs=20, seed=3, optimizer=optimizer, momentum=0.5 if optimizer != "adam" else 0.0,
                     lr=0.05, dtype="float64")
    whole = Recorder()
    Trainer(task, m, tc, [whole]).run()
    half = dataclasses.replace(tc, epochs=10)
    first = Trainer(task, m, half, [])
    first.run()
    path = ck.save(tmp_path / "half", task, m, half, first.engine.state_dict(),
                   optimizer=first.engine.optimizer_state())
    got = ck.load(path)
    rest = Recorder()
    Trainer(task, m, half, [rest], engine=got.engine()).run()
    a = [r.loss for r in whole.history.records[10:]]
    b = [r.loss for r in rest.history.records]
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-12
    # without the optimizer state Adam's moments restart and the losses differ
    if optimizer == "adam":
        fresh = Recorder()
        Trainer(task, m, half, [fresh], engine=dataclasses.replace(got, optimizer=None).engine()).run()
        assert abs(fresh.history.records[0].loss - b[0]) < 1e-12  # same weights at the start
        assert max(abs(x - y) for x, y in zip([r.loss for r in fresh.history.records], b)) > 1e-6


def test_a_numpy_run_with_a_bug_reopens_on_numpy_with_that_bug(tmp_path):
    from rnnviz.numpy_engine.adapter import NumpyEngine
    task = make_task("hihell")
    m, t = task.suggested()
    t = dataclasses.replace(t, engine="numpy", epochs=5, dtype="float64")
    eng = NumpyEngine(task, m, t, bugs=("no_bptt",))
    Trainer(task, m, t, [], engine=eng).run()
    ck.save(tmp_path / "ck", task, m, t, eng.state_dict(), None, bugs=list(eng.bugs))
    got = ck.load(tmp_path / "ck").engine()
    assert isinstance(got, NumpyEngine) and got.bugs == ("no_bptt",)
    for k, v in eng.state_dict().items():
        assert torch.equal(got.state_dict()[k], v)
    clean = dataclasses.replace(ck.load(tmp_path / "ck"), config={}).engine()   # saved without bugs: none
    assert isinstance(clean, NumpyEngine) and clean.bugs == ()


class ThinnedWhileRead(EpochRecord):
    """A record whose probe another thread drops just after it is first read (a history's thinning,
    Run.lighten): the next read finds None."""

    @property
    def probe(self):
        probe, self.__dict__["_probe"] = self.__dict__.get("_probe"), None
        return probe

    @probe.setter
    def probe(self, value):
        self.__dict__["_probe"] = value


def test_a_record_whose_probe_is_dropped_while_it_is_written_writes_what_it_read(tmp_path):
    """to_json read the probe twice (is it None? then its to_json()): a thinning between the two
    raised AttributeError out of a Save checkpoint."""
    _, rec, _ = _trained(tmp_path)
    probe = rec.history.probed()[-1].probe
    row = ThinnedWhileRead(epoch=1, step=1, loss=1.0, probe=probe).to_json()
    assert row["probe"] == probe.to_json()
    h = History(records=[ThinnedWhileRead(epoch=e, step=e, loss=1.0, probe=probe) for e in (1, 2, 3)])
    assert [r["probe"] for r in h.to_json(max_bytes=2**30)["records"]] == [probe.to_json()] * 3


def test_a_history_until_an_epoch_keeps_its_probes_when_the_run_is_thinned(tmp_path):
    _, rec, _ = _trained(tmp_path)
    copy = rec.history.until(4)
    assert [r.epoch for r in copy.records] == [1, 2, 3, 4] and len(copy.probed()) == len(rec.history.probed()[:4])
    rec.history.keep_newest_probe()                   # Run.lighten, while the copy is written
    assert len(rec.history.probed()) == 1 and len(copy.probed()) == 4
    assert copy.probe_bytes == sum(r.probe.nbytes() for r in copy.probed())
