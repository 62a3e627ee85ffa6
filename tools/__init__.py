"""Helpers shared by the browser tests (tests/) and the benchmarks (bench/), so that neither imports
the other. Importable from the repository root: tests/conftest.py puts it on sys.path, and the
benchmarks run as `python -m bench` from there.

  lab_server   `streamlit run app.py` in a subprocess: start, wait until ready, SIGTERM, restart
  script_runs  the page's finished script runs, counted from its websocket
"""
