"""The report's recipe: per track ``librosa.load``, one ``librosa.feature.mfcc`` call per segment, a JSON file.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``): the chapter defines
:func:`report_segment_mfccs` in a ``#@save`` cell. :func:`naive_extract` is the report's loop in
memory (the benchmark's baseline, :mod:`helpers.features.speed`); :func:`extract_report_json` and
:func:`load_report_json` write and read the report's JSON format (no track ids).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import GENRES, SAMPLE_RATE
from helpers.errors import DataError, ParameterError
from helpers.files import atomic_path
from helpers.mfcc import check_positive


def report_segment_mfccs(signal: np.ndarray, sr: int = SAMPLE_RATE, n_segments: int = 5, n_mfcc: int = 13,
                         n_fft: int = 2048, hop_length: int = 512,
                         track_seconds: float = 30.0) -> dict[int, np.ndarray]:
    """The report's MFCCs of one track: ``{segment number: (frames, n_mfcc) array}`` of the kept segments.

    Notebook: chapters/05_features.ipynb

    Explained in chapter *From audio to features* (``chapters/05_features.ipynb``). Cut the signal into
    ``n_segments`` segments of ``int(sr * track_seconds / n_segments)`` samples, call
    ``librosa.feature.mfcc`` on each, transpose to frames × coefficients, and keep a segment only if
    it has the expected ``ceil(samples_per_segment / hop_length)`` frames (a short clip loses its
    last segments).
    """
    import librosa

    check_positive(sr=sr, n_segments=n_segments, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)
    samples_per_segment = int(sr * track_seconds / n_segments)
    if samples_per_segment < n_fft:
        raise ParameterError(f"segments of {samples_per_segment} samples are shorter than n_fft={n_fft}")
    expected_frames = math.ceil(samples_per_segment / hop_length)
    kept = {}
    for d in range(n_segments):
        start = samples_per_segment * d
        mfcc = librosa.feature.mfcc(y=signal[start:start + samples_per_segment], sr=sr, n_mfcc=n_mfcc,
                                    n_fft=n_fft, hop_length=hop_length).T
        if len(mfcc) == expected_frames:
            kept[d] = mfcc
    return kept


def naive_extract(paths, n_segments=5, n_mfcc=13, n_fft=2048, hop_length=512, sr=SAMPLE_RATE, track_seconds=30.0):
    """The report's loop, in memory: per track ``librosa.load``, then :func:`helpers.features.report_segment_mfccs`.

    Explained in chapter *From audio to features*: the baseline of the chapter's benchmark
    (:func:`helpers.features.speed.run_benchmark`). Returns the number of segments kept.
    """
    import librosa

    kept = 0
    for path in paths:
        signal, _ = librosa.load(path, sr=sr)
        kept += len(report_segment_mfccs(signal, sr, n_segments, n_mfcc, n_fft, hop_length, track_seconds))
    return kept




def extract_report_json(  # noqa: PLR0913 (issue 27: split when next touched)
    table: pd.DataFrame,
    json_path,
    n_segments: int = 5,
    n_mfcc: int = 13,
    n_fft: int = 2048,
    hop_length: int = 512,
    sr: int = SAMPLE_RATE,
    track_seconds: float = 30.0,
    progress: bool = True,
) -> pd.DataFrame:
    """The report's feature extraction (:func:`report_segment_mfccs` per track), written to its JSON format.

    Explained in chapter *From audio to features*. For every track (sequentially, as the report
    did): ``librosa.load(path, sr=sr)``, then :func:`report_segment_mfccs`. The JSON is
    ``{"mapping": [genre names], "labels": [int per segment], "mfcc": [segment × frames × n_mfcc]}``.

    Parameters
    ----------
    table : pandas.DataFrame
        Clip table (``path``, ``label``, ``track_id``, ``genre``).
    json_path : path
        Where to write the JSON (written atomically).
    n_segments, n_mfcc, n_fft, hop_length, sr, track_seconds
        The report's parameters (defaults: 5, 13, 2048, 512, ``config.SAMPLE_RATE``, 30).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per segment written (``track_id``, ``genre``, ``label``, ``segment``) — the
        bookkeeping the JSON itself does not keep; ``attrs['dropped']`` lists the dropped
        segments as ``'track_id#segment'`` and ``attrs['flavour']`` the table's flavour.
    """
    import librosa
    from tqdm import tqdm

    data = {"mapping": list(GENRES), "labels": [], "mfcc": []}
    rows, dropped = [], []
    iterator = table.itertuples(index=False)
    if progress:
        iterator = tqdm(iterator, total=len(table), desc="report recipe", unit="clip", mininterval=2.0, leave=False)
    for clip in iterator:
        try:
            signal, _ = librosa.load(clip.path, sr=sr)
        except Exception as error:  # noqa: BLE001 - the report's loop would crash here; we say why
            raise DataError(f"{clip.path}: cannot be decoded ({error})") from error
        kept = report_segment_mfccs(signal, sr, n_segments, n_mfcc, n_fft, hop_length, track_seconds)
        for d in range(n_segments):
            if d in kept:
                data["mfcc"].append(kept[d].tolist())
                data["labels"].append(int(clip.label))
                rows.append((clip.track_id, clip.genre, int(clip.label), d))
            else:
                dropped.append(f"{clip.track_id}#{d}")
    with atomic_path(json_path) as tmp, open(tmp, "w") as handle:
        json.dump(data, handle)
    segments = pd.DataFrame(rows, columns=["track_id", "genre", "label", "segment"])
    segments.attrs["dropped"] = dropped
    segments.attrs["flavour"] = table.attrs.get("flavour", "unknown")
    return segments


def load_report_json(json_path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a file in the report's JSON format.

    Explained in chapter *From audio to features*.

    Returns
    -------
    X : numpy.ndarray
        ``(segments, frames, n_mfcc)`` float32.
    y : numpy.ndarray
        ``(segments,)`` int labels.
    mapping : list of str
        Genre names, ``mapping[label]``.

    Raises
    ------
    DataError
        If the file is missing, not JSON, lacks a key, or its lists do not line up.
    """
    json_path = Path(json_path)
    try:
        with open(json_path) as handle:
            data = json.load(handle)
    except FileNotFoundError as error:
        raise DataError(f"{json_path} does not exist") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{json_path} is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise DataError(f"{json_path} holds a {type(data).__name__}, not a JSON object")
    missing = {"mapping", "labels", "mfcc"} - set(data)
    if missing:
        raise DataError(f"{json_path} lacks key(s) {sorted(missing)} of the report's format")
    if len(data["labels"]) != len(data["mfcc"]):
        raise DataError(
            f"{json_path}: {len(data['labels'])} labels but {len(data['mfcc'])} MFCC segments"
        )
    try:
        X = np.asarray(data["mfcc"], dtype=np.float32)
        y = np.asarray(data["labels"], dtype=np.int64)
    except ValueError as error:
        raise DataError(f"{json_path}: MFCC segments are not all the same shape ({error})") from error
    if len(X) and X.ndim != 3:
        raise DataError(f"{json_path}: 'mfcc' has shape {X.shape}, expected segments × frames × n_mfcc")
    mapping = [str(m) for m in data["mapping"]]
    if len(y) and (y.min() < 0 or y.max() >= len(mapping)):
        raise DataError(f"{json_path}: labels outside 0..{len(mapping) - 1} of 'mapping'")
    return X, y, mapping


__all__ = [
    "extract_report_json",
    "load_report_json",
    "naive_extract",
    "report_segment_mfccs",
]
