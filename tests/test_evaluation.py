"""Tests of helpers.metrics and helpers.evaluation (chapter *Evaluation*): voting arithmetic, metrics,
fusion of probabilities and the cross-validation protocol."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError, ParameterError
from helpers.evaluation import (
    candidate_rows,
    fit_tracks,
    format_mean_std,
    late_fusion,
    load_nested,
    most_confused_pairs,
    nested_cross_validate,
    per_genre_report,
    same_folds_table,
    save_nested,
)
from helpers.metrics import macro_f1, segment_accuracy, track_accuracy, track_vote
from helpers.models.classical import build_statistics_classifier, fit_linear_classifier
from helpers.models.probe import build_probe
from helpers.splits import FoldPlan, cv_fold_table, leaky_segment_split
from helpers.training import TrainingConfig, train_and_score

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
    assert format_mean_std([0.7, 0.8, 0.9]) == "80.0 ± 10.0 %"
    assert format_mean_std([0.5]) == "50.0 ± 0.0 %"
    with pytest.raises(ParameterError):
        format_mean_std([])


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


def _segment_table(n_tracks_per_genre=10, n_segments=5, genres=GENRES):
    rows = []
    for label, genre in enumerate(genres):
        for index in range(n_tracks_per_genre):
            for segment in range(n_segments):
                rows.append({"track_id": f"{genre}.{index:05d}", "genre": genre,
                             "label": label, "segment": segment})
    return pd.DataFrame(rows)


def _plan(table, n_splits=2, n_repeats=2, seed=0, name="toy"):
    tracks = table.drop_duplicates("track_id")
    frame = cv_fold_table(tracks["track_id"], tracks["genre"], n_splits, n_repeats, seed)
    return FoldPlan(frame, name, f"toy {n_splits}-fold × {n_repeats}", "generated for the test")


# --- the nested cross-validation engine, with a spy --------------------------------------------


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


def _spy_feature_set(n_tracks_per_genre=10, n_segments=5):
    table = _segment_table(n_tracks_per_genre, n_segments)
    X = np.repeat(np.arange(len(table), dtype=np.float32)[:, None], 4, axis=1)  # X encodes the row
    fs = SimpleNamespace(X=X, labels=table["label"].to_numpy(), track_ids=table["track_id"].to_numpy(),
                         genres=GENRES)
    fs.table = lambda: table
    return fs, table


def _spy_fit(seen, name, configs=None):
    configs = {} if configs is None else configs

    def fit(model, X_train, y_train, X_val, y_val, config, *, seed):
        seen.append((name, set(np.rint(X_train[:, 0]).astype(int)), set(np.rint(X_val[:, 0]).astype(int))))
        configs.setdefault(name, set()).add(config)
        return SimpleNamespace(model=model, epochs_run=4, best_epoch=2, seconds=1.0)
    return fit


def test_nested_cross_validate_gives_every_candidate_the_same_roles():
    fs, table = _spy_feature_set()
    plan = _plan(table)
    good, bad = fs.labels.copy(), (fs.labels + 1) % 3
    seen = []
    candidates = {"bad": (lambda: _LookupModel(bad), {"fit_fn": _spy_fit(seen, "bad")}),
                  "good": (lambda: _LookupModel(good), {"fit_fn": _spy_fit(seen, "good")})}
    result = nested_cross_validate(candidates, fs, plan, progress=False)
    assert len(result.scores) == 2 * len(plan.folds) == len(seen)
    tracks = fs.track_ids.astype(str)
    for index in range(len(plan.folds)):
        roles = plan.roles(index)
        for name, fit_seen, tune_seen in seen[2 * index: 2 * index + 2]:
            assert set(tracks[list(fit_seen)]) == set(roles[roles == "fit"].index), name
            assert set(tracks[list(tune_seen)]) == set(roles[roles == "tune"].index), name
    counts = result.scores[["n_fit_tracks", "n_tune_tracks", "n_select_tracks", "n_test_tracks"]]
    assert (counts.nunique() == 1).all()  # every candidate, every fold: the same numbers of tracks
    assert counts.iloc[0].tolist() == [9, 3, 3, 15] and (result.scores["n_train_tracks"] == 15).all()
    assert result.of("good")["track_vote_accuracy"].to_numpy() == pytest.approx(1.0)
    assert result.of("bad")["select_track_accuracy"].to_numpy() == pytest.approx(0.0)
    assert set(result.scores["inner_choice"]) == {"epoch 2"}
    result.average(["bad", "good"], "average")
    assert len(result.scores) == 3 * len(plan.folds)
    assert list(result.choices()["chosen"]) == ["good"] * len(plan.folds)
    assert list(result.choices(["bad", "average"])["chosen"]) == ["average"] * len(plan.folds)
    correct = result.correct("good", repeat=1)
    assert len(correct) == 30 and correct.all() and correct.index.is_unique  # each track once
    true, pred = result.track_predictions("bad")
    assert len(true) == 60 and not np.any(true == pred)
    with pytest.raises(ParameterError):
        result.average(["good"], "alone")


def test_candidate_rows_fit_only_rows_and_fewer_fit_tracks():
    fs, table = _spy_feature_set()
    plan = _plan(table)
    extra = SimpleNamespace(X=np.vstack([fs.X, fs.X]), labels=np.r_[fs.labels, fs.labels],
                            track_ids=np.r_[fs.track_ids, fs.track_ids])
    flag = np.r_[np.zeros(len(fs.X), bool), np.ones(len(fs.X), bool)]  # the second copy: augmented rows
    rows = candidate_rows(plan, extra, 0, fit_only_rows=flag)
    plain = candidate_rows(plan, fs, 0)
    assert len(rows["fit"]) == 2 * len(plain["fit"])
    for role in ("tune", "select", "test"):
        assert np.array_equal(rows[role], plain[role])  # augmented copies never tune, select or test
    fewer = candidate_rows(plan, fs, 0, fit_tracks_per_genre=2, seed=5)
    picked = table.iloc[fewer["fit"]]
    assert picked.groupby("genre")["track_id"].nunique().tolist() == [2, 2, 2]
    assert set(picked["track_id"]) <= set(table.iloc[plain["fit"]]["track_id"])
    assert fit_tracks(["a", "b", "c"], [0, 0, 1], 5, seed=1) == {"a", "b", "c"}
    with pytest.raises(ParameterError):
        candidate_rows(plan, extra, 0, fit_only_rows=flag[:10])


def test_linear_candidates_choose_on_tune_tracks_and_share_the_folds_with_a_probe():
    rng = np.random.default_rng(0)
    table = _segment_table(n_tracks_per_genre=12, n_segments=3)
    labels = table["label"].to_numpy()
    fs = SimpleNamespace(X=(rng.normal(size=(len(table), 6, 4)) + labels[:, None, None]).astype("float32"),
                         labels=labels, track_ids=table["track_id"].to_numpy())
    tracks = table.drop_duplicates("track_id")
    signal = rng.normal(size=(len(tracks), 3)) + 6 * tracks["label"].to_numpy()[:, None]
    noise = rng.normal(size=(len(tracks), 3))
    embeddings = SimpleNamespace(X=np.hstack([noise, signal]), labels=tracks["label"].to_numpy(),
                                 track_ids=tracks["track_id"].to_numpy())  # 'mean' = the noisy half
    candidates = {"statistics": (build_statistics_classifier, {"fit_fn": fit_linear_classifier}),
                  "probe": (lambda: build_probe(3), {"fit_fn": fit_linear_classifier, "features": embeddings})}
    result = nested_cross_validate(candidates, fs, _plan(table), progress=False)
    counts = result.scores.groupby(["repeat", "fold"])[["n_fit_tracks", "n_tune_tracks", "n_test_tracks"]].nunique()
    assert (counts == 1).all().all()
    probe = result.of("probe")
    assert probe["inner_choice"].str.startswith("pooling = mean + max").all()  # the informative columns
    assert probe["track_vote_accuracy"].mean() > 0.9
    assert result.of("statistics")["inner_choice"].str.startswith("C = ").all()


def test_fit_linear_classifier_needs_tune_rows():
    with pytest.raises(ParameterError, match="tune rows"):
        fit_linear_classifier(build_probe(3), np.zeros((3, 2)), [0, 1, 2], np.zeros((0, 2)), [])


def test_save_and_load_nested_round_trip_and_subset(tmp_path):
    fs, table = _spy_feature_set()
    plan = _plan(table)
    seen = []
    candidates = {"good": (lambda: _LookupModel(fs.labels.copy()), {"fit_fn": _spy_fit(seen, "good")})}
    result = nested_cross_validate(candidates, fs, plan, progress=False)
    scores_path, probs_path = save_nested(result, "99", "toy data", with_choice=True, folder=tmp_path)
    assert "nested choice" in set(pd.read_csv(scores_path)["model"])
    loaded, note = load_nested("99", plan, "toy data", folder=tmp_path)
    assert loaded is not None and loaded.names == ["good"] and "99_fold_scores" in note
    pd.testing.assert_series_equal(loaded.correct("good", 0), result.correct("good", 0))
    np.testing.assert_allclose(loaded.of("good")["track_vote_accuracy"], result.of("good")["track_vote_accuracy"])
    first, _ = load_nested("99", plan.subset([0]), "toy data", folder=tmp_path)
    assert len(first.scores) == 2 and first.plan.folds == [(0, 0), (0, 1)]
    other = _plan(table, seed=7)
    assert load_nested("99", other, "toy data", folder=tmp_path)[0] is None  # other test tracks
    assert load_nested("99", plan, "other data", folder=tmp_path)[0] is None
    missing, why = load_nested("98", plan, "toy data", folder=tmp_path)
    assert missing is None and "absent" in why


def test_same_folds_table_pairs_each_model_with_the_reference():
    rows = []
    for repeat in range(2):
        for fold in range(2):
            for model, acc in (("ref", 0.5), ("better", 0.7 + 0.01 * fold)):
                rows.append({"chapter": "08", "model": model, "data": "toy", "split": "toy 2-fold × 2",
                             "folds": "toy", "repeat": repeat, "fold": fold, "n_fit_tracks": 9,
                             "n_train_tracks": 15, "n_test_tracks": 15, "track_vote_accuracy": acc})
    rows.append({**rows[1], "chapter": "09", "model": "later", "repeat": 0, "fold": 0, "changed": "more"})
    rows.append({**rows[3], "chapter": "09", "model": "later", "repeat": 0, "fold": 1, "changed": "more"})
    table = same_folds_table(pd.DataFrame(rows), "ref").set_index("model")
    assert table.loc["better", "folds"] == 4 and table.loc["later", "folds"] == 2
    assert table.loc["better", "− ref (points)"] == "+20.5" and table.loc["ref", "p"] == ""
    assert table.loc["later", "changed"] == "more" and table.loc["better", "fit tracks per fold"] == "9"
    with pytest.raises(ParameterError):
        same_folds_table(pd.DataFrame(rows), "absent")


def test_train_and_score_refuses_or_records_shared_tracks_and_allows_no_test_rows():
    """What chapter 8 relies on: the leaky split (a) only when asked, a final model without test rows."""
    fs, table = _spy_feature_set(n_tracks_per_genre=6)
    answers = fs.labels.copy()

    def spy_fit(model, X_train, y_train, X_val, y_val, config, *, seed):
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


def test_nested_cross_validate_with_a_real_keras_model_is_reproducible():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    table = _segment_table(n_tracks_per_genre=5, n_segments=3)
    labels = table["label"].to_numpy()
    X = rng.normal(size=(len(table), 8, 5)).astype("float32") + labels[:, None, None]  # learnable
    fs = SimpleNamespace(X=X, labels=labels, track_ids=table["track_id"].to_numpy(), genres=GENRES)

    def build():
        return keras.Sequential([keras.Input((8, 5)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")])

    plan = _plan(table, n_splits=2, n_repeats=1)
    config = TrainingConfig(epochs=3, batch_size=8, patience=2)
    first = nested_cross_validate({"net": (build, {"standardize": True})}, fs, plan, config=config, progress=False)
    second = nested_cross_validate({"net": (build, {"standardize": True})}, fs, plan, config=config, progress=False)
    assert len(first.scores) == 2
    for a, b in zip(first.predictions["net"], second.predictions["net"], strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-5)


def test_nested_cross_validate_passes_one_frozen_training_config():
    """Every candidate gets the run's ``TrainingConfig`` unless it names its own; a misspelt setting
    is an error, not silently dropped (issue 27: no keyword tunnels)."""
    fs, table = _spy_feature_set()
    plan = _plan(table)
    seen, configs = [], {}
    short = TrainingConfig(epochs=3, patience=None)
    candidates = {"default": (lambda: _LookupModel(fs.labels.copy()), {"fit_fn": _spy_fit(seen, "default", configs)}),
                  "own": (lambda: _LookupModel(fs.labels.copy()),
                          {"fit_fn": _spy_fit(seen, "own", configs), "config": short})}
    nested_cross_validate(candidates, fs, plan, config=TrainingConfig(batch_size=8), progress=False)
    assert configs == {"default": {TrainingConfig(batch_size=8)}, "own": {short}}
    with pytest.raises(TypeError, match="epoch"):
        nested_cross_validate(candidates, fs, plan, epoch=5, progress=False)
    with pytest.raises(FrozenInstanceError):
        short.epochs = 60
    for bad in ({"epochs": 0}, {"batch_size": 2.5}, {"learning_rate": 0.0}, {"patience": -1}):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            TrainingConfig(**bad)
