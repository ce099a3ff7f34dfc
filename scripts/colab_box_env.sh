#!/usr/bin/env bash
# The Colab box (tests/e2e/test_colab_box.py, segwidget/bench/harness/colab_box.py):
# 1. its kernel's venv: Colab's own kernel packages (tests/colab_box/colab-kernel-pins.txt)
#    and segwidget's torch-free base, on this machine's Python;
# 2. Colab's widget manager, built from the vendored source with its npm dependencies
#    (tests/colab_box/package-lock.json) into build/colab-box/manager.js.
# scripts/test.sh calls it. Idempotent: a stamp records what the venv holds, npm ci runs when
# the lock changed; about 45 s the first time, 1 s after.
#   usage: scripts/colab_box_env.sh [VENV_DIR]   (default build/colab-box/venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-build/colab-box/venv}
PYTHON=${PYTHON:-python3}
PINS=tests/colab_box/colab-kernel-pins.txt

# The manager: npm dependencies (when the lock changed), then the build (about 1 s).
lock=tests/colab_box/package-lock.json
if ! cmp -s "$lock" tests/colab_box/node_modules/.segwidget-lock.json; then
  echo "scripts/colab_box_env.sh: npm ci in tests/colab_box (the manager's build dependencies)" >&2
  (cd tests/colab_box && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" tests/colab_box/node_modules/.segwidget-lock.json
fi
node tests/colab_box/build.mjs >/dev/null

stamp="$VENV/.segwidget-colab-box"
want=$(cat "$PINS" "$0" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "scripts/colab_box_env.sh: building the Colab box's kernel venv in $VENV" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# (pip warns about find-links folders that do not exist here: noise, dropped)
quiet() { "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
quiet "$VENV/bin/python" -m pip install -q --upgrade pip
quiet "$VENV/bin/python" -m pip install -q -r "$PINS"
# segwidget with its (torch-free) requirements, as `pip install segwidget` in Colab would
quiet "$VENV/bin/python" -m pip install -q -e .
# Installing segwidget must have changed none of Colab's packages.
"$VENV/bin/python" - "$PINS" <<'PY'
import sys
from importlib.metadata import version

bad = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pinned = line.split("==")
        if version(name) != pinned:
            bad.append(f"{name} {version(name)} (Colab: {pinned})")
if bad:
    sys.exit("the box venv differs from Colab's: " + ", ".join(bad))
PY
echo "$want" > "$stamp"
