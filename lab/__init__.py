"""Streamlit glue of the rnnviz lab, shared by main.py (the script app.py serves) and the pages.

The core package `rnnviz` never imports streamlit; everything that talks to Streamlit (session state,
widgets, the live fragment, the job registry of this server process) lives here, once:

  lessons      the lessons in teaching order: page file, tasks, runs trained side by side
  jobs         a run in a worker process + its History, process-wide registry, trainer slots
  runs         which jobs belong to which lesson of this browser session
  fields       widgets built generically from the config dataclasses' fields
  controls     the sidebar settings of a lesson and the Train / Pause / Stop / ... bar
  live         the polling fragment: progress, epoch scrubber, the lesson's views
  pulse        progress bars the browser keeps current itself (a component the server pushes to)
  views        figures of rnnviz.figures placed on the page
  throttle     rebuild figures and samples only as often as the server can afford
  generation   sampling, continuing and free-running at any recorded epoch
  checkpoints  save, open, upload and delete checkpoints; pretrained models
  equations    the cells' equations in LaTeX with plain words
"""

try:  # a pages/ folder next to main.py makes Streamlit start in its legacy multipage mode until st.navigation
    from streamlit.runtime.pages_manager import PagesManager  # runs once; leave it from the first import on
    PagesManager.uses_pages_directory = False
except ImportError:  # pragma: no cover - a future Streamlit without it
    pass

APP_RAN = "lab.app_ran"


def ensure_app() -> None:
    """Pages run inside main.py's st.navigation. When a fresh server's first request is a page's URL,
    Streamlit runs that page alone (legacy pages/ mode); rerun once so that main.py takes over."""
    import streamlit as st
    if not st.session_state.get(APP_RAN) and not st.session_state.get(APP_RAN + ".retried"):
        st.session_state[APP_RAN + ".retried"] = True
        st.rerun()
