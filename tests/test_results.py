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
