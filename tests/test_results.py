import pandas as pd
import pytest

from helpers.results import COLUMNS, load_results, results_frame, save_results


def test_rows_must_state_data_and_split():
    with pytest.raises(ValueError, match="data"):
        results_frame([{"model": "cnn", "split": "track"}])
    with pytest.raises(ValueError, match="unknown"):
        results_frame([{"model": "cnn", "data": "mini", "split": "track", "acc": 0.5}])


def test_round_trip(tmp_path):
    frame = results_frame([{"chapter": "06", "model": "cnn", "data": "mini", "split": "track", "accuracy": 0.7123456}])
    path = save_results(frame, "06_cnn", tmp_path)
    assert path.name == "06_cnn.csv"
    back = load_results(tmp_path)
    assert list(back.columns) == list(COLUMNS)
    assert back.loc[0, "accuracy"] == pytest.approx(0.7123, abs=1e-4)
    assert back.loc[0, "model"] == "cnn"


def test_empty_folder(tmp_path):
    assert isinstance(load_results(tmp_path), pd.DataFrame)
    assert load_results(tmp_path).empty


def test_load_results_skips_supplementary_tables(tmp_path):
    save_results(results_frame([{"chapter": "08", "model": "cnn", "data": "mini GTZAN",
                                 "split": "track-grouped 5-fold × 2", "accuracy": 0.7}]), "08_evaluation",
                 folder=tmp_path)
    pd.DataFrame({"model": ["cnn"], "repeat": [0], "fold": [0], "track_vote_accuracy": [0.7]}).to_csv(
        tmp_path / "08_fold_scores.csv", index=False)
    back = load_results(tmp_path)
    assert list(back["model"]) == ["cnn"] and tuple(back.columns) == COLUMNS


def test_every_model_in_a_comparison_learned_from_the_same_tracks():
    """Issue 22: the committed fold-score tables (chapters 8, 9, 10, the confirmation run) give every
    model of a comparison — same data, same fold table, same outer fold — the same numbers of fit,
    tune, selection and test tracks; a model that deliberately changes something says so in ``changed``
    (augmentation adds segments, never tracks)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "results"
    files = sorted(folder.glob("*_fold_scores.csv"))
    assert "08_fold_scores.csv" in {f.name for f in files}
    counts = ["n_fit_tracks", "n_tune_tracks", "n_select_tracks", "n_test_tracks"]
    tables = []
    for path in files:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = {"model", "data", "folds", "repeat", "fold", *counts} - set(table.columns)
        assert not missing, f"{path.name} lacks {sorted(missing)}"
        tables.append(table[table["model"] != "nested choice"].assign(file=path.name))
    scores = pd.concat(tables, ignore_index=True)
    spread = scores.groupby(["data", "folds", "repeat", "fold"])[counts].nunique()
    unequal = spread[(spread > 1).any(axis=1)]
    assert unequal.empty, f"models of one comparison learned from different numbers of tracks: {unequal}"
    chapter8 = set(map(tuple, scores.loc[scores["file"] == "08_fold_scores.csv", ["data", "folds", "repeat", "fold"]]
                       .drop_duplicates().to_numpy()))
    for name in ("09_fold_scores.csv", "10_fold_scores.csv"):
        theirs = set(map(tuple, scores.loc[scores["file"] == name, ["data", "folds", "repeat", "fold"]]
                         .drop_duplicates().to_numpy()))
        assert theirs <= chapter8, f"{name} scores folds chapter 8 did not: {sorted(theirs - chapter8)[:3]}"


def _sweep():
    return pd.DataFrame({"learning rate": [1e-3, 5e-4], "batch size": [32, 32], "select track vote": [0.733, 0.533]})


KEY = {"data": "mini GTZAN", "kept": "raw", "fit segments": 225, "recipe tune accuracy": 0.5733}


def test_a_record_is_served_only_to_its_own_run(tmp_path, monkeypatch):
    from helpers.results import load_record, save_record

    monkeypatch.delenv("BOOK_RERUN_STUDIES", raising=False)
    assert load_record("06_sweep", KEY, tmp_path) == (None, "06_sweep.csv is absent")
    save_record(_sweep(), "06_sweep", KEY, tmp_path)
    table, note = load_record("06_sweep", KEY, tmp_path)
    pd.testing.assert_frame_equal(table, _sweep())  # the key and the date are not part of the table
    assert note.startswith("recorded on 20") and "06_sweep.csv" in note
    assert load_record("06_sweep", dict(KEY, **{"recipe tune accuracy": 0.6}), tmp_path)[1] == (
        "06_sweep.csv belongs to another run (it differs in: recipe tune accuracy)")
    assert "kept" in load_record("06_sweep", dict(KEY, kept="standardized"), tmp_path)[1]
    assert "extra" in load_record("06_sweep", dict(KEY, extra=1), tmp_path)[1]
    monkeypatch.setenv("BOOK_RERUN_STUDIES", "1")
    assert load_record("06_sweep", KEY, tmp_path) == (None, "BOOK_RERUN_STUDIES is set")


def test_a_damaged_or_foreign_file_is_no_record(tmp_path, monkeypatch):
    from helpers.results import load_record, save_record

    monkeypatch.delenv("BOOK_RERUN_STUDIES", raising=False)
    (tmp_path / "06_sweep.csv").write_bytes(b'a,"b\n\x00\x01')
    table, note = load_record("06_sweep", KEY, tmp_path)
    assert table is None and "06_sweep.csv" in note
    _sweep().to_csv(tmp_path / "06_sweep.csv", index=False)  # a table without key columns
    assert load_record("06_sweep", KEY, tmp_path) == (None, "06_sweep.csv is no record (no rows, key or date)")
    with pytest.raises(ValueError, match="key"):
        save_record(_sweep(), "06_sweep", {}, tmp_path)
