"""Checkpoints in the app, each owned by its browser: save, open, continue, share, delete; the class
folder the teacher publishes to; the shipped models; a broken file that must not break the page."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections import defaultdict, deque
from pathlib import Path

import pytest
from apptest import app, finished, hihell_trained, owner, runs_of, wait

from lab import checkpoints, teacher
from lab.lessons import BY_KEY
from rnnviz import checkpoint
from rnnviz.callbacks import Recorder
from rnnviz.checkpoint import CheckpointError, to_zip
from rnnviz.engine import build_model
from rnnviz.run import Run
from rnnviz.tasks import make_task
from rnnviz.trainer import Trainer

pytestmark = pytest.mark.usefixtures("lab_env")


def trained(lesson_page: str = "chars"):
    at = app(lesson_page)
    hihell_trained(at)
    return at


def names(at) -> list[str]:
    at.switch_page("app_pages/checkpoints.py").run()
    return at.dataframe[0].value["name"].tolist() if at.dataframe else []


def test_save_open_continue_share_and_delete_a_checkpoint(tmp_path):
    at = trained()
    at.button(key="chars.save").click().run()
    at.button(key="chars.save").click().run()                  # a second click on the same run: nothing new
    mine = tmp_path / "checkpoints" / "students" / owner(at)
    saved = sorted(mine.iterdir())
    assert len(saved) == 1 and (saved[0] / "model.safetensors").is_file()
    epoch = json.loads((saved[0] / "config.json").read_text())["epochs"]      # the epoch it holds, said
    assert [s.value for s in at.success] == [f"Saved `{saved[0].name}` (epoch {epoch:,}) (see the Checkpoints page)"]
    assert set(names(at)) >= {p.name for p in saved}
    at.selectbox(key="ckpt.pick").set_value(saved[0].name).run()
    at.button(key="ckpt.open").click().run()
    assert at.title[0].value == "1. Character prediction"
    (loaded,) = runs_of(at, "chars").values()
    assert loaded.state == "loaded" and loaded.history.last.epoch == 100
    assert loaded.resume.optimizer is not None                 # saved after the end: Continue goes on exactly
    at.button(key="chars.continue").click().run()
    (more,) = wait(at, "chars", finished).values()
    assert more.history.last.epoch == 200 and more.history.snapshot()[0].epoch == 1

    at.switch_page("app_pages/checkpoints.py").run()
    at.file_uploader(key="ckpt.upload").set_value(("shared.zip", to_zip(saved[0]), "application/zip")).run()
    assert any("Added" in s.value for s in at.success)
    (uploaded,) = set(mine.iterdir()) - set(saved)
    at.selectbox(key="ckpt.pick").set_value(uploaded.name).run()
    at.button(key="ckpt.delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="ckpt.yes").click().run()
    assert not uploaded.exists() and saved[0].exists()


def test_a_browser_sees_opens_and_deletes_only_its_own_checkpoints(tmp_path, monkeypatch):
    a = trained()
    a.button(key="chars.save").click().run()
    (theirs,) = (tmp_path / "checkpoints" / "students" / owner(a)).iterdir()
    assert names(a) == [theirs.name]
    b = app()
    assert names(b) == []
    # the server refuses B even a path it was never shown (the listing is not the only guard)
    monkeypatch.setattr(checkpoints, "mine", lambda: tmp_path / "checkpoints" / "students" / owner(b))
    with pytest.raises(CheckpointError, match="not yours"):
        checkpoints.open_in_lesson(theirs)
    assert not checkpoints.deletable(theirs)
    with pytest.raises(CheckpointError):
        checkpoints.delete(theirs)
    assert (theirs / "model.safetensors").is_file()


def _ship(where, name="dinos-lstm", hidden=16):
    task = make_task("text", corpus="dinos")
    mcfg, tcfg = task.suggested()
    mcfg = mcfg.__class__(cell="lstm", hidden_size=hidden)
    checkpoint.save(where / name, task, mcfg, tcfg, build_model(task, mcfg, tcfg).state_dict())


def test_pretrained_models_are_one_click_away(tmp_path):
    _ship(tmp_path / "checkpoints" / "pretrained")
    at = app("text")
    at.button(key="text.load_pretrained").click().run()
    (run,) = runs_of(at, "text").values()
    assert run.state == "loaded" and run.mcfg.hidden_size == 16
    assert at.selectbox(key="text.text.task.corpus").value == "dinos"
    assert at.slider(key="text.text.model.hidden_size").value == 16
    assert not any("Settings changed" in i.value for i in at.info)
    assert "pretrained/dinos-lstm" in names(at)
    at.selectbox(key="ckpt.pick").set_value("pretrained/dinos-lstm").run()
    assert at.button(key="ckpt.delete").disabled          # shipped models are not deleted from the app


def test_an_opened_text_model_says_why_it_has_no_earlier_samples(tmp_path):
    """The shipped Shakespeare model showed "earlier samples" switched on and nothing under it: a
    checkpoint keeps the weights of its last epoch only."""
    shutil.copytree(Path(__file__).parents[1] / "checkpoints" / "pretrained" / "text-shakespeare-lstm",
                    tmp_path / "checkpoints" / "pretrained" / "text-shakespeare-lstm")
    at = app("text")
    at.button(key="text.load_pretrained").click().run()
    (run,) = runs_of(at, "text").values()
    assert run.state == "loaded" and run.weights.epochs == [run.last_epoch]
    assert at.toggle(key="text.history").value
    assert any(c.value.startswith(f"No earlier sample: this run keeps the weights of {run.unit} {run.last_epoch:,} only")
               for c in at.caption), [c.value for c in at.caption]


def test_the_teacher_publishes_to_the_class_and_students_open_but_cannot_delete(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNVIZ_TEACHER_KEY", "s3cret")
    monkeypatch.setattr(teacher, "_wrong", defaultdict(deque))
    desk = trained()
    desk.button(key="chars.save").click().run()
    names(desk)
    assert not [b for b in desk.button if b.key == "ckpt.publish"]
    desk.text_input(key="ckpt.teacher_key").input("wrong").run()
    assert any("not the teacher key" in e.value for e in desk.error)
    desk.text_input(key="ckpt.teacher_key").input("s3cret").run()
    desk.button(key="ckpt.publish").click().run()
    assert any("Published as `class/" in s.value for s in desk.success)
    student = app()
    published = [n for n in names(student) if n.startswith("class/")]
    assert len(published) == 1
    student.selectbox(key="ckpt.pick").set_value(published[0]).run()
    assert student.button(key="ckpt.delete").disabled and not [b for b in student.button if b.key == "ckpt.publish"]
    student.button(key="ckpt.open").click().run()
    assert runs_of(student, "chars")["rnn"].state == "loaded"


def test_a_computer_that_types_wrong_teacher_keys_is_held_up_and_the_others_are_not(tmp_path, monkeypatch):
    """A student tries keys: each typed key counts once (not again at every rerun), the sixth from the
    same computer is not compared even when right, and another computer, the teacher's, still gets in."""
    monkeypatch.setenv("RNNVIZ_TEACHER_KEY", "s3cret")
    monkeypatch.setattr(teacher, "_wrong", defaultdict(deque))
    monkeypatch.setattr(teacher, "_computer", lambda: "10.0.0.66")
    student = app("checkpoints")
    for guess in ("a", "b", "c", "d", "e"):
        student.text_input(key="ckpt.teacher_key").input(guess).run()
        assert any("not the teacher key" in e.value for e in student.error)
        student.run()                                     # a rerun is no new guess
    assert len(teacher._wrong["10.0.0.66"]) == teacher.WRONG_KEYS
    student.text_input(key="ckpt.teacher_key").input("s3cret").run()
    assert any("try again in 10 minutes" in e.value for e in student.error)
    assert not any("You are the teacher" in s.value for s in student.success)
    monkeypatch.setattr(teacher, "_computer", lambda: "10.0.0.1")
    desk = app("checkpoints")
    desk.text_input(key="ckpt.teacher_key").input("s3cret").run()
    assert not desk.error and any("You are the teacher" in s.value for s in desk.success)


def test_wrong_teacher_keys_are_forgotten_after_the_window(monkeypatch):
    monkeypatch.setenv("RNNVIZ_TEACHER_KEY", "s3cret")
    monkeypatch.setattr(teacher, "_wrong", defaultdict(deque))
    for i in range(teacher.WRONG_KEYS):
        assert teacher.try_key(f"guess{i}", now=100.0 + i) == "That is not the teacher key."
    assert "try again in" in teacher.try_key("s3cret", now=200.0)
    assert teacher.try_key("s3cret", now=100.0 + teacher.WRONG_KEYS_S + 1) == ""


def test_the_checkpoints_table_fits_the_page(tmp_path):
    """Its last column, "saved" ("2026-11-22T17:08:56"), was cut off at 1280 px: the table now has no
    "whose" column (the name's class/ or pretrained/ says it), its time goes to the minute and an
    unreadable checkpoint's status is short (its error shows when it is picked)."""
    _ship(tmp_path / "checkpoints" / "pretrained")
    broken = tmp_path / "checkpoints" / "pretrained" / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"task": 5, "model": [1, 2]}')
    at = app()
    at.switch_page("app_pages/checkpoints.py").run()
    table = at.dataframe[0]
    assert table.value.columns.tolist() == ["name", "task", "cell", "H", "status", "loss", "saved"]
    rows = table.value.set_index("name")
    saved_at = checkpoint.load(tmp_path / "checkpoints" / "pretrained" / "dinos-lstm").config["saved_at"]
    assert rows.loc["pretrained/dinos-lstm", "saved"] == saved_at[:16].replace("T", " ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows.loc["pretrained/dinos-lstm", "saved"])
    assert rows.loc["pretrained/broken", "status"] == "cannot be read" and rows.loc["pretrained/broken", "saved"] == ""
    columns = json.loads(table.proto.columns)
    assert columns["H"]["width"] == "small" and columns["H"]["help"] == "hidden size"
    assert columns["saved"]["type_config"]["type"] == "text"
    assert any("`pretrained/` ones shipped with the lab" in c.value for c in at.caption)


def test_a_broken_checkpoint_is_listed_as_unreadable_and_breaks_no_page(tmp_path):
    at = app()
    for where in (tmp_path / "checkpoints" / "students" / owner(at) / "broken",
                  tmp_path / "checkpoints" / "class" / "broken"):
        where.mkdir(parents=True)
        (where / "config.json").write_text('{"task": 5, "model": [1, 2]}')
    listed = names(at)
    assert {"broken", "class/broken"} <= set(listed) and not at.exception
    at.selectbox(key="ckpt.pick").set_value("class/broken").run()
    assert any("cannot be read" in e.value for e in at.error) and at.button(key="ckpt.open").disabled
    other = app()
    assert "class/broken" in names(other) and not other.exception      # the page works for everyone


def test_a_checkpoint_saved_while_the_run_is_thinned_keeps_the_history_it_had(tmp_path, monkeypatch):
    """Save checkpoint wrote the run's own records: a thinning while it wrote (the run trained on in
    another tab, Run.lighten) dropped their probes under it, or raised AttributeError from
    EpochRecord.to_json. It writes copies taken at the click."""
    task = make_task("hihell")
    m, t = task.suggested()
    t = dataclasses.replace(t, epochs=5)
    run = Run(task, m, t, state="running")
    trainer = Trainer(task, m, t, [Recorder(run.history, probe_every=1)])
    trainer.run()
    run.weights.keep(5, trainer.engine.state_dict())
    write = checkpoint.save_new

    def thinned_meanwhile(*args, **kwargs):
        run.lighten()
        return write(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_new", thinned_meanwhile)
    monkeypatch.setattr(checkpoints.identity, "owner", lambda: "tester")
    (name,) = checkpoints.save_runs(BY_KEY["chars"], {"hihell": run})
    assert len(run.history.probed()) == 1                            # the run was thinned...
    saved = checkpoint.load(tmp_path / "checkpoints" / "students" / "tester" / name)
    assert [r.epoch for r in saved.history.records] == [1, 2, 3, 4, 5]
    assert all(r.probe is not None for r in saved.history.records)   # ...not what was saved of it


def _trained_run(task_name: str, epochs: int = 2) -> Run:
    task = make_task(task_name)
    m, t = task.suggested()
    t = dataclasses.replace(t, epochs=epochs)
    run = Run(task, m, t, state="running")
    trainer = Trainer(task, m, t, [Recorder(run.history)])
    trainer.run()
    run.weights.keep(epochs, trainer.engine.state_dict())
    return run


def test_a_checkpoint_name_says_each_part_once_and_never_takes_a_used_one(tmp_path, monkeypatch):
    """The sine lesson's runs were saved as "sine-sine-rnn-h_carried-<time>": its lesson and its task
    share the name. Each part is said once; a second save of another run in the same second takes
    "-2" and leaves the first as it was."""
    monkeypatch.setattr(checkpoints.identity, "owner", lambda: "tester")
    monkeypatch.setattr(checkpoints.time, "strftime", lambda fmt, *rest: "20250102-030405")
    (first,) = checkpoints.save_runs(BY_KEY["sine"], {"h carried": _trained_run("sine")})
    assert first == "sine-rnn-h_carried-20250102-030405"
    mine = tmp_path / "checkpoints" / "students" / "tester"
    written = (mine / first / "model.safetensors").read_bytes()
    (second,) = checkpoints.save_runs(BY_KEY["sine"], {"h carried": _trained_run("sine", epochs=3)})
    assert second == first + "-2" and (mine / first / "model.safetensors").read_bytes() == written
    assert checkpoint.load(mine / second).history.last.epoch == 3
    (chars,) = checkpoints.save_runs(BY_KEY["chars"], {"hihell": _trained_run("hihell")})
    assert chars == "chars-hihell-rnn-20250102-030405"       # a lesson of several tasks names its task
