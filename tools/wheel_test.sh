#!/usr/bin/env bash
# Wheel smoke test (`make wheel-test`): build the wheel, install it into a fresh virtual environment
# OUTSIDE the checkout, and use it from a folder outside the checkout, as a pip or Colab user would:
#   - `import helpers` resolves to the installed wheel, not to the checkout;
#   - `genre-predict` classifies a generated 8 s WAV with the model bundle shipped as package data;
#   - results and caches land in BOOK_DATA_DIR (or ~/.cache/genre-book), never in site-packages.
#
# Dependencies: by default the wheel is installed with --no-deps and the fresh environment borrows
# the libraries of the development environment ($VENV, read-only, through a .pth line), so the test
# takes seconds and needs no TensorFlow download. WHEEL_TEST_DEPS=registry installs the wheel with
# its dependencies from the package registry instead (slow: TensorFlow is about 600 MB).
# Building the wheel needs setuptools>=77, which pip fetches from the registry (build isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
VENV="${VENV:-.venv}"
PY="$REPO/$VENV/bin/python"
DEPS="${WHEEL_TEST_DEPS:-venv}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/genre-book-wheel.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "== build the wheel"
# setuptools stages files in build/ (git-ignored) and would package stale copies of removed modules.
rm -rf "$REPO/build"
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$TMP/dist" "$REPO"
WHEEL="$(ls "$TMP"/dist/genre_book_helpers-*.whl)"
echo "   $(basename "$WHEEL")"
# The wheel must carry the default model bundle and the musicnn weights.
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["helpers/bundled/gtzan_cnn.keras", "helpers/bundled/gtzan_cnn.json"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"wheel lacks package data {missing}")
if not any(n.startswith("helpers/weights/") and n.endswith(".npz") for n in names):
    print("   note: no helpers/weights/*.npz in the wheel (musicnn weights not exported yet)")
PYEOF

echo "== fresh environment in $TMP/venv (dependencies: $DEPS)"
"$PY" -c 'import sys; print(sys.base_prefix)' >/dev/null
BASE_PY="$("$PY" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
"$BASE_PY" -m venv "$TMP/venv"
if [ "$DEPS" = registry ]; then
  "$TMP/venv/bin/python" -m pip install --quiet "$WHEEL"
else
  "$TMP/venv/bin/python" -m pip install --quiet --no-deps "$WHEEL"
  SITE="$("$TMP/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  DEV_SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # Appended after the fresh site-packages, so the installed wheel wins over the checkout's
  # editable install (whose own .pth hooks are not run for a directory added this way).
  echo "$DEV_SITE" > "$SITE/zz_dev_dependencies.pth"
fi
SITE="$("$TMP/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

echo "== use it from outside the checkout"
mkdir -p "$TMP/work" "$TMP/home"
cd "$TMP/work"
touch "$TMP/before"
env -u BOOK_DATA_DIR HOME="$TMP/home" BOOK_OFFLINE=1 "$TMP/venv/bin/python" - "$SITE" "$REPO" "$TMP" <<'PYEOF'
import sys
from pathlib import Path

site, repo, tmp = (Path(p).resolve() for p in sys.argv[1:])
import helpers
from helpers import config

where = Path(helpers.__file__).resolve()
assert where.is_relative_to(site), f"helpers imported from {where}, not from the installed wheel in {site}"
assert not where.is_relative_to(repo), f"helpers imported from the checkout: {where}"
home = config.data_home().resolve()
assert home == tmp / "home" / ".cache" / "genre-book", f"data_home() is {home}, expected ~/.cache/genre-book"
print(f"   helpers {where.parent}; data_home() {home}")
PYEOF

export BOOK_DATA_DIR="$TMP/data"
"$TMP/venv/bin/python" - <<'PYEOF'
import numpy as np
import soundfile as sf

sr = 22050
t = np.arange(8 * sr) / sr
rng = np.random.default_rng(0)
beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(float) * rng.normal(0, 0.3, t.size)
clip = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t) + beat
sf.write("clip.wav", clip.astype(np.float32), sr)
PYEOF
set +e
"$TMP/venv/bin/genre-predict" clip.wav
rc=$?
set -e
[ "$rc" -eq 0 ] || { echo "FAIL: genre-predict exited $rc"; exit 1; }

"$TMP/venv/bin/python" - "$SITE" "$TMP" <<'PYEOF'
import sys
from pathlib import Path

site, tmp = (Path(p).resolve() for p in sys.argv[1:])
from helpers import config
from helpers.results import results_dir, results_frame, save_results

assert config.data_home().resolve() == tmp / "data", config.data_home()
path = save_results(results_frame([{"model": "m", "data": "synthetic", "split": "none"}]), "wheel_test").resolve()
assert path.is_relative_to(tmp / "data"), f"results written to {path}, not under BOOK_DATA_DIR"
assert path.parent == results_dir().resolve()
print(f"   results -> {path}")
PYEOF
written="$(find "$SITE" -newer "$TMP/before" -type f -not -name '*.pyc' -not -path '*/__pycache__/*' | head -5)"
[ -z "$written" ] || { echo "FAIL: files written into site-packages:"; echo "$written"; exit 1; }
echo "== wheel smoke test passed"
