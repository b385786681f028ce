"""Tests for helpers.training (chapters 6–8): standardizer, tf.data, fitting, train-and-score, determinism."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError, ParameterError
from helpers.splits import validation_tracks_split
from helpers.training import (
    TrainingConfig,
    apply_standardizer,
    fit_model,
    fit_standardizer,
    load_training_data,
    make_dataset,
    predict_proba,
    train_and_score,
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
    with pytest.raises(ParameterError, match="do not fit"):
        apply_standardizer(X[..., :3], mean, std)
    with pytest.raises(DataError, match="NaN"):
        fit_standardizer(np.full((2, 3, 4), np.nan))


def split_rows(features, test_suffixes=("6", "7"), seed=0):
    """Test rows = tracks whose id ends in ``test_suffixes``; the rest split into fit and validation tracks."""
    table = features.table()
    test_rows = np.flatnonzero(table["track_id"].str.endswith(test_suffixes))
    train_rows = np.setdiff1d(np.arange(len(table)), test_rows)
    fit_rows, val_rows = validation_tracks_split(table, train_rows, fraction=0.25, seed=seed)
    return fit_rows, val_rows, test_rows


def test_train_and_score_uses_fit_rows_only_for_statistics():
    features = fake_features()
    fit_rows, val_rows, test_rows = split_rows(features)
    # Make validation and test rows wildly different: statistics from them would move the mean a lot.
    features.X[test_rows] += 100.0
    features.X[val_rows] -= 100.0
    result = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                             standardize=True, config=TrainingConfig(epochs=1, patience=None))
    mean, std = result.standardizer
    expected_mean, expected_std = fit_standardizer(features.X[fit_rows])
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(std, expected_std)
    assert np.all(np.abs(mean) < 50)  # the shifted rows did not leak in
    raw = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                          config=TrainingConfig(epochs=1, patience=None))
    assert raw.standardizer is None  # the documented default: raw inputs


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
    with pytest.raises(ParameterError, match="labels"):
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
                       TrainingConfig(epochs=3, batch_size=16, patience=None))
    assert result.epochs_run == 3 == len(result.epoch_seconds) == len(result.history["loss"])
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(result.history)
    assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_early_stopping_stops():
    from helpers import set_seed

    features = fake_features(tracks_per_genre=4, segments=2)
    set_seed(0, with_tensorflow=True)
    model = tiny_lstm(features.X.shape[1:], 3)
    # A huge learning rate makes the validation loss blow up → stops after patience epochs.
    result = fit_model(model, features.X, features.labels, features.X[:6], features.labels[:6],
                       TrainingConfig(epochs=40, learning_rate=5.0, patience=2))
    assert result.epochs_run < 40
    assert result.epochs_run - result.best_epoch == 2


def test_fit_model_refuses_bad_arguments():
    features = fake_features(tracks_per_genre=2, segments=1)
    model = tiny_cnn(features.X.shape[1:], 3)
    with pytest.raises(ParameterError, match="validation"):
        fit_model(model, features.X, features.labels, features.X[:0], features.labels[:0])
    with pytest.raises(ParameterError, match="positive"):
        fit_model(model, features.X, features.labels, features.X, features.labels, TrainingConfig(epochs=0))


def test_fit_model_equals_plain_keras_fit():
    """The book's fit is Keras' own fit on the same batches: the same weights as model.fit(arrays)."""
    import keras

    from helpers.training import compile_model

    features = fake_features(tracks_per_genre=4, segments=2)
    X, y = features.X, features.labels

    def dense():  # no dropout: its random masks would differ between two models
        return keras.Sequential([keras.Input(X.shape[1:]), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])

    ours, plain = dense(), dense()
    plain.set_weights(ours.get_weights())
    fit_model(ours, X, y, X, y, TrainingConfig(epochs=3, batch_size=len(y), patience=None))
    compile_model(plain).fit(X, y, epochs=3, batch_size=len(y), verbose=0)  # one full batch per epoch: order is moot
    for a, b in zip(ours.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(predict_proba(ours, X), plain.predict(X, verbose=0), rtol=1e-4, atol=1e-6)


def test_same_seed_same_result():
    features = fake_features()
    table = features.table()
    test_rows = np.flatnonzero(table["track_id"].str.endswith("7"))
    train_rows = np.setdiff1d(np.arange(len(table)), test_rows)

    def run(seed):
        fit_rows, val_rows = validation_tracks_split(table, train_rows, seed=seed)
        res = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                              seed=seed, config=TrainingConfig(epochs=2, patience=None))
        return res.test_probabilities, [w.copy() for w in res.model.get_weights()]

    p1, w1 = run(7)
    p2, w2 = run(7)
    p3, _ = run(8)
    np.testing.assert_array_equal(p1, p2)
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(p1, p3)


def test_train_and_score_scores_and_refuses_leaks():
    features = fake_features(tracks_per_genre=10)
    fit_rows, val_rows, test_rows = split_rows(features, ("8", "9"))
    result = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                             config=TrainingConfig(epochs=8, batch_size=8))
    assert result.test_probabilities.shape == (len(test_rows), 3)
    assert result.val_probabilities.shape == (len(val_rows), 3)
    predicted = result.test_probabilities.argmax(axis=1)
    assert result.accuracy == pytest.approx(np.mean(predicted == features.labels[test_rows]))
    assert result.accuracy > 0.6  # an easy problem: far above chance (1/3)
    assert result.record["test_tracks"] == 6 and result.record["shared_tracks"] == 0
    train = result.train
    assert train.best_val_accuracy == train.history["val_accuracy"][train.best_epoch - 1]
    summary = training_table({"a": result, "b": train})
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a", "best epoch"] == train.best_epoch == summary.loc["b", "best epoch"]
    assert summary.loc["a", "tune accuracy"] == round(train.best_val_accuracy, 3)
    row = result.as_result("cnn", "synthetic", "track 20 %", chapter="06")
    assert row["accuracy"] == result.accuracy and row["train_seconds"] == train.seconds
    with pytest.raises(DataError, match="also appear in the training rows"):
        train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows,
                        np.r_[test_rows, fit_rows[:1]], config=TrainingConfig(epochs=1))
    leaky = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows,
                            np.r_[test_rows, fit_rows[:1]], config=TrainingConfig(epochs=1), allow_shared_tracks=True)
    assert leaky.record["shared_tracks"] == 1
    final = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, [],
                            config=TrainingConfig(epochs=1))
    assert np.isnan(final.accuracy) and final.record["test_tracks"] == 0
    with pytest.raises(ParameterError, match="fit and validation rows"):
        train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, [], test_rows)


def test_train_and_score_builds_under_the_requested_policy():
    features = fake_features(tracks_per_genre=4, segments=2)
    fit_rows, val_rows, test_rows = split_rows(features, ("3",))
    result = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                             config=TrainingConfig(epochs=1, patience=None), precision="mixed_bfloat16")
    assert {layer.dtype_policy.name for layer in result.model.layers if layer.weights} == {"mixed_bfloat16", "float32"}
    assert result.test_probabilities.dtype == np.float32


def test_load_training_data_reads_the_committed_split_roles():
    from helpers.config import GENRES
    from helpers.splits import read_fold_table
    from tools.folds import gtzan_mini_tracks

    base = fake_features(n_genres=10, tracks_per_genre=10, segments=2, frames=4)
    ids = np.repeat(gtzan_mini_tracks()[0], 2)  # mini GTZAN's track ids, in genre order like the labels
    features = FakeFeatures(base.X, base.labels, ids, tuple(GENRES))
    features.flavour = "synthetic"
    data = load_training_data(features=features)
    summary = data.summary()
    assert list(summary.index) == ["fit", "tune", "select", "test"]
    assert summary["tracks"].tolist() == [45, 15, 15, 25]
    committed = read_fold_table("gtzan_mini_split").set_index("item")["role"]
    for role, rows in (("fit", data.fit_rows), ("tune", data.tune_rows), ("select", data.select_rows),
                       ("test", data.test_rows)):
        assert set(committed[sorted(set(ids[rows]))]) == {role}
    assert sorted(data.train_rows) == sorted(np.r_[data.fit_rows, data.tune_rows, data.select_rows])
    assert data.data == "synthetic GTZAN" and data.split == "track-grouped 25 % test"
    assert "committed" in data.source


def test_train_and_score_scores_selection_rows_and_refuses_them_in_training():
    features = fake_features(tracks_per_genre=6, segments=2)
    fit_rows, val_rows, _ = split_rows(features, ("5",))
    select_rows = np.flatnonzero(np.isin(features.track_ids, ["g0.00005", "g1.00005"]))
    test_rows = np.flatnonzero(features.track_ids == "g2.00005")
    result = train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                             select_rows=select_rows, config=TrainingConfig(epochs=1, patience=None))
    assert result.record["select_tracks"] == 2 and 0 <= result.select_track_accuracy <= 1
    assert result.select_probabilities.shape == (len(select_rows), 3)
    assert "select track vote" in training_table({"run": result}).columns
    with pytest.raises(DataError, match="selection track"):
        train_and_score(lambda: tiny_cnn(features.X.shape[1:], 3), features, fit_rows, val_rows, test_rows,
                        select_rows=fit_rows[:2], config=TrainingConfig(epochs=1, patience=None))
