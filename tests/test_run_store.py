"""Runs on disk (rnnviz.run_store): a run written where it stands reads back as itself, a continued
run replaces its own copy, and a broken copy is skipped, not fatal."""
import dataclasses
import json

import torch

from rnnviz import checkpoint_io, run_store
from rnnviz.callbacks import Recorder
from rnnviz.run import Run
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer


def trained(run: Run) -> Run:
    """Train the run here as a worker would, and leave it where a Runner would."""
    rec = Recorder(run.history)
    tr = Trainer(run.task, run.mcfg, run.tcfg, [rec], resume=run.resume)
    run.state = tr.run()
    run.reason, run.resume = tr.reason, tr.resume_state()
    run.done, run.step = tr.done, tr.step
    return run


def test_a_run_reads_back_as_itself_and_a_continued_run_replaces_its_copy(tmp_path):
    task = make_task("hihell")
    m, t = task.suggested()
    run = trained(Run(task, m, dataclasses.replace(t, epochs=20), owner="o1", lesson="chars", group="g1",
                      name="rnn"))
    path = run_store.save(run, tmp_path)
    (back,) = run_store.load_lesson(tmp_path, "o1", "chars")
    assert (back.state, back.reason, back.group, back.name, back.owner) == ("finished", "finished 20 epochs", "g1",
                                                                              "rnn", "o1")
    assert [r.loss for r in back.history.records] == [r.loss for r in run.history.records]
    assert back.resume.counters() == run.resume.counters()
    for k, v in run.resume.weights.items():
        assert torch.equal(back.resume.weights[k], v)
    back.continued(t, 30)                                     # 10 more
    trained(back)
    assert run_store.save(back, tmp_path) == path             # its own copy, replaced
    (again,) = run_store.load_lesson(tmp_path, "o1", "chars")
    assert again.history.records[-1].epoch == 30 and again.resume.done == 30
    assert run_store.load_lesson(tmp_path, "someone else", "chars") == []


def test_a_broken_copy_is_skipped(tmp_path):
    broken = tmp_path / "o1" / "chars" / "g0-rnn"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{not json")
    assert run_store.load_lesson(tmp_path, "o1", "chars") == []


def test_a_run_whose_probes_outgrow_the_file_limit_still_reads_back(tmp_path, monkeypatch):
    """A probe takes ~3x its memory as JSON: a long text run's history.json grew past what load()
    accepts, and the run was lost to a restart. The saved history keeps every record and the first
    and newest probes, and thins the rest to fit."""
    task = make_task("hihell")
    m, t = task.suggested()
    run = trained(Run(task, m, dataclasses.replace(t, epochs=40), owner="o1", lesson="chars", group="g1",
                      name="rnn"))
    whole = len(json.dumps(run.history.to_json()).encode())
    probes = sum(len(json.dumps(r.probe.to_json()).encode()) for r in run.history.probed())
    limit = whole - probes // 2            # room for about half the probes
    monkeypatch.setitem(checkpoint_io.LIMITS, "history.json", limit)
    run_store.save(run, tmp_path)
    assert (tmp_path / "o1" / "chars").is_dir()
    saved = next((tmp_path / "o1" / "chars").glob("*/history.json"))
    assert len(saved.read_bytes()) <= limit < whole
    (back,) = run_store.load_lesson(tmp_path, "o1", "chars")
    assert [r.loss for r in back.history.records] == [r.loss for r in run.history.records]
    probed = [r.epoch for r in back.history.records if r.probe is not None]
    assert 2 <= len(probed) < len(run.history.probed())
    assert probed[0] == run.history.probed()[0].epoch and probed[-1] == run.history.probed()[-1].epoch
    assert back.history.thinned
    assert all(r.probe is not None for r in run.history.records if r.epoch in probed)   # memory untouched
    assert len(run.history.probed()) == sum(r.probe is not None for r in run.history.records)
