"""The catalogue of bad inputs, a second sweep (tests/test_bad_inputs.py holds the first): task options
without an upper end, seeds a random generator refuses, the CLI's own flags. Each is refused when the
task or config is made, with a one-line message that names the option, before it costs memory or time.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from apptest import app, owner, runs_of
from test_bad_inputs import (MAX_RSS_MB, good, main_error, one_line_error, run_cli, with_config,  # noqa: F401
                             zip_of)
from test_bad_inputs_app import upload

from lab import checkpoints as lab_checkpoints
from course import generation

from rnnviz import checkpoint as ck
from rnnviz import cli
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import build_model
from rnnviz.engines import Resume
from rnnviz.limits import MAX_ACTIVATION_BYTES, activation_bytes
from rnnviz.tasks import TASKS, make_task


# ---- task options: every int has an upper end --------------------------------------------------
@pytest.mark.parametrize("task,kw,name", [
    ("copy", {"val_size": 10**8}, "val_size"),              # 3.7 GB of int64 before the first step
    ("copy", {"batch_size": 10**7}, "batch_size"),          # a 1.6 GB batch
    ("copy", {"batches_per_epoch": 10**9}, "batches_per_epoch"),   # an epoch is made whole: never ends
    ("adding", {"val_size": 10**8}, "val_size"),            # 22 GB of float64
    ("adding", {"batch_size": 10**7}, "batch_size"),
    ("adding", {"batches_per_epoch": 10**9}, "batches_per_epoch"),
    ("sine", {"n_windows": 10**9}, "n_windows"),            # an epoch of 10^9 windows
    ("sine", {"n_windows": 10**4, "batch_size": 10**4, "seq_len": 1000}, "batch_size"),    # a 40 MB batch
])
def test_task_sizes_have_an_upper_end(task, kw, name):
    with pytest.raises(ValueError, match=name):
        make_task(task, **kw)


@pytest.mark.parametrize("task,kw", [
    ("copy", {"lag": 1000, "length": 50, "batch_size": 1024, "batches_per_epoch": 1000}),   # 1.1 G positions
    ("adding", {"lag": 2000, "batch_size": 1024, "batches_per_epoch": 1000}),
    ("copy", {"lag": 1000, "length": 50, "val_size": 4096}),
])
def test_options_each_in_range_but_too_large_together(task, kw):
    with pytest.raises(ValueError, match="positions"):
        make_task(task, **kw)


def test_the_apps_largest_settings_still_fit():
    """The sliders' upper ends (lab.fields) stay valid: the caps are above what the app offers."""
    make_task("copy", lag=200, length=20, batch_size=256, batches_per_epoch=100, val_size=1024)
    make_task("adding", lag=400, batch_size=256, batches_per_epoch=100, val_size=1024)
    make_task("sine", seq_len=200, n_windows=200, batch_size=10)


@pytest.mark.parametrize("task,seed", [("copy", -1), ("adding", -5), ("sine", -1), ("anbn", -1),
                                       ("anbn", 2**32), ("copy", 2**64)])
def test_task_seeds_a_generator_refuses_are_refused_when_made(task, seed):
    with pytest.raises(ValueError, match="seed must be in 0.."):
        make_task(task, seed=seed)


def test_cli_task_option_out_of_range_is_one_line_before_training(tmp_path):
    r = run_cli("train", "--task", "copy", "--val-size", "100000000", "--epochs", "1", "--out", tmp_path / "ck")
    one_line_error(r, "val_size")
    assert r.rss_mb < MAX_RSS_MB and not (tmp_path / "ck").exists()


def test_cli_data_seed_names_the_option(capsys, tmp_path):
    main_error(capsys, "train", "--task", "adding", "--data-seed", "-1", "--out", tmp_path / "ck", words=["seed"])
    assert not (tmp_path / "ck").exists()


# ---- activations: the model's size times the batch's -----------------------------------------------
def test_a_small_model_on_a_huge_batch_is_refused_before_allocating():
    """4.5 M parameters fit, and 410 K positions per batch fit, but an lstm of 1024 units over 512 x 800
    characters keeps ~10 GB of gates and states for its backward pass."""
    text = make_task("text", max_chars=500_000, batch_size=512, seq_len=800)
    m = ModelConfig(cell="lstm", hidden_size=1024)
    with pytest.raises(ValueError, match="activations.*batch_size"):
        build_model(text, m, TrainConfig())
    assert activation_bytes(text, dataclasses.replace(m, hidden_size=16), TrainConfig()) < MAX_ACTIVATION_BYTES


@pytest.mark.parametrize("name", sorted(TASKS))
def test_largest_batch_bounds_every_batch_the_task_makes(name):
    """(most rows, most steps) of any batch: training, validation, test or the probe."""
    task = make_task(name)
    batches = [*task.train_batches(1, np.random.default_rng(0)), *task.val_batches(), *task.test_batches(),
               task.probe()]
    assert task.largest_batch() == (max(b.size for b in batches), max(b.steps for b in batches))


def test_every_tasks_default_demo_fits():
    for name, cls in TASKS.items():
        m, t = cls.suggested()
        assert activation_bytes(make_task(name), m, t) < MAX_ACTIVATION_BYTES / 10, name


# ---- the CLI's own flags ------------------------------------------------------------------------------
def test_an_empty_text_file_flag_is_not_silently_ignored(capsys, tmp_path):
    """--text-file '' (an unset shell variable) trained on Shakespeare for 2000 steps without a word."""
    main_error(capsys, "train", "--task", "text", "--text-file", "", "--out", tmp_path / "ck", words=["text file"])
    assert not (tmp_path / "ck").exists()


@pytest.fixture(scope="module")
def anbn_ck(tmp_path_factory):
    out = tmp_path_factory.mktemp("anbn") / "ck"
    assert cli.main(["train", "--task", "anbn", "--epochs", "1", "--hidden", "4", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("flags,words", [
    (["--seed", str(10**23)], ["seed"]),                  # was: 'Overflow when unpacking long long'
    (["--seed", "-1"], ["seed"]),
    (["--top-k", "-5"], ["top_k"]),                       # was: silently no top-k
    (["--prime", "a " * 20_000], ["prime", "10,000"]),    # was: a forward pass over the whole prime
])
def test_sample_flags_out_of_range(capsys, anbn_ck, flags, words):
    main_error(capsys, "sample", "--checkpoint", anbn_ck, *(["--prime", "a a b"] if "--prime" not in flags else []),
               *flags, words=words)


# ---- the app's links ----------------------------------------------------------------------------------
@pytest.mark.usefixtures("lab_env")
def test_a_links_long_values_are_shortened_in_its_note():
    """The note named each value in full: a 100 KB lr filled the page with nines."""
    at = app(query={"chars.hihell.train.lr": "9" * 100_000, "chars.hihell." + "k" * 5000: "1"})
    (note,) = [w.value for w in at.warning]
    assert len(note) < 400 and "learning rate=999" in note and "…" in note and not at.exception
    at = app(query={f"chars.hihell.nope{i}": "1" for i in range(1000)})
    (note,) = [w.value for w in at.warning]
    assert "and 995 more" in note and len(note) < 400


@pytest.mark.usefixtures("lab_env")
def test_a_links_settings_are_named_as_the_sidebar_names_them():
    """The note said num_layers and dropout; the sidebar says "layers (stacked)" and "dropout between layers"."""
    at = app(query={"chars.hihell.model.num_layers": "abc", "chars.hihell.model.dropout": "0.5",
                    "chars.hihell.model.nope": "1", "chars.bogus.key": "2", "chars.hihell.live.nope": "3"})
    (note,) = [w.value for w in at.warning]
    for said in ("layers (stacked)=abc", "dropout between layers=0.5 (no such setting)",  # (at one layer)
                 "chars.hihell.model.nope=1 (no such setting)", "chars.bogus.key=2 (no such setting)",
                 "chars.hihell.live.nope=3 (no such setting)"):    # what no widget names: as written
        assert said in note, note
    at = app(query={"chars.task": "ship", "chars.ship.task.batch_size": "-3"})
    (note,) = [w.value for w in at.warning]
    assert "windows per batch (0 = all)=-3" in note, note                # ShipOptions' own label


@pytest.mark.usefixtures("lab_env")
@pytest.mark.parametrize("query", [{"lr": "abc"}, {"foo": "1"}, {"chars": "1", "nolesson.x.model.lr": "2"}])
def test_a_link_parameter_the_app_does_not_know_is_said_once_and_taken_off_the_link(query):
    """It was ignored without a word and stayed in the address bar."""
    at = app(query=query)
    (note,) = [w.value for w in at.warning]
    for key, value in query.items():
        assert f"{key}={value} (no such setting)" in note, note        # named as written
    assert not set(query) & set(at.query_params) and not at.exception
    at.switch_page("app_pages/words.py").run()
    assert not at.warning                                           # said by the lesson the link opened only


@pytest.mark.usefixtures("lab_env")
def test_what_the_app_puts_in_a_link_never_warns():
    """Streamlit's embed parameters, presenter mode, a preset with train=1 and the lesson's settings."""
    at = app("chars", query={"embed": "true", "embed_options": "show_toolbar", "present": "true",
                             "preset": "hihell", "train": "1"})
    assert not at.warning and not at.exception
    (run,) = runs_of(at, "chars").values()
    at.switch_page("app_pages/words.py").run()
    at.switch_page("app_pages/chars.py").run()
    assert not at.warning and runs_of(at, "chars") == {"rnn": run}


@pytest.mark.usefixtures("lab_env")
@pytest.mark.parametrize("value", ["maybe", "1"])
def test_a_presenter_mode_the_toggle_cannot_take_is_said_and_taken_off_the_link(value):
    """?present=maybe was ignored without a word (the toggle takes true or false only)."""
    at = app(query={"present": value})
    (note,) = [w.value for w in at.warning]
    assert f"present={value} (true or false)" in note and not at.exception, note
    assert "present" not in at.query_params and not at.toggle(key="present").value
    at = app(query={"present": "TRUE"})
    assert not at.warning and at.toggle(key="present").value


@pytest.mark.usefixtures("lab_env")
def test_a_links_train_and_preset_act_on_the_lesson_it_opens_only():
    """The next lesson drawn took them again: it trained unasked, or said it had no such preset."""
    at = app(query={"train": "1"})
    assert list(runs_of(at, "chars")) == ["rnn"]
    at.switch_page("app_pages/words.py").run()
    assert runs_of(at, "words") == {}
    at = app(query={"preset": "no-such-preset"})
    assert any("no preset called" in w.value for w in at.warning)
    at.switch_page("app_pages/words.py").run()
    assert not at.warning


# ---- the disk is shared ---------------------------------------------------------------------------------
@pytest.mark.usefixtures("lab_env")
def test_a_students_checkpoints_are_bounded_in_number_and_size(good, monkeypatch, tmp_path):  # noqa: F811
    """Uploads were kept without end: a loop of 100 MB uploads fills the server's disk for everyone."""
    data = zip_of(good[1])
    monkeypatch.setattr(lab_checkpoints, "STUDENT_CHECKPOINTS", 2)
    at = app()
    assert upload(at, "a.zip", data) == "" and upload(at, "b.zip", data) == ""
    shown = upload(at, "c.zip", data)
    assert "2 checkpoints" in shown and "delete" in shown, shown
    mine = tmp_path / "checkpoints" / "students" / owner(at)
    assert sorted(p.name for p in mine.iterdir()) == ["uploaded-a", "uploaded-b"]
    monkeypatch.setattr(lab_checkpoints, "STUDENTS_MB", len(data) * 2.5 / 2**20)   # every student's, together
    other = app()                                                     # a new browser: a new student
    assert upload(other, "d.zip", data) != "" and not (mine.parent / owner(other)).exists()


def test_words_try_it_reads_a_bounded_text():
    """'Try it' (the words lesson) read any pasted text in one forward pass and drew a bar per token."""
    view = SimpleNamespace(task=make_task("words"))
    with pytest.raises(ValueError, match="at most 200 words"):
        generation.describe_text(view, "i like " * 100_000)


@pytest.mark.parametrize("address,words", [("nowhere.invalid:1", ["cannot reach", "nowhere.invalid:1"]),
                                           ("127.0.0.1:1", ["cannot reach"]), ("ray://:x", ["not host:port"]),
                                           ("10.0.0.1:99999", ["not host:port"])])
def test_sweep_ray_address_that_does_not_answer_is_one_line_at_once(capsys, tmp_path, address, words):
    """Ray retried an unreachable address for minutes, printing a warning every 5 seconds."""
    main_error(capsys, "sweep", "--task", "hihell", "--grid", "seed=0", "--epochs", "1", "--ray", address,
               "--out", tmp_path / "sw", words=words)
    assert not (tmp_path / "sw").exists()


# ---- checkpoint files: what the app reads to continue a run ----------------------------------------------
@pytest.mark.parametrize("progress,words", [
    ([1], "progress"),                                   # was: AttributeError when the app opened it
    ({"step": [1]}, "step"),                             # was: TypeError
    ({"step": "x"}, "step"),
    ({"epoch": -5}, "epoch"),
    ({"seconds": "soon"}, "seconds"),
    ({"data_rng": {"bit_generator": "nope"}}, "data_rng"),   # was: accepted, then the run failed on Continue
])
def test_a_checkpoints_progress_counters_are_checked_when_read(good, progress, words):  # noqa: F811
    with pytest.raises(ck.CheckpointError, match=words):
        ck.from_bytes(with_config(good[1], lambda c: c.update(progress=progress)))


def test_progress_counters_of_a_real_run_are_read_back():
    state = np.random.default_rng(3).bit_generator.state
    counters = {"step": 4, "epoch": 2, "done": 2, "seconds": 1.5, "data_rng": state}
    assert Resume.from_parts({}, None, counters).counters() == counters


@pytest.mark.parametrize("env", [{"RNNVIZ_MAX_PARAMS": "abc"}, {"RNNVIZ_MAX_VOCAB": "-1"},
                                 {"RNNVIZ_MAX_ACTIVATION_BYTES": "0"}])
def test_a_bad_limit_in_the_environment_is_one_line(tmp_path, env):
    """The limits are read when the modules load, before main(): a typo was a traceback."""
    r = run_cli("train", "--task", "hihell", "--epochs", "1", "--out", tmp_path / "ck", env=env)
    one_line_error(r, next(iter(env)), "positive whole number")


@pytest.mark.usefixtures("lab_env")
@pytest.mark.parametrize("page", ["shapes", "sweep"])
def test_a_lesson_without_settings_says_what_of_its_link_it_could_not_use(page):
    """Tensor shapes and Sweeps have no sidebar: a link's parameters, preset and train=1 included, were
    dropped without a word and stayed in the address bar."""
    query = {"foo": "1", "preset": "x", "train": "1", f"{page}.x.model.hidden_size": "8"}
    at = app(page, query=query)
    (note,) = [w.value for w in at.warning]
    for said in ("foo=1", "preset=x", "train=1", "hidden size H (units in h_t)=8"):
        assert said in note, note
    assert not set(query) & set(at.query_params) and not at.exception
    assert not app(page, query={"present": "true"}).warning
