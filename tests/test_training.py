"""Tests for helpers.training (chapters 6–8): standardizer, tf.data, fitting, splits, determinism."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.training import (
    apply_standardizer,
    fit_model,
    fit_standardizer,
    make_dataset,
    train_and_evaluate,
    training_table,
)

pytest.importorskip("tensorflow")


@dataclass
class FakeFeatures:
    """The parts of helpers.features.FeatureSet that training uses."""

    X: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    genres: tuple

    def table(self):
        return pd.DataFrame({"track_id": self.track_ids, "genre": np.asarray(self.genres)[self.labels],
                             "label": self.labels})


def fake_features(n_genres=3, tracks_per_genre=8, segments=3, frames=12, coeffs=13, seed=0):
    """Learnable toy data: each genre shifts a different coefficient."""
    rng = np.random.default_rng(seed)
    labels, track_ids, rows = [], [], []
    for g in range(n_genres):
        for t in range(tracks_per_genre):
            for _ in range(segments):
                x = rng.normal(0, 1, (frames, coeffs))
                x[:, g] += 3.0
                rows.append(x)
                labels.append(g)
                track_ids.append(f"g{g}.{t:05d}")
    genres = tuple(f"g{g}" for g in range(n_genres))
    return FakeFeatures(np.asarray(rows, "float32"), np.asarray(labels), np.asarray(track_ids), genres)


def tiny_cnn(input_shape, n_classes):
    from helpers.models.mfcc import build_report_cnn

    return build_report_cnn((*input_shape, 1), n_classes)


def tiny_lstm(input_shape, n_classes):
    from helpers.models.mfcc import build_report_lstm

    return build_report_lstm(input_shape, n_classes, units=8)


# ---------------------------------------------------------------- standardizer


def test_standardizer_statistics_per_coefficient():
    rng = np.random.default_rng(1)
    X = rng.normal(5.0, 3.0, (40, 20, 4)).astype("float32")
    X[..., 2] = 7.0  # a constant coefficient
    mean, std = fit_standardizer(X)
    assert mean.shape == std.shape == (4,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, X.reshape(-1, 4).mean(axis=0), rtol=1e-5)
    assert std[2] == 1.0  # constant → 1, no division by zero
    Z = apply_standardizer(X, mean, std)
    np.testing.assert_allclose(Z.reshape(-1, 4)[:, [0, 1, 3]].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Z.reshape(-1, 4)[:, [0, 1, 3]].std(axis=0), 1, atol=1e-4)
    with pytest.raises(DataError, match="do not fit"):
        apply_standardizer(X[..., :3], mean, std)
    with pytest.raises(DataError, match="NaN"):
        fit_standardizer(np.full((2, 3, 4), np.nan))


def test_train_and_evaluate_uses_fit_rows_only_for_statistics():
    features = fake_features()
    # Make test rows wildly different: statistics from them would move the mean a lot.
    table = features.table()
    test_rows = np.flatnonzero(table["track_id"].str.endswith(("6", "7")))
    train_rows = np.setdiff1d(np.arange(len(table)), test_rows)
    features.X[test_rows] += 100.0
    result = train_and_evaluate(lambda: tiny_cnn(features.X.shape[1:], 3), features, train_rows, test_rows,
                                epochs=1, patience=None)
    mean, std = result.standardizer
    expected_mean, expected_std = fit_standardizer(features.X[result.fit_rows])
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(std, expected_std)
    assert np.all(mean < 50)  # the +100 test rows did not leak in
    assert set(result.fit_rows) | set(result.val_rows) == set(train_rows)
    assert not set(result.val_rows) & set(test_rows)


# ---------------------------------------------------------------- splits and data


def test_make_dataset_batches_and_shuffles():
    X = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.arange(10)
    batches = list(make_dataset(X, y, batch_size=4, shuffle=False))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    data = make_dataset(X, y, batch_size=10, shuffle=True, seed=1)
    first, second = (next(iter(data))[1].numpy() for _ in range(2))
    assert sorted(first) == list(range(10))
    assert list(first) != list(range(10))
    with pytest.raises(DataError, match="labels"):
        make_dataset(X, y[:5])
    assert len(list(make_dataset(X, batch_size=3, shuffle=False))) == 4


def test_make_dataset_repeat_gives_whole_reshuffled_passes():
    X = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.arange(10)
    batches = iter(make_dataset(X, y, batch_size=4, shuffle=True, seed=3, repeat=True))
    passes = [[next(batches)[1].numpy() for _ in range(3)] for _ in range(3)]  # ceil(10 / 4) = 3 batches a pass
    for one_pass in passes:
        assert [len(b) for b in one_pass] == [4, 4, 2]  # the partial batch closes every pass
        assert sorted(np.concatenate(one_pass)) == list(range(10))
    assert not np.array_equal(np.concatenate(passes[0]), np.concatenate(passes[1]))  # reshuffled


# ---------------------------------------------------------------- fitting


def test_fit_model_learns_and_reports():
    from helpers import set_seed

    features = fake_features()
    set_seed(0, with_tensorflow=True)
    model = tiny_lstm(features.X.shape[1:], 3)
    idx = np.arange(len(features.X))
    val = idx % 4 == 0
    result = fit_model(model, features.X[~val], features.labels[~val], features.X[val], features.labels[val],
                       epochs=3, batch_size=16, patience=None)
    assert result.epochs_run == 3 == len(result.epoch_seconds) == len(result.history["loss"])
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(result.history)
    assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
    assert result.seconds >= sum(result.epoch_seconds) * 0.9 > 0
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_early_stopping_stops():
    from helpers import set_seed

    features = fake_features(tracks_per_genre=4, segments=2)
    set_seed(0, with_tensorflow=True)
    model = tiny_lstm(features.X.shape[1:], 3)
    # A huge learning rate makes the validation loss blow up → stops after patience epochs.
    result = fit_model(model, features.X, features.labels, features.X[:6], features.labels[:6],
                       epochs=40, learning_rate=5.0, patience=2)
    assert result.epochs_run < 40
    assert result.epochs_run - result.best_epoch == 2


def test_same_seed_same_result():
    features = fake_features()
    table = features.table()
    test_rows = np.flatnonzero(table["track_id"].str.endswith("7"))
    train_rows = np.setdiff1d(np.arange(len(table)), test_rows)

    def run(seed):
        res = train_and_evaluate(lambda: tiny_cnn(features.X.shape[1:], 3), features, train_rows, test_rows,
                                 seed=seed, epochs=2, patience=None)
        return res.probabilities, [w.copy() for w in res.model.get_weights()]

    p1, w1 = run(7)
    p2, w2 = run(7)
    p3, _ = run(8)
    np.testing.assert_array_equal(p1, p2)
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(p1, p3)


def test_train_and_evaluate_scores_and_refuses_leaks():
    features = fake_features(tracks_per_genre=10)
    table = features.table()
    test_rows = np.flatnonzero(table["track_id"].str.endswith(("8", "9")))
    train_rows = np.setdiff1d(np.arange(len(table)), test_rows)
    result = train_and_evaluate(lambda: tiny_cnn(features.X.shape[1:], 3), features, train_rows, test_rows,
                                epochs=8, batch_size=8)
    assert result.probabilities.shape == (len(test_rows), 3)
    assert result.accuracy == pytest.approx(np.mean(result.y_pred == features.labels[test_rows]))
    assert result.accuracy > 0.6  # an easy problem: far above chance (1/3)
    assert 0 <= result.track_vote_accuracy <= 1
    train = result.train
    assert train.best_val_accuracy == train.history["val_accuracy"][train.best_epoch - 1]
    summary = training_table({"a": result, "b": train})
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a", "best epoch"] == train.best_epoch == summary.loc["b", "best epoch"]
    assert summary.loc["a", "validation accuracy"] == round(train.best_val_accuracy, 3)
    row = result.as_result("cnn", "synthetic", "track 20 %", chapter="06")
    assert row["accuracy"] == result.accuracy and row["train_seconds"] == train.seconds
    assert 0 <= row["macro_f1"] <= 1
    with pytest.raises(DataError, match="both train and test"):
        train_and_evaluate(lambda: tiny_cnn(features.X.shape[1:], 3), features, train_rows,
                           np.r_[test_rows, train_rows[:1]], epochs=1)
