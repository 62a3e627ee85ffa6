#!/usr/bin/env bash
# One entry point for newcomers and CI:
#   bash run.sh app     set up .venv (first time) and start the lab in the browser
#   bash run.sh test    set up .venv with the test tools (and Chromium where possible) and run every test
#   bash run.sh bench   set up and run the benchmark suite (writes bench/results/latest.json)
set -euo pipefail
cd "$(dirname "$0")"
VENV="${RNNVIZ_VENV:-.venv}"
PY="$VENV/bin/python"

setup() {  # $1: requirements file
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(cat "$1" requirements.txt | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$PY" -m pip install -q --disable-pip-version-check -r "$1"
    touch "$stamp"
  fi
}

browser() {  # the real-browser tests need Debian's chromium; they skip with a reason where it is missing
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "run.sh: could not install chromium; browser tests will be skipped" >&2
  fi
}

case "${1:-}" in
  app)
    setup requirements.txt
    shift
    exec "$VENV/bin/streamlit" run app.py "$@"
    ;;
  test)
    setup requirements-dev.txt
    browser
    shift
    exec "$PY" -m pytest -q "$@"
    ;;
  bench)
    setup requirements-dev.txt
    browser
    shift
    exec "$PY" -m bench "$@"
    ;;
  *)
    echo "usage: bash run.sh {app|test|bench} [args...]" >&2
    exit 2
    ;;
esac
