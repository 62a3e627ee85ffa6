"""What a script run sends reaches the browser, also when the run ends just as a fragment's rerun
arrives (app.deliver_ended_runners_messages). Played on Streamlit's own AppSession, with script runners
that run nothing: the session's event loop, its message queue and its rules are the real ones."""
from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime import app_session
from streamlit.runtime.script_data import ScriptData
from streamlit.runtime.scriptrunner import ScriptRunnerEvent
from streamlit.signal_util import Signal

import app  # noqa: F401  (installs the fix on Streamlit's AppSession)

ROOT = Path(__file__).resolve().parents[1]


class Runner:
    """A script runner that runs nothing: `accepts` says whether it takes a rerun (one that has ended
    takes none)."""

    def __init__(self, accepts: bool = True, **_):
        self.accepts, self.on_event = accepts, Signal()

    def start(self):
        pass

    def request_rerun(self, rerun_data):
        return self.accepts

    def request_stop(self):
        self.accepts = False


def _delta(text: str, at: int = 0) -> ForwardMsg:
    msg = ForwardMsg()
    msg.metadata.delta_path[:] = [0, at]      # the queue keeps one delta per place on the page
    msg.delta.new_element.markdown.body = text
    return msg


def _race(fragment_id: str, late: bool = False) -> tuple[list[str], app_session.AppSession, Runner]:
    """A runner's last delta is on its way to the session's loop when a rerun arrives and the runner
    has ended: what reaches the browser's queue, the session, the runner that ended. `late`: the ended
    runner sends one more delta after the new runner's first event (a runner asked to stop, still
    running)."""
    async def play():
        session = app_session.AppSession(ScriptData(str(ROOT / "main.py")), MagicMock(), MagicMock(),
                                         None, {"email": "test@example.com"})
        ended = Runner(accepts=False)
        session._scriptrunner = ended
        session.has_fragment = lambda _id: True
        session._on_scriptrunner_event(ended, ScriptRunnerEvent.ENQUEUE_FORWARD_MSG,
                                       forward_msg=_delta("the run that ended"))
        session.request_rerun(ClientState(fragment_id=fragment_id))   # handled before the delta
        await asyncio.sleep(0)                                         # the loop's turn at the delta
        if late:
            session._on_scriptrunner_event(session._scriptrunner, ScriptRunnerEvent.ENQUEUE_FORWARD_MSG,
                                           forward_msg=_delta("the new run", 1))
            session._on_scriptrunner_event(ended, ScriptRunnerEvent.ENQUEUE_FORWARD_MSG,
                                           forward_msg=_delta("stale", 2))
        session._on_scriptrunner_event(ended, ScriptRunnerEvent.SHUTDOWN)
        await asyncio.sleep(0)
        sent = [m.delta.new_element.markdown.body for m in session.flush_browser_queue() if m.HasField("delta")]
        return sent, session, ended
    return asyncio.run(play())


@pytest.fixture(autouse=True)
def runners(monkeypatch):
    monkeypatch.setattr(app_session, "ScriptRunner", Runner)


def test_a_run_that_ends_as_a_fragment_rerun_arrives_still_reaches_the_browser():
    sent, session, ended = _race("views")
    assert sent == ["the run that ended"]
    # the rerun runs in a new runner, which the ended runner's last event leaves in place
    assert isinstance(session._scriptrunner, Runner) and session._scriptrunner is not ended
    assert session._scriptrunner.accepts


def test_a_full_page_rerun_still_drops_the_run_it_stopped():
    """A full-page rerun stops the run in progress (Streamlit's fastReruns): that run's deltas are stale."""
    sent, session, ended = _race("")
    assert sent == []
    assert session._scriptrunner is not ended


def test_what_the_ended_runner_sends_after_the_new_runner_began_is_dropped():
    sent, session, ended = _race("views", late=True)
    assert sent == ["the run that ended", "the new run"]
