#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python

# pip would install into whatever Python is active: refuse the interpreter's own site-packages
# (outside a virtual environment) unless this is CI or the user asked for it.
where=$("$PYTHON" -c 'import sys; print(sys.prefix)')
in_env=$("$PYTHON" -c 'import os, sys; print(int(sys.prefix != sys.base_prefix or "CONDA_PREFIX" in os.environ))')
if [ "$in_env" != 1 ] && [ -z "${CI:-}" ] && [ -z "${SEGWIDGET_INSTALL_ANYWHERE:-}" ]; then
  cat >&2 <<EOF
scripts/test.sh would install packages into $where, the Python outside any virtual environment.
Run it in one instead (the README's command does):

  python3 -m venv .venv && . .venv/bin/activate && bash scripts/test.sh -ra

or set SEGWIDGET_INSTALL_ANYWHERE=1 to install into $where anyway (CI does, with CI set).
EOF
  exit 2
fi

# Browser tests: Debian's Chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "scripts/test.sh: installing Debian's chromium with apt-get (running as root)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and this is not root: browser tests will be skipped" >&2
  fi
fi

# torch from the pinned release (a bare 'torch' would pull the newest CUDA build).
echo "scripts/test.sh: installing torch==2.14.1 torchvision==0.29.1 and segwidget[dev] (editable) into $where" >&2
"$PYTHON" -m pip install -q torch==2.14.1 torchvision==0.29.1 -e ".[dev]"

# JS: esbuild (to check the committed bundle is what the sources build to) and the test deps.
if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  echo "scripts/test.sh: installing the JS dev dependencies (npm ci) into ./node_modules" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# The Colab box (tests/e2e/test_colab_box.py): a venv with Colab's kernel packages and
# Colab's widget manager built from its vendored source (needs npm and the esbuild above).
if command -v npm >/dev/null 2>&1; then
  PYTHON="$PYTHON" bash scripts/colab_box_env.sh
fi

exec "$PYTHON" -m pytest "$@"
