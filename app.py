"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in app_pages/) and one route of its
own (lab/progress.py), GET .../rnnviz/progress?ids=<run ids>, from which the pages' progress lines
read their runs' progress without rerunning Streamlit's page. The server's lifespan starts the worker
processes at once and, when the server stops (SIGTERM, Ctrl-C), stops every run and writes it down.
"""
import asyncio
import contextlib
import logging

import streamlit as st
from starlette.websockets import WebSocketDisconnected

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


@contextlib.asynccontextmanager
async def lifespan(app):
    runs = registry.get()
    yield
    await asyncio.to_thread(runs.runner.close)   # stops every run and writes it down


app = st.App("main.py", routes=routes(), lifespan=lifespan)
