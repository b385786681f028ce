import json
import math
import os

import pytest

from helpers.errors import DataError
from tools import notebooks, runtimes


def _cell(busy=None, idle=None, source="x = 1"):
    metadata = {}
    if busy:
        metadata["execution"] = {"iopub.status.busy": busy, "iopub.execute_input": busy, "iopub.status.idle": idle}
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": [], "execution_count": 1}


def _write(path, cells, title="# 6. A CNN on MFCCs\n\nOverview."):
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": title, "metadata": {}}, *cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_runtime_is_the_sum_of_cell_times(tmp_path):
    path = _write(tmp_path / "06_cnn.ipynb", [
        _cell("2026-11-25T10:00:00.000000Z", "2026-11-25T10:00:01.500000Z"),
        _cell("2026-11-25T10:00:02.000000Z", "2026-11-25T10:01:12.000000Z"),
    ])
    info = runtimes.notebook_runtime(path)
    assert info["title"] == "6. A CNN on MFCCs"
    assert (info["code_cells"], info["timed_cells"]) == (2, 2)
    assert info["seconds"] == pytest.approx(71.5)
    assert info["wall_seconds"] == pytest.approx(72.0)
    assert info["executed"] == "2026-11-25"


def test_untimed_and_partly_timed_notebooks(tmp_path):
    untimed = runtimes.notebook_runtime(_write(tmp_path / "a.ipynb", [_cell(), _cell()]))
    assert untimed["timed_cells"] == 0 and math.isnan(untimed["seconds"]) and untimed["executed"] == ""
    _write(tmp_path / "07_lstm.ipynb", [_cell("2026-11-25T10:00:00Z", "2026-11-25T10:00:05Z"), _cell()])
    table = runtimes.runtime_table(tmp_path, ["07_lstm", "09_beyond"])
    assert list(table["runtime"]) == [runtimes.NOT_TIMED, runtimes.NOT_IN_BOOK]  # partial timings are not shown


def test_bad_notebooks_raise_data_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.ipynb does not exist"):
        runtimes.notebook_runtime(tmp_path / "missing.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.ipynb is not a readable notebook"):
        runtimes.notebook_runtime(broken)
    (tmp_path / "list.ipynb").write_text("[]")
    with pytest.raises(DataError, match="list.ipynb is not a notebook"):
        runtimes.notebook_runtime(tmp_path / "list.ipynb")
    bad_time = _write(tmp_path / "bad.ipynb", [_cell("yesterday", "today")])
    with pytest.raises(DataError, match="bad.ipynb: malformed execution timestamp"):
        runtimes.notebook_runtime(bad_time)


def test_format_seconds():
    assert runtimes.format_seconds(9.4) == "9 s"
    assert runtimes.format_seconds(75.2) == "1 min 15 s"
    assert runtimes.format_seconds(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert runtimes.format_seconds(math.nan) == runtimes.NOT_TIMED


def test_planned_chapters_include_commented_toc_lines_and_the_design(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("root: intro\nparts:\n  - chapters:\n      - file: chapters/00_getting_started\n"
                   "      # - file: chapters/06_cnn\n      - file: chapters/course_plan\n")
    toc.write_text(toc.read_text() + "      - file: chapters/12_extra\n")
    planned = runtimes.planned_chapters(toc)
    assert planned[-1] == "12_extra" and planned[6] == "06_cnn"
    assert set(runtimes.BOOK_CHAPTERS) < set(planned)  # design chapters stay defined if the toc drops one


def test_markdown_table_and_substitutions(tmp_path):
    _write(tmp_path / "06_cnn.ipynb", [_cell("2026-11-25T10:00:00Z", "2026-11-25T10:02:00Z")])
    table = runtimes.runtime_table(tmp_path, ["06_cnn", "07_lstm"])
    text = runtimes.markdown_table(table)
    assert "| 6. A CNN on MFCCs | 1 | 2 min 00 s | 3 min 00 s | 2026-11-25 |" in text
    assert f"| 07_lstm |  | {runtimes.NOT_IN_BOOK} | 3 min 00 s |  |" in text
    assert "**All 1 executed chapters** | | **2 min 00 s**" in text


def test_budgets_follow_the_design():
    assert runtimes.budget_seconds("08_evaluation") == 600 and runtimes.budget_seconds("09_beyond") == 360
    assert runtimes.budget_seconds("10_transfer_learning") == 300 and runtimes.budget_seconds("07_lstm") == 180
    assert runtimes.budget_seconds("06_cnn") == 180  # its learning-rate sweep is recorded by make sweep
    assert set(runtimes.BUDGET_SECONDS) <= set(runtimes.BOOK_CHAPTERS)


@pytest.mark.parametrize("stem", runtimes.BOOK_CHAPTERS)
def test_committed_chapters_were_run_cold_and_within_budget(stem):
    """The stored outputs come from a complete cold-cache run that fits the chapter's runtime budget."""
    path = runtimes.REPO / "chapters" / f"{stem}.ipynb"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the book yet")
    info = runtimes.notebook_runtime(path)
    assert info["timed_cells"] == info["code_cells"] > 0, f"{path.name}: not every code cell was timed"
    assert info["caches"] == "cold", f"{path.name}: stored outputs not from a cold-cache run"
    budget = runtimes.budget_seconds(stem)
    assert info["seconds"] <= budget, (f"{path.name}: {runtimes.format_seconds(info['seconds'])} of cells "
                                       f"over its budget of {runtimes.format_seconds(budget)}")


def test_exercises_are_read_from_the_exercises_section(tmp_path):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "## 6.1 Training\n\n**1.** not an exercise."},
        {"cell_type": "markdown", "metadata": {}, "source": "## Exercises\n\n**1.** Halve the learning rate. "
         "What happens to the curves? Explain in detail why, and more.\nSecond line."},
        _cell(source="solution()"),
        {"cell_type": "markdown", "metadata": {}, "source": "**2.** Why vote over segments?\n\n"
         ":::{admonition} Solution\n:class: dropdown\nBecause.\n:::"},
        {"cell_type": "markdown", "metadata": {}, "source": "## Further reading\n\n**3.** not one either."},
    ]
    path = _write(tmp_path / "06_cnn.ipynb", cells)
    assert runtimes.exercise_list(path) == [
        (1, "Halve the learning rate. What happens to the curves?"),
        (2, "Why vote over segments?"),
    ]
    assert runtimes.exercises_markdown("06_cnn", tmp_path).splitlines()[1] == "2. Why vote over segments?"
    assert "not yet in the book" in runtimes.exercises_markdown("09_beyond", tmp_path)
    _write(tmp_path / "05_features.ipynb", [_cell()])
    assert "no Exercises section" in runtimes.exercises_markdown("05_features", tmp_path)


def test_stamp_runtime_writes_the_recorded_time(tmp_path):
    path = _write(tmp_path / "06_cnn.ipynb", [
        _cell("2026-11-25T10:00:00.000000Z", "2026-11-25T10:01:15.000000Z"),
    ], title="# 6. A CNN\n\nOverview.\n\n**Runtime**: about 3 minutes (typed by hand).\n\nMore text.")
    sentence = runtimes.stamp_runtime(path)
    assert sentence.startswith("**Runtime**: 1 min 15 s of cell execution") and "2026-11-25" in sentence
    assert runtimes.stated_runtime(path) == sentence
    source = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert "typed by hand" not in source and source.endswith("More text.")
    bare = _write(tmp_path / "07_lstm.ipynb", [_cell()], title="# 7. LSTM")
    assert runtimes.stamp_runtime(bare).startswith("**Runtime**: not yet executed")
    assert runtimes.stated_runtime(bare) is not None


def test_rehearsal_table_labels_a_quick_record(tmp_path):
    assert "no rehearsal recorded yet" in runtimes.rehearsal_markdown(tmp_path / "missing.csv")
    path = tmp_path / "full.csv"
    path.write_text("chapter,clips,per_genre,seconds,peak_rss_mb,status,executed_utc,machine,notes\n"
                    "04_gtzan,50,5,8.5,405.1,ok,2026-12-01 07:52,cpu,derived\n")
    text = runtimes.rehearsal_markdown(path)
    assert "| 04_gtzan | 50 (5) | 8 s | 405 MB | ok | 2026-12-01 07:52 |" in text
    assert "1000-clip run" in text and "not yet recorded" in text
    assert "Measured on: cpu. Clips: derived." in text


def test_rehearsal_table_names_the_chapters_a_full_record_lacks(tmp_path):
    path = tmp_path / "full.csv"
    path.write_text("chapter,clips,per_genre,seconds,peak_rss_mb,status,executed_utc,machine,notes\n"
                    "04_gtzan,1000,100,80.5,905.1,ok,2026-12-01 12:52,cpu,derived\n")
    text = runtimes.rehearsal_markdown(path)
    assert "| 04_gtzan | 1000 (100) | 1 min 20 s | 905 MB | ok | 2026-12-01 12:52 |" in text
    assert "not yet recorded" not in text
    lacking = text.split("Not yet run on the 1000-clip tree: ")[1]
    assert "05_features" in lacking and "04_gtzan" not in lacking


def test_rehearsal_table_sums_up_a_complete_full_record(tmp_path, monkeypatch):
    monkeypatch.setattr(runtimes, "planned_chapters", lambda: ["04_gtzan", "05_features"])
    path = tmp_path / "full.csv"
    header = "chapter,clips,per_genre,seconds,peak_rss_mb,status,executed_utc,machine,notes\n"
    path.write_text(header + "04_gtzan,1000,100,80.5,905.1,ok,2026-12-01 12:52,cpu,derived\n"
                    "05_features,1000,100,40.0,2048.0,ok,2026-12-01 12:54,cpu,derived\n"
                    "05_features,50,5,20.0,9999.0,ok,2026-12-01 07:52,cpu,derived\n")
    text = runtimes.rehearsal_markdown(path)
    assert "Not yet run" not in text
    assert "2 min 00 s of cells in all" in text
    assert "largest peak memory is 2,048 MB (05_features); every chapter ok." in text
    path.write_text(header + "04_gtzan,1000,100,80.5,905.1,failed (CellExecutionError),2026-12-01 12:52,cpu,x\n"
                    "05_features,1000,100,40.0,2048.0,ok,2026-12-01 12:54,cpu,derived\n")
    assert "not ok: 04_gtzan." in runtimes.rehearsal_markdown(path)


def test_runtime_sentence_says_whether_caches_were_cold(tmp_path):
    cells = [_cell("2026-11-25T10:00:00.000000Z", "2026-11-25T10:00:05.000000Z")]
    path = _write(tmp_path / "05_features.ipynb", cells)
    assert "caches" not in runtimes.stamp_runtime(path)
    notebook = json.loads(path.read_text())
    notebook["metadata"]["book_run"] = {"caches": "cold"}
    path.write_text(json.dumps(notebook))
    assert runtimes.notebook_runtime(path)["caches"] == "cold"
    assert "feature caches empty at the start" in runtimes.stamp_runtime(path)


def test_runner_gives_each_chapter_an_empty_cache_and_removes_it(tmp_path, monkeypatch):
    import nbformat

    from tools import notebooks

    monkeypatch.delenv("BOOK_CACHE_DIR", raising=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nfrom pathlib import Path\nfrom helpers.config import cache_home\n"
        "print(os.environ.get('BOOK_CACHE_DIR', 'unset'), sorted(os.listdir(cache_home())) == [])")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    notebooks.execute(path, timeout=120)
    done = nbformat.read(path, as_version=4)
    folder, empty = done.cells[0].outputs[0]["text"].split()
    assert empty == "True" and "book-cold-cache-" in folder
    assert not os.path.exists(folder) and "BOOK_CACHE_DIR" not in os.environ
    assert done.metadata["book_run"] == {"caches": "cold"}
    notebooks.execute(path, timeout=120, cold_caches=False)
    assert nbformat.read(path, as_version=4).metadata["book_run"] == {"caches": "warm"}


def test_runner_tells_the_kernel_that_outputs_will_be_stored(tmp_path, monkeypatch):
    """Listening labs print a note instead of a dataset player when ``BOOK_STORED_OUTPUTS`` is set."""
    import nbformat

    from tools import notebooks

    monkeypatch.delenv("BOOK_STORED_OUTPUTS", raising=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(os.environ.get('BOOK_STORED_OUTPUTS', 'unset'))")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    notebooks.execute(path, timeout=120, cold_caches=False)
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "1\n"
    assert "BOOK_STORED_OUTPUTS" not in os.environ


@pytest.mark.parametrize("stem", runtimes.BOOK_CHAPTERS)
def test_no_stale_widget_state_in_a_chapter(stem):
    """Widget state without a widget output makes the book's page fetch remote scripts (make book fails)."""
    path = runtimes.REPO / "chapters" / f"{stem}.ipynb"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the book yet")
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook["metadata"] or notebooks.has_widget_outputs(notebook), path.name


def test_a_scratch_run_writes_what_the_notebook_writes_and_leaves_the_notebook(tmp_path):
    """``execute(store=False)`` (``make sweep``'s scratch run of chapter 6): the kernel runs, what it writes
    elsewhere stays, the stored notebook is byte for byte the same; ``store=True`` stores the outputs."""
    import nbformat

    marker = tmp_path / "record.csv"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('recorded')\nprint('ran')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    before = path.read_bytes()
    assert notebooks.execute(path, timeout=120, store=False) > 0
    assert marker.read_text() == "recorded" and path.read_bytes() == before
    notebooks.execute(path, timeout=120)
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "ran\n"
