"""Spotify audio features as a tabular problem: preprocessing, honest splits, baselines, results.

Explained in chapter *The Spotify baseline* (``chapters/01_spotify_baseline.ipynb``).

The chapter follows the report (pandas → numpy, ``StandardScaler``, one-hot labels) and then
fixes what the report did not look at: the TidyTuesday table lists some tracks several times
(in several playlists, sometimes under several genres), so a row-level split can put the same
track on both sides. The functions here make every step explicit and testable:

- :func:`feature_matrix`, :func:`genre_labels`, :func:`one_hot`, :func:`scale_features`,
  :func:`as_sequence` — arrays for scikit-learn and Keras;
- :func:`duplicate_summary`, :func:`single_genre_tracks`, :func:`multi_genre_tracks` — the
  duplicates problem and the book's decision about it;
- :func:`song_ids`, :func:`song_summary`, :func:`cross_split_twins` — one song under several track
  ids (a single and its album version, a remaster), found by name + artist or by
  identical audio features, and what a split by ``track_id`` lets through;
- the split: :func:`helpers.splits.spotify_fold_table` (songs, version-free, committed for the real
  table as ``helpers/folds/spotify_songs.csv.gz``) and :func:`helpers.splits.group_roles`;
- :func:`baseline_models`, :func:`fit_and_score`, :func:`tune_hist_gradient_boosting` —
  scikit-learn baselines;
- :func:`result_row`, :func:`results_table` — the chapter's results table.
"""

from __future__ import annotations

import itertools
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.config import DEFAULT_SEED, SPOTIFY_GENRES
from helpers.datasets.spotify import AUDIO_FEATURES
from helpers.errors import DataError, ParameterError, require_columns
from helpers.metrics import macro_f1

#: The 11 features the report lists ("danceability, energy, key, mode, speechiness, acousticness,
#: instrumentalness, liveness, valence, tempo, and duration"): the table's 12 without ``loudness``.
REPORT_FEATURES: tuple[str, ...] = tuple(f for f in AUDIO_FEATURES if f != "loudness")

#: The column holding the label (the playlist's genre, one of :data:`helpers.config.SPOTIFY_GENRES`).
LABEL_COLUMN = "playlist_genre"

#: The column identifying a track (the same track may appear in several playlists).
TRACK_COLUMN = "track_id"

#: The columns that name a song (compared after :func:`normalise_title`).
SONG_NAME_COLUMNS: tuple[str, str] = ("track_name", "track_artist")

#: The column :func:`song_ids` fills: one id per song (the smallest ``track_id`` among its tracks).
SONG_COLUMN = "song"

#: The chapter's name in result tables (``results/01_spotify_baseline.csv``).
CHAPTER = "01"

#: The report's published accuracies on this task (quoted, not re-measured: its split is unknown).
REPORT_ACCURACY: dict[str, float] = {"1D CNN (report)": 0.49, "RNN (report)": 0.53}


def _source(table: pd.DataFrame) -> str:
    return str(table.attrs.get("source", "unknown"))


def _require_columns(table: pd.DataFrame, columns: Iterable[str]) -> None:
    """:func:`helpers.errors.require_columns` naming the Spotify table and its source."""
    require_columns(table, columns, f"Spotify table ({_source(table)})")


def feature_matrix(table: pd.DataFrame, features: Sequence[str] = AUDIO_FEATURES) -> np.ndarray:
    """Return the audio features of a Spotify table as a ``float32`` array (pandas → numpy).

    Explained in chapter *The Spotify baseline* (preprocessing as the report did it).

    Parameters
    ----------
    table : pandas.DataFrame
        A table as returned by :func:`helpers.datasets.load_spotify`.
    features : sequence of str
        Columns to use, in this order (default: the 12 :data:`~helpers.datasets.AUDIO_FEATURES`).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(table), len(features))``.

    Raises
    ------
    DataError
        If a column is missing, not numeric, or holds missing / infinite values.
    """
    features = list(features)
    if not features:
        raise DataError("feature_matrix needs at least one feature column")
    _require_columns(table, features)
    try:
        values = table[features].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"Spotify table ({_source(table)}): a feature column is not numeric ({error})") from None
    bad = ~np.isfinite(values)
    if bad.any():
        columns = sorted({features[j] for j in np.flatnonzero(bad.any(axis=0))})
        raise DataError(f"Spotify table ({_source(table)}): missing or infinite values in {columns}")
    return values


def genre_labels(table: pd.DataFrame, genres: Sequence[str] = SPOTIFY_GENRES) -> np.ndarray:
    """Return the genre of each row as an integer index into ``genres``.

    Explained in chapter *The Spotify baseline*.

    Raises
    ------
    DataError
        If the label column is missing or holds a genre not in ``genres`` (named).
    """
    _require_columns(table, [LABEL_COLUMN])
    index = {genre: i for i, genre in enumerate(genres)}
    labels = table[LABEL_COLUMN].map(index)
    if labels.isna().any():
        unknown = sorted(table.loc[labels.isna(), LABEL_COLUMN].astype(str).unique())
        raise DataError(f"Spotify table ({_source(table)}): unknown genre(s) {unknown}; expected {list(genres)}")
    return labels.to_numpy(dtype=np.int64)


def one_hot(labels, n_classes: int = len(SPOTIFY_GENRES)) -> np.ndarray:
    """One-hot encode integer labels (what ``categorical_crossentropy`` expects).

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    labels : array-like of int
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(len(labels), n_classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"one_hot expects a 1-D integer array, got shape {labels.shape} of {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ParameterError(f"one_hot: labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]")
    return np.eye(n_classes, dtype=np.float32)[labels]


def scale_features(train: np.ndarray, *others: np.ndarray):
    """Fit a ``StandardScaler`` on the training rows only and apply it to every array.

    Explained in chapter *The Spotify baseline* (why scaling matters, and why the scaler must
    never see validation or test rows).

    Parameters
    ----------
    train : numpy.ndarray
        Training features; the scaler's means and standard deviations come from these alone.
    *others : numpy.ndarray
        Validation / test features, transformed with the training statistics.

    Returns
    -------
    scaler : sklearn.preprocessing.StandardScaler
        The fitted scaler.
    arrays : list of numpy.ndarray
        ``[train_scaled, *others_scaled]`` as ``float32``.
    """
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train)
    arrays = [scaler.transform(a).astype(np.float32) for a in (train, *others)]
    return scaler, arrays


def as_sequence(features: np.ndarray, with_position: bool = False) -> np.ndarray:
    """Present each feature vector as a sequence of its values, for Conv1D / recurrent layers.

    Explained in chapter *The Spotify baseline* (why a 1D CNN or an RNN over 12 unordered
    features is an odd fit).

    Parameters
    ----------
    features : numpy.ndarray
        Shape ``(n, n_features)``.
    with_position : bool
        Append a one-hot "which feature is this" channel to each step, so that layers that
        share weights across steps can still tell danceability from tempo.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n_features, 1)``, or ``(n, n_features, 1 + n_features)`` with positions.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ParameterError(f"as_sequence expects a 2-D array (rows × features), got shape {features.shape}")
    sequence = features[:, :, None]
    if with_position:
        n, steps = features.shape
        positions = np.broadcast_to(np.eye(steps, dtype=np.float32), (n, steps, steps))
        sequence = np.concatenate([sequence, positions], axis=2)
    return sequence


# --- The duplicates problem -------------------------------------------------------------------


def duplicate_summary(table: pd.DataFrame) -> dict[str, int]:
    """Count how often tracks repeat in the Spotify table.

    Explained in chapter *The Spotify baseline* (the duplicates problem).

    Returns
    -------
    dict
        ``rows``; ``unique_tracks``; ``repeated_tracks`` (listed more than once);
        ``multi_genre_tracks`` (listed under two or more genres); ``same_genre_repeat_rows``
        (extra rows repeating a (track, genre) pair already listed).
    """
    _require_columns(table, [TRACK_COLUMN, LABEL_COLUMN])
    per_track = table.groupby(TRACK_COLUMN)[LABEL_COLUMN]
    return {
        "rows": len(table),
        "unique_tracks": int(table[TRACK_COLUMN].nunique()),
        "repeated_tracks": int((per_track.size() > 1).sum()),
        "multi_genre_tracks": int((per_track.nunique() > 1).sum()),
        "same_genre_repeat_rows": int(table.duplicated([TRACK_COLUMN, LABEL_COLUMN]).sum()),
    }


def single_genre_tracks(table: pd.DataFrame, by: str = TRACK_COLUMN) -> pd.DataFrame:
    """Keep one row per track (or song), dropping those listed under more than one genre.

    Explained in chapter *The Spotify baseline*: a track filed under both pop and latin has
    identical audio features with two labels, so no classifier can be right on both rows. The
    book sets these aside (and evaluates them separately with :func:`multi_genre_tracks`) and
    keeps the first row of every other group (repeats under the same genre are the same example
    twice).

    Parameters
    ----------
    table : pandas.DataFrame
        The Spotify table (all rows).
    by : str
        What one example is: ``'track_id'`` (one row per track) or ``'song'`` (the column of
        :func:`song_ids`: one row per song, its genres gathered over all its tracks).

    Returns
    -------
    pandas.DataFrame
        The first row of every single-genre group, index reset, ``attrs`` kept.
    """
    _require_columns(table, [by, LABEL_COLUMN])
    n_genres = table.groupby(by)[LABEL_COLUMN].transform("nunique")
    kept = table[n_genres == 1].drop_duplicates(by).reset_index(drop=True)
    kept.attrs = dict(table.attrs)
    return kept


def multi_genre_tracks(table: pd.DataFrame, by: str = TRACK_COLUMN) -> pd.DataFrame:
    """Return one row per track (or song) listed under several genres, with the set of its genres.

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    table : pandas.DataFrame
        The Spotify table (all rows).
    by : str
        ``'track_id'`` or ``'song'`` (as in :func:`single_genre_tracks`).

    Returns
    -------
    pandas.DataFrame
        The first row of each such group plus a column ``genres`` (a sorted tuple of its genres).
    """
    _require_columns(table, [by, LABEL_COLUMN])
    genres = table.groupby(by)[LABEL_COLUMN].agg(lambda s: tuple(sorted(set(s))))
    multi = genres[genres.map(len) > 1]
    rows = table[table[by].isin(multi.index)].drop_duplicates(by).reset_index(drop=True)
    rows["genres"] = rows[by].map(multi)
    rows.attrs = dict(table.attrs)
    return rows


# --- One song, several track ids --------------------------------------------------------------


def normalise_title(text) -> str | None:
    """A song or artist name for comparison: Unicode NFKC, case-folded, runs of spaces collapsed.

    Explained in chapter *The Spotify baseline* (one song, several track ids). Nothing else is
    removed: ``"Memories - Dillon Francis Remix"`` stays another recording than ``"Memories"``.

    Returns
    -------
    str or None
        ``None`` for a missing or empty name (it then matches nothing).

    Examples
    --------
    >>> normalise_title("  EYE OF THE  Tiger ")
    'eye of the tiger'
    """
    if not isinstance(text, str):
        return None
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return text or None


def _relation_codes(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each relation that makes two rows the same song, a group code per row (-1: no link)."""
    _require_columns(table, [TRACK_COLUMN, *SONG_NAME_COLUMNS, *AUDIO_FEATURES])
    names = [[normalise_title(v) for v in table[column]] for column in SONG_NAME_COLUMNS]
    name_key = pd.Series([None if a is None or b is None else f"{a}\x1f{b}" for a, b in zip(*names, strict=True)],
                         dtype=object)
    return {
        "track_id": pd.factorize(table[TRACK_COLUMN].astype(str))[0],
        "name + artist": pd.factorize(name_key, use_na_sentinel=True)[0],
        "audio features": table.groupby(list(AUDIO_FEATURES), dropna=True, sort=False).ngroup()
        .fillna(-1).to_numpy(dtype=np.int64),
    }


def song_ids(table: pd.DataFrame) -> pd.Series:
    """Which song each row is: rows linked by track id, by name + artist, or by identical features.

    Explained in chapter *The Spotify baseline* (one song, several track ids). Two rows are the
    same song when they share a ``track_id``, or their normalised ``track_name`` *and*
    ``track_artist`` (:func:`normalise_title`) match, or all twelve audio features are identical;
    a song is a connected component of these links (scipy's ``connected_components``), so a
    remaster linked to the album version by name and the album version linked to a compilation
    copy by features are one song. Rows with a missing name link by id and features only.

    Parameters
    ----------
    table : pandas.DataFrame
        A Spotify table with ``track_id``, ``track_name``, ``track_artist`` and the audio features.

    Returns
    -------
    pandas.Series
        Named ``song``, aligned with ``table``: the smallest ``track_id`` of the song's tracks (a
        stable id that depends on no library version).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(table)
    if n == 0:
        raise DataError(f"Spotify table ({_source(table)}) has no rows")
    rows, links = [], []
    for codes in _relation_codes(table).values():
        linked = np.flatnonzero(codes >= 0)
        first = pd.Series(linked).groupby(codes[linked]).transform("min").to_numpy()
        rows.append(linked)
        links.append(first)
    rows, links = np.concatenate(rows), np.concatenate(links)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, links)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    ids = pd.Series(table[TRACK_COLUMN].astype(str).to_numpy()).groupby(component).transform("min")
    return pd.Series(ids.to_numpy(), index=table.index, name=SONG_COLUMN)


def song_summary(table: pd.DataFrame, songs=None) -> dict[str, int]:
    """Count songs, songs under several track ids, and songs listed under several genres.

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    table : pandas.DataFrame
        The Spotify table.
    songs : array-like, optional
        The song of each row (:func:`song_ids`; computed if omitted).

    Returns
    -------
    dict
        ``songs``; ``multi_track_songs`` (two or more track ids); ``extra_track_ids`` (track ids
        beyond the first of each song); ``multi_genre_songs`` (listed under two or more genres);
        ``multi_genre_only_as_song`` (of those, songs none of whose tracks is listed under two
        genres by itself: only grouping by song reveals the conflict).
    """
    songs = song_ids(table) if songs is None else pd.Series(np.asarray(songs), index=table.index)
    frame = pd.DataFrame({"song": songs.to_numpy(), "track": table[TRACK_COLUMN].astype(str).to_numpy(),
                          "genre": table[LABEL_COLUMN].to_numpy()})
    per_song = frame.groupby("song")
    n_tracks, n_genres = per_song["track"].nunique(), per_song["genre"].nunique()
    track_genres = frame.groupby("track")["genre"].nunique()
    conflicted_tracks = set(track_genres.index[track_genres > 1])
    has_conflicted_track = per_song["track"].agg(lambda t: bool(set(t) & conflicted_tracks))
    return {
        "songs": int(len(n_tracks)),
        "multi_track_songs": int((n_tracks > 1).sum()),
        "extra_track_ids": int((n_tracks - 1).sum()),
        "multi_genre_songs": int((n_genres > 1).sum()),
        "multi_genre_only_as_song": int(((n_genres > 1) & ~has_conflicted_track).sum()),
    }


def cross_split_twins(table: pd.DataFrame, train_rows, test_rows) -> pd.DataFrame:
    """For each test row, whether training holds the same song under *another* track id.

    Explained in chapter *The Spotify baseline*: what a split by ``track_id`` lets through. A
    *feature twin* is a training row with identical audio features, a *name twin* one with the
    same normalised name and artist (:func:`normalise_title`); either way under a ``track_id``
    other than the test row's.

    Parameters
    ----------
    table : pandas.DataFrame
        The Spotify table the row positions index.
    train_rows, test_rows : array-like of int
        Row positions of the two sides.

    Returns
    -------
    pandas.DataFrame
        One row per test row (index: its position in ``table``), boolean columns
        ``feature_twin``, ``name_twin`` and ``twin`` (either).
    """
    train_rows, test_rows = np.asarray(train_rows, dtype=int), np.asarray(test_rows, dtype=int)
    codes = _relation_codes(table)
    track = codes["track_id"]
    result = {}
    for column, relation in (("feature_twin", "audio features"), ("name_twin", "name + artist")):
        code = codes[relation]
        train = pd.DataFrame({"code": code[train_rows], "track": track[train_rows]})
        train = train[train["code"] >= 0]
        ids_per_code = train.groupby("code")["track"].agg(["min", "max"])
        low = pd.Series(code[test_rows]).map(ids_per_code["min"])
        high = pd.Series(code[test_rows]).map(ids_per_code["max"])
        own = track[test_rows]
        # another track id exists in training when the code's ids there are not all the row's own
        result[column] = (low.notna() & ((low.to_numpy() != own) | (high.to_numpy() != own))).to_numpy()
    twins = pd.DataFrame(result, index=pd.Index(test_rows, name="row"))
    twins["twin"] = twins["feature_twin"] | twins["name_twin"]
    return twins


def any_genre_accuracy(predicted, genres_per_track: Sequence[Sequence[str]],
                       genres: Sequence[str] = SPOTIFY_GENRES) -> float:
    """Fraction of tracks whose predicted genre is one of the genres they are listed under.

    Explained in chapter *The Spotify baseline* (evaluating the multi-genre tracks).

    Parameters
    ----------
    predicted : array-like of int
        Predicted class indices (positions in ``genres``).
    genres_per_track : sequence of sequences of str
        The genres each track is listed under (e.g. the ``genres`` column of
        :func:`multi_genre_tracks`).
    """
    predicted = np.asarray(predicted)
    if len(predicted) != len(genres_per_track):
        raise ParameterError(f"any_genre_accuracy: {len(predicted)} predictions for {len(genres_per_track)} tracks")
    if not len(predicted):
        raise ParameterError("any_genre_accuracy: no tracks to score")
    hits = [genres[p] in listed for p, listed in zip(predicted, genres_per_track, strict=True)]
    return float(np.mean(hits))


# --- scikit-learn baselines --------------------------------------------------------------------


def baseline_models(seed: int = DEFAULT_SEED) -> dict:
    """Return the chapter's scikit-learn baselines, unfitted.

    Explained in chapter *The Spotify baseline* (strong tabular baselines).

    Returns
    -------
    dict
        ``{"logistic regression": ..., "random forest": ..., "gradient boosting": ...}``. The
        logistic regression is a pipeline with its own ``StandardScaler`` (fitted on the
        training rows when the pipeline is fitted); trees need no scaling.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "random forest": RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=-1,
                                                random_state=seed),
        "gradient boosting": HistGradientBoostingClassifier(random_state=seed),
    }


def fit_and_score(model, x_train, y_train, x_test, y_test) -> dict:
    """Fit a scikit-learn classifier, time it, and score it on held-out rows.

    Explained in chapter *The Spotify baseline*.

    Returns
    -------
    dict
        ``model`` (fitted), ``predictions``, ``accuracy``, ``macro_f1``, ``train_seconds``.
    """
    from sklearn.metrics import accuracy_score

    start = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test)
    return {
        "model": model,
        "predictions": predicted,
        "accuracy": float(accuracy_score(y_test, predicted)),
        "macro_f1": macro_f1(y_test, predicted, len(SPOTIFY_GENRES)),
        "train_seconds": seconds,
    }


#: The small grid :func:`tune_hist_gradient_boosting` searches by default.
HGB_GRID: dict[str, tuple] = {
    "learning_rate": (0.1, 0.2),
    "max_leaf_nodes": (15, 31),
    "l2_regularization": (0.0, 1.0),
}


def tune_hist_gradient_boosting(x_fit, y_fit, x_tune, y_tune, grid: Mapping[str, Sequence] | None = None,
                                seed: int = DEFAULT_SEED) -> tuple[object, pd.DataFrame]:
    """Grid-search ``HistGradientBoostingClassifier``: fit on the fit rows, compare on the tune rows.

    Explained in chapter *The Spotify baseline*: the one inner decision of the gradient-boosting
    candidate is made on tune rows taken from the training part, never on the selection or test
    rows. Each candidate stops adding trees when the score on its own internal validation sample
    (10 % of the fit rows, ``early_stopping=True``) stalls for 20 rounds.

    Parameters
    ----------
    x_fit, y_fit : array-like
        Rows the candidates are fitted on.
    x_tune, y_tune : array-like
        Rows the candidates are compared on.
    grid : mapping of str to sequence, optional
        Parameter values to try (default :data:`HGB_GRID`).
    seed : int
        ``random_state`` of every candidate.

    Returns
    -------
    best : HistGradientBoostingClassifier
        The candidate with the highest tune accuracy (the first of equals), as fitted on the fit rows.
    scores : pandas.DataFrame
        One row per candidate: its parameters, ``n_trees``, ``tune_accuracy``, ``seconds``;
        sorted best first.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score

    grid = dict(HGB_GRID if grid is None else grid)
    if not grid:
        raise ParameterError("tune_hist_gradient_boosting: the grid is empty")
    rows, models = [], []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        model = HistGradientBoostingClassifier(max_iter=1000, early_stopping=True, n_iter_no_change=20,
                                               random_state=seed, **params)
        start = time.perf_counter()
        model.fit(x_fit, y_fit)
        seconds = time.perf_counter() - start
        accuracy = float(accuracy_score(y_tune, model.predict(x_tune)))
        rows.append({**params, "n_trees": int(model.n_iter_), "tune_accuracy": accuracy, "seconds": seconds})
        models.append(model)
    best = max(range(len(rows)), key=lambda i: rows[i]["tune_accuracy"])  # first of equals
    scores = pd.DataFrame(rows).sort_values("tune_accuracy", ascending=False, kind="stable").reset_index(drop=True)
    return models[best], scores


# --- Results -----------------------------------------------------------------------------------


def result_row(model: str, y_true, y_pred, data: str, split: str, train_seconds: float | None = None,
               notes: str = "") -> dict:
    """Score predictions and return one row of the chapter's results table.

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    model : str
        Model name.
    y_true, y_pred : array-like of int
        True and predicted labels on the held-out rows.
    data : str
        Where the rows came from (``table.attrs['source']``: ``real`` or ``synthetic``).
    split : str
        The protocol, e.g. ``"track-grouped 25 % test"``.
    train_seconds : float, optional
        Training wall time.
    notes : str
        Anything a reader needs to compare fairly.

    Returns
    -------
    dict
        Keys from :data:`helpers.results.COLUMNS`.
    """
    from sklearn.metrics import accuracy_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or not len(y_true):
        raise ParameterError(f"result_row: y_true {y_true.shape} and y_pred {y_pred.shape} must be equal-length 1-D arrays")
    return {
        "chapter": CHAPTER,
        "model": model,
        "data": data,
        "split": split,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": macro_f1(y_true, y_pred, len(SPOTIFY_GENRES)),
        "train_seconds": None if train_seconds is None else float(train_seconds),
        "notes": notes,
    }


def results_table(rows: Sequence[dict], with_report: bool = True) -> pd.DataFrame:
    """Assemble result rows (best accuracy first), optionally under the report's published numbers.

    Explained in chapter *The Spotify baseline*.

    Parameters
    ----------
    rows : sequence of dict
        From :func:`result_row`.
    with_report : bool
        Append the report's accuracies (:data:`REPORT_ACCURACY`), marked as quoted.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`helpers.results.COLUMNS`.
    """
    from helpers.results import results_frame

    rows = sorted(rows, key=lambda r: -r.get("accuracy", 0.0))
    if with_report:
        rows = rows + [{"chapter": CHAPTER, "model": name, "data": "the report's (copy not named)",
                        "split": "not stated in the report", "accuracy": accuracy,
                        "notes": "as published in the report, not re-measured here"}
                       for name, accuracy in REPORT_ACCURACY.items()]
    return results_frame(list(rows))
