"""Packaging: where an installed package writes, version bounds, the generated setup cell."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from helpers import config, results
from tools import setup_cell

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """Pretend ``helpers`` is imported from an installed wheel (no checkout around it)."""
    monkeypatch.setattr(config, "checkout_root", lambda: None)
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_checkout_keeps_results_and_data_in_the_repository(monkeypatch):
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    assert config.checkout_root() == REPO
    assert config.data_home(create=False) == REPO / "data"
    assert results.results_dir() == REPO / "results"
    assert config.model_dir() == config.BUNDLED_DIR


def test_derived_caches_follow_book_cache_dir_and_downloads_stay(monkeypatch, tmp_path):
    from helpers import embeddings, features

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BOOK_CACHE_DIR", raising=False)
    assert config.cache_home() == tmp_path / "data"
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path / "cold"))
    assert config.cache_home() == tmp_path / "cold" and (tmp_path / "cold").is_dir()
    assert config.data_home() == tmp_path / "data"
    table = pd.DataFrame({"path": [str(tmp_path / "a.wav")], "track_id": ["blues.00000"], "label": [0]})
    table.attrs["flavour"] = "mini"
    assert features.cache_path(table, features.FeatureConfig()).parent == tmp_path / "cold" / "features"
    assert embeddings.embeddings_cache_path(table).parent == tmp_path / "cold" / "embeddings"


def test_installed_package_writes_to_the_user_data_folder(installed):
    home = installed / "home" / ".cache" / "genre-book"
    assert config.data_home(create=False) == home
    assert results.results_dir() == home / "results"
    assert config.model_dir() == home / "models"
    frame = results.results_frame([{"model": "m", "data": "synthetic", "split": "none"}])
    path = results.save_results(frame, "t")
    assert path == home / "results" / "t.csv" and path.is_file()
    assert results.load_results().loc[0, "model"] == "m"


def test_book_data_dir_wins_when_installed(installed, monkeypatch):
    monkeypatch.setenv("BOOK_DATA_DIR", str(installed / "cache"))
    assert config.data_home() == installed / "cache"
    assert results.results_dir() == installed / "cache" / "results"


def test_default_bundle_prefers_a_retrained_model_over_the_shipped_one(installed):
    assert config.default_bundle() == config.BUNDLED_DIR / config.BUNDLE_NAME
    trained = config.model_dir(create=True) / config.BUNDLE_NAME
    trained.with_suffix(".json").write_text("{}")
    assert config.default_bundle() == trained


def test_shipped_bundle_is_package_data():
    assert "bundled/*.keras" in PYPROJECT["tool"]["setuptools"]["package-data"]["helpers"]
    for suffix in (".keras", ".json"):
        stem = config.BUNDLED_DIR / config.BUNDLE_NAME
        assert stem.with_suffix(suffix).is_file(), f"{stem}{suffix} missing (chapter 8 writes it)"


def _requirements() -> list[str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_and_pyproject_say_the_same():
    project = PYPROJECT["project"]
    assert _requirements() == project["dependencies"] + project["optional-dependencies"]["book"]


def test_every_dependency_has_a_lower_and_an_upper_bound():
    for requirement in _requirements():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+>=[0-9.]+,<[0-9.]+", requirement), requirement


def test_colab_constraints_satisfy_the_lower_bounds():
    pins = {}
    for line in (REPO / "constraints" / "colab.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = tuple(int(part) for part in version.split("."))
    for requirement in _requirements():
        name, bounds = re.split(r"(?=>=)", requirement, maxsplit=1)
        if name.lower() not in pins:
            continue
        low, high = (tuple(int(p) for p in b.split(".")) for b in bounds[2:].split(",<"))
        assert low <= pins[name.lower()] < high, (requirement, pins[name.lower()])


def test_setup_cell_pins_the_package_version():
    assert setup_cell.VERSION == PYPROJECT["project"]["version"]
    assert setup_cell.PACKAGE == PYPROJECT["project"]["name"] != "helpers"
    assert f'"{setup_cell.PACKAGE}=={setup_cell.VERSION}"' in setup_cell.cell_source()


def test_citation_and_changelog_name_the_package_version():
    import yaml

    version = PYPROJECT["project"]["version"]
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["version"] == version
    assert f"## {version} " in (REPO / "CHANGELOG.md").read_text()


def test_every_chapter_has_the_generated_setup_cell(capsys):
    status = setup_cell.main(["--check"])
    assert status == 0, capsys.readouterr().out


def _run_setup_cell(monkeypatch, override=None, importable=True):
    """Run the setup cell as IPython would on Colab, with a fake ``%pip``; return its namespace."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []

    class FakeShell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    monkeypatch.setitem(sys.modules, "google.colab", object())
    if override is None:
        monkeypatch.delenv(setup_cell.INSTALL_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(setup_cell.INSTALL_VARIABLE, override)
    if not importable:
        monkeypatch.setitem(sys.modules, "helpers", None)  # import helpers -> ImportError
    code = TransformerManager().transform_cell(setup_cell.cell_source())
    namespace = {"get_ipython": lambda: FakeShell()}
    exec(compile(code, "<setup cell>", "exec"), namespace)
    return namespace, calls


def test_setup_cell_installs_the_pinned_release_or_the_override(monkeypatch):
    namespace, calls = _run_setup_cell(monkeypatch)
    assert namespace["BOOK_INSTALL"] == f"{setup_cell.PACKAGE}=={setup_cell.VERSION}"
    assert calls == [("pip", 'install -q "{BOOK_INSTALL}"')]
    fork = "git+https://github.com/someone/music-genre-classification@v0.2.0"
    namespace, _ = _run_setup_cell(monkeypatch, override=fork)
    assert namespace["BOOK_INSTALL"] == fork


def test_setup_cell_stops_with_a_clear_message_when_the_install_failed(monkeypatch):
    with pytest.raises(RuntimeError, match="Installing the book's helpers failed") as error:
        _run_setup_cell(monkeypatch, override="genre-book-helpers==9.9.9", importable=False)
    message = str(error.value)
    assert "pip install genre-book-helpers==9.9.9" in message
    assert setup_cell.INSTALL_VARIABLE in message


def test_write_touches_only_the_setup_cell(tmp_path):
    chapter = setup_cell.chapters()[0]
    copy = tmp_path / chapter.name
    copy.write_bytes(chapter.read_bytes())
    before = setup_cell.read_notebook(copy)
    before["cells"][setup_cell._first_code_index(before)]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x"]}]
    setup_cell.write_notebook(before, copy)
    assert setup_cell.main(["--check", str(copy)]) == 1
    assert setup_cell.main(["--write", str(copy)]) == 0
    after = setup_cell.read_notebook(copy)
    index = setup_cell._first_code_index(after)
    assert setup_cell.setup_cell_differs(after) is None and after["cells"][index]["outputs"] == []
    assert [c for i, c in enumerate(after["cells"]) if i != index] == [c for i, c in enumerate(before["cells"]) if i != index]
    assert {k: v for k, v in after.items() if k != "cells"} == {k: v for k, v in before.items() if k != "cells"}
    assert setup_cell.main(["--check", str(copy)]) == 0


def test_write_inserts_a_setup_cell_before_the_first_code_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# Title"]},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 1, "outputs": [], "source": ["x = 1"]},
    ]}
    setup_cell.write_notebook(notebook, path)
    assert setup_cell.main(["--write", str(path)]) == 0
    cells = setup_cell.read_notebook(path)["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert "".join(cells[1]["source"]) == setup_cell.cell_source() and cells[2]["source"] == ["x = 1"]
