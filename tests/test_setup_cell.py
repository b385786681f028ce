"""The generated setup cell (tools/setup_cell.py), run as Colab runs it, offline.

The cell's code runs in a fresh virtual environment with a fake ``google.colab`` module; that
environment sees the development environment's libraries (as Colab has its stack preinstalled) and
pip reads a local folder of wheels instead of PyPI. The book's wheel is built from the working tree
(``tools.release.build_wheel``); the other wheels carry the same file name and other contents.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tools import release, setup_cell

VERSION = release.project()["version"]
RUNNER = """\
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
sys.path.insert(0, "")  # a notebook kernel imports from its working folder first
exec(compile(open(sys.argv[1]).read(), "<setup cell>", "exec"), {"__name__": "__main__"})
"""


def fake_wheel(path: Path, requires=(), init="raise ImportError('not the book')") -> Path:
    """A wheel with the book's file name and other contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = f"genre_book_helpers-{VERSION}.dist-info"
    files = {
        "helpers/__init__.py": init + "\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: genre-book-helpers\nVersion: {VERSION}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
        wheel.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"]))
    return path


def record_of(wheel: Path) -> dict:
    return {"version": VERSION, "wheel": wheel.name, "sha256": release.sha256(wheel)}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Folders of wheels standing in for the package index: the book's, another, one that cannot fit."""
    base = tmp_path_factory.mktemp("index")
    book = release.build_wheel(base / "book", ref=None)
    other = fake_wheel(base / "other" / book.name)
    unfit = fake_wheel(base / "unfit" / book.name, requires=["numpy<1"], init="")
    (base / "empty").mkdir()
    return {"book": book, "other": other, "unfit": unfit, "empty": base / "empty"}


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A fresh environment whose Python also sees the running environment's libraries.

    Its pip is the interpreter's bundled one, or ``$SETUP_CELL_TEST_PIP`` (a requirement).
    """
    root = tmp_path_factory.mktemp("colab")
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    if pip := os.environ.get("SETUP_CELL_TEST_PIP"):  # e.g. Colab's "pip==24.1.2" (make colab-test)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", pip], check=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # after the fresh site-packages: the installed wheel wins over the checkout's editable install
    (site / "zz_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (root / "run_cell.py").write_text(RUNNER)
    return {"python": python, "site": site, "root": root}


def run_cell(colab, record, links=None, cwd=None, **env_vars) -> subprocess.CompletedProcess:
    """Run the setup cell generated for ``record`` with pip reading only the folder ``links``."""
    cell = colab["root"] / "cell.py"
    cell.write_text(setup_cell.cell_source(record))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != setup_cell.INSTALL_VARIABLE}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    if links is not None:
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links))
    env.update(env_vars)
    cwd = cwd or colab["root"] / "content"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([str(colab["python"]), str(colab["root"] / "run_cell.py"), str(cell)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def stop_message(run: subprocess.CompletedProcess) -> str:
    assert run.returncode != 0, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("RuntimeError: Setup stopped:")]
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.mark.slow
def test_a_different_wheel_under_the_same_name_is_refused(colab, wheels):
    book, other = wheels["book"], wheels["other"]
    message = stop_message(run_cell(colab, record_of(book), links=other.parent))
    assert f"(sha256 {release.sha256(other)}) is not {book.name}" in message
    assert f"(sha256 {release.sha256(book)}); pip refused it and installed nothing" in message
    assert setup_cell.ISSUES in message
    assert not (colab["site"] / "helpers").exists()


@pytest.mark.slow
def test_a_missing_release_says_so_and_offers_the_repository(colab, wheels):
    message = stop_message(run_cell(colab, record_of(wheels["book"]), links=wheels["empty"]))
    assert f"genre-book-helpers {VERSION} is not on the package index" in message
    assert f"@v{VERSION}" in message and setup_cell.INSTALL_VARIABLE in message


@pytest.mark.slow
def test_no_network_says_so(colab, wheels):
    # nothing listens on port 9: pip's retry warning names the refused connection, as offline
    run = run_cell(colab, record_of(wheels["book"]), PIP_INDEX_URL="https://127.0.0.1:9/simple/",
                   PIP_RETRIES="1", PIP_TIMEOUT="5")
    assert "this runtime has no network" in stop_message(run)


@pytest.mark.slow
def test_the_book_wheel_installs_and_a_shadowing_helpers_py_is_named(colab, wheels, tmp_path):
    book = wheels["book"]
    run = run_cell(colab, record_of(book), links=book.parent)
    assert run.returncode == 0, run.stderr
    installed = colab["site"] / "helpers"
    assert f"helpers {VERSION} (sha256 {release.sha256(book)[:16]}... checked) in {installed}" in run.stdout
    where = subprocess.run([str(colab["python"]), "-c", "import helpers; print(helpers.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == installed / "__init__.py"

    (tmp_path / "helpers.py").write_text("print('a student helper')\n")
    message = stop_message(run_cell(colab, record_of(book), links=book.parent, cwd=tmp_path))
    assert f"`import helpers` finds {tmp_path / 'helpers.py'}, not the book's package in {installed}" in message
    assert "rename or move" in message


@pytest.mark.slow
def test_the_override_installs_any_requirement_without_a_hash_check(colab, wheels):
    book = wheels["book"]
    run = run_cell(colab, record_of(wheels["other"]), links=book.parent,
                   **{setup_cell.INSTALL_VARIABLE: str(book)})
    assert run.returncode == 0, run.stderr
    assert "is set: no hash check" in run.stdout and f"(from {setup_cell.INSTALL_VARIABLE})" in run.stdout


@pytest.mark.slow
def test_a_dependency_that_cannot_fit_the_preinstalled_versions_says_so(colab, wheels):
    unfit = wheels["unfit"]
    message = stop_message(run_cell(colab, record_of(unfit), links=unfit.parent))
    assert "(an incompatible preinstalled version)" in message and "Disconnect and delete runtime" in message


# --------------------------------------------------------------------------- the generated source


def test_cell_is_plain_python_that_ruff_accepts(tmp_path):
    source = setup_cell.cell_source()
    assert "%pip" not in source and "!pip" not in source
    assert max(len(line) for line in source.splitlines()) <= 100
    path = tmp_path / "cell.py"
    path.write_text(source + "\n")
    ruff = Path(sys.executable).with_name("ruff")
    # the cell is chapter code: the rules pyproject.toml leaves out for chapters/*.ipynb stay out here
    run = subprocess.run([str(ruff), "check", "--no-cache", "--extend-ignore", "D,C901,PLR0913", str(path)],
                         capture_output=True, text=True, cwd=release.REPO)
    assert run.returncode == 0, run.stdout


def test_cell_pins_the_recorded_wheel_by_hash():
    source = setup_cell.cell_source()
    recorded = release.read_record()
    assert f'BOOK_SHA256 = "{recorded["sha256"]}"' in source
    assert f'BOOK_WHEEL = "{recorded["wheel"]}"' in source
    assert '--hash=sha256:{BOOK_SHA256}' in source and '"--no-deps"' in source


def test_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    namespace: dict = {}
    exec(compile(setup_cell.cell_source(), "<setup cell>", "exec"), namespace)
    assert "BOOK_INSTALL" not in namespace


def test_write_touches_only_the_setup_cell_and_collapses_it(tmp_path):
    chapter = setup_cell.chapters()[0]
    copy = tmp_path / chapter.name
    copy.write_bytes(chapter.read_bytes())
    before = setup_cell.read_notebook(copy)
    index = setup_cell._first_code_index(before)
    before["cells"][index]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x"]}]
    setup_cell.write_notebook(before, copy)
    assert setup_cell.main(["--check", str(copy)]) == 1
    assert setup_cell.main(["--write", str(copy)]) == 0
    after = setup_cell.read_notebook(copy)
    cell = after["cells"][index]
    assert setup_cell.setup_cell_differs(after) is None and cell["outputs"] == []
    assert setup_cell.TAG in cell["metadata"]["tags"]
    assert [c for i, c in enumerate(after["cells"]) if i != index] == [c for i, c in enumerate(before["cells"]) if i != index]
    assert {k: v for k, v in after.items() if k != "cells"} == {k: v for k, v in before.items() if k != "cells"}
    assert setup_cell.main(["--check", str(copy)]) == 0


def test_check_wants_the_collapse_tag(tmp_path):
    path = tmp_path / "nb.ipynb"
    cell = {"cell_type": "code", "id": "s", "metadata": {}, "execution_count": None, "outputs": [],
            "source": setup_cell.cell_source().splitlines(keepends=True)}
    setup_cell.write_notebook({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}, path)
    assert "hide-input" in setup_cell.setup_cell_differs(setup_cell.read_notebook(path))


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
    assert cells[1]["metadata"]["tags"] == [setup_cell.TAG]
