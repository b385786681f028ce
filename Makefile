# The book's two quick-start commands (see README.md):
#   make book   — install everything into .venv and build the HTML book into _build/html
#   make test   — install everything into .venv and run the tests (unit tests + every chapter with nbval)
# Other targets:
#   make execute            — re-execute every chapter in place (refresh the stored outputs)
#   make browser-test       — open every page of the built book in headless Chromium
#   make bench              — the feature-extraction and training benchmarks
#   make wheel-test         — build the wheel, install it outside the checkout, run genre-predict (tools/wheel_test.sh)
#   make colab-test         — fresh venv with Colab's versions (constraints/colab.txt): unit tests + chapters 0, 2, 3
#   make newest-test        — fresh venv with the newest versions requirements.txt allows: unit tests + chapters 0, 2, 3
#   make setup-cells        — write the generated setup cell into every chapter (tools/setup_cell.py)
#   make rehearsal          — every chapter with GTZAN_FLAVOUR=full on a generated 1000-clip tree (about 1.3 GB
#                             under data/rehearsal, removed afterwards); hours on a 2-core CPU; records
#                             runtime and peak memory per chapter in results/rehearsal/full.csv (tools/rehearsal.py)
#   make rehearsal-quick    — the same with 5 generated clips per genre, chapters 0, 4 and 5 (minutes)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install book test lint execute browser-test bench clean wheel-test colab-test newest-test setup-cells \
	rehearsal rehearsal-quick

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

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

execute: $(STAMP)
	$(BIN)/python -m tools.notebooks run

browser-test: $(STAMP)
	$(BIN)/python -m pytest tests/browser

bench: $(STAMP)
	$(BIN)/python -m helpers.bench features
	$(BIN)/python -m helpers.bench training

# Fresh environments outside the checkout (slow the first time: TensorFlow is about 600 MB from PyPI).
COLAB_VENV ?= /tmp/genre-book-colab-venv
NEWEST_VENV ?= /tmp/genre-book-newest-venv
LIGHT_CHAPTERS := chapters/00_getting_started.ipynb chapters/02_sound_and_sampling.ipynb chapters/03_spectrograms_and_mfccs.ipynb

wheel-test: $(STAMP)
	VENV=$(VENV) bash tools/wheel_test.sh

$(COLAB_VENV)/.installed: constraints/colab.txt requirements.txt pyproject.toml
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -c constraints/colab.txt -r requirements.txt -e .
	touch $@

colab-test: $(COLAB_VENV)/.installed
	$(COLAB_VENV)/bin/python -m pip list --format=freeze | grep -i -E '^(tensorflow|keras|numpy|pandas|scikit-learn|librosa|ipykernel)=='
	$(COLAB_VENV)/bin/python -m pytest tests $(LIGHT_CHAPTERS)

$(NEWEST_VENV)/.installed: requirements.txt pyproject.toml
	rm -rf $(NEWEST_VENV)
	$(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -r requirements.txt -e .
	touch $@

newest-test: $(NEWEST_VENV)/.installed
	$(NEWEST_VENV)/bin/python -m pip list --format=freeze | grep -i -E '^(tensorflow|keras|numpy|pandas|scikit-learn|librosa|ipykernel)=='
	$(NEWEST_VENV)/bin/python -m pytest tests $(LIGHT_CHAPTERS)

setup-cells: $(STAMP)
	$(BIN)/python -m tools.setup_cell --write

rehearsal: $(STAMP)
	$(BIN)/python -m tools.rehearsal run --per-genre 100

QUICK_CHAPTERS := chapters/00_getting_started.ipynb chapters/04_gtzan.ipynb chapters/05_features.ipynb

rehearsal-quick: $(STAMP)
	$(BIN)/python -m tools.rehearsal run --per-genre 5 --chapters $(QUICK_CHAPTERS)

clean:
	rm -rf _build
