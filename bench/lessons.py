"""Part 6 (lessons): how long the lessons take on this machine, one student in Chromium, each lesson
with its defaults on an otherwise idle server (the classroom issue's lesson timings).

  hihell     Train -> the headline first reads "ihello" (page clock: bench/page.py), three clicks
             (one with --quick); the lesson's pace, 10 record points a second, as a student gets it
  gradients  Train -> all three runs (rnn, lstm, gru on the copy task) ended (page clock); their
             histories read back from the runs the server wrote when they ended (RNNVIZ_RUNS,
             rnnviz.run_store.load): the final val accuracies, and when the contrast first showed:
             LSTM's and GRU's val accuracy >= 0.9 while RNN's is <= 0.6 (chance is 0.25), on the runs'
             own clocks (a record's seconds since its run started) plus the click -> first record delay
  text       Train (Shakespeare, the lesson's LSTM 128) and, 60 s after the click, the progress line
             and the sample the page shows; then Stop, and the loss of the saved history's record
             nearest 60 s; the share of the sample's words that occur in the corpus (a crude, true
             measure of "readable"); then one click on "Open pretrained" (text-shakespeare-lstm) ->
             its sample shown
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from rnnviz import run_store
from rnnviz.checkpoint import CheckpointError
from rnnviz.tasks import TASKS

from tools.script_runs import ScriptRuns

from . import page as P
from .browser import Server, Watch, launch, note_failure
from .procs import mb, memory
from .util import check, median

HIGH, LOW = 0.9, 0.6          # the gradients contrast: gated cells at least HIGH, the rnn at most LOW
TEXT_AT_S = 60.0
PRETRAINED = "text-shakespeare-lstm"
SAMPLE_JS = """() => {
  const heads = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
    .filter(e => e.textContent.startsWith('Sample with the weights of'));
  const code = document.querySelector('[data-testid="stCode"]');
  return {head: heads.length ? heads[0].textContent : null, sample: code ? code.textContent : null};
}"""


def _saved_paths(server, lesson: str, want: int, timeout: float = 60.0) -> list[Path]:
    """The folders of the newest group of a lesson's runs the server wrote down (it writes a run when it
    ends). A run is written into a hidden temporary folder (".<name>.<random>") that is then moved into
    place: pathlib's glob matches hidden names, and a half-written one must not be read."""
    deadline = time.perf_counter() + timeout
    while True:
        found = sorted(f for f in server.runs.glob(f"*/{lesson}/*/config.json") if not f.parent.name.startswith("."))
        groups: dict[str, list[Path]] = {}
        for f in found:
            groups.setdefault(f.parent.name.rsplit("-", 1)[0], []).append(f.parent)
        newest = groups[max(groups)] if groups else []
        if len(newest) >= want or time.perf_counter() > deadline:
            return newest
        time.sleep(0.25)


def _saved(server, lesson: str, want: int) -> list:
    return [run_store.load(p) for p in _saved_paths(server, lesson, want)]


def hihell(page, n: int, log) -> dict:
    times, ends = [], []
    for i in range(n):
        P.click_train(page)
        b = P.wait_run(page, 120)
        t = P.first_reading(b, "ihello")
        times.append(t)
        ends.append((b["progress"][-1][0] - b["click"]) / 1e3)
        log(f"  hihell, click {i + 1}: reads 'ihello' {t if t is None else round(t, 2)} s after Train; ended "
            f"after {ends[-1]:.1f} s ({b['last'][0][:60]})")
    return {"ihello_s": times, "ended_s": ends, "median_ihello_s": median(times), "first_ihello_s": times[0]}


def _at(records, t: float):
    """A run's latest record by time t of its own clock (None before its first)."""
    got = None
    for r in records:
        if r.seconds > t:
            break
        got = r
    return got


def contrast(runs: dict, offset: float) -> dict:
    """When the gated cells' val accuracy first stood at HIGH or more while the rnn's stood at LOW or less."""
    recs = {name: [r for r in run.history.records if r.val_acc is not None] for name, run in runs.items()}
    final = {name: (rs[-1].val_acc if rs else None) for name, rs in recs.items()}
    shown = None
    for t in sorted({r.seconds for rs in recs.values() for r in rs}):
        now = {name: _at(rs, t) for name, rs in recs.items()}
        if all(now.get(c) and now[c].val_acc >= HIGH for c in ("lstm", "gru")) and now.get("rnn") \
                and now["rnn"].val_acc <= LOW:
            shown = {"run_clock_s": t, "s_after_click": t + offset,
                     "epochs": {name: r.epoch for name, r in now.items()},
                     "val_acc": {name: r.val_acc for name, r in now.items()}}
            break
    return {"final_val_acc": final, "epochs": {n: (rs[-1].epoch if rs else None) for n, rs in recs.items()},
            "run_seconds": {n: (rs[-1].seconds if rs else None) for n, rs in recs.items()}, "contrast": shown}


def gradients(page, runs, server, log) -> dict:
    P.open_lesson(page, runs, "Vanishing/exploding gradients")
    P.click_train(page)
    b = P.wait_run(page, 400, poll=0.25)
    ended = (b["progress"][-1][0] - b["click"]) / 1e3
    first = next(((t - b["click"]) / 1e3 for t, lines in b["progress"] if any("epoch" in x for x in lines)), 0.0)
    saved = {r.name: r for r in _saved(server, "gradients", 3)}
    first_rec = min((r.history.records[0].seconds for r in saved.values() if r.history.records), default=0.0)
    out = {"ended_s": ended, "lines": b["last"], "first_progress_s": first,
           "runs": {n: {"task": r.task.name, "options": str(r.task.options), "cell": r.mcfg.cell,
                        "hidden": r.mcfg.hidden_size, "epochs": r.tcfg.epochs, "forget_bias": r.tcfg.forget_bias,
                        "state": r.state} for n, r in saved.items()},
           **contrast(saved, max(0.0, first - first_rec))}
    c = out["contrast"]
    log(f"  gradients: all three ended {ended:.1f} s after Train; final val acc {out['final_val_acc']}; "
        f"contrast {'never shown' if c is None else f'''at {c['s_after_click']:.1f} s ({c['val_acc']})'''}")
    return out


def _corpus_words() -> set[str]:
    return set(re.findall(r"[A-Za-z']+", TASKS["text"]().text.lower()))


def word_share(sample: str, words: set[str]) -> float | None:
    found = re.findall(r"[A-Za-z']+", sample.lower())
    return sum(w in words for w in found) / len(found) if found else None


def text(page, runs, server, log, out: dict) -> None:
    """Fills `out` as it goes: what was measured stays if a later step fails."""
    P.open_lesson(page, runs, "Text generation")
    t0 = P.click_train(page)
    time.sleep(max(0.0, t0 + TEXT_AT_S - time.perf_counter()))
    at = time.perf_counter() - t0
    shown, line = page.evaluate(SAMPLE_JS), P.since_click(page)["last"]
    words = _corpus_words()
    if not P.ended(line):            # still training at 60 s: stop it (it is written down then)
        P.button(page, "Stop").click()
        P.wait_run(page, 60)
    (path,) = _saved_paths(server, "text", 1)
    entropy = TASKS["text"]().unigram_entropy()
    out.update({"read_at_s": at, "line": line, "sample_head": shown["head"], "sample": shown["sample"],
           "sample_word_share": word_share(shown["sample"] or "", words), "unigram_entropy": entropy,
           "saved_history_json_mb": mb((path / "history.json").stat().st_size)})
    try:                 # the saved run as a restarted server would read it back
        rec = _at((recs := run_store.load(path).history.records), TEXT_AT_S) or recs[0]
        out["record_near_60s"] = {"step": rec.step, "seconds": rec.seconds, "loss": rec.loss, "val_loss": rec.val_loss}
    except CheckpointError as e:
        out["saved_run_unreadable"] = str(e)[:300]
        log(f"  the text run's saved copy cannot be read back: {out['saved_run_unreadable']}")
    log(f"  text from scratch, {at:.0f} s after Train: {line}; {shown['head']}: {(shown['sample'] or '')[:120]!r}; "
        f"{out['sample_word_share']} of its words are in the corpus; unigram entropy {entropy:.3f}")

    pick = page.get_by_test_id("stSelectbox").filter(has_text="a pretrained model")
    if not pick.count():
        out["pretrained"] = {"error": "no pretrained model on the text lesson's page"}
        return
    # the chosen option: Streamlit 1.67 may show it as an input's value rather than as text
    chosen = pick.first.evaluate("e => e.textContent + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    if PRETRAINED not in chosen:
        P.after_rerun(page, runs, lambda: (pick.click(), page.get_by_role("option", name=re.compile(PRETRAINED)).click()))
    before, t1 = page.evaluate(SAMPLE_JS)["head"], time.perf_counter()
    P.button(page, "Open pretrained").click()
    deadline = t1 + 60
    while (s := page.evaluate(SAMPLE_JS))["head"] in (before, None) and time.perf_counter() < deadline:
        time.sleep(0.1)
    took = time.perf_counter() - t1
    ok = s["head"] not in (before, None)
    out["pretrained"] = {"name": PRETRAINED, "sample_s": took if ok else None, "sample_head": s["head"],
                         "sample": s["sample"], "sample_word_share": word_share(s["sample"] or "", words)}
    log(f"  pretrained {PRETRAINED}: one click -> {s['head']} after {took:.2f} s: {(s['sample'] or '')[:120]!r}; "
        f"{out['pretrained']['sample_word_share']} of its words are in the corpus")


def _measure(page, runs, server, res: dict, quick: bool, log) -> None:
    P.open_app(page, server)
    res["hihell"] = hihell(page, 1 if quick else 3, log)
    res["gradients"] = gradients(page, runs, server, log)
    text(page, runs, server, log, res.setdefault("text", {}))
    m = memory(server.proc.pid)
    res["memory_at_end"] = {"pss_mb": mb(m["pss"]), "rss_mb": mb(m["rss"])}


def part6(quick: bool, log: Callable[[str], None], targets: list) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {"not_measured": {}}
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        watch, runs = Watch(page), ScriptRuns(page)
        server = Server()
        try:
            try:
                _measure(page, runs, server, res, quick, log)
            except Exception as e:   # keep what was measured, and a look at the page
                note_failure(res, e, page, server, "lessons", log)
            res["errors"] = watch.errors()
        finally:
            server.stop()
            res["server_tracebacks"] = server.tracebacks()
            server.close(remove=True)
            browser.close()
    why = res["not_measured"].get("error", "not reached")[:200]
    hi, gr, tx = res.get("hihell", {}), res.get("gradients", {}), res.get("text", {})
    check(targets, "lessons: hihell reads 'ihello' after Train (median of the clicks)", hi.get("median_ihello_s"),
          2.0, unit=" s", note=why if not hi else "never read 'ihello'")
    shown = (gr.get("contrast") or {}).get("s_after_click")
    check(targets, f"lessons: gradients' contrast shown (lstm, gru val acc >= {HIGH}, rnn <= {LOW})", shown, 60.0,
          unit=" s", note=why if not gr else "never shown: final val acc " + str(gr.get("final_val_acc")))
    check(targets, "lessons: gradients' three runs ended", gr.get("ended_s"), 60.0, unit=" s", note=why)
    pre = tx.get("pretrained", {})
    check(targets, "lessons: text, a pretrained model's sample one click away (s after the click)",
          pre.get("sample_s"), 60.0, unit=" s", note=pre.get("error") or why)
    if tx:
        check(targets, "lessons: text, saved runs that a restarted server could not read back",
              int("saved_run_unreadable" in tx), 0, unit="")
    check(targets, "lessons: page errors and server tracebacks", len(res.get("errors", [])) + res["server_tracebacks"],
          0, unit="")
    if not res["not_measured"]:
        res.pop("not_measured")
    return res
