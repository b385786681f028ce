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
    assert config.cnn_bundle() == config.BUNDLED_DIR / config.BUNDLE_NAME
    trained = config.model_dir(create=True) / config.BUNDLE_NAME
    trained.with_suffix(".json").write_text("{}")
    assert config.cnn_bundle() == trained


def test_shipped_bundle_is_package_data():
    assert "bundled/*.keras" in PYPROJECT["tool"]["setuptools"]["package-data"]["helpers"]
    for suffix in (".keras", ".json"):
        stem = config.BUNDLED_DIR / config.BUNDLE_NAME
        assert stem.with_suffix(suffix).is_file(), f"{stem}{suffix} missing (chapter 8 writes it)"


def _requirement_sections() -> dict[str, list[str]]:
    """requirements.txt's requirements by section (``# [base]``, ``# [chapters]``, ``# [dev]``)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if match := re.match(r"# \[(\w+)\]", line):
            current = sections.setdefault(match.group(1), [])
        elif line and not line.startswith("#"):
            assert current is not None, f"requirements.txt: {line!r} comes before any '# [section]' line"
            current.append(line)
    return sections


def _requirements() -> list[str]:
    return [line for section in _requirement_sections().values() for line in section]


def test_requirements_and_pyproject_say_the_same():
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    assert _requirement_sections() == {"base": project["dependencies"], **extras}
    assert set(extras) == {"chapters", "dev"}, "extras are named for what they hold"


def test_base_install_leaves_out_the_training_stack():
    base = {re.split(r"[<>=]", r)[0].lower() for r in PYPROJECT["project"]["dependencies"]}
    assert not base & {"tensorflow", "keras", "librosa", "numba", "scikit-learn", "matplotlib", "scipy", "pandas"}


def test_project_urls_point_at_the_repository():
    urls = PYPROJECT["project"]["urls"]
    assert set(urls) >= {"Source", "Documentation", "Issues"}
    assert urls["Issues"] == urls["Source"] + "/issues"


def test_version_comes_from_the_installed_metadata():
    import importlib.metadata

    import helpers

    assert helpers.__version__ == importlib.metadata.version(PYPROJECT["project"]["name"])
    assert helpers.__version__ == PYPROJECT["project"]["version"], "reinstall: make install"


def test_every_dependency_has_a_lower_and_an_upper_bound():
    for requirement in _requirements():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+>=[0-9.]+,<[0-9.]+", requirement), requirement


def test_colab_constraints_pin_the_stack_within_the_bounds():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from tools.colab_test import pins

    pinned = {canonicalize_name(name): version for name, version in pins().items()}
    sections = _requirement_sections()
    for line in sections["base"] + sections["chapters"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"constraints/colab.txt does not pin {name} (Colab's version changes results)"
        assert requirement.specifier.contains(pinned[name]), (line, pinned[name])
    # libraries under the book's that change numbers or figures
    assert {"numba", "llvmlite", "scipy", "matplotlib", "ipykernel", "pip"} <= set(pinned)


def test_setup_cell_pins_the_package_version():
    assert setup_cell.VERSION == PYPROJECT["project"]["version"]
    assert setup_cell.PACKAGE == PYPROJECT["project"]["name"] != "helpers"
    assert f'BOOK, BOOK_VERSION, BOOK_EXTRA = "{setup_cell.PACKAGE}", "{setup_cell.VERSION}", "chapters"' in (
        setup_cell.cell_source())


def test_citation_and_changelog_name_the_package_version():
    import yaml

    version = PYPROJECT["project"]["version"]
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["version"] == version
    assert f"## {version} " in (REPO / "CHANGELOG.md").read_text()


def test_every_chapter_has_the_generated_setup_cell(capsys):
    # after a change to tools/setup_cell.py or tools/release.json: make setup-cells
    status = setup_cell.main(["--check"])
    assert status == 0, capsys.readouterr().out


@pytest.mark.parametrize("module", ["helpers.training", "helpers.models.mfcc", "helpers.models.classical"])
def test_training_modules_without_the_chapters_extra_say_which_extra_in_one_line(module):
    import subprocess

    hide = "import sys\nfor name in ('tensorflow', 'keras', 'sklearn'):\n    sys.modules[name] = None\n"
    run = subprocess.run([sys.executable, "-c", hide + f"import {module}"], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: ") and '"genre-book-helpers[chapters]"' in last, last
    assert "tensorflow" in last and module.rsplit(".", 1)[0] in last
