# The book's two quick-start commands (see README.md):
#   make book   — install everything into .venv and build the HTML book into _build/html
#   make test   — install everything into .venv and run the tests (unit tests + every chapter with nbval)
# Other targets:
#   make lint               — ruff: style, imports, numpydoc docstrings (helpers/, tools/), complexity limits
#   make unit               — the unit tests only (tests/, no notebooks, no 'slow' ones: about a minute)
#   make execute            — re-execute every chapter in place (refresh the stored outputs)
#   make browser-test       — open every page of the built book in headless Chromium
#   make bench              — the feature-extraction and training benchmarks
#   make wheel-test         — build the wheel as a release does, install it without extras into a fresh
#                             Python 3.12 venv outside the checkout: no TensorFlow, genre-predict runs (tools/wheel_test.sh)
#   make colab-test         — Colab's stack: a fresh Python 3.12 venv with Colab's versions (constraints/colab.txt),
#                             the book installed from its wheel; unit tests, chapters 0, 2, 3 under nbval, the fold
#                             check, and chapters 1 and 10 re-executed and compared (tools/colab_test.py). Slow: not in CI
#   make newest-test        — fresh venv with the newest versions requirements.txt allows: unit tests + chapters 0, 2, 3
#   make setup-cells        — write the generated setup cell into every chapter (tools/setup_cell.py)
#   make grade              — the assignments' self-check: reference solutions full marks, blank hand-outs zero
#   make release-wheel      — build the release wheel reproducibly into dist/ and record its SHA-256
#                             (tools/release.py; README "Releasing")
#   make rehearsal          — every chapter with GTZAN_FLAVOUR=full on a generated 1000-clip tree (about 1.3 GB
#                             under data/rehearsal, removed afterwards); hours on a 2-core CPU; records
#                             runtime and peak memory per chapter in results/rehearsal/full.csv (tools/rehearsal.py)
#   make rehearsal-quick    — the same with 5 generated clips per genre, chapters 0, 4 and 5 (minutes)
#   make confirm            — chapter 8's fixed candidates re-scored on fresh committed folds (mini GTZAN,
#                             minutes); writes results/08_confirmation_*.csv, which chapter 8 renders (tools/confirm.py)
#   make sweep              — chapter 6's learning-rate / batch-size sweep (three more trainings, mini GTZAN,
#                             not in its budget): a scratch run of chapter 6 writes results/06_sweep.csv, which the
#                             chapter renders when it belongs to its own run (tools/sweep.py)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install book test lint unit execute browser-test bench clean wheel-test colab-test newest-test setup-cells \
	release-wheel \
	rehearsal rehearsal-quick confirm sweep grade

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

install: $(STAMP)

# MathJax is copied into the HTML by the tools.offline_assets extension (downloaded once, cached in
# data/); the check fails if any page would still fetch something from the internet.
book: $(STAMP)
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	$(BIN)/python -m tools.offline_assets check _build/html

test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# UNIT_MARKERS='' runs the slow ones too (wheels, fresh environments).
UNIT_MARKERS ?= not slow
unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "$(UNIT_MARKERS)"

execute: $(STAMP)
	$(BIN)/python -m tools.notebooks run

browser-test: $(STAMP)
	$(BIN)/python -m pytest tests/browser

bench: $(STAMP)
	$(BIN)/python -m helpers.bench features
	$(BIN)/python -m helpers.bench training

# Fresh environments outside the checkout (slow the first time: TensorFlow is about 600 MB from PyPI).
# Colab runs Python 3.12: PYTHON312 is that interpreter (pyenv's on the development machine).
PYTHON312 ?= $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || ls -d $(HOME)/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)
COLAB_VENV ?= /tmp/genre-book-colab-venv
NEWEST_VENV ?= /tmp/genre-book-newest-venv
LIGHT_CHAPTERS := chapters/00_getting_started.ipynb chapters/02_sound_and_sampling.ipynb chapters/03_spectrograms_and_mfccs.ipynb
# Chapters whose stored numbers depend on library versions (scikit-learn, SciPy, NumPy, librosa).
COLAB_CHAPTERS ?= chapters/01_spotify_baseline.ipynb chapters/10_transfer_learning.ipynb

wheel-test: $(STAMP)
	VENV=$(VENV) WHEEL_TEST_PYTHON=$(PYTHON312) bash tools/wheel_test.sh

# Colab's stack without the book; the book itself is installed from its wheel on every run.
$(COLAB_VENV)/.installed: constraints/colab.txt requirements.txt pyproject.toml
	rm -rf $(COLAB_VENV)
	$(PYTHON312) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet -c constraints/colab.txt pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -c constraints/colab.txt -r requirements.txt
	touch $@

# Colab's numba 0.60 has segfaulted here in librosa's numba code, once under each CPU setting; both fit
# numba issue #10128 (two processes compiling librosa's gufuncs into one cache at once), which the tests
# now rule out (conftest.py, helpers.backend.compile_librosa). The default leaves NUMBA_CPU_NAME unset,
# as on Colab (numba compiles for the machine's own CPU); COLAB_NUMBA_CPU=generic tries the other.
COLAB_NUMBA_CPU ?=
ifneq ($(COLAB_NUMBA_CPU),)
colab-test: export NUMBA_CPU_NAME = $(COLAB_NUMBA_CPU)
endif
colab-test: $(COLAB_VENV)/.installed
	rm -rf $(COLAB_VENV)/dist
	$(COLAB_VENV)/bin/python -m tools.release build --ref worktree --out $(COLAB_VENV)/dist
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall $(COLAB_VENV)/dist/genre_book_helpers-*.whl
	$(COLAB_VENV)/bin/python -m tools.colab_test versions
	@# every check runs, the target fails at the end if one failed
	@status=0; \
	SETUP_CELL_TEST_PIP="$$(grep '^pip==' constraints/colab.txt)" $(COLAB_VENV)/bin/python -m pytest tests $(LIGHT_CHAPTERS) || status=1; \
	$(COLAB_VENV)/bin/python -m tools.folds check || status=1; \
	$(COLAB_VENV)/bin/python -m tools.colab_test chapters $(COLAB_CHAPTERS) || status=1; \
	exit $$status

$(NEWEST_VENV)/.installed: requirements.txt pyproject.toml
	rm -rf $(NEWEST_VENV)
	$(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -r requirements.txt -e .
	touch $@

newest-test: $(NEWEST_VENV)/.installed
	$(NEWEST_VENV)/bin/python -m pip list --format=freeze | grep -i -E '^(tensorflow|keras|numpy|pandas|scikit-learn|librosa|ipykernel)=='
	$(NEWEST_VENV)/bin/python -m pytest tests $(LIGHT_CHAPTERS)

# The course kit's self-check: every assignment's reference solution gets full marks and its blank
# hand-out zero (otter-grader, offline; tests/test_assignments.py runs the same in `make test`).
grade: $(STAMP)
	$(BIN)/python -m tools.grade check

setup-cells: $(STAMP)
	$(BIN)/python -m tools.setup_cell --write

# Build from the committed HEAD, record the wheel's SHA-256 for the setup cell; then make setup-cells.
release-wheel: $(STAMP)
	rm -rf dist
	$(BIN)/python -m tools.release build --out dist
	$(BIN)/python -m tools.release record dist/genre_book_helpers-*.whl

rehearsal: $(STAMP)
	$(BIN)/python -m tools.rehearsal run --per-genre 100

QUICK_CHAPTERS := chapters/00_getting_started.ipynb chapters/04_gtzan.ipynb chapters/05_features.ipynb

rehearsal-quick: $(STAMP)
	$(BIN)/python -m tools.rehearsal run --per-genre 5 --chapters $(QUICK_CHAPTERS)

clean:
	rm -rf _build

confirm: $(STAMP)
	$(BIN)/python -m tools.confirm

sweep: $(STAMP)
	$(BIN)/python -m tools.sweep --flavour mini
