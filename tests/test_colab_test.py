"""tools/colab_test.py: which re-executed numbers fail `make colab-test` and which are reported."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from tools import colab_test

COLUMNS = ["chapter", "model", "data", "split", "accuracy", "accuracy_std", "track_vote_accuracy",
           "macro_f1", "train_seconds", "notes"]


@pytest.mark.parametrize("model, network", [
    ("report CNN", True), ("LSTM + position channels", True), ("dense, 11 scaled features", True),
    ("late fusion (mean of probabilities)", True), ("nested choice", True), ("report-style GRU", True),
    ("random forest", False), ("gradient boosting, tuned on validation", False),
    ("musicnn (MSD) embeddings + logistic regression", False),
    ("MFCC statistics (track mean) + logistic regression", False),
])
def test_network_rows_are_told_apart(model, network):
    assert colab_test.is_network_row(model) is network


@pytest.mark.parametrize("model, reported", [
    ("report CNN", True), ("gradient boosting", True), ("gradient boosting, tuned on tune songs", True),
    ("random forest", False), ("logistic regression", False),
])
def test_networks_and_version_dependent_models_are_reported(model, reported):
    assert colab_test.is_reported_row(model) is reported


def _table(path, rows):
    pd.DataFrame([dict(zip(COLUMNS, row, strict=True)) for row in rows], columns=COLUMNS).to_csv(path, index=False)
    return path


def test_a_changed_non_network_number_fails_and_a_network_one_is_reported(tmp_path):
    stored = _table(tmp_path / "a.csv", [
        ("01", "random forest", "real", "25 % test", 0.5874, None, None, 0.5696, 5.1, None),
        ("01", "1D CNN", "real", "25 % test", 0.4800, None, None, 0.45, 30.0, None),
        ("01", "logistic regression", "real", "25 % test", 0.5000, None, None, 0.48, 1.0, "C=1"),
    ])
    new = _table(tmp_path / "b.csv", [
        ("01", "random forest", "real", "25 % test", 0.5880, None, None, 0.5696, 9.9, None),  # within 1e-3; time ignored
        ("01", "1D CNN", "real", "25 % test", 0.5100, None, None, 0.47, 31.0, None),
        ("01", "logistic regression", "real", "25 % test", 0.5000, None, None, 0.48, 1.0, "C=10"),
    ])
    report = colab_test.compare_tables(stored, new)
    assert report.failures == ["01, logistic regression, real, 25 % test: notes C=1 -> C=10"]
    assert [line.split(":")[1].split()[0] for line in report.network_changes] == ["accuracy", "macro_f1"]

    changed = _table(tmp_path / "c.csv", [
        ("01", "random forest", "real", "25 % test", 0.6000, None, None, 0.5696, 5.1, None),
        ("01", "1D CNN", "real", "25 % test", 0.4800, None, None, 0.45, 30.0, None),
    ])
    report = colab_test.compare_tables(stored, changed)
    assert any("random forest" in f and "accuracy 0.5874 -> 0.6" in f for f in report.failures)
    assert any("logistic regression" in f and "missing after re-execution" in f for f in report.failures)


def _cell(text, name="stdout", id_="x"):
    return nbformat.v4.new_code_cell(id=id_, outputs=[nbformat.v4.new_output("stream", name=name, text=text)])


def test_a_warning_flood_fails_and_changed_printed_numbers_are_listed():
    flood = "".join("/x.py:1: OptimizeWarning: Unknown solver options: iprint\n" for _ in range(colab_test.FLOOD))
    stored = nbformat.v4.new_notebook(cells=[_cell("accuracy 0.52 (took 3.1 s)\n", id_="a"), _cell("ok\n", id_="b")])
    executed = nbformat.v4.new_notebook(cells=[_cell("accuracy 0.53 (took 9.9 s)\n", id_="a"),
                                               _cell(flood, name="stderr", id_="b")])
    floods, changed = colab_test.compare_outputs(stored, executed)
    assert len(floods) == 1 and "cell 1 (b)" in floods[0] and "OptimizeWarning" in floods[0]
    assert changed == []  # the line states a time: its numbers are not compared
    executed.cells[0] = _cell("accuracy 0.53\n", id_="a")
    stored.cells[0] = _cell("accuracy 0.52\n", id_="a")
    assert colab_test.compare_outputs(stored, executed)[1] == ["cell 0 (a)"]


def test_pins_are_read_from_the_constraints_file():
    pins = colab_test.pins()
    assert pins["tensorflow"] == "2.19.0" and "numba" in pins and "scipy" in pins and "matplotlib" in pins
