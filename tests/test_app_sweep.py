"""The sweep lesson (AppTest): a small grid of the memory experiment runs on the lab's worker
processes, fills its table and figure, keeps its results on disk, and opens a run in the gradients
lesson."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from apptest import app, owner, runs_of

from course import sweep_view
from rnnviz.figures.sweep import sweep_figure

pytestmark = pytest.mark.usefixtures("lab_env")


def test_a_small_memory_sweep_runs_fills_in_and_opens_a_run(tmp_path):
    at = app("sweep")
    assert not at.exception and any("Run sweep" in i.value for i in at.info)
    at.text_input(key="sweep.grid.memory.cell").input("rnn,lstm").run()
    at.text_input(key="sweep.grid.memory.lag").input("5").run()
    at.text_input(key="sweep.grid.memory.seed").input("0").run()
    at.number_input(key="sweep.epochs.memory").set_value(3).run()
    at.button(key="sweep.run").click().run()
    assert not at.error, [e.value for e in at.error]
    bg = sweep_view._sweeps()[0][owner(at)]
    end = time.time() + 120
    while not bg.done and time.time() < end:
        time.sleep(0.2)
    at.run()
    assert bg.done and [r.status for r in bg.rows] == ["finished", "finished"]
    assert all(0 <= r.metrics["val_acc"] <= 1 and r.metrics["grad_ratio"] > 0 for r in bg.rows)
    assert any("2 of 2 runs done" in p.proto.text for p in at.get("progress"))
    assert (bg.out / "results.csv").is_file() and len(list((bg.out / "runs").iterdir())) == 2
    (lstm,) = [r.spec.name for r in bg.rows if r.spec.values["cell"] == "lstm"]
    at.selectbox(key="sweep.pick").set_value(lstm).run()
    at.toggle(key="present").set_value(True).run()          # its parameter is bound: switch_page must not clear it
    at.button(key="sweep.open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("7. Vanishing")
    (opened,) = runs_of(at, "gradients").values()
    assert opened.mcfg.cell == "lstm" and opened.task.options.lag == 5 and opened.state == "loaded"


def test_a_bad_grid_says_why_and_runs_nothing():
    at = app("sweep")
    at.text_input(key="sweep.grid.memory.lag").input("5,abc").run()
    at.button(key="sweep.run").click().run()
    assert any("Could not start the sweep" in e.value and "abc" in e.value for e in at.error)
    assert owner(at) not in sweep_view._sweeps()[0]


def test_the_progress_line_says_how_the_runs_ended():
    rows = [{"status": s} for s in ("finished", "cancelled", "error", "not run", "not run")]
    assert sweep_view.progress_text(rows, done=True) == \
        "sweep stopped: 3 of 5 runs done: 1 finished, 1 stopped, 1 failed"
    assert sweep_view.progress_text(rows[:1] + rows[3:], done=False) == "sweep running: 1 of 3 runs done"
    assert sweep_view.progress_text(rows[:1], done=True) == "sweep finished: 1 of 1 runs done"


def test_a_click_on_a_point_of_the_figure_picks_a_run_of_that_cell_and_lag():
    rows = [SimpleNamespace(spec=SimpleNamespace(name=f"{i:03d}-{c}-{lag}", values={"cell": c, "lag": lag}))
            for i, (c, lag) in enumerate((c, lag) for c in ("rnn", "lstm") for lag in (5, 20))]
    done = {r.spec.name: r for r in rows}
    fig = sweep_figure([{"cell": r.spec.values["cell"], "lag": r.spec.values["lag"], "status": "finished",
                         "val_acc": 0.5} for r in rows], x="lag", line="cell")
    for trace in fig.data:                                   # what the browser's selection names
        for x in trace.x:
            picked = done[sweep_view.run_at(done, trace.name, x)].spec.values
            assert f"cell={picked['cell']}" == trace.name and str(picked["lag"]) == x
    assert sweep_view.run_at(done, "cell=gru", "5") is None
