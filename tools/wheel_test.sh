#!/usr/bin/env bash
# Wheel test (`make wheel-test`): build the wheel as a release does (python -m tools.release build,
# from the tracked files), install it WITHOUT extras into a fresh virtual environment OUTSIDE the
# checkout, and use it from a folder outside the checkout, as a pip user would:
#   - the base install brings no TensorFlow, Keras, librosa, numba or scikit-learn; its size and
#     install time are printed (targets: at most 200 MB and 30 s from a warm pip cache);
#   - `import helpers` resolves to the installed wheel, and helpers.__version__ is the wheel's;
#   - importing a training module without the chapters extra stops with one line naming the extra;
#   - `genre-predict` classifies a generated 8 s WAV with each shipped model (the probe, the CNN)
#     with HOME pointing at a path where nothing can be created: prediction writes nothing;
#   - results land in BOOK_DATA_DIR (or ~/.cache/genre-book), never in site-packages.
#
# Python: $WHEEL_TEST_PYTHON (the Makefile passes Python 3.12, Colab's), else the development
# environment's base interpreter, with a notice.
# Dependencies: from the package registry (or pip's cache). WHEEL_TEST_DEPS=venv installs the wheel
# with --no-deps and lets the fresh environment borrow the development environment's libraries
# (offline; the "no TensorFlow" check and the size are then skipped).
# Building the wheel needs the build backend pyproject.toml pins, which pip fetches (build isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
VENV="${VENV:-.venv}"
PY="$REPO/$VENV/bin/python"
DEPS="${WHEEL_TEST_DEPS:-registry}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/genre-book-wheel.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "== build the wheel (python -m tools.release build --ref worktree)"
"$PY" -m tools.release build --ref worktree --out "$TMP/dist" | sed 's/^/   /'
WHEEL="$(ls "$TMP"/dist/genre_book_helpers-*.whl)"
# The wheel must carry the shipped model bundles and the musicnn weights.
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["helpers/bundled/gtzan_cnn.keras", "helpers/bundled/gtzan_cnn.json", "helpers/bundled/musicnn_probe.json"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"wheel lacks package data {missing}")
if not any(n.startswith("helpers/weights/") and n.endswith(".npz") for n in names):
    sys.exit("wheel lacks the musicnn weights helpers/weights/*.npz")
PYEOF

BASE_PY="${WHEEL_TEST_PYTHON:-}"
if [ -z "$BASE_PY" ] || ! "$BASE_PY" --version >/dev/null 2>&1; then
  [ -z "$BASE_PY" ] || echo "NOTICE: $BASE_PY not found; using the development environment's interpreter"
  BASE_PY="$("$PY" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
fi
echo "== fresh environment in $TMP/venv ($("$BASE_PY" --version), dependencies: $DEPS)"
"$BASE_PY" -m venv "$TMP/venv"
VPY="$TMP/venv/bin/python"
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
before_kb="$(du -sk "$SITE" | cut -f1)"
start="$(date +%s.%N)"
if [ "$DEPS" = venv ]; then
  "$VPY" -m pip install --quiet --disable-pip-version-check --no-deps "$WHEEL"
  DEV_SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # Appended after the fresh site-packages, so the installed wheel wins over the checkout's
  # editable install (whose own .pth hooks are not run for a directory added this way).
  echo "$DEV_SITE" > "$SITE/zz_dev_dependencies.pth"
else
  "$VPY" -m pip install --quiet --disable-pip-version-check "$WHEEL" 2>&1 | grep -v "^WARNING: Location" || true
  "$VPY" -c 'import helpers' 2>/dev/null || { echo "FAIL: pip install $WHEEL failed"; exit 1; }
  seconds="$(echo "$(date +%s.%N) - $start" | bc)"
  after_kb="$(du -sk "$SITE" | cut -f1)"
  printf '   base install: %.0f MB in %.1f s (site-packages grew by the wheel and its dependencies; targets 200 MB, 30 s; load average %s)\n' \
    "$(echo "($after_kb - $before_kb) / 1024" | bc -l)" "$seconds" "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
  (cd "$TMP" && "$VPY" - <<'PYEOF'
import importlib.metadata as metadata

heavy = {"tensorflow", "keras", "librosa", "numba", "scikit-learn", "torch"}
names = sorted(d.metadata["Name"].lower() for d in metadata.distributions())
found = sorted(heavy & set(names))
assert not found, f"the base install brought {found}"
print(f"   installed: {', '.join(n for n in names if n not in ('pip', 'setuptools'))}")
PYEOF
  )
fi

echo "== use it from outside the checkout"
mkdir -p "$TMP/work"
cd "$TMP/work"
touch "$TMP/before"
env -u BOOK_DATA_DIR HOME="$TMP/home" BOOK_OFFLINE=1 "$VPY" - "$SITE" "$REPO" "$TMP" "$WHEEL" <<'PYEOF'
import importlib.metadata
import sys
from pathlib import Path

site, repo, tmp, wheel = (Path(p).resolve() for p in sys.argv[1:])
import helpers
from helpers import config

where = Path(helpers.__file__).resolve()
assert where.is_relative_to(site), f"helpers imported from {where}, not from the installed wheel in {site}"
assert not where.is_relative_to(repo), f"helpers imported from the checkout: {where}"
assert helpers.__version__ == importlib.metadata.version("genre-book-helpers") == wheel.name.split("-")[1]
home = config.data_home().resolve()
assert home == tmp / "home" / ".cache" / "genre-book", f"data_home() is {home}, expected ~/.cache/genre-book"
print(f"   helpers {helpers.__version__} from {where.parent}; data_home() {home}")
PYEOF

if [ "$DEPS" != venv ]; then
  set +e
  "$VPY" -c 'import helpers.training' 2> "$TMP/training.err"
  rc=$?
  set -e
  last="$(tail -n 1 "$TMP/training.err")"
  echo "   import helpers.training -> $last"
  [ "$rc" -ne 0 ] && [[ "$last" == ModuleNotFoundError:*'"genre-book-helpers[chapters]"'* ]] || {
    echo "FAIL: importing helpers.training without the chapters extra should stop with one line naming it"; exit 1; }
fi

"$VPY" - <<'PYEOF'
import numpy as np
import soundfile as sf

sr = 22050
t = np.arange(8 * sr) / sr
rng = np.random.default_rng(0)
beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(float) * rng.normal(0, 0.3, t.size)
clip = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t) + beat
sf.write("clip.wav", clip.astype(np.float32), sr)
PYEOF
# HOME=/dev/null: no folder can be created under it (not even by root), so a prediction that
# tried to write a cache would fail here.
for model in probe cnn; do
  echo "   genre-predict --model $model clip.wav (HOME=/dev/null)"
  set +e
  env -u BOOK_DATA_DIR -u XDG_CACHE_HOME HOME=/dev/null "$TMP/venv/bin/genre-predict" --model "$model" clip.wav
  rc=$?
  set -e
  [ "$rc" -eq 0 ] || { echo "FAIL: genre-predict --model $model exited $rc"; exit 1; }
done

export BOOK_DATA_DIR="$TMP/data"
"$VPY" - "$SITE" "$TMP" <<'PYEOF'
import sys
from pathlib import Path

site, tmp = (Path(p).resolve() for p in sys.argv[1:])
from helpers import config
from helpers.results import results_dir  # results tables themselves need pandas: the chapters extra

assert config.data_home().resolve() == tmp / "data", config.data_home()
folder = results_dir(create=True).resolve()
assert folder.is_dir() and folder.is_relative_to(tmp / "data"), f"results folder {folder}, not under BOOK_DATA_DIR"
print(f"   results -> {folder}")
PYEOF
written="$(find "$SITE" -newer "$TMP/before" -type f -not -name '*.pyc' -not -path '*/__pycache__/*' | head -5)"
[ -z "$written" ] || { echo "FAIL: files written into site-packages:"; echo "$written"; exit 1; }
echo "== wheel test passed"
