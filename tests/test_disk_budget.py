"""The checkpoints' disk is shared by the class: each student has a byte budget of their own
(RNNVIZ_STUDENT_CHECKPOINTS_MB) beside the cap on all students' folders together, so that one student
who fills theirs (a loop of large uploads, many saves) stops nobody else's "Save checkpoint"."""
from __future__ import annotations

import pytest
from apptest import app, hihell_trained, owner, runs_of
from test_bad_inputs import good, zip_of  # noqa: F401  (good: a fixture)
from test_bad_inputs_app import upload

from lab import checkpoints as lab_checkpoints
from lab import registry
from rnnviz.limits import env_limit

pytestmark = pytest.mark.usefixtures("lab_env")


def folder(tmp_path, at):
    return tmp_path / "checkpoints" / "students" / owner(at)


def sizes(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def saved_message(at) -> str:
    (shown,) = [e.value for e in at.error] or [""]
    return shown


def test_the_budget_is_read_from_the_environment(monkeypatch):
    assert lab_checkpoints.STUDENT_MB == env_limit("RNNVIZ_STUDENT_CHECKPOINTS_MB", 500)
    assert lab_checkpoints.STUDENT_MB < lab_checkpoints.STUDENTS_MB   # one student cannot fill the total


def test_a_student_who_fills_their_budget_with_uploads_stops_only_themselves(good, monkeypatch, tmp_path):  # noqa: F811
    data, size = zip_of(good[1]), sum(map(len, good[1].values()))       # the zip, and its files unpacked
    # room for two of these uploads, and the total for all students far above what A can take
    monkeypatch.setattr(lab_checkpoints, "STUDENT_MB", size * 2.5 / 2**20)
    a = app()
    assert upload(a, "a.zip", data) == "" and upload(a, "b.zip", data) == ""
    shown = upload(a, "c.zip", data)
    assert "c.zip` was not kept" in shown and "RNNVIZ_STUDENT_CHECKPOINTS_MB" in shown and "delete" in shown, shown
    assert "\n" not in shown.strip() and "Traceback" not in shown
    assert sorted(p.name for p in folder(tmp_path, a).iterdir()) == ["uploaded-a", "uploaded-b"]
    b = app()                                                         # a new browser: another student
    assert upload(b, "d.zip", data) == "" and (folder(tmp_path, b) / "uploaded-d" / "config.json").is_file()


def test_a_run_save_that_breaks_the_budget_is_refused_and_leaves_nothing(monkeypatch, tmp_path):
    """A run save's size is known once it is written: the new folder goes again when it broke the budget."""
    a = app()
    hihell_trained(a)
    a.button(key="chars.save").click().run()
    (first,) = folder(tmp_path, a).iterdir()
    one = sizes(first)
    monkeypatch.setattr(lab_checkpoints, "STUDENT_MB", one * 1.5 / 2**20)
    hihell_trained(a)                                                 # a new run (the same one is saved already)
    a.button(key="chars.save").click().run()
    shown = saved_message(a)
    assert "Could not save" in shown and "RNNVIZ_STUDENT_CHECKPOINTS_MB" in shown, shown
    assert one < 2**20 and f"take {one / 2**10:,.0f} KB" in shown, shown    # what A uses (a small model)
    assert "Checkpoints page" in shown, shown                                 # and where to free room
    assert [p.name for p in folder(tmp_path, a).iterdir()] == [first.name]            # no new folder, no temporary one
    b = app()
    hihell_trained(b)
    b.button(key="chars.save").click().run()
    assert saved_message(b) == "" and any("Saved" in s.value for s in b.success)
    assert len(list(folder(tmp_path, b).iterdir())) == 1


def test_when_all_students_runs_fill_their_disk_no_new_run_starts_and_none_is_deleted(monkeypatch, tmp_path):
    """A browser without a cookie is a new student with a budget of its own: a script that opens the lab
    again and again would fill the disk with runs. Past RNNVIZ_STUDENTS_RUNS_MB, Train says why; every
    run on disk stays."""
    a = app()
    hihell_trained(a)
    assert all(r.ended.wait(30) for r in runs_of(a, "chars").values())    # and written down
    on_disk = sorted(p.relative_to(tmp_path) for p in (tmp_path / "runs").rglob("config.json"))
    assert on_disk
    monkeypatch.setattr(registry, "STUDENTS_RUNS_MB", sizes(tmp_path / "runs") / 2 / 2**20)
    monkeypatch.setattr(registry.get(), "_measured", (-1e9, 0))      # measured again now, not in 10 s
    b = app()                                                         # another browser
    b.button(key="chars.train").click().run()
    shown = saved_message(b)
    assert shown.startswith("Could not start training: the students' runs take") and \
        "RNNVIZ_STUDENTS_RUNS_MB" in shown and "\n" not in shown, shown
    assert not runs_of(b, "chars") and not b.exception
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "runs").rglob("config.json")) == on_disk
    monkeypatch.setattr(registry, "STUDENTS_RUNS_MB", 20000)
    b.button(key="chars.train").click().run()                         # room again: it trains
    assert runs_of(b, "chars")
