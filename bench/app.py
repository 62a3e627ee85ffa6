"""Part 4 (app): the lab's live layer in a real browser (Chromium via Playwright), one student.

  cold start    `streamlit run app.py` started -> the Train button visible on the default page (hihell)
  first view    click Train -> the first DOM change inside a view (a plotly chart, or the HTML
                predictions table) that has drawn something, and -> the first progress line with an
                epoch, in the page's own clock (bench/page.py); the first click on a fresh server (any
                view drawn is the new run's) and a second click (only changes from the new run's first
                redraw on count: earlier ones are the previous run's views redrawn by the click)
  refreshes/s   changes of the progress line per second, over 5 s from 0.5 s after its first epoch,
                while hihell (10 record points/s) and seoul (60/s) train at the lesson's pace: the
                line asks GET /rnnviz/progress every 0.2 s, so 5/s is its most
  app vs CLI    seoul with the lesson's settings at full speed: the app's epochs/s (the finished run's
                own figure in its progress line, "N epochs/s overall": epochs / seconds of its last
                record; seoul takes one step an epoch) vs `python -m rnnviz train --task seoul --epochs N
                --probe-every 1` with OMP_NUM_THREADS=1 (the same of history.json; the app records
                a probe at every record point, the CLI's default is every 10th); pairs alternating which
                goes first, the median of the paired ratios CLI/app (single pairs range widely on this
                machine); with the lesson's 500 epochs (12 pairs) and the slider's end, 2,000 (6 pairs);
                plus the cores the server, the workers and the browser used meanwhile
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from tools.script_runs import ScriptRuns

from . import page as P
from .browser import ROOT, Server, Watch, launch, note_failure
from .procs import cpu_split
from .util import check, median


def _rates(progress: list) -> dict:
    """epochs/s from progress lines: the run's own figure (the last one shown: a finished run's is its
    whole run's) and epochs per second from the lines' timestamps."""
    texts = [(t, p[0]) for t, p in progress if p]
    shown = [float(m.group(1).replace(",", "")) for _, p in texts if (m := re.search(r"([\d,.]+) epochs/s", p))]
    pts = [(t, int(m.group(1).replace(",", ""))) for t, p in texts
           if "training" in p and (m := re.search(r"epoch ([\d,]+) of", p))]
    dom = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) if len(pts) > 1 and pts[-1][0] > pts[0][0] else None
    return {"self_reported": shown[-1] if shown else None, "from_progress_lines": dom, "samples": len(pts),
            "finished_line": texts[-1][1] if texts else None}


def cli_rate(epochs: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "rnnviz", "train", "--task", "seoul", "--epochs", str(epochs),
                        "--probe-every", "1", "--out", str(out / "ck"), "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    try:
        if p.returncode:
            return {"error": f"exit {p.returncode}: {p.stderr[-300:]}"}
        recs = json.loads((out / "ck" / "history.json").read_text())["records"]
        return {"epochs_per_s": recs[-1]["epoch"] / recs[-1]["seconds"], "train_seconds": recs[-1]["seconds"],
                "process_wall_s": wall}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _app_vs_cli(page, server, epochs: int, n: int, log) -> dict:
    """n pairs of the same seoul run (full speed, `epochs`) in the app and from the CLI, alternating
    which goes first; the median of the paired CLI/app ratios of epochs/s."""
    pairs = []
    for i in range(n):
        got = {}
        for side in ("app", "cli") if i % 2 == 0 else ("cli", "app"):
            if side == "cli":
                got["cli"] = cli_rate(epochs)
                continue
            cpu0, t0 = cpu_split(server.proc.pid), P.click_train(page)
            P.wait_run(page, 300, poll=0.25)
            cpu1, t1 = cpu_split(server.proc.pid), time.perf_counter()
            tl = P.timeline(page)
            got["app"] = _rates(tl["progress"])
            for k in ("server", "workers", "browser"):    # on 2 cores they all compete with the worker
                got["app"][f"{k}_cpu_per_wall"] = round((cpu1[k] - cpu0[k]) / (t1 - t0), 3)
        got["loadavg_1min"] = os.getloadavg()[0]      # other users' training shares the cores
        pairs.append(got)
        a, c = got["app"], got["cli"]
        log(f"    {epochs} epochs, pair {i + 1}/{n} (load {got['loadavg_1min']:.1f}): app {a['self_reported']} "
            f"epochs/s (cores: server "
            f"{a['server_cpu_per_wall']}, workers {a['workers_cpu_per_wall']}, browser {a['browser_cpu_per_wall']}) "
            f"| cli {c.get('epochs_per_s', c.get('error'))}")
    ratios = [p["cli"]["epochs_per_s"] / p["app"]["self_reported"] for p in pairs
              if p["app"].get("self_reported") and "epochs_per_s" in p["cli"]]
    return {"epochs": epochs, "pairs": pairs, "cli_over_app_ratios": ratios, "median": median(ratios),
            "range": [min(ratios), max(ratios)] if ratios else None}


def _refreshes(tl: dict) -> float | None:
    """Progress-line changes per second over 5 s, from 0.5 s after its first epoch."""
    t1 = tl["first_progress_epoch_s"]
    if t1 is None or not tl["progress"] or tl["progress"][-1][0] < t1 + 5.5:
        return None
    return len([t for t, _ in tl["progress"] if t1 + 0.5 <= t <= t1 + 5.5]) / 5.0


def _measure(page, runs, server, watch, res: dict, quick: bool, log) -> None:
    res["cold_start_s"] = P.open_app(page, server)
    log(f"  cold start (process start -> Train visible): {res['cold_start_s']:.2f} s")
    refreshes = res["refreshes"] = {}
    for label in ("first click",) if quick else ("first click", "second click"):   # hihell, the lesson's pace
        click = P.click_train(page)
        P.wait_run(page, 120)
        tl = P.timeline(page)
        refreshes[f"hihell at 10/s ({label})"] = _refreshes(tl)
        end = P.since_click(page)
        tl.update(result=P.head(end["lastHead"]), finished_line=end["last"], plotly_js=watch.plotly_js(click))
        res[label.replace(" ", "_")] = {k: v for k, v in tl.items() if k != "progress"}
        log(f"  {label}: first view {tl['first_chart_s']} s, first epoch in the progress line "
            f"{tl['first_progress_epoch_s']} s; plotly.js {tl['plotly_js']}; headline {tl['result']}")
    P.choose_task(page, runs, "seoul")
    if not quick:                                    # a longer run at the lesson's pace, 60/s
        P.click_train(page)
        P.wait_run(page, 120)
        refreshes["seoul at 60/s"] = _refreshes(P.timeline(page))
    res["refreshes_per_s"] = min([v for v in refreshes.values() if v is not None], default=None)
    log(f"  progress-line changes per second while training: {refreshes}")
    P.set_slider_end(page, runs, P.SPEED, "full speed")     # app vs CLI: the same run at full speed
    page.evaluate("() => window.__bench.set({charts: false, heads: false})")   # only the progress line now
    epochs = int(P.slider(page, "epochs").get_attribute("aria-valuetext").replace(",", ""))
    log(f"  app vs CLI, seoul {epochs} epochs at full speed:")
    res["app_vs_cli"] = _app_vs_cli(page, server, epochs, 2 if quick else 12, log)
    res["app_slowdown"] = res["app_vs_cli"]["median"]
    if not quick:                                    # and a longer run: the slider's end
        P.set_slider_end(page, runs, "epochs", "2,?000")
        log("  app vs CLI, seoul 2,000 epochs at full speed:")
        res["app_vs_cli_long"] = _app_vs_cli(page, server, 2000, 6, log)
        res["app_slowdown_long"] = res["app_vs_cli_long"]["median"]


def part4(quick: bool, log: Callable[[str], None], targets: list) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {"not_measured": {}}
    with sync_playwright() as pw:
        browser = launch(pw)                 # before the server: its start-up is not part of the cold start
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch, runs = Watch(page), ScriptRuns(page)
        server = Server()
        try:
            try:
                _measure(page, runs, server, watch, res, quick, log)
            except Exception as e:   # keep what was measured, and a look at the page
                note_failure(res, e, page, server, "app", log)
            res["errors"] = watch.errors()
            res["offline_resources"] = sorted(set(watch.offline))
        finally:
            server.stop()
            res["server_tracebacks"] = server.tracebacks()
            server.close(remove=True)
            browser.close()
    why = res["not_measured"].get("error", "not reached")
    for name, key, target, how, unit in [("app: first view after the first Train click", "first_click", 1.0, "<=", " s"),
                                         ("app: first view after a second Train click", "second_click", 1.0, "<=", " s"),
                                         ("app: progress-line refreshes per second while training", "refreshes_per_s",
                                          4.0, ">=", "/s"),
                                         ("app: CLI epochs/s / app epochs/s, seoul 500 epochs", "app_slowdown", 1.25,
                                          "<=", "x"),
                                         ("app: CLI epochs/s / app epochs/s, seoul 2,000 epochs", "app_slowdown_long",
                                          1.25, "<=", "x")]:
        if quick and key in ("second_click", "app_slowdown_long"):
            continue
        v = res.get(key)
        v = v.get("first_chart_s") if isinstance(v, dict) else v
        check(targets, name, v, target, how, unit, note="" if v is not None else why[:200])
        if v is None:
            res["not_measured"][key] = why
    check(targets, "app: page errors and server tracebacks", len(res.get("errors", [])) + res["server_tracebacks"],
          0, unit="")
    if not res["not_measured"]:
        res.pop("not_measured")
    return res
