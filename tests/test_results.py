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
