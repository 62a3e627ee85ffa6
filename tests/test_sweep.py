"""Sweeps: grid parsing and limits, the memory experiment in small on local processes and on a local Ray
cluster (same results for the same seeds), failed and stopped runs in the table, the CLI's folder."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import checkpoint, sweep, sweep_exec
from rnnviz.figures.style import figure_text
from rnnviz.figures.sweep import sweep_figure, sweep_heatmap
from rnnviz.sweep import Limits, SweepError, parse_grid, plan
from rnnviz.sweep_cli import progress_line
from rnnviz.sweep_out import Background, Row, prepare, run_sweep

ROOT = Path(__file__).resolve().parents[1]
# the memory experiment in small: 2 cells x 2 lags, one seed, 1-1.5 s of CPU per run
SMALL = {"cell": ["rnn", "lstm"], "lag": [2, 20], "length": [3], "hidden_size": [32], "lr": [0.01], "forget_bias": [3.0],
         "clip": [1.0], "seed": [0]}
SMALL_EPOCHS = 40


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rnnviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# ---- the grid ------------------------------------------------------------------------------------
def test_grid_values_take_the_type_of_their_setting():
    g = parse_grid("copy", ["cell=rnn,gru", "lag=5,10", "lr=0.01,1e-3", "peephole=false", "data_seed=3", "seed=0,1"])
    assert g == {"cell": ["rnn", "gru"], "lag": [5, 10], "lr": [0.01, 0.001], "peephole": [False],
                 "data_seed": [3], "seed": [0, 1]}
    assert all(type(v) is int for v in g["lag"]) and all(type(v) is float for v in g["lr"])
    specs = plan("copy", g, epochs=3)
    assert len(specs) == 2 * 2 * 2 * 2
    s = specs[-1]
    assert (s.mcfg.cell, s.options["lag"], s.tcfg.lr, s.tcfg.seed, s.options["seed"]) == ("gru", 10, 0.001, 1, 3)
    assert s.tcfg.epochs == 3 and s.name.startswith("015-") and "cell-gru" in s.name
    assert len({x.name for x in specs}) == len(specs)


@pytest.mark.parametrize("items, message", [
    (["cel=rnn"], "task copy has no setting 'cel'"),
    (["lag=abc"], "lag=abc: not an int"),
    (["lr=fast"], "lr=fast: not a float"),
    (["peephole=maybe"], "peephole=maybe: not a bool"),
    (["cell=foo"], "cell must be one of"),
    (["lag=5000"], "lag must be in 0..1000"),
    (["lr=0"], "lr must be in (0, 10]"),
    (["lag=5,5"], "lists a value twice"),
    (["lag"], "is not name=value"),
    (["lag=1", "lag=2"], "given twice"),
    (["corpus=dinos"], "task copy has no setting 'corpus'"),   # another task's option
])
def test_bad_grid_gives_one_line_error(items, message):
    with pytest.raises(SweepError) as e:
        plan("copy", parse_grid("copy", items), epochs=1)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_limits_are_checked_before_anything_runs(monkeypatch):
    grid = {"lag": list(range(10)), "seed": list(range(5))}
    monkeypatch.setenv("RNNVIZ_SWEEP_MAX_RUNS", "49")
    with pytest.raises(SweepError, match="50 runs; a sweep may have at most 49"):
        plan("copy", grid, epochs=1)
    monkeypatch.setenv("RNNVIZ_SWEEP_MAX_RUNS", "50")
    assert len(plan("copy", grid, epochs=1)) == 50
    monkeypatch.setenv("RNNVIZ_SWEEP_MAX_EPOCHS", "499")
    with pytest.raises(SweepError, match="500 epochs in all; the limit is 499"):
        plan("copy", grid, epochs=10)
    with pytest.raises(SweepError, match="seconds per run must be in"):
        plan("copy", {"lag": [5]}, epochs=1, seconds=10_000)
    monkeypatch.setenv("RNNVIZ_SWEEP_MAX_RUNS", "many")
    with pytest.raises(SweepError, match="RNNVIZ_SWEEP_MAX_RUNS must be a number"):
        plan("copy", {"lag": [5]}, epochs=1)
    # the default cap: a grid of 10**9 points is refused from its size, not enumerated
    with pytest.raises(SweepError, match="at most 200"):
        plan("copy", {"lag": list(range(1000)), "length": list(range(1, 50)), "seed": list(range(30))},
             limits=Limits())


def test_preset_memory_plans_the_textbook_grid():
    specs = sweep.from_preset("memory")
    p = sweep.PRESETS["memory"]
    cells = {s.mcfg.cell for s in specs}
    lags = sorted({s.options["lag"] for s in specs})
    assert cells == {"rnn", "lstm", "gru"} and lags == sorted(p["grid"]["lag"]) and len(lags) >= 3
    assert len({s.tcfg.seed for s in specs}) >= 3 and all(s.task == "copy" for s in specs)
    quick = sweep.from_preset("memory", {"seed": [0]}, epochs=2)
    assert len(quick) == len(specs) // len(p["grid"]["seed"]) and quick[0].tcfg.epochs == 2


def _quick_then_long():
    """A run of one epoch, then three that would train for minutes."""
    quick = plan("copy", {"lag": [2], "hidden_size": [8]}, epochs=1)
    long = plan("copy", {"lag": [30, 31, 32], "hidden_size": [8]}, epochs=10_000, seconds=120)
    return quick + [dataclasses.replace(s, index=i + 1) for i, s in enumerate(long)]


# ---- the memory experiment in small, on both executors ----------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray") if not os.environ.get("CI") else __import__("ray")
    ray.init(**sweep_exec.ray_init_kwargs("local", 2))   # a private cluster of 2 CPUs, quiet
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def small_local():
    """The small experiment on local processes (once for the tests that compare with it)."""
    specs = plan("copy", SMALL, epochs=SMALL_EPOCHS)
    with sweep_exec.LocalExecutor(2) as ex:
        return specs, {s.index: r for s, r in ex.run(specs)}


def test_small_memory_experiment_shows_the_vanishing_gradient(small_local):
    specs, got = small_local
    assert sorted(got) == [s.index for s in specs] and all(r["status"] == "finished" for r in got.values())
    m = {(s.mcfg.cell, s.options["lag"]): got[s.index]["metrics"] for s in specs}
    # the rnn's gradient reaching the first step falls by orders of magnitude with the lag; the lstm's does not
    assert m["rnn", 20]["grad_ratio"] < 1e-3 * m["rnn", 2]["grad_ratio"]
    assert m["lstm", 20]["grad_ratio"] > 1e3 * m["rnn", 20]["grad_ratio"]
    # and at lag 20 the lstm learns to copy while the rnn does not (chance: 0.25); both do at lag 2
    assert m["rnn", 2]["val_acc"] > 0.9 and m["lstm", 2]["val_acc"] > 0.9
    assert m["lstm", 20]["val_acc"] > 0.9 and m["rnn", 20]["val_acc"] < 0.6


def test_ray_executor_gives_the_same_results_for_the_same_seeds(ray_cluster, small_local):
    specs, local = small_local
    with sweep_exec.RayExecutor() as ex:        # uses the cluster the fixture started
        assert "2 CPUs" in ex.describe()
        remote = {s.index: r for s, r in ex.run(specs)}
    assert ray_cluster.is_initialized()          # the executor did not close a connection it did not open
    assert sorted(remote) == sorted(local)
    for i in local:
        assert remote[i]["status"] == local[i]["status"] == "finished"
        assert remote[i]["metrics"] == local[i]["metrics"]
        assert remote[i]["epochs"] == local[i]["epochs"] == SMALL_EPOCHS
        for k, w in local[i]["weights"].items():
            assert np.array_equal(remote[i]["weights"][k], w), k
        losses = [r["loss"] for r in local[i]["history"]["records"]]
        assert losses == [r["loss"] for r in remote[i]["history"]["records"]] and len(losses) == SMALL_EPOCHS


def test_ray_cancel_keeps_what_finished(ray_cluster):
    specs = _quick_then_long()
    with sweep_exec.RayExecutor() as ex:
        t0 = time.perf_counter()
        bg = Background(specs, ex)
        while bg.rows[0].status == "not run" and time.perf_counter() - t0 < 60:
            time.sleep(0.1)
        bg.stop()
        bg.join(30)
    assert bg.done and bg.error is None and time.perf_counter() - t0 < 60
    assert bg.rows[0].status == "finished" and [r.status for r in bg.rows[1:]] == ["not run"] * 3
    # the runs in progress were stopped on the cluster, not left to train out their 120 s
    t1 = time.perf_counter()
    while ray_cluster.available_resources().get("CPU", 0) < 2 and time.perf_counter() - t1 < 20:
        time.sleep(0.2)
    assert ray_cluster.available_resources().get("CPU", 0) == 2


def test_local_runs_do_not_import_the_servers_page_script(tmp_path, monkeypatch):
    # in a Streamlit server (or after AppTest in this process) __main__ is a page script: a spawned
    # process that imported it would run the page, not the sweep
    page = tmp_path / "page.py"
    page.write_text("raise SystemExit('the page script ran in a sweep process')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    specs = plan("copy", {"lag": [2], "hidden_size": [8]}, epochs=1)
    with sweep_exec.LocalExecutor(1) as ex:
        got = [r for _, r in ex.run(specs)]
    assert [r["status"] for r in got] == ["finished"]
    assert sys.modules["__main__"] is fake          # put back once the processes started


# ---- failures, stops, the table ------------------------------------------------------------------
def test_failed_runs_are_rows_of_the_table(tmp_path):
    # an embedding needs token inputs: the adding task's model cannot be built; lr 10 with sgd diverges
    specs = plan("adding", {"embedding_dim": [0, 4], "lag": [10]}, epochs=2)
    specs += plan("copy", {"cell": ["rnn"], "nonlinearity": ["relu"], "optimizer": ["sgd"], "lr": [10.0],
                           "hidden_size": [64]}, epochs=5)
    specs[2] = dataclasses.replace(specs[2], index=2, name="002-diverges")
    out = prepare(tmp_path / "sw", specs)
    with sweep_exec.LocalExecutor(2) as ex:
        rows = run_sweep(specs, ex, out)
    assert [r.status for r in rows] == ["finished", "error", "diverged"]
    assert "embedding" in rows[1].error and "diverged" not in rows[0].error
    assert "learning rate" in rows[2].error or "clipping" in rows[2].error
    table = json.loads((out / "results.json").read_text())["rows"]
    assert [r["status"] for r in table] == ["finished", "error", "diverged"]
    assert table[1]["val_acc"] is None and table[1]["error"] == rows[1].error
    assert (out / "runs" / specs[0].name / "model.safetensors").is_file()
    assert not (out / "runs" / specs[1].name).exists()     # a run that never trained has no checkpoint


def test_stop_keeps_what_finished_and_marks_the_rest_not_run(tmp_path):
    specs = _quick_then_long()
    quick = specs[:1]
    out = prepare(tmp_path / "sw", specs)
    ex = sweep_exec.LocalExecutor(1)
    t0 = time.perf_counter()
    bg = Background(specs, ex, out)
    while bg.rows[0].status == "not run" and time.perf_counter() - t0 < 60:
        time.sleep(0.05)
    time.sleep(1.0)                 # the next run is training now
    t_stop = time.perf_counter()
    bg.stop()
    bg.join(30)
    stopped_in = time.perf_counter() - t_stop
    ex.close()
    assert bg.done and bg.error is None and stopped_in < 10
    assert [r.status for r in bg.rows] == ["finished", "not run", "not run", "not run"]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and ",finished," in csv_lines[1] and all(",not run," in x for x in csv_lines[2:])
    # the executor is usable again after a stop
    with sweep_exec.LocalExecutor(1) as ex2:
        again = list(ex2.run(quick))
    assert again[0][1]["status"] == "finished"


# ---- the command line ------------------------------------------------------------------------------
def test_cli_writes_the_table_and_checkpoints_that_load(tmp_path):
    out = tmp_path / "copy-lag"
    r = cli("sweep", "--task", "copy", "--grid", "cell=rnn,gru", "lag=3", "length=2", "hidden_size=8",
            "seed=0", "--epochs", "4", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "[2/2]" in r.stdout and "sweep: 2 finished in" in r.stdout
    table = json.loads((out / "results.json").read_text())
    rows = table["rows"]
    assert [x["cell"] for x in rows] == ["rnn", "gru"] and all(x["status"] == "finished" for x in rows)
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["index", "name", "cell", "lag"] and "grad_ratio" in header and "error" in header
    for row in rows:
        ck = checkpoint.load(out / "runs" / row["name"])
        assert ck.model_cfg.cell == row["cell"] and ck.task.options.lag == 3 and ck.config["epochs_done"] == 4
        loss, right, counted = ck.engine().evaluate(ck.task.val_batches())
        assert right / counted == pytest.approx(row["val_acc"]) and loss == pytest.approx(row["val_loss"])
        assert len(ck.history.records) == 4
    # again without --force: refused; with --force: replaced, and a file of the user's is kept
    (out / "my-notes.txt").write_text("mine")
    r = cli("sweep", "--task", "copy", "--grid", "lag=3", "--epochs", "1", "--out", str(out))
    assert r.returncode == 1 and "add --force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("sweep", "--task", "copy", "--grid", "lag=4", "hidden_size=8", "--epochs", "1", "--out", str(out),
            "--force", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["000"]
    assert (out / "my-notes.txt").read_text() == "mine"


def test_cli_refuses_a_folder_that_is_not_a_sweep(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    for extra in ([], ["--force"]):
        r = cli("sweep", "--task", "copy", "--grid", "lag=3", "--epochs", "1", "--out", str(mine), *extra)
        assert r.returncode == 1 and "is not an rnnviz sweep" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["chapter1.tex"]
    assert (mine / "chapter1.tex").read_text() == "precious"
    r = cli("sweep", "--task", "copy", "--grid", "lag=3", "--epochs", "1", "--out", str(mine / "chapter1.tex"))
    assert r.returncode == 1 and "is a file" in r.stderr


def test_cli_ctrl_c_keeps_what_finished(tmp_path):
    out = tmp_path / "sw"
    p = subprocess.Popen([sys.executable, "-m", "rnnviz", "sweep", "--task", "copy", "--grid", "epochs=1,3000,3001",
                          "lag=30", "hidden_size=8", "--seconds", "100", "--workers", "1", "--out", str(out)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()

    def statuses():
        try:
            return [r["status"] for r in json.loads((out / "results.json").read_text())["rows"]]
        except (OSError, ValueError, KeyError):
            return []
    while "finished" not in statuses() and time.perf_counter() - t0 < 120:   # the 1-epoch run is done
        time.sleep(0.1)
    time.sleep(0.5)                  # the second run is training now
    t_int = time.perf_counter()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert time.perf_counter() - t_int < 20          # the run in progress was stopped, not waited for
    assert statuses() == ["finished", "not run", "not run"]
    assert "sweep: 1 finished, 2 not run in" in stdout and "Traceback" not in stderr


def test_ray_is_needed_only_with_ray(monkeypatch):
    code = ("import sys, rnnviz.cli, rnnviz.sweep_exec, rnnviz.sweep_cli, rnnviz.figures.sweep; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    monkeypatch.setitem(sys.modules, "ray", None)     # as if it were not installed
    with pytest.raises(SweepError, match="pip install -r requirements-ray.txt"):
        sweep_exec.RayExecutor()
    monkeypatch.setenv(sweep_exec.RAY_ENV, "auto")
    with pytest.raises(SweepError, match="Ray is not installed"):
        sweep_exec.executor_from_env()
    monkeypatch.delenv(sweep_exec.RAY_ENV)
    ex = sweep_exec.executor_from_env(1)
    assert isinstance(ex, sweep_exec.LocalExecutor)
    ex.close()


# ---- the figures -----------------------------------------------------------------------------------
def _rows():
    rows = []
    for i, (cell, lag, seed, acc, ratio) in enumerate([
            ("rnn", 5, 0, 0.9, 1e-2), ("rnn", 5, 1, 0.7, 1e-3), ("rnn", 40, 0, 0.25, 1e-12), ("rnn", 40, 1, 0.27, 1e-10),
            ("lstm", 5, 0, 1.0, 0.5), ("lstm", 5, 1, 1.0, 0.3), ("lstm", 40, 0, 0.95, 0.2), ("lstm", 40, 1, None, None)]):
        rows.append({"index": i, "name": f"{i:03d}", "cell": cell, "lag": lag, "seed": seed,
                     "status": "finished" if acc is not None else "error", "val_acc": acc, "val_loss": 1.0,
                     "grad_ratio": ratio, "epochs_done": 10, "steps_done": 200, "seconds": 1.0, "error": ""})
    return rows


def test_sweep_figure_draws_means_with_the_seeds_spread_and_says_how_many():
    rows = _rows()
    fig = sweep_figure(rows, "val_acc", chance=0.25)
    go.Figure(fig.to_dict())          # valid under plotly's own checks
    rnn = next(t for t in fig.data if t.name == "cell=rnn")
    assert list(rnn.x) == ["5", "40"] and list(rnn.y) == pytest.approx([0.8, 0.26])
    assert list(rnn.error_y.array) == pytest.approx([0.1, 0.01]) and list(rnn.error_y.arrayminus) == pytest.approx([0.1, 0.01])
    lstm = next(t for t in fig.data if t.name == "cell=lstm")
    assert list(lstm.y) == pytest.approx([1.0, 0.95])
    text = figure_text(fig)
    assert "mean of 1 to 2 runs (seed)" in text and "not finished, so not drawn: 1 failed" in text and "chance 0.25" in text
    ratio = sweep_figure(rows, "grad_ratio")
    assert ratio.layout.yaxis.type == "log" and "geometric mean" in figure_text(ratio)
    rnn = next(t for t in ratio.data if t.name == "cell=rnn")
    assert list(rnn.y) == pytest.approx([np.sqrt(1e-5), 1e-11])
    heat = sweep_heatmap(rows, "val_acc")
    go.Figure(heat.to_dict())
    rnn_row = list(heat.data[0].y).index("rnn")
    assert heat.data[0].text[rnn_row][0] == "0.8<br>(2)" and "each cell" in figure_text(heat)
    assert "no finished run" in figure_text(sweep_figure([], "val_acc"))


def test_rows_of_a_plan_fill_in_as_results_arrive():
    spec = plan("copy", {"lag": [2]}, epochs=1)[0]
    row = Row(spec)
    assert row.as_dict()["status"] == "not run" and row.as_dict()["lag"] == 2
    row.fill(sweep.run_one(spec))
    d = row.as_dict()
    assert d["status"] == "finished" and d["error"] == "" and d["epochs_done"] == 1 and 0 <= d["val_acc"] <= 1


def test_the_sweep_figure_says_what_happened_to_the_runs_it_leaves_out():
    """It said "N run(s) not finished (failed or not run)" of runs the student stopped, too."""
    rows = _rows()
    for r, status in zip(rows[:4], ("cancelled", "cancelled", "diverged", "not run")):
        r["status"] = status
    text = figure_text(sweep_figure(rows, "val_acc"))
    assert "not finished, so not drawn: 2 stopped, 1 diverged, 1 failed, 1 not run" in text, text
    assert "failed or not run" not in text and "run(s)" not in text
    assert "not finished, so not drawn: 2 stopped" in figure_text(sweep_heatmap(rows, "val_acc"))


def test_the_cli_progress_line_says_what_happened_to_each_run():
    """It counted stopped and diverged runs as "failed": a diverged run is a result of a sweep over lr."""
    rows = [Row(s) for s in plan("copy", parse_grid("copy", ["lag=5,10", "seed=0,1,2"]), epochs=1)]
    for r, status in zip(rows, ("finished", "diverged", "cancelled", "error")):
        r.status = status
    line = progress_line(rows[2], rows, "val_acc")
    assert line.startswith("[4/6] ") and ": stopped " in line, line
    assert line.endswith("1 finished, 1 stopped, 1 diverged, 1 failed, 2 not run"), line
