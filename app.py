"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in app_pages/) and one route of its
own (lab/progress.py), GET .../rnnviz/progress?ids=<run ids>, from which the pages' progress lines
read their runs' progress without rerunning Streamlit's page. The server's lifespan starts the worker
processes at once and, when the server stops (SIGTERM, Ctrl-C), stops every run and writes it down.
"""
import asyncio
import contextlib

import streamlit as st

from lab import registry
from lab.progress import routes


@contextlib.asynccontextmanager
async def lifespan(app):
    runs = registry.get()
    yield
    await asyncio.to_thread(runs.runner.close)   # stops every run and writes it down


app = st.App("main.py", routes=routes(), lifespan=lifespan)
