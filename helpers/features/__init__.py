"""From audio to features, one module per job (chapter *From audio to features*, ``chapters/05_features.ipynb``).

* :mod:`helpers.features.config` — :class:`FeatureConfig`, what to extract (frozen settings).
* :mod:`helpers.features.maths` — the maths of one clip: one mel spectrogram per clip, sliced into
  segments (:func:`segment_starts`, :func:`clip_features`). NumPy only: the CNN's prediction path
  (:mod:`helpers.predict`) uses it in the base install, without SciPy or pandas.
* :mod:`helpers.features.runner` — the one per-track runner: a parallel loop over clips
  (:func:`map_tracks`) and its validated ``.npz`` cache (:func:`cached_arrays`,
  :func:`files_fingerprint`). A new per-track extractor (as :mod:`helpers.descriptors`,
  :mod:`helpers.embeddings`, :mod:`helpers.cluster`) writes a job for one path and maps it with these.
* :mod:`helpers.features.extract` — many clips: :func:`extract_features` and its :class:`FeatureSet`
  (track ids kept, so that splits and votes work by track); :func:`track_features` is its job.
* :mod:`helpers.features.report` — the report's recipe (:func:`report_segment_mfccs`, its loop
  :func:`naive_extract`) and its JSON format (:func:`extract_report_json`, :func:`load_report_json`).
* :mod:`helpers.features.speed` — the chapter's benchmark (:func:`~helpers.features.speed.run_benchmark`).

Every public name is importable from ``helpers.features`` itself; each submodule is imported on
first use (PEP 562), so that ``from helpers.features import clip_features`` does not import pandas.
"""

import importlib

_LAZY = {
    "FEATURES_VERSION": "config", "KINDS": "config", "FeatureConfig": "config",
    "clip_features": "maths", "mel_power_frames": "maths", "segment_starts": "maths",
    "PROGRESS_MIN_TRACKS": "runner", "cached_arrays": "runner", "files_fingerprint": "runner",
    "map_tracks": "runner", "read_cache": "runner", "show_progress": "runner", "write_cache": "runner",
    "FeatureSet": "extract", "cache_path": "extract", "check_feature_arrays": "extract",
    "extract_features": "extract", "load_track": "extract", "track_features": "extract",
    "extract_report_json": "report", "load_report_json": "report", "naive_extract": "report",
    "report_segment_mfccs": "report",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"helpers.features.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'helpers.features' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = sorted(_LAZY)
