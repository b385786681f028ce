"""Honest evaluation: per-genre scores, confusions, fusion of probabilities and the one nested cross-validation.

Explained in chapter *Evaluation: which numbers hold up* (``chapters/08_evaluation.ipynb``), which
shows :func:`late_fusion` and :func:`nested_cross_validate`; the scores they use (track voting,
segment and track accuracy, macro F1) are in :mod:`helpers.metrics`, the folds and roles in
:mod:`helpers.splits` (:func:`helpers.splits.gtzan_fold_plan`).

The report scored its networks on *segments* drawn at random from all tracks, so segments of one
track sat on both sides of the split (the leak). :func:`nested_cross_validate` is the book's one
engine for comparing models instead (chapters 8, 9 and 10): in every outer fold of a fold plan,
every candidate — a network, the MFCC-statistics model, a fusion, the musicnn probe — fits on the
same *fit* tracks, makes its one inner decision (a network's early-stopping epoch, a linear model's
``C``) on the same *tune* tracks, is scored on the same *selection* tracks (which choose between
candidates) and, once, on the test tracks. Every run goes through
:func:`helpers.training.train_and_score`. :class:`NestedResult` keeps the per-fold scores and the
per-track probabilities; :func:`save_nested` / :func:`load_nested` store them so that later
chapters read a model's scores instead of training a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED
from helpers.errors import DataError, ParameterError
from helpers.results import results_dir, save_results
from helpers.splits import FoldPlan, stable_key
from helpers.stats import corrected_resampled_ttest
from helpers.training import SplitResult, TrainingConfig, train_and_score

# ---------------------------------------------------------------------------------------------
# Scores per genre
# ---------------------------------------------------------------------------------------------


def per_genre_report(y_true, y_pred, genres: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of every genre (scikit-learn), as a table.

    Explained in chapter *Evaluation*. A genre never predicted gets precision 0 (not a warning).

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices (positions in ``genres``).
    genres : sequence of str
        Class names in index order.

    Returns
    -------
    pandas.DataFrame
        Indexed by genre, columns ``precision``, ``recall``, ``f1``, ``support``; sorted like ``genres``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(len(genres)), zero_division=0
    )
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(list(genres), name="genre"),
    )


def most_confused_pairs(y_true, y_pred, genres: Sequence[str], k: int = 5) -> pd.DataFrame:
    """The ``k`` most frequent mistakes, as (true genre → predicted genre) pairs.

    Explained in chapter *Evaluation*.

    Parameters
    ----------
    y_true, y_pred : array-like of int
        True and predicted class indices.
    genres : sequence of str
        Class names in index order.
    k : int
        How many pairs to return (fewer if there are fewer distinct mistakes).

    Returns
    -------
    pandas.DataFrame
        Columns ``true``, ``predicted``, ``count`` and ``share`` (the fraction of the true genre's
        items that went to ``predicted``), most frequent first; ties are broken by genre order.
    """
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(genres)))
    np.fill_diagonal(matrix, 0)
    totals = np.bincount(np.asarray(y_true, dtype=np.int64), minlength=len(genres))
    rows = [
        {"true": genres[i], "predicted": genres[j], "count": int(matrix[i, j]),
         "share": float(matrix[i, j] / totals[i])}
        for i, j in zip(*np.nonzero(matrix), strict=True)
    ]
    frame = pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])
    frame = frame.sort_values("count", ascending=False, kind="stable").head(k)
    return frame.reset_index(drop=True)


def format_mean_std(values) -> str:
    """Format values as ``'mean ± std'`` in percent (sample standard deviation, ddof=1).

    Explained in chapter *Evaluation*.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ParameterError("format_mean_std needs at least one value")
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{100 * values.mean():.1f} ± {100 * std:.1f} %"


# ---------------------------------------------------------------------------------------------
# Fusion of probabilities, scores per fold
# ---------------------------------------------------------------------------------------------


def late_fusion(*probabilities, weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted mean of several models' class probabilities for the same rows.

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), where it averages models;
    chapter *Beyond* fuses an MFCC and a descriptor model with it.

    Parameters
    ----------
    *probabilities : arrays of shape (..., n_classes)
        E.g. ``(n, n_classes)``: segments or tracks, in the same order for every model.
    weights : sequence of float, optional
        One per model (normalised to sum 1); default: equal weights.

    Returns
    -------
    numpy.ndarray, same shape as each input

    Raises
    ------
    ParameterError
        With fewer than two arrays, arrays of different shapes, or negative (or all-zero) weights.
    """
    if len(probabilities) < 2:
        raise ParameterError("late_fusion needs the probabilities of at least two models")
    arrays = [np.asarray(p, dtype=np.float64) for p in probabilities]
    if any(a.shape != arrays[0].shape or a.ndim < 2 for a in arrays):
        raise ParameterError(f"late_fusion: probability arrays differ in shape: {[a.shape for a in arrays]}")
    w = np.ones(len(arrays)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(arrays),) or np.any(w < 0) or w.sum() == 0:
        raise ParameterError(f"weights must be {len(arrays)} non-negative numbers, not all zero")
    w = w / w.sum()
    return sum(wi * a for wi, a in zip(w, arrays, strict=True))


def progress_bar(items: Sequence, show: bool, description: str):
    """``items`` with a tqdm progress bar (that disappears when done) if ``show``.

    Plumbing of chapter *Evaluation*'s long loops (not shown).
    """
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, leave=False)


# ---------------------------------------------------------------------------------------------
# The one nested cross-validation: every candidate on the same roles in every outer fold
# ---------------------------------------------------------------------------------------------

#: Options of a candidate that :func:`nested_cross_validate` reads itself (the others go to
#: :func:`helpers.training.train_and_score`).
ENGINE_OPTIONS = ("features", "fit_only_rows", "fit_tracks_per_genre", "changed")


def _track_means(probabilities, track_ids, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per track (first appearance order): its id, its label and the mean of its rows' probabilities."""
    frame = pd.DataFrame(np.asarray(probabilities, dtype=np.float64))
    frame["track"], frame["label"] = np.asarray(track_ids).astype(str), np.asarray(labels)
    grouped = frame.groupby("track", sort=False)
    if grouped["label"].nunique().gt(1).any():
        raise DataError("a track has rows with different labels")
    means = grouped.mean()
    return means.index.to_numpy(), means["label"].to_numpy(dtype=np.int64), means.drop(columns="label").to_numpy()


@dataclass
class FoldPredictions:
    """One candidate's per-track probabilities in one outer fold: its selection and test tracks.

    A track's probabilities are the mean over its rows (segments), so that the arg-max is the track
    vote of chapter *Evaluation* and candidates built on different rows (segments, one embedding per
    track) can be averaged track by track (:meth:`NestedResult.average`).
    """

    track_ids: np.ndarray
    labels: np.ndarray
    roles: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def from_run(cls, run: SplitResult, features) -> FoldPredictions:
        """From :func:`helpers.training.train_and_score`'s result on ``features``."""
        ids, labels = np.asarray(features.track_ids), np.asarray(features.labels)
        parts = [(_track_means(run.select_probabilities, ids[run.select_rows], labels[run.select_rows]), "select"),
                 (_track_means(run.test_probabilities, ids[run.test_rows], labels[run.test_rows]), "test")]
        return cls(np.concatenate([p[0] for p, _ in parts]), np.concatenate([p[1] for p, _ in parts]),
                   np.concatenate([np.full(len(p[0]), role) for p, role in parts]),
                   np.concatenate([p[2] for p, _ in parts]))

    def part(self, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(track_ids, labels, probabilities)`` of the ``'select'`` or ``'test'`` tracks."""
        keep = self.roles == role
        return self.track_ids[keep], self.labels[keep], self.probabilities[keep]

    def accuracy(self, role: str) -> float:
        """Track-vote accuracy on the ``role`` tracks (NaN without any)."""
        _, labels, probs = self.part(role)
        return float(np.mean(probs.argmax(axis=1) == labels)) if len(labels) else float("nan")


@dataclass
class NestedResult:
    """What :func:`nested_cross_validate` returns (explained in chapter *Evaluation*).

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per candidate and outer fold: ``model``, ``repeat``, ``fold``, track counts per role
        (``n_fit_tracks``, ``n_tune_tracks``, ``n_select_tracks``, ``n_test_tracks``; ``n_train_tracks``
        = the outer fold's fit + tune + select tracks), ``n_fit_rows``, ``select_track_accuracy``
        (the number to choose by), ``track_vote_accuracy`` and ``segment_accuracy`` (test), the
        candidate's ``inner_choice`` (its epoch, or its ``C``), ``seconds`` and ``changed`` (what a
        candidate deliberately changes, e.g. augmented fit rows).
    predictions : dict
        Candidate name → list over outer folds of :class:`FoldPredictions`.
    plan : FoldPlan
        The folds and roles.
    """

    scores: pd.DataFrame
    predictions: dict
    plan: FoldPlan

    @property
    def names(self) -> list[str]:
        """The candidates, in the order they were given (which breaks ties)."""
        return list(self.predictions)

    def of(self, name: str) -> pd.DataFrame:
        """The per-fold scores of one candidate, in fold order."""
        if name not in self.predictions:
            raise ParameterError(f"unknown candidate {name!r}; known: {self.names}")
        return self.scores[self.scores["model"] == name].sort_values(["repeat", "fold"]).reset_index(drop=True)

    def average(self, members: Sequence[str], name: str, changed: str = "") -> None:
        """Add the unweighted average (:func:`late_fusion`) of some candidates' track probabilities.

        Nothing is fitted, so the average needs no tracks of its own. Segment accuracy is NaN (the
        average is formed per track).
        """
        missing = [m for m in members if m not in self.predictions]
        if len(members) < 2 or missing:
            raise ParameterError(f"average needs at least two known candidates; unknown: {missing}")
        fused, rows = [], []
        first = self.of(members[0])
        for index in range(len(self.plan.folds)):
            parts = [self.predictions[m][index] for m in members]
            order = [pd.Index(p.track_ids).get_indexer(parts[0].track_ids) for p in parts]
            if any((o < 0).any() for o in order):
                raise ParameterError(f"average: {members} did not predict the same tracks in fold {index}")
            probs = late_fusion(*(p.probabilities[o] for p, o in zip(parts, order, strict=True)))
            prediction = FoldPredictions(parts[0].track_ids, parts[0].labels, parts[0].roles, probs)
            fused.append(prediction)
            counts = first.iloc[index][[c for c in first.columns if c.startswith("n_")]].to_dict()
            seconds = sum(float(self.of(m)["seconds"].iloc[index]) for m in members)
            rows.append({"model": name, "repeat": first["repeat"].iloc[index], "fold": first["fold"].iloc[index],
                         **counts, "select_track_accuracy": prediction.accuracy("select"),
                         "track_vote_accuracy": prediction.accuracy("test"), "segment_accuracy": float("nan"),
                         "inner_choice": "", "seconds": seconds,
                         "changed": changed or "average of " + " and ".join(members)})
        self.predictions[name] = fused
        self.scores = pd.concat([self.scores, pd.DataFrame(rows)], ignore_index=True)

    def choices(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Per outer fold, the candidate with the best selection-track score and its test score.

        A tie goes to the candidate listed first. ``names`` limits the choice to some candidates.
        """
        names = list(names or self.names)
        order = {name: i for i, name in enumerate(names)}
        pool = self.scores[self.scores["model"].isin(names)]
        ranked = pool.assign(order=pool["model"].map(order)).sort_values(
            ["repeat", "fold", "select_track_accuracy", "order"], ascending=[True, True, False, True])
        chosen = ranked.drop_duplicates(["repeat", "fold"]).drop(columns="order").reset_index(drop=True)
        return chosen.rename(columns={"model": "chosen"})

    def correct(self, name: str, repeat: int = 0) -> pd.Series:
        """Out-of-fold correctness of every test track in one repetition (each track once), by track id."""
        parts = []
        for (r, _), prediction in zip(self.plan.folds, self.predictions[name], strict=True):
            if r == repeat:
                ids, labels, probs = prediction.part("test")
                parts.append(pd.Series(probs.argmax(axis=1) == labels, index=ids))
        if not parts:
            raise ParameterError(f"no outer fold of repetition {repeat}")
        return pd.concat(parts).sort_index()

    def track_predictions(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold (true, predicted) track classes, all outer folds pooled (a track once per repetition)."""
        parts = [p.part("test") for p in self.predictions[name]]
        return (np.concatenate([labels for _, labels, _ in parts]),
                np.concatenate([probs.argmax(axis=1) for _, _, probs in parts]))

    def fold_table(self, data: str, with_choice: bool = False) -> pd.DataFrame:
        """The per-fold scores as a results table (``data``, ``split``, ``folds`` columns added).

        With ``with_choice`` a ``nested choice`` row per fold gives each fold's own choice.
        """
        frame = self.scores.copy()
        if with_choice:
            choice = self.choices().rename(columns={"chosen": "chosen_model"}).assign(model="nested choice")
            frame = pd.concat([frame, choice], ignore_index=True)
        frame = frame.assign(data=data, split=self.plan.protocol, folds=self.plan.name)
        first = ["model", "data", "split", "folds", "repeat", "fold"]
        return frame[first + [c for c in frame.columns if c not in first]]

    def probability_table(self, data: str, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Per candidate, fold and selection / test track: the label and the mean class probabilities."""
        frames = []
        for name in names or self.names:
            for (repeat, fold), prediction in zip(self.plan.folds, self.predictions[name], strict=True):
                frame = pd.DataFrame(prediction.probabilities.round(5),
                                     columns=[f"p_{k}" for k in range(prediction.probabilities.shape[1])])
                frame.insert(0, "label", prediction.labels)
                frame.insert(0, "track_id", prediction.track_ids)
                frame.insert(0, "role", prediction.roles)
                frames.append(frame.assign(model=name, data=data, folds=self.plan.name, repeat=repeat, fold=fold))
        table = pd.concat(frames, ignore_index=True)
        first = ["model", "data", "folds", "repeat", "fold"]
        return table[first + [c for c in table.columns if c not in first]]

    def merge(self, other: NestedResult) -> NestedResult:
        """The union of this result and another one on the same folds (e.g. stored scores of an earlier chapter)."""
        if self.plan.folds != other.plan.folds:
            raise ParameterError("merge: the two results were not computed on the same outer folds")
        clash = set(self.names) & set(other.names)
        if clash:
            raise ParameterError(f"merge: candidate(s) {sorted(clash)} in both results")
        return NestedResult(pd.concat([self.scores, other.scores], ignore_index=True),
                            {**self.predictions, **other.predictions}, self.plan)


def fit_tracks(track_ids, labels, n_per_genre: int, seed: int) -> set:
    """``n_per_genre`` tracks of each genre, version-free (by :func:`helpers.splits.stable_key`).

    Explained in chapter *Evaluation* (the learning curve). A genre with fewer keeps all of them.
    """
    if n_per_genre < 1:
        raise ParameterError(f"n_per_genre must be at least 1, got {n_per_genre}")
    tracks = pd.DataFrame({"track": np.asarray(track_ids).astype(str), "label": labels}).drop_duplicates("track")
    keep = set()
    for _, group in tracks.groupby("label", sort=True):
        ordered = sorted(group["track"], key=lambda t: (stable_key(seed, t), t))
        keep.update(ordered[:n_per_genre])
    return keep


def candidate_rows(plan: FoldPlan, features, index: int, *, fit_only_rows=None, fit_tracks_per_genre=None,
                   seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """The rows of one candidate's features in outer fold ``index``: role → row positions.

    Explained in chapter *Evaluation*. The roles come from the plan by track. ``fit_only_rows`` (a
    boolean mask, e.g. augmented copies) marks rows that may only ever be fitted on: they join the
    fit rows when their track is a fit track and no other role. ``fit_tracks_per_genre`` keeps that
    many fit tracks per genre (:func:`fit_tracks`, seed ``seed``).
    """
    track_ids = np.asarray(features.track_ids).astype(str)
    rows = plan.rows(track_ids, index)
    if fit_only_rows is not None:
        extra = np.asarray(fit_only_rows, dtype=bool)
        if extra.shape != track_ids.shape:
            raise ParameterError(f"fit_only_rows must be one flag per row ({len(track_ids)}), got {extra.shape}")
        rows = {role: r[~extra[r]] if role != "fit" else r for role, r in rows.items()}
    if fit_tracks_per_genre is not None:
        fit = rows["fit"]
        keep = fit_tracks(track_ids[fit], np.asarray(features.labels)[fit], fit_tracks_per_genre, seed)
        rows["fit"] = fit[np.isin(track_ids[fit], list(keep))]
    return rows


class NestedRecorder:
    """What :func:`nested_cross_validate` keeps of every candidate on every outer fold.

    Explained in chapter *Evaluation* (the tables it returns; plumbing, not shown).
    """

    def __init__(self, plan: FoldPlan):
        if not plan.folds:
            raise ParameterError("nested cross-validation needs at least one outer fold")
        self.plan, self.rows, self.predictions = plan, [], {}

    def add(self, name: str, index: int, run: SplitResult, features, changed: str = "", **extra) -> None:
        """Record candidate ``name`` on outer fold ``index``: :func:`train_and_score`'s result."""
        prediction = FoldPredictions.from_run(run, features)
        self.predictions.setdefault(name, []).append(prediction)
        ids = np.asarray(features.track_ids).astype(str)
        n = {role: len(set(ids[rows])) for role, rows in
             (("fit", run.fit_rows), ("tune", run.val_rows), ("select", run.select_rows), ("test", run.test_rows))}
        best = run.record.get("best_epoch")
        choice = getattr(run.train, "choice", "") or (f"epoch {best}" if isinstance(best, int | np.integer) else "")
        repeat, fold = self.plan.folds[index]
        self.rows.append({
            "model": name, "repeat": repeat, "fold": fold, "n_train_tracks": n["fit"] + n["tune"] + n["select"],
            **{f"n_{role}_tracks": count for role, count in n.items()}, "n_fit_rows": len(run.fit_rows),
            "select_track_accuracy": prediction.accuracy("select"), "track_vote_accuracy": prediction.accuracy("test"),
            "segment_accuracy": run.record["segment_accuracy"], "inner_choice": choice,
            "seconds": run.record["seconds"], "changed": changed, **extra})

    def finish(self) -> NestedResult:
        """The :class:`NestedResult` of everything recorded."""
        return NestedResult(pd.DataFrame(self.rows), self.predictions, self.plan)


def nested_cross_validate(candidates: dict, feature_set, plan: FoldPlan, *, config: TrainingConfig | None = None,
                          seed: int = DEFAULT_SEED, progress: bool = True,
                          inspect: Callable | None = None) -> NestedResult:
    """Every candidate on every outer fold of a plan, each on the same fit, tune, select and test tracks.

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``); chapters *Beyond* and *Transfer
    learning* use it too. In outer fold ``i`` every candidate is trained by
    :func:`helpers.training.train_and_score` (seed ``seed + i``) on the rows of the fold's fit tracks,
    makes its one inner decision on the tune tracks (early stopping, or ``C`` by its ``fit_fn``), and
    predicts the selection and test tracks once. :meth:`NestedResult.choices` then picks, per fold,
    the candidate with the best selection-track accuracy: that choice's test score is the fold's
    nested score.

    Parameters
    ----------
    candidates : dict
        Name → ``(build_fn, options)``. ``options`` go to ``train_and_score`` (e.g. ``fit_fn``, or a
        ``config`` of the candidate's own), except
        :data:`ENGINE_OPTIONS`: ``features`` (the candidate's own feature set, e.g. embeddings, with the
        same tracks), ``fit_only_rows``, ``fit_tracks_per_genre`` (:func:`candidate_rows`) and
        ``changed`` (what the candidate deliberately changes, recorded). Their order breaks ties.
    feature_set : FeatureSet
        The features of candidates without their own.
    plan : FoldPlan
        The outer folds and roles (:func:`helpers.splits.gtzan_fold_plan`).
    config : TrainingConfig, optional
        How every candidate without a ``config`` of its own is trained; None: the report's recipe.
    seed : int
    progress : bool
        A progress bar over outer folds.
    inspect : callable, optional
        ``inspect(name, run, features)`` → dict of extra numbers recorded for that candidate and fold
        (e.g. the test accuracy with the frames shuffled).

    Returns
    -------
    NestedResult
    """
    recorder = NestedRecorder(plan)
    for index in progress_bar(range(len(plan.folds)), progress, "outer folds"):
        for name, (build, options) in candidates.items():
            own = {key: options[key] for key in ENGINE_OPTIONS if key in options}
            features = own.get("features", feature_set)
            rows = candidate_rows(plan, features, index, fit_only_rows=own.get("fit_only_rows"),
                                  fit_tracks_per_genre=own.get("fit_tracks_per_genre"), seed=seed + index)
            settings = {key: value for key, value in options.items() if key not in ENGINE_OPTIONS}
            run = train_and_score(build, features, rows["fit"], rows["tune"], rows["test"],
                                  select_rows=rows["select"], seed=seed + index, **{"config": config, **settings})
            extra = inspect(name, run, features) if inspect is not None else {}
            recorder.add(name, index, run, features, own.get("changed", ""), **extra)
    return recorder.finish()


# ---------------------------------------------------------------------------------------------
# One model, one number: stored per-fold scores that later chapters read
# ---------------------------------------------------------------------------------------------


def save_nested(result: NestedResult, stem: str, data: str, *, with_choice: bool = False, folder=None,
                names: Sequence[str] | None = None, probabilities: bool = True) -> list[Path]:
    """Write ``<stem>_fold_scores.csv`` (and ``<stem>_track_probabilities.csv``) to the results folder.

    Explained in chapter *Evaluation*: later chapters read a model's per-fold scores and per-track
    probabilities (:func:`load_nested`) instead of training a second copy under another name.
    ``names`` limits the probabilities written (e.g. to the trained candidates) and, when given
    without ``with_choice``, the scores too (e.g. a chapter's own models, not those it read).
    ``probabilities=False`` writes the scores only (models no later chapter pairs with per track).
    """
    folder = Path(folder) if folder is not None else results_dir(create=True)
    table = result.fold_table(data, with_choice=with_choice)
    if names is not None and not with_choice:
        table = table[table["model"].isin(list(names))]
    written = [save_results(table, f"{stem}_fold_scores", folder)]
    if probabilities:
        written.append(save_results(result.probability_table(data, names), f"{stem}_track_probabilities", folder))
    return written


def load_nested(stem: str, plan: FoldPlan, data: str, names: Sequence[str] | None = None,
                folder=None) -> tuple[NestedResult | None, str]:
    """The stored result of ``stem`` on exactly the folds of ``plan``, or None and the reason.

    Explained in chapter *Evaluation*. The stored folds must be the plan's (same table, same data,
    the same test tracks in every outer fold); a plan with fewer repetitions (e.g. chapter *Beyond*'s
    first repetition) takes the stored scores of exactly its folds.
    """
    folder = Path(folder) if folder is not None else results_dir()
    scores_path, probs_path = folder / f"{stem}_fold_scores.csv", folder / f"{stem}_track_probabilities.csv"
    if not (scores_path.is_file() and probs_path.is_file()):
        return None, f"{scores_path.name} or {probs_path.name} is absent (run chapter {stem[:2]} first)"
    scores, probs = pd.read_csv(scores_path, keep_default_na=False, na_values=[""]), pd.read_csv(probs_path)
    wanted = list(names) if names is not None else list(dict.fromkeys(probs["model"]))
    keep = (probs["folds"] == plan.name) & (probs["data"] == data) & probs["model"].isin(wanted)
    probs = probs[keep]
    if probs.empty:
        return None, f"{probs_path.name} has no scores of {wanted} for {data} on folds {plan.name}"
    predictions, rows = {}, []
    for name in wanted:
        mine = probs[probs["model"] == name]
        predictions[name] = []
        for index, (repeat, fold) in enumerate(plan.folds):
            part = mine[(mine["repeat"] == repeat) & (mine["fold"] == fold)]
            expected = set(plan.roles(index).pipe(lambda r: r[r == "test"]).index)
            if set(part.loc[part["role"] == "test", "track_id"].astype(str)) != expected:
                return None, f"{probs_path.name}: {name}'s test tracks in fold {(repeat, fold)} are not the plan's"
            columns = sorted((c for c in part.columns if c.startswith("p_")), key=lambda c: int(c[2:]))
            predictions[name].append(FoldPredictions(part["track_id"].astype(str).to_numpy(),
                                                     part["label"].to_numpy(np.int64), part["role"].to_numpy(str),
                                                     part[columns].to_numpy(np.float64)))
        folds = pd.MultiIndex.from_tuples(plan.folds, names=["repeat", "fold"])
        mine_scores = scores[(scores["model"] == name) & (scores["folds"] == plan.name) & (scores["data"] == data)]
        mine_scores = mine_scores.set_index(["repeat", "fold"]).reindex(folds).reset_index()
        rows.append(mine_scores.drop(columns=["data", "split", "folds", "chosen_model"], errors="ignore"))
    return NestedResult(pd.concat(rows, ignore_index=True), predictions, plan), f"read from {scores_path.name}"


def same_folds_table(scores: pd.DataFrame, reference: str) -> pd.DataFrame:
    """All models on the same folds: mean ± SD of each, and its difference to a named reference.

    Explained in chapter *Transfer learning* (the book's closing table). ``scores`` are per-fold
    rows of stored fold-score tables (columns ``model``, ``data``, ``split``, ``folds``, ``repeat``,
    ``fold``, ``n_fit_tracks``, ``n_train_tracks``, ``n_test_tracks``, ``track_vote_accuracy`` and
    optionally ``chapter`` and ``changed``). Each model is paired with the reference on the outer
    folds it has (the corrected resampled t-test of chapter 8, 95 % interval).

    Returns
    -------
    pandas.DataFrame
        One row per model: chapter, model, data, protocol, folds scored, fit tracks per fold, what it
        changes, mean ± SD (track vote), difference to the reference with its interval and p-value.
    """
    scores = scores[scores["model"] != "nested choice"].copy()
    if "chapter" not in scores:
        scores["chapter"] = ""
    if "changed" not in scores:
        scores["changed"] = ""
    ref = scores[scores["model"] == reference].drop_duplicates(["data", "folds", "repeat", "fold"])
    if ref.empty:
        raise ParameterError(f"same_folds_table: no scores of the reference {reference!r}")
    rows = []
    for (chapter, model), group in scores.groupby(["chapter", "model"], sort=False):
        group = group.sort_values(["repeat", "fold"])
        paired = group.merge(ref, on=["data", "folds", "repeat", "fold"], suffixes=("", "_ref"))
        fit = sorted(set(group["n_fit_tracks"].astype(int)))
        row = {"chapter": chapter, "model": model, "data": group["data"].iloc[0], "protocol": group["split"].iloc[0],
               "folds": len(group), "fit tracks per fold": ", ".join(map(str, fit)),
               "changed": next((c for c in group["changed"].fillna("") if c), ""),
               "track vote (mean ± SD)": format_mean_std(group["track_vote_accuracy"])}
        if model != reference and len(paired) >= 2:
            test = corrected_resampled_ttest(paired["track_vote_accuracy"], paired["track_vote_accuracy_ref"],
                                             int(paired["n_train_tracks"].iloc[0]), int(paired["n_test_tracks"].iloc[0]))
            row.update({f"− {reference} (points)": f"{100 * test.difference:+.1f}",
                        "95 % CI": f"[{100 * test.low:+.1f}, {100 * test.high:+.1f}]",
                        "p": f"{test.p_value:.3f}"})
        rows.append(row)
    return pd.DataFrame(rows).fillna("")
