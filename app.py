"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in app_pages/) and one route of its
own (lab/progress.py), GET .../rnnviz/progress?ids=<run ids>, from which the pages' progress lines
read their runs' progress without rerunning Streamlit's page. The server's lifespan starts the worker
processes at once and, when the server stops (SIGTERM, Ctrl-C), stops every run and writes it down.
Two things of Streamlit 1.67's server are mended here: a false alarm in its log, and the messages of a
script run that ends just as a fragment's rerun arrives, which it drops.
"""
import asyncio
import contextlib
import logging

import streamlit as st
from starlette.websockets import WebSocketDisconnected
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner import ScriptRunnerEvent

from lab import registry
from lab.progress import routes


class ClosedTabFilter(logging.Filter):
    """Drops one false alarm from the server's log. When a tab closes while the server sends to it,
    Starlette raises WebSocketDisconnected (a RuntimeError) at the next receive; Streamlit 1.67's
    WebSocket endpoint takes a RuntimeError there for a text frame and calls close(), which raises it
    again, and uvicorn logs "Exception in ASGI application" for a tab that was only closed."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, WebSocketDisconnected) and isinstance(exc.__context__, WebSocketDisconnected))


logging.getLogger("uvicorn.error").addFilter(ClosedTabFilter())


def deliver_ended_runners_messages() -> None:
    """Lets a script runner that ended by itself deliver what it sent. A runner sends its deltas to the
    session's event loop and stops when no rerun waits. Streamlit 1.67 drops the events of any runner but
    the current one, so a fragment rerun (a fragment's timer, a click) that reaches the session between
    a runner's end and the loop's turn at its last events (under load: tenths of a second) makes a new
    runner, and the browser never gets the run that just ended: a Train click's new run, say. Those
    events were sent before the new runner's, so the loop handles them first and in order. (A full-page
    rerun stops its runner and unsets it before it makes a new one: that run's events are stale.)"""
    create, handle = AppSession._create_scriptrunner, AppSession._handle_scriptrunner_event_on_event_loop

    def _create_scriptrunner(self, initial_rerun_data):
        self._rnnviz_ended = self._scriptrunner      # still set here: it refused the rerun, it has ended
        create(self, initial_rerun_data)

    def _handle_scriptrunner_event_on_event_loop(self, sender, event, *args, **kwargs):
        if sender is not None and sender is self._scriptrunner:
            # the new runner's first event comes after all the ended one sent before it: what the ended
            # one sends later (one stopped by request_stop, still running) is stale
            self._rnnviz_ended = None
            return handle(self, sender, event, *args, **kwargs)
        if sender is None or sender is not getattr(self, "_rnnviz_ended", None):
            return handle(self, sender, event, *args, **kwargs)
        if event == ScriptRunnerEvent.SHUTDOWN:      # its last event; the new runner is the session's
            self._rnnviz_ended = None
            return None
        current, self._scriptrunner = self._scriptrunner, sender
        try:
            return handle(self, sender, event, *args, **kwargs)
        finally:
            self._scriptrunner = current

    AppSession._create_scriptrunner = _create_scriptrunner
    AppSession._handle_scriptrunner_event_on_event_loop = _handle_scriptrunner_event_on_event_loop


deliver_ended_runners_messages()


@contextlib.asynccontextmanager
async def lifespan(app):
    runs = registry.get()
    yield
    await asyncio.to_thread(runs.runner.close)   # stops every run and writes it down


app = st.App("main.py", routes=routes(), lifespan=lifespan)
