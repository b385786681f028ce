#!/usr/bin/env bash
# Install what the browser test of the rendered book needs (called by .ci/run before `make browser-test`):
# Debian's Chromium and fonts, and Playwright (the Python package only: it drives /usr/bin/chromium,
# so no browser download is needed or attempted).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core fonts-liberation
fi
chromium --version

if ! "$VENV/bin/python" -c "import playwright" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install --quiet "playwright>=1.45,<2"
fi
"$VENV/bin/python" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
