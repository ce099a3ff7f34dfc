#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests: Debian's Chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed and this is not root: browser tests will be skipped" >&2
  fi
fi

# torch from the pinned release (a bare 'torch' would pull the newest CUDA build).
python -m pip install -q torch==2.14.1 torchvision==0.29.1 -e ".[dev]"

# JS: esbuild, to check the committed bundle is what the sources build to.
if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

exec python -m pytest "$@"
