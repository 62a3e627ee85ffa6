"""The Streamlit app, headless (streamlit.testing.v1.AppTest): every page renders, training through the
UI works, settings start new runs, Stop stops, bad input gives messages and loses nothing.

AppTest does not run fragments on a timer: training runs in worker threads (lab.jobs), so a test
waits on the job registry and then calls `at.run()` again, as the page's polling would.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from types import SimpleNamespace

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from lab import controls, jobs, pulse
from rnnviz.checkpoint import to_zip

PAGES = ["chars", "shapes", "words", "anbn", "sine", "inside", "gradients", "text", "from_scratch", "checkpoints"]
TABS = {"chars": ["Predictions", "Top-k probabilities", "Loss", "Hidden state"],
        "words": ["Predictions", "Try it", "Top-k probabilities", "Loss"],
        "anbn": ["Generate", "Predictions", "Loss and accuracy", "Hidden state"],
        "sine": ["Prediction", "Loss", "Hidden state", "Gradient"],
        "inside": ["Trajectory", "Gates", "Hidden state", "Predictions", "Loss"],
        "gradients": ["Gradient through time", "Over training", "Clipping", "Spectral radius", "Loss and accuracy"],
        "text": ["Samples", "Loss", "Predictions", "Inside"]}
TAB_KEYS = {"gradients": "grad.tabs"}
SMALL = {"text": {"text.text.model.hidden_size": 32, "text.text.task.max_chars": 20_000}}   # fast first records
FIRST_TASK = {"chars": "hihell", "words": "words", "anbn": "anbn", "sine": "sine", "inside": "hihell",
              "gradients": "copy", "text": "text"}


@pytest.fixture(autouse=True)
def _lab(tmp_path, monkeypatch):
    """Checkpoints in a temporary folder; every run stopped afterwards. AppTest resets Streamlit's
    legacy `pages/` flag before each run, which would run a page without main.py: keep it off."""
    monkeypatch.setenv("RNNVIZ_CHECKPOINTS", str(tmp_path / "checkpoints"))
    init = PagesManager.__init__

    def no_legacy_pages(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", no_legacy_pages)
    yield
    jobs.stop_all()


def app(page: str = "chars") -> AppTest:
    at = AppTest.from_file("../main.py", default_timeout=30).run()
    if page != "chars":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def lesson_jobs(at: AppTest, lesson: str) -> dict[str, jobs.Job]:
    ids = at.session_state["lab.runs"][lesson] if "lab.runs" in at.session_state else {}
    return {name: jobs.get(jid) for name, jid in ids.items()}


def wait(at: AppTest, lesson: str, until, timeout: float = 30.0) -> dict[str, jobs.Job]:
    """Wait until `until(jobs)` holds for the lesson's jobs, then rerun the page (its poll)."""
    end = time.time() + timeout
    while time.time() < end:
        found = lesson_jobs(at, lesson)
        if found and until(found):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"timed out; states {[j.state for j in lesson_jobs(at, lesson).values()]}")
    at.run()
    assert not at.exception, at.exception
    return found


def finished(found) -> bool:
    return all(not j.active for j in found.values())


def recorded(n: int):
    return lambda found: all(len(j.history.snapshot()) >= n for j in found.values())


def progress_data(at: AppTest, sidebar: bool = False) -> list[dict]:
    """The data of each lab.pulse component of the lesson (its runs' first facts, poll, phases), or of
    the sidebar's status (the one with a line of busy trainers)."""
    found = [json.loads(el.proto.json)[0] for el in at.get("bidi_component")
             if "rnnviz_progress" in el.proto.component_name]
    return [d for d in found if (d["busy"] is not None) == sidebar]


def progress_texts(at: AppTest) -> list[str]:
    """The progress lines as the page draws them ("rnn · training · epoch 3 of 100 · ..."): the data of
    lab.pulse's component, which the browser then keeps current."""
    return [f"{r['name']} · {r['facts']['text']}" for data in progress_data(at) for r in data["runs"]]


def polled(*ids: str) -> dict:
    """A snapshot of the runs as the server pushes it to a page's progress bars, from the GET route that
    answers the same once (lab.pulse.endpoint)."""
    response = asyncio.run(pulse.endpoint(SimpleNamespace(path_params={"ids": ",".join(ids)})))
    assert response.headers["cache-control"] == "no-store"
    return json.loads(response.body)


def text_of(at: AppTest) -> str:
    return re.sub(r"<[^>]+>", "", "\n".join(m.value for m in at.markdown))


# ---- every page --------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_defaults(page):
    at = app(page)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value.startswith(f"{PAGES.index(page) + 1}.")


@pytest.mark.parametrize("lesson", list(TABS))
def test_every_view_renders_while_training(lesson):
    at = app(lesson)
    at.session_state[f"{lesson}.{FIRST_TASK[lesson]}.live.pace"] = 0.0   # full speed
    for key, value in SMALL.get(lesson, {}).items():
        at.session_state[key] = value
    at.button(key=f"{lesson}.train").click().run()
    wait(at, lesson, lambda found: any(len(j.history.snapshot()) >= 2 for j in found.values()))  # others may queue
    for tab in TABS[lesson]:
        at.session_state[TAB_KEYS.get(lesson, f"{lesson}.tabs")] = tab
        at.run()
        assert not at.exception, (tab, at.exception)
        assert not at.error, (tab, [e.value for e in at.error])


def test_equations_are_drawn_when_their_expander_opens():
    at = app()
    assert len(at.latex) == 0                         # closed: no KaTeX in the page
    at.session_state["equations.open"] = True
    at.run()
    assert not at.exception and len(at.latex) >= 3    # the cell, BPTT and the loss
    assert any("h_t" in eq.value for eq in at.latex)


def test_sidebar_lists_runs_of_other_lessons_and_polls():
    """The sidebar's status: the trainers busy, and this session's runs training in other lessons (not
    the lesson on screen: its own bar shows them), kept current by the browser, never rerun."""
    at = app()
    at.button(key="chars.train").click().run()
    (job,) = wait(at, "chars", recorded(1)).values()
    (status,) = progress_data(at, sidebar=True)
    assert status["runs"] == [] and status["poll"] and not status["rerun"] and status["every"] >= 1
    assert re.fullmatch(r"Trainers busy: [1-9]\d* of \d+.*", status["busy"])
    at.switch_page("pages/words.py").run()
    (status,) = progress_data(at, sidebar=True)
    assert [(r["name"], r["id"]) for r in status["runs"]] == [("Character prediction: rnn", job.id)]
    job.stop()


# ---- training through the UI --------------------------------------------------------------------------
def test_train_hihell_reads_ihello():
    """The first demo: one click on Train, watched at the default speed, reads 'ihello' within seconds."""
    at = app()
    assert at.radio(key="chars.task").value == "hihell"
    at.button(key="chars.train").click().run()
    reads = lambda found: (last := found["rnn"].history.last) is not None and last.prediction["text"] == "ihello"
    t0 = time.time()
    (job,) = wait(at, "chars", reads, timeout=10).values()
    assert time.time() - t0 < 5
    assert re.search(r"epoch \d+: ihello", text_of(at))
    assert any("rnn · training" in p for p in progress_texts(at))          # and it trains on
    at.select_slider(key="chars.hihell.train.lr").set_value(0.05).run()     # the learning rate, live
    assert not any("Settings changed" in i.value for i in at.info)
    at.select_slider(key="chars.hihell.live.pace").set_value(0.0).run()     # full speed, live
    assert job.pace == 0.0 and job.active
    (job,) = wait(at, "chars", finished, timeout=5).values()
    assert job.state == "finished" and "epoch 100: ihello" in text_of(at)
    assert job.history.last.lr == 0.05 and job.history.snapshot()[0].lr == 0.1


def test_progress_snapshots_move_without_a_rerun():
    """What the server tells a page's progress bars while a run trains: the epoch moves on between two
    snapshots with no page rerun, the run's end shows as its phase, unknown ids are left out."""
    at = app()
    at.button(key="chars.train").click().run()
    (job,) = wait(at, "chars", recorded(1)).values()
    (data,) = progress_data(at)
    assert data["poll"] and data["phases"] == "running" and data["runs"][0]["id"] == job.id
    first = polled(job.id, "no-such-run")
    assert set(first["runs"]) == {job.id} and 0 < first["interval"] <= pulse.POLL_MAX_S
    epoch = lambda body: int(re.search(r"epoch (\d+) of 100", body["runs"][job.id]["text"]).group(1))  # noqa: E731
    seen = epoch(first)
    end = time.time() + 10
    while epoch(polled(job.id)) == seen and time.time() < end:    # the lesson's pace: 10 records a second
        time.sleep(0.05)
    assert epoch(polled(job.id)) > seen
    job.trainer.wait(20)
    assert polled(job.id)["busy"].startswith("Trainers busy: ")
    last = polled(job.id)["runs"][job.id]
    assert last["phase"] == "finished" and last["done"] == 1.0
    assert last["text"].startswith("finished · epoch 100 of 100 · loss ")
    rate = float(re.search(r"· ([\d,.]+) steps/s overall$", last["text"]).group(1).replace(",", ""))
    rec = job.history.last                   # the whole run's speed, from its last record
    assert rec.step == 100 and rate == pytest.approx(rec.step / rec.seconds, rel=0.01, abs=1)
    assert last == pulse.facts(job)          # the first draw and the polls word it alike


def test_progress_text_pairs_a_pause_with_the_epoch_it_paused_at():
    """The worker's reader thread may land between facts()'s reads of a run. Its records come before the
    status that follows them, so a run seen paused must be worded with the epoch it paused at, not
    an older one (CI saw "paused · epoch 31" of a run paused at 34; the next push said 34)."""
    from rnnviz.recorder import EpochRecord, History

    class Landing(SimpleNamespace):     # a job whose records 32-34 and pause arrive as its state is read
        @property
        def state(self):
            if self.status == "running":
                for e in (32, 33, 34):
                    self.history.add(EpochRecord(epoch=e, step=e, loss=1.0 / e))
                self.status = "paused"
            return self.status

    history = History()
    history.add(EpochRecord(epoch=31, step=31, loss=1.0 / 31))
    trainer = SimpleNamespace(unit="epoch", steps_per_second=50.0, done=31, total=2000)
    job = Landing(status="running", history=history, trainer=trainer, final_epoch=2000, pace=60.0,
                  thread=object())
    f = pulse.facts(job)
    assert f["phase"] == "paused" and "epoch 34 of 2,000" in f["text"], f["text"]


class FakeSocket:
    """The page's end of lab.pulse.stream: messages it sends (None: it goes away) and what it hears."""

    def __init__(self):
        self.outgoing: asyncio.Queue = asyncio.Queue()
        self.heard: list[tuple[float, dict]] = []

    async def accept(self):
        pass

    async def iter_text(self):
        while (text := await self.outgoing.get()) is not None:
            yield text

    async def send_text(self, text: str):
        self.heard.append((time.monotonic(), json.loads(text)))


def test_progress_stream_pushes_the_runs_a_page_asks_for():
    """The bars' WebSocket: the server pushes the snapshot of the runs the page names every poll
    interval until the page names others or goes; a message that is not a subscription asks for
    nothing."""
    at = app()
    at.button(key="chars.train").click().run()
    (job,) = wait(at, "chars", recorded(1)).values()
    sock = FakeSocket()

    sent = []                                          # when the page sent each message

    async def say(text, then: float):
        sent.append(time.monotonic())
        await sock.outgoing.put(text)
        await asyncio.sleep(then)

    async def page():
        served = asyncio.create_task(pulse.stream(sock))
        await say(json.dumps({"ids": [job.id, "no-such-run"], "every": 0}), 1.2)
        await say(json.dumps({"ids": ["no-such-run"], "every": 0}), 0.6)
        await say("not a subscription", 0.6)
        await say(None, 0)
        await asyncio.wait_for(served, 2)              # the page went: the stream ends

    asyncio.run(page())
    first = [m for t, m in sock.heard if t < sent[1]]
    assert len(first) >= 4 and all(set(m["runs"]) == {job.id} for m in first)
    epochs = [int(re.search(r"epoch (\d+) of", m["runs"][job.id]["text"]).group(1)) for m in first]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]   # the lesson's pace: 10 records a second
    # the next snapshot after a new subscription follows it (one may have been on its way)
    later = [m for t, m in sock.heard if t > sent[1]][1:]
    assert later and all(m["runs"] == {} for m in later)
    assert sum(1 for t, _ in sock.heard if t > sent[2]) <= 1    # garbage: one answer, then nothing
    assert pulse._subscription('{"ids": "abc", "every": -3}') == ([], 0.0)
    assert pulse._subscription('{"ids": [1, "b"], "every": 99}') == (["1", "b"], pulse.HIDDEN_S)


def test_routes_serve_under_a_base_url():
    """Streamlit serves the pages under server.baseUrlPath but leaves an App's own routes where they
    are: the bars' stream and the progress route answer with or without a prefix."""
    from starlette.routing import Match
    for path, kind in [("/rnnviz/pulse", "websocket"), ("/lab/rnnviz/pulse", "websocket"),
                       ("/a/b/rnnviz/progress/x,y", "http"), ("/rnnviz/progress/x", "http")]:
        scope = {"type": kind, "path": path, "method": "GET", "root_path": ""}
        assert any(r.matches(scope)[0] == Match.FULL for r in pulse.routes()), path
    assert not any(r.matches({"type": "http", "path": "/rnnviz/other", "method": "GET", "root_path": ""})[0]
                   == Match.FULL for r in pulse.routes())
    from streamlit import config
    try:                                       # and the page asks for the stream under the prefix
        config.set_option("server.baseUrlPath", "/lab/")
        assert pulse.url(pulse.STREAM) == "/lab/rnnviz/pulse"
    finally:
        config.set_option("server.baseUrlPath", "")
    assert pulse.url(pulse.STREAM) == "/rnnviz/pulse"


def test_changing_a_setting_starts_a_new_run():
    at = app()
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.button(key="chars.train").click().run()
    (first,) = wait(at, "chars", finished).values()
    at.slider(key="chars.hihell.model.hidden_size").set_value(8).run()
    assert any("Settings changed" in i.value for i in at.info)
    assert lesson_jobs(at, "chars")[first.name] is first      # nothing happened to the run yet
    at.button(key="chars.train").click().run()
    (second,) = wait(at, "chars", finished).values()
    assert second.id != first.id and second.mcfg.hidden_size == 8
    assert second.history.snapshot()[0].loss != first.history.snapshot()[0].loss
    assert not any("Settings changed" in i.value for i in at.info)


def test_stop_stops_a_longer_run():
    at = app("text")
    for key, value in SMALL["text"].items():
        at.session_state[key] = value
    at.button(key="text.train").click().run()
    wait(at, "text", recorded(2))
    at.button(key="text.stop").click().run()
    (job,) = wait(at, "text", finished).values()
    assert job.state == "stopped" and job.trainer.done < job.trainer.total
    assert not job.thread.is_alive() or job.thread.join(5) is None
    (scrub,) = [s for s in at.slider if s.key.startswith("text.scrub.")]
    assert scrub.max == scrub.value == job.history.last.epoch < job.final_epoch   # it ends where the run did


def test_side_by_side_runs_wait_for_a_free_trainer(monkeypatch):
    monkeypatch.setattr(jobs._S, "slots", jobs.threading.BoundedSemaphore(1))
    at = app("gradients")
    at.button(key="gradients.train").click().run()
    found = lesson_jobs(at, "gradients")
    assert set(found) == {"rnn", "lstm", "gru"} and {j.tcfg.seed for j in found.values()} == {0}
    assert any("waiting for a free trainer" in p for p in progress_texts(at))
    at.button(key="gradients.stop").click().run()
    assert all(j.state == "stopped" for j in wait(at, "gradients", finished).values())


def test_pause_holds_runs_that_wait_for_a_trainer_and_the_click_shows_resume(monkeypatch):
    """Pause with one run training and two waiting: all three hold (the waiting ones start paused), and
    the click's own redraw already shows Resume (it waits for the worker to say "paused"). Before, the
    waiting runs' pause was lost and the bar showed Pause with no way to resume the paused one."""
    monkeypatch.setattr(jobs._S, "slots", jobs.threading.BoundedSemaphore(1))
    monkeypatch.setattr(controls, "ACK_S", 5.0)   # a loaded machine's worker may take longer than 0.3 s
    at = app("gradients")
    at.session_state["gradients.copy.live.pace"] = 20.0    # 150 epochs: over 7 s, still training at Pause
    at.button(key="gradients.train").click().run()
    found = wait(at, "gradients", lambda f: any(len(j.history.snapshot()) >= 3 for j in f.values()))
    at.button(key="gradients.pause").click().run()
    states = {n: j.state for n, j in found.items()}
    assert sorted(states.values()) == ["paused", "queued", "queued"], states
    assert at.button(key="gradients.resume") and not [b for b in at.button if b.key == "gradients.pause"]
    assert sum("waiting for a free trainer" in p and "starts paused" in p for p in progress_texts(at)) == 2
    first = next(j for j in found.values() if j.state == "paused")
    frozen = len(first.history.snapshot())
    time.sleep(0.4)
    assert len(first.history.snapshot()) == frozen and [j.state for j in found.values()].count("queued") == 2
    at.button(key="gradients.resume").click().run()
    assert first.state == "running" and not any(j.held for j in found.values())
    assert at.button(key="gradients.pause")
    wait(at, "gradients", lambda f: len(first.history.snapshot()) > frozen)
    at.button(key="gradients.stop").click().run()
    assert all(j.state == "stopped" for j in wait(at, "gradients", finished).values())


def test_a_run_not_recorded_yet_waits_beside_one_that_has(monkeypatch):
    monkeypatch.setattr(jobs._S, "slots", jobs.threading.BoundedSemaphore(1))   # the second run waits
    at = app("sine")
    at.session_state["sine.sine.live.pace"] = 0.0
    at.button(key="sine.train").click().run()
    wait(at, "sine", lambda found: any(len(j.history.snapshot()) >= 2 for j in found.values()))
    assert sorted(len(j.history.snapshot()) > 0 for j in lesson_jobs(at, "sine").values()) == [False, True]
    assert not at.error, [e.value for e in at.error]          # no "free running failed" for the waiting one
    assert any("Waiting for its first record" in i.value for i in at.info)
    at.button(key="sine.stop").click().run()
    wait(at, "sine", finished)


# ---- bad input: a message, and nothing lost ---------------------------------------------------------------
def test_bad_settings_show_an_error_and_keep_the_run():
    at = app()
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.button(key="chars.train").click().run()
    (job,) = wait(at, "chars", finished).values()
    at.slider(key="chars.hihell.model.hidden_size").set_value(7).run()
    at.toggle(key="chars.hihell.model.head").set_value(False).run()
    assert any("hidden_size must equal" in e.value for e in at.error)
    assert at.button(key="chars.train").disabled
    assert lesson_jobs(at, "chars")["rnn"] is job and "ihello" in text_of(at)
    assert at.slider(key="chars.hihell.model.hidden_size").value == 7     # the settings stay as typed


def test_empty_upload_and_missing_text_give_messages():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    assert any("needs a text" in e.value for e in at.error)
    at.file_uploader(key="text.text.task.text.upload").set_value(("empty.txt", b"", "text/plain")).run()
    assert any("empty.txt is empty" in e.value for e in at.error)


def test_a_prime_the_vocabulary_lacks_gives_a_message():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    at.text_area(key="text.text.task.text").input("abc abc cab " * 300).run()
    at.slider(key="text.text.task.batch_size").set_value(4).run()
    at.slider(key="text.text.model.hidden_size").set_value(32).run()
    at.button(key="text.train").click().run()
    wait(at, "text", recorded(1))
    at.text_input(key="text.prime.custom").input("XYZ").run()
    assert any("not in the vocabulary" in e.value for e in at.error)
    assert lesson_jobs(at, "text")["lstm"].state in ("running", "paused", "finished", "stopped")


def test_bad_uploads_are_refused_with_a_message():
    at = app("checkpoints")
    uploader = at.file_uploader(key="ckpt.upload")
    uploader.set_value(("model.zip", b"definitely not a zip", "application/zip")).run()
    assert any("not a zip archive" in e.value for e in at.error)
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.pt", b"pickle goes here")
        z.writestr("config.json", "{}")
    at.file_uploader(key="ckpt.upload").set_value(("foreign.zip", buf.getvalue(), "application/zip")).run()
    assert any("no model.safetensors" in e.value for e in at.error)
    assert not at.exception


# ---- checkpoints ----------------------------------------------------------------------------------------
def test_save_open_continue_share_and_delete_a_checkpoint(tmp_path):
    at = app()
    at.session_state["chars.hihell.live.pace"] = 0.0
    at.button(key="chars.train").click().run()
    wait(at, "chars", finished)
    at.button(key="chars.save").click().run()
    assert any("Saved" in s.value for s in at.success)
    (saved,) = (tmp_path / "checkpoints").iterdir()

    at.switch_page("pages/checkpoints.py").run()
    assert saved.name in at.dataframe[0].value["name"].tolist()
    at.button(key="ckpt.open").click().run()
    assert at.title[0].value == "1. Character prediction"
    (loaded,) = lesson_jobs(at, "chars").values()
    assert loaded.state == "loaded" and loaded.history.last.epoch == 100
    at.button(key="chars.continue").click().run()
    (more,) = wait(at, "chars", finished).values()
    assert more.history.last.epoch == 200 and more.history.snapshot()[0].epoch == 1

    at.switch_page("pages/checkpoints.py").run()
    at.file_uploader(key="ckpt.upload").set_value(("shared.zip", to_zip(saved), "application/zip")).run()
    assert any("Added" in s.value for s in at.success)
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2
    at.button(key="ckpt.delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="ckpt.yes").click().run()
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1


def test_pretrained_models_are_offered_when_shipped(tmp_path):
    from rnnviz import checkpoint
    from rnnviz.engine import build_model
    from rnnviz.tasks import make_task
    task = make_task("text", corpus="dinos")
    mcfg, tcfg = task.suggested()
    mcfg = mcfg.__class__(cell="lstm", hidden_size=16)
    checkpoint.save(tmp_path / "checkpoints" / "pretrained" / "dinos-lstm", task, mcfg, tcfg,
                    build_model(task, mcfg, tcfg).state_dict())
    at = app("text")
    at.button(key="text.load_pretrained").click().run()
    (job,) = lesson_jobs(at, "text").values()
    assert job.state == "loaded" and job.mcfg.hidden_size == 16
    assert at.selectbox(key="text.text.task.corpus").value == "dinos"
    assert at.slider(key="text.text.model.hidden_size").value == 16
    assert not any("Settings changed" in i.value for i in at.info)
    at.switch_page("pages/checkpoints.py").run()
    assert at.button(key="ckpt.delete").disabled          # shipped models are not deleted from the app
