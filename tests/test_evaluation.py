"""Tests of helpers.metrics and helpers.evaluation (chapter *Evaluation*): voting arithmetic, metrics,
fusion of probabilities and the cross-validation protocol."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError, ParameterError
from helpers.evaluation import (
    average_cv,
    cross_validate,
    fold_repeats,
    fold_scores,
    late_fusion,
    mean_std,
    most_confused_pairs,
    nested_cross_validate,
    per_genre_report,
    selection_split,
    tracks_per_genre,
)
from helpers.metrics import macro_f1, segment_accuracy, track_accuracy, track_vote
from helpers.splits import leaky_segment_split, track_folds
from helpers.training import train_and_score

GENRES = ("blues", "classical", "country")


# --- voting ------------------------------------------------------------------------------------


def test_track_vote_averages_probabilities_per_track():
    probs = [
        [0.7, 0.2, 0.1],  # a
        [0.5, 0.4, 0.1],  # a   -> mean (0.60, 0.30, 0.10) -> 0
        [0.1, 0.1, 0.8],  # b   -> 2
        [0.3, 0.6, 0.1],  # c
        [0.4, 0.5, 0.1],  # c
        [0.1, 0.1, 0.8],  # c   -> mean (0.267, 0.4, 0.333) -> 1
    ]
    true, pred, ids = track_vote(probs, ["a", "a", "b", "c", "c", "c"], [0, 0, 2, 1, 1, 1])
    assert list(ids) == ["a", "b", "c"]
    assert list(true) == [0, 2, 1]
    assert list(pred) == [0, 2, 1]


def test_track_vote_is_probability_average_not_majority_and_handles_unequal_counts():
    # Two segments lean weakly to class 0, one is sure of class 1: the average picks 1,
    # a majority vote of argmaxes would pick 0.  The single-segment track counts once.
    probs = [[0.55, 0.45], [0.55, 0.45], [0.0, 1.0], [0.9, 0.1]]
    true, pred, ids = track_vote(probs, ["x", "x", "x", "y"], [1, 1, 1, 0])
    assert list(ids) == ["x", "y"]
    assert list(pred) == [1, 0]
    assert track_accuracy(probs, ["x", "x", "x", "y"], [1, 1, 1, 0]) == 1.0
    assert segment_accuracy([1, 1, 1, 0], probs) == pytest.approx(2 / 4)


def test_track_vote_tie_goes_to_lower_class_index():
    _, pred, _ = track_vote([[0.6, 0.4, 0.0], [0.4, 0.6, 0.0]], ["t", "t"], [1, 1])
    assert list(pred) == [0]
    _, pred, _ = track_vote([[0.0, 0.3, 0.7], [0.0, 0.7, 0.3]], ["t", "t"], [1, 1])
    assert list(pred) == [1]


def test_track_vote_keeps_first_appearance_order_with_interleaved_tracks():
    probs = [[1, 0], [0, 1], [1, 0], [0, 1]]
    true, pred, ids = track_vote(probs, ["q", "p", "q", "p"], [0, 1, 0, 1])
    assert list(ids) == ["q", "p"]
    assert list(pred) == [0, 1]
    assert list(true) == [0, 1]


def test_track_vote_rejects_inconsistent_labels_and_lengths():
    with pytest.raises(DataError, match="different labels"):
        track_vote([[1, 0], [0, 1]], ["a", "a"], [0, 1])
    with pytest.raises(ParameterError, match="one track id and label per segment"):
        track_vote([[1, 0], [0, 1]], ["a"], [0, 1])
    with pytest.raises(ParameterError, match="shape"):
        track_vote([0.1, 0.9], ["a", "a"], [0, 1])
    with pytest.raises(DataError, match="NaN"):
        track_vote([[np.nan, 1.0]], ["a"], [0])


# --- metrics -----------------------------------------------------------------------------------


def test_segment_accuracy_accepts_classes_or_probabilities():
    assert segment_accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert segment_accuracy([0, 1], [[0.9, 0.1], [0.8, 0.2]]) == 0.5
    with pytest.raises(ParameterError):
        segment_accuracy([0, 1], [0])


def test_per_genre_report_and_macro_f1():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 1]
    report = per_genre_report(y_true, y_pred, GENRES)
    assert list(report.index) == list(GENRES)
    assert report.loc["blues", "precision"] == pytest.approx(1.0)
    assert report.loc["blues", "recall"] == pytest.approx(2 / 3)
    assert report.loc["classical", "precision"] == pytest.approx(2 / 4)
    assert report.loc["classical", "recall"] == pytest.approx(1.0)
    assert report.loc["country", "precision"] == 0.0  # never predicted: 0, not a warning
    assert list(report["support"]) == [3, 2, 1]
    f1_blues = 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    f1_classical = 2 * 0.5 * 1.0 / 1.5
    assert macro_f1(y_true, y_pred, 3) == pytest.approx((f1_blues + f1_classical + 0.0) / 3)


def test_most_confused_pairs_orders_by_count_and_reports_share():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2]
    y_pred = [1, 1, 2, 0, 0, 1, 1, 1, 2]
    pairs = most_confused_pairs(y_true, y_pred, GENRES, k=2)
    assert list(pairs.columns) == ["true", "predicted", "count", "share"]
    assert len(pairs) == 2
    # blues->classical (2 of 4) and country->classical (2 of 3) tie on count; genre order breaks it
    assert pairs.iloc[0][["true", "predicted", "count"]].tolist() == ["blues", "classical", 2]
    assert pairs.iloc[0]["share"] == pytest.approx(0.5)
    assert pairs.iloc[1][["true", "predicted", "count"]].tolist() == ["country", "classical", 2]
    assert pairs.iloc[1]["share"] == pytest.approx(2 / 3)
    assert len(most_confused_pairs(y_true, y_pred, GENRES, k=10)) == 4  # only non-zero mistakes
    assert most_confused_pairs([0, 1], [0, 1], GENRES).empty


def test_mean_std_formats_percent_with_sample_std():
    assert mean_std([0.7, 0.8, 0.9]) == "80.0 ± 10.0 %"
    assert mean_std([0.5]) == "50.0 ± 0.0 %"
    with pytest.raises(ParameterError):
        mean_std([])


# --- fusion of probabilities, scores per fold ---------------------------------------------------


def test_late_fusion():
    a = np.array([[0.8, 0.2], [0.4, 0.6]])
    b = np.array([[0.2, 0.8], [0.2, 0.8]])
    np.testing.assert_allclose(late_fusion(a, b), [[0.5, 0.5], [0.3, 0.7]])
    np.testing.assert_allclose(late_fusion(a, b, weights=[3, 1]), 0.75 * a + 0.25 * b)
    with pytest.raises(ParameterError, match="at least two"):
        late_fusion(a)
    with pytest.raises(ParameterError, match="shape"):
        late_fusion(a, b[:1])
    with pytest.raises(ParameterError, match="non-negative"):
        late_fusion(a, b, weights=[1, -1])


def test_fold_repeats_start_a_repetition_when_a_test_row_comes_back():
    folds = [(np.arange(3, 6), np.arange(0, 3)), (np.arange(0, 3), np.arange(3, 6))] * 2
    assert fold_repeats(folds, 6) == [0, 0, 1, 1]
    assert fold_repeats([(np.arange(2), np.arange(2, 4), np.arange(4, 6))], 6) == [0]


def test_fold_scores_match_a_manual_count():
    rng = np.random.default_rng(0)
    track_ids = np.repeat([f"t{i}" for i in range(6)], 2)
    labels = np.repeat([0, 1, 2, 0, 1, 2], 2)
    folds = [(np.arange(6, 12), np.arange(0, 6)), (np.arange(0, 6), np.arange(6, 12))] * 2  # two repeats
    probs = rng.dirichlet(np.ones(3), size=(2, 12))
    scores = fold_scores(probs, labels, track_ids, folds)
    assert list(scores["repeat"]) == [0, 0, 1, 1]
    for (_, test), (_, row) in zip(folds, scores.iterrows(), strict=True):
        p = probs[int(row["repeat"])][test]
        assert row["segment_accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels[test]))
        assert row["track_accuracy"] == pytest.approx(track_accuracy(p, track_ids[test], labels[test]))
    with pytest.raises(ParameterError, match="repetition"):
        fold_scores(probs[:1], labels, track_ids, folds)
    holes = probs.copy()
    holes[0, 0] = np.nan
    with pytest.raises(DataError, match="without out-of-fold"):
        fold_scores(holes, labels, track_ids, folds)


def _segment_table(n_tracks_per_genre=6, n_segments=5, genres=GENRES):
    rows = []
    for label, genre in enumerate(genres):
        for index in range(n_tracks_per_genre):
            for segment in range(n_segments):
                rows.append({"track_id": f"{genre}.{index:05d}", "genre": genre,
                             "label": label, "segment": segment})
    return pd.DataFrame(rows)


# --- cross-validation with a spy ---------------------------------------------------------------


class _LookupModel:
    """A fake trained model: predicts a fixed class for each row, identified by its X value."""

    input_shape = (None, 4)

    def __init__(self, answers):
        self.answers = answers

    def __call__(self, X, training=False):
        rows = np.rint(X[:, 0]).astype(int)
        out = np.full((len(X), 3), 0.1)
        out[np.arange(len(X)), self.answers[rows]] = 0.8
        return out


def _spy_feature_set(n_tracks_per_genre=6, n_segments=5):
    table = _segment_table(n_tracks_per_genre, n_segments)
    X = np.repeat(np.arange(len(table), dtype=np.float32)[:, None], 4, axis=1)  # X encodes the row
    fs = SimpleNamespace(X=X, labels=table["label"].to_numpy(), track_ids=table["track_id"].to_numpy(),
                         genres=GENRES)
    fs.table = lambda: table
    return fs, table


def test_cross_validate_one_row_per_fold_and_never_trains_on_the_test_fold():
    fs, table = _spy_feature_set()
    folds = track_folds(table, n_splits=3, n_repeats=2, seed=0)
    # answers: correct for every row except the last segment of every track -> segment acc 0.8,
    # track acc 1.0 (4 of 5 segments agree)
    answers = fs.labels.copy()
    last = table["segment"].to_numpy() == 4
    answers[last] = (answers[last] + 1) % 3
    calls = []

    def spy_fit(model, X_train, y_train, X_val, y_val, **kwargs):
        calls.append({"fit": set(np.rint(X_train[:, 0]).astype(int)),
                      "val": set(np.rint(X_val[:, 0]).astype(int)), **kwargs})
        return SimpleNamespace(model=_LookupModel(answers), epochs_run=7, best_epoch=3, seconds=0.5)

    built = []
    result = cross_validate(lambda: built.append(1) or _LookupModel(answers), fs, folds,
                            fit_fn=spy_fit, progress=False, epochs=5, patience=2)
    assert len(result.folds) == len(folds) == len(calls) == len(built) == 6
    assert list(result.folds["repeat"]) == [0, 0, 0, 1, 1, 1]
    tracks = fs.track_ids
    for call, (train, test) in zip(calls, folds, strict=True):
        assert call["fit"].isdisjoint(test) and call["val"].isdisjoint(test)
        assert call["fit"] | call["val"] == set(train)
        assert set(tracks[list(call["fit"])]).isdisjoint(tracks[list(call["val"])])
        assert call["epochs"] == 5 and call["patience"] == 2
    assert result.folds["segment_accuracy"].to_numpy() == pytest.approx(0.8)
    assert result.folds["track_accuracy"].to_numpy() == pytest.approx(1.0)
    assert set(result.folds["epochs_run"]) == {7}
    # out-of-fold predictions: every row exactly once per repetition
    assert result.probabilities.shape == (2, len(table), 3)
    assert not np.isnan(result.probabilities).any()
    true, pred = result.segment_predictions(0)
    assert np.mean(true == pred) == pytest.approx(0.8)
    true, pred = result.track_predictions()
    assert len(true) == 2 * 18 and np.all(true == pred)
    summary = result.summary("spy")
    assert summary["model"] == "spy" and summary["folds"] == 6
    assert summary["segment_accuracy"] == pytest.approx(0.8)
    assert summary["seconds"] == pytest.approx(3.0)


def test_cross_validate_standardizes_with_fit_rows_only_and_uses_given_validation():
    fs, table = _spy_feature_set()
    fs.X = fs.X + 100.0  # offset so that standardisation is visible
    answers = fs.labels.copy()
    seen = {}

    def spy_fit(model, X_train, y_train, X_val, y_val, **kwargs):
        seen["fit_mean"] = float(X_train.mean())
        seen["fit_std"] = float(X_train.std())
        seen["n_val"] = len(X_val)
        return SimpleNamespace(model=_LookupModel(answers))

    train = np.arange(0, 60)
    val = np.arange(60, 75)
    test = np.arange(75, 90)
    build = lambda: _LookupModel(answers)  # noqa: E731
    result = cross_validate(build, fs, [(train, val, test)], fit_fn=spy_fit, standardize=True, progress=False)
    assert seen["fit_mean"] == pytest.approx(0.0, abs=1e-5)
    assert seen["fit_std"] == pytest.approx(1.0, abs=1e-4)
    assert seen["n_val"] == 15
    assert len(result.folds) == 1
    assert np.isnan(result.probabilities[0][:75]).all() and not np.isnan(result.probabilities[0][75:]).any()


def test_cross_validate_refuses_a_fold_that_shares_a_track():
    fs, table = _spy_feature_set()
    bad = [(np.arange(0, 50), np.arange(48, 90))]  # rows 48, 49 are segments of a training track
    with pytest.raises(DataError, match="test track"):
        cross_validate(lambda: None, fs, bad, fit_fn=lambda *a, **k: None, progress=False)


def test_train_and_score_refuses_or_records_shared_tracks_and_allows_no_test_rows():
    """What chapter 8 relies on: the leaky split (a) only when asked, a final model without test rows."""
    fs, table = _spy_feature_set()
    answers = fs.labels.copy()

    def spy_fit(model, X_train, y_train, X_val, y_val, **kwargs):
        return SimpleNamespace(model=_LookupModel(answers), history={"loss": [1.0]})

    build = lambda: _LookupModel(answers)  # noqa: E731
    train, test = leaky_segment_split(len(table), 0.25, seed=0)
    fit, val = train[: len(train) * 3 // 4], train[len(train) * 3 // 4:]
    with pytest.raises(DataError, match="test track"):
        train_and_score(build, fs, fit, val, test, fit_fn=spy_fit)
    leaky = train_and_score(build, fs, fit, val, test, fit_fn=spy_fit, allow_shared_tracks=True)
    assert leaky.record["shared_tracks"] > 0
    assert leaky.record["segment_accuracy"] == 1.0 and leaky.history == {"loss": [1.0]}
    assert leaky.test_probabilities.shape == (len(test), 3)
    final = train_and_score(build, fs, np.arange(60), np.arange(60, 90), [], fit_fn=spy_fit)
    assert np.isnan(final.record["segment_accuracy"]) and final.record["test_tracks"] == 0
    assert final.record["val_track_accuracy"] == 1.0
    with pytest.raises(ParameterError, match="never allows"):
        cross_validate(build, fs, [(fit, test)], fit_fn=spy_fit, allow_shared_tracks=True)


def test_cross_validate_with_a_real_keras_model_is_reproducible():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    table = _segment_table(n_tracks_per_genre=4, n_segments=3)
    labels = table["label"].to_numpy()
    X = rng.normal(size=(len(table), 8, 5)).astype("float32") + labels[:, None, None]  # learnable
    fs = SimpleNamespace(X=X, labels=labels, track_ids=table["track_id"].to_numpy(), genres=GENRES)
    fs.table = lambda: table

    def build():
        return keras.Sequential([keras.Input((8, 5)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")])

    folds = track_folds(table, n_splits=2, seed=0)
    kwargs = {"epochs": 3, "batch_size": 8, "patience": 2, "standardize": True, "progress": False}
    first = cross_validate(build, fs, folds, **kwargs)
    second = cross_validate(build, fs, folds, **kwargs)
    assert len(first.folds) == 2
    np.testing.assert_allclose(first.probabilities, second.probabilities, rtol=1e-5)
    assert len(first.histories) == 2 and len(first.histories[0]["loss"]) <= 3


# --- late fusion of cross-validated models ------------------------------------------------------


def _spy_cv(fs, folds, answers, seconds=0.5):
    def fit(model, X_train, y_train, X_val, y_val, **kwargs):
        return SimpleNamespace(model=_LookupModel(answers), epochs_run=3, best_epoch=2, seconds=seconds)

    return cross_validate(lambda: _LookupModel(answers), fs, folds, fit_fn=fit, progress=False)


def test_average_cv_fuses_probabilities_fold_by_fold_on_validation_and_test():
    fs, table = _spy_feature_set()
    folds = track_folds(table, n_splits=3, n_repeats=2, seed=0)
    right = fs.labels.copy()
    wrong_a, wrong_b = (right + 1) % 3, (right + 2) % 3
    # model A is right on even rows, model B on odd rows; each says 0.8 for its pick, 0.1 elsewhere
    rows = np.arange(len(right))
    a = _spy_cv(fs, folds, np.where(rows % 2 == 0, right, wrong_a))
    b = _spy_cv(fs, folds, np.where(rows % 2 == 1, right, wrong_b), seconds=1.5)
    c = _spy_cv(fs, folds, right)
    assert [len(r.fold_rows) for r in (a, b, c)] == [6, 6, 6]
    fused = average_cv([a, b])  # equal weights: the arithmetic is checked below
    fused_c = average_cv([a, c], weights=[1, 3])  # c dominates: every segment right
    assert fused_c.folds["segment_accuracy"].to_numpy() == pytest.approx(1.0)
    assert fused_c.folds["val_segment_accuracy"].to_numpy() == pytest.approx(1.0)
    assert fused_c.folds["seconds"].to_numpy() == pytest.approx(1.0)
    for index, (val_rows, test_rows) in enumerate(fused.fold_rows):
        val_probs, test_probs = fused.fold_probabilities[index]
        expected = 0.5 * a.fold_probabilities[index][1] + 0.5 * b.fold_probabilities[index][1]
        np.testing.assert_allclose(test_probs, expected)
        assert val_probs.shape == (len(val_rows), 3)
        assert set(fs.track_ids[val_rows]).isdisjoint(fs.track_ids[test_rows])
    np.testing.assert_allclose(fused.probabilities, 0.5 * (a.probabilities + b.probabilities))
    assert fused.folds["seconds"].to_numpy() == pytest.approx(2.0)
    assert fused.folds["epochs_run"].isna().all()
    assert list(fused.folds["repeat"]) == list(a.folds["repeat"])


def test_average_cv_refuses_different_folds_and_bad_weights():
    fs, table = _spy_feature_set()
    answers = fs.labels.copy()
    a = _spy_cv(fs, track_folds(table, n_splits=3, n_repeats=1, seed=0), answers)
    b = _spy_cv(fs, track_folds(table, n_splits=3, n_repeats=1, seed=1), answers)
    with pytest.raises(ParameterError, match="same folds"):
        average_cv([a, b])
    with pytest.raises(ParameterError, match="at least two"):
        average_cv([a])
    with pytest.raises(ParameterError, match="non-negative"):
        average_cv([a, a], weights=[1, -1])


# --- nested selection --------------------------------------------------------------------------


def test_selection_split_gives_three_disjoint_track_sets():
    fs, table = _spy_feature_set(n_tracks_per_genre=10)
    rows = np.arange(len(table))
    fit, val, sel = selection_split(fs, rows, fraction=0.2, seed=1)
    sets = [set(fs.track_ids[r]) for r in (fit, val, sel)]
    assert [len(s) for s in sets] == [18, 6, 6]
    assert sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2])
    assert sorted(np.concatenate([fit, val, sel])) == list(rows)
    with pytest.raises(ParameterError):
        selection_split(fs, rows, fraction=0.5)


def test_nested_cross_validate_chooses_on_selection_tracks_per_fold():
    fs, table = _spy_feature_set(n_tracks_per_genre=10)
    folds = track_folds(table, n_splits=2, n_repeats=2, seed=0)
    good = fs.labels.copy()
    bad = (fs.labels + 1) % 3
    seen = []

    def spy_fit(model, X_train, y_train, X_val, y_val, **kwargs):
        seen.append((set(np.rint(X_train[:, 0]).astype(int)), set(np.rint(X_val[:, 0]).astype(int))))
        return SimpleNamespace(model=model, epochs_run=4, best_epoch=2, seconds=1.0)

    candidates = {"bad": (lambda: _LookupModel(bad), {}), "good": (lambda: _LookupModel(good), {})}
    result = nested_cross_validate(candidates, fs, folds, progress=False, fit_fn=spy_fit)
    assert len(result.scores) == 2 * len(folds)
    for (fit, val, sel, test), (train, outer_test) in zip(result.fold_rows, folds, strict=True):
        assert set(test) == set(outer_test) and set(fit) | set(val) | set(sel) == set(train)
    assert len(seen) == 2 * len(folds)  # every candidate fitted on every fold ...
    for (fit_seen, val_seen), rows in zip(seen, np.repeat(np.arange(len(folds)), 2), strict=True):
        fit, val, sel, test = result.fold_rows[rows]  # ... on its fit rows, stopping on its validation rows
        assert fit_seen == set(fit) and val_seen == set(val)
        assert fit_seen.isdisjoint(sel) and fit_seen.isdisjoint(test) and val_seen.isdisjoint(sel)
    good_rows = result.scores.query("model == 'good'")
    assert good_rows["selection_track_accuracy"].to_numpy() == pytest.approx(1.0)
    assert good_rows["track_vote_accuracy"].to_numpy() == pytest.approx(1.0)
    assert (result.scores["n_test_tracks"] == 15).all() and (result.scores["n_train_tracks"] == 15).all()
    result.average(["bad", "good"], "average")
    assert len(result.scores) == 3 * len(folds)
    choices = result.choices()
    assert list(choices["chosen"]) == ["good"] * len(folds)
    assert list(choices["repeat"]) == [0, 0, 1, 1]
    with pytest.raises(ParameterError):
        result.average(["good"], "alone")


def test_tracks_per_genre_keeps_n_whole_tracks_of_each_genre():
    fs, table = _spy_feature_set(n_tracks_per_genre=6)
    rows = tracks_per_genre(fs, np.arange(len(table)), 2, seed=3)
    picked = table.iloc[rows]
    assert picked.groupby("genre")["track_id"].nunique().tolist() == [2, 2, 2]
    assert (picked.groupby("track_id").size() == 5).all()
    assert len(tracks_per_genre(fs, np.arange(len(table)), 99)) == len(table)
