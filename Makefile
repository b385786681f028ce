# The book's two quick-start commands (see README.md):
#   make book   — install everything into .venv and build the HTML book into _build/html
#   make test   — install everything into .venv and run the tests (unit tests + every chapter with nbval)
# Other targets:
#   make execute            — re-execute every chapter in place (refresh the stored outputs)
#   make browser-test       — open every page of the built book in headless Chromium
#   make bench              — the feature-extraction and training benchmarks

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install book test lint execute browser-test bench clean

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

clean:
	rm -rf _build
