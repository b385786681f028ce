"""Tests of helpers.features (chapter *From audio to features*) on small synthetic WAV files."""

from __future__ import annotations

import json
import os
import warnings

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.model_selection import train_test_split

from helpers.config import GENRES
from helpers.errors import DataError, ParameterError
from helpers.features import (
    PROGRESS_MIN_TRACKS,
    FeatureConfig,
    cache_path,
    cached_arrays,
    clip_features,
    extract_features,
    extract_report_json,
    files_fingerprint,
    load_report_json,
    map_tracks,
    mel_power_frames,
    read_cache,
    report_segment_mfccs,
    segment_starts,
    show_progress,
    write_cache,
)
from helpers.splits import leak_fraction, track_train_test_split

SR = 22050
# Small clips keep the tests fast: 3 s "tracks" in 3 segments of 1 s (22050 samples, 44 frames).
SMALL = FeatureConfig(track_seconds=3.0, n_segments=3)


def _tone(seconds: float, freq: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def _write_clips(folder, genres=("blues", "jazz", "rock"), per_genre=4, seconds=3.0):
    """Write GTZAN-named WAVs and return their clip table (flavour 'synthetic')."""
    rows = []
    for genre in genres:
        (folder / genre).mkdir(parents=True, exist_ok=True)
        for index in range(per_genre):
            label = GENRES.index(genre)
            path = folder / genre / f"{genre}.{index:05d}.wav"
            y = _tone(seconds, 110.0 * (label + 1) + 7 * index, seed=100 * label + index)
            sf.write(path, y, SR, subtype="PCM_16")
            rows.append(
                {"path": str(path), "genre": genre, "label": label,
                 "track_id": f"{genre}.{index:05d}", "index": index}
            )
    table = pd.DataFrame(rows)
    table.attrs["flavour"] = "synthetic"
    return table


@pytest.fixture
def clips(tmp_path):
    return _write_clips(tmp_path / "genres")


# --- configuration -------------------------------------------------------------------------


def test_config_report_numbers():
    config = FeatureConfig()
    assert config.segment_samples == 132300
    assert config.frames_per_segment == 259
    assert config.n_features == 13
    assert FeatureConfig(kind="logmel", n_mels=64).n_features == 64
    ten = FeatureConfig(n_segments=10)
    assert (ten.segment_samples, ten.frames_per_segment) == (66150, 130)


def test_config_key_stable_and_sensitive():
    assert FeatureConfig().key() == FeatureConfig().key()
    keys = {FeatureConfig().key(), FeatureConfig(n_mfcc=20).key(), FeatureConfig(n_segments=10).key(),
            FeatureConfig(kind="logmel").key(), FeatureConfig(hop_length=256).key()}
    assert len(keys) == 5


@pytest.mark.parametrize(
    "kwargs", [{"kind": "chroma"}, {"n_mfcc": 0}, {"n_mfcc": 200}, {"hop_length": 1.5}, {"n_segments": 10000}]
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ParameterError):
        FeatureConfig(**kwargs)


# --- one clip ------------------------------------------------------------------------------


def test_clip_features_shapes_and_counts():
    config = FeatureConfig()
    y = _tone(30.0, 220.0, seed=1)
    out = clip_features(y, config)
    assert out.shape == (5, 259, 13) and out.dtype == np.float32
    # 661,100 samples (a real mini clip's length): the last segment is incomplete and dropped.
    assert clip_features(y[:661100], config).shape[0] == 4
    assert clip_features(y[: config.segment_samples - 1], config).shape == (0, 259, 13)
    longer = np.concatenate([y, y])
    assert clip_features(longer, config).shape[0] == 5
    assert clip_features(longer, config, max_segments=9).shape[0] == 9
    assert clip_features(y, FeatureConfig(kind="logmel")).shape == (5, 259, 128)
    with pytest.raises(ParameterError, match="mono"):
        clip_features(np.stack([y, y]), config)


def test_mel_power_frames_equals_librosa_melspectrogram():
    y = _tone(7.3, 523.0, seed=6)
    config = FeatureConfig()
    ref = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512).T
    ours = mel_power_frames(y, config, len(ref))
    assert ours.shape == ref.shape == (1 + len(y) // 512, 128) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())
    np.testing.assert_allclose(mel_power_frames(y, config, 10), ref[:10], rtol=1e-4, atol=1e-6 * ref.max())
    with pytest.raises(ParameterError, match="fewer than"):
        mel_power_frames(y, config, len(ref) + 1)


def test_the_numpy_only_path_gives_the_same_features(monkeypatch):
    """Without SciPy (the base install: genre-predict) the maths runs on NumPy alone, to librosa's numbers."""
    import builtins

    from helpers.features import maths

    y = _tone(7.3, 523.0, seed=6)
    config = FeatureConfig()
    with_scipy = clip_features(y, config)
    ref = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512).T
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(f"no module named {name!r} (test)")
        return real_import(name, *args, **kwargs)

    maths._analysis_constants.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    try:
        assert isinstance(maths._analysis_constants(SR, 2048, 128, 13)[2], maths._BandProduct)
        numpy_only = clip_features(y, config)
        np.testing.assert_allclose(mel_power_frames(y, config, len(ref)), ref, rtol=1e-4, atol=1e-6 * ref.max())
    finally:
        monkeypatch.undo()
        maths._analysis_constants.cache_clear()
    np.testing.assert_allclose(numpy_only, with_scipy, rtol=0, atol=1e-3)  # dB / MFCC units


def test_segment_starts_are_frame_aligned_and_close_to_report_cuts():
    config = FeatureConfig()
    starts = segment_starts(661794, config)
    assert starts.tolist() == [0, 258, 516, 775, 1033]
    report_cuts = np.arange(5) * config.segment_samples
    offsets = report_cuts - starts * config.hop_length
    assert np.all((offsets >= 0) & (offsets < config.hop_length))
    assert segment_starts(258 * 512 + config.segment_samples - 1, config).tolist() == [0]
    assert segment_starts(10**7, config, max_segments=7).tolist()[-1] == (6 * 132300) // 512
    with pytest.raises(ParameterError, match="max_segments"):
        segment_starts(661500, config, max_segments=-1)


def test_report_segment_mfccs_is_librosa_per_segment_and_drops_short_ones():
    y = _tone(2.9, 500.0, seed=9)  # 3 segments of 1 s; the third is 0.9 s long and dropped
    kept = report_segment_mfccs(y, SR, n_segments=3, track_seconds=3.0)
    assert sorted(kept) == [0, 1]
    ref = librosa.feature.mfcc(y=y[22050:44100], sr=SR, n_mfcc=13, n_fft=2048, hop_length=512).T
    np.testing.assert_array_equal(kept[1], ref)
    assert kept[0].shape == (44, 13)
    with pytest.raises(ParameterError, match="hop_length"):
        report_segment_mfccs(y, SR, hop_length=0)
    with pytest.raises(ParameterError, match="shorter than n_fft"):
        report_segment_mfccs(y, SR, n_segments=1000)


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_clip_features_match_per_segment_librosa_except_edges(kind):
    """Sliced features equal a per-segment librosa call on the frame-aligned segment, except the
    2 frames at each end whose window reaches over the segment's edge (documented in the module)."""
    config = FeatureConfig(kind=kind)
    y = _tone(30.0, 330.0, seed=2) * np.linspace(0.2, 1.0, int(30.0 * SR), dtype=np.float32)
    out = clip_features(y, config)
    edge = int(np.ceil(config.n_fft / 2 / config.hop_length))
    for s, start in enumerate(segment_starts(len(y), config)):
        piece = y[start * config.hop_length : start * config.hop_length + config.segment_samples]
        if kind == "mfcc":
            ref = librosa.feature.mfcc(y=piece, sr=SR, n_mfcc=13, n_fft=2048, hop_length=512).T
        else:
            mel = librosa.feature.melspectrogram(y=piece, sr=SR, n_fft=2048, hop_length=512)
            ref = librosa.power_to_db(mel).T
        assert ref.shape == out[s].shape
        inner = slice(0 if s == 0 else edge, config.frames_per_segment - edge)
        np.testing.assert_allclose(out[s][inner], ref[inner], atol=1e-3, rtol=1e-4)
        if s > 0:  # the edge frames really differ (real neighbouring audio vs zero padding)
            assert np.abs(out[s][:edge] - ref[:edge]).max() > 1e-2


# --- many clips, cache ---------------------------------------------------------------------


def test_extract_features_counts_and_bookkeeping(clips, tmp_path):
    fs = extract_features(clips, SMALL, n_jobs=2, cache=False, progress=False)
    assert fs.X.shape == (len(clips) * 3, SMALL.frames_per_segment, 13) == (36, 44, 13)
    assert fs.X.dtype == np.float32
    assert fs.flavour == "synthetic" and fs.skipped == []
    assert fs.n_tracks == len(clips)
    assert np.bincount(fs.segments).tolist() == [12, 12, 12]
    table = fs.table()
    assert list(table.columns) == ["track_id", "genre", "label", "segment"]
    assert table.attrs["flavour"] == "synthetic"
    assert (table["genre"] == [GENRES[i] for i in fs.labels]).all()
    # the first track's features are those of its clip
    y, _ = sf.read(clips["path"][0], dtype="float32")
    np.testing.assert_allclose(fs.X[:3], clip_features(y, SMALL), atol=1e-4)
    part = fs.subset(fs.labels == GENRES.index("jazz"))
    assert len(part) == 12 and set(part.track_ids) == set(clips.track_id[clips.genre == "jazz"])


def test_cache_hit_is_identical_and_skips_extraction(clips, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    fresh = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    files = list(cache_dir.glob("*.npz"))
    assert len(files) == 1 and not list(cache_dir.glob("*.tmp"))
    # A cache hit must not touch the audio at all.
    import helpers.features.extract as features

    def boom(*args, **kwargs):
        raise AssertionError("extraction ran although the cache should have been used")

    monkeypatch.setattr(features, "track_features", boom)
    cached = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(cached.X, fresh.X)
    np.testing.assert_array_equal(cached.labels, fresh.labels)
    np.testing.assert_array_equal(cached.track_ids, fresh.track_ids)
    np.testing.assert_array_equal(cached.segments, fresh.segments)
    assert cached.config == fresh.config and cached.genres == fresh.genres
    assert cached.flavour == fresh.flavour
    # the file is plain arrays: loadable without pickle
    with np.load(files[0], allow_pickle=False) as data:
        assert data["X"].dtype == np.float32


def test_cache_invalidated_by_parameter_and_file_change(clips, tmp_path):
    cache_dir = tmp_path / "cache"
    first = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    other = FeatureConfig(track_seconds=3.0, n_segments=3, n_mfcc=20)
    assert cache_path(clips, other, cache_dir) != cache_path(clips, SMALL, cache_dir)
    second = extract_features(clips, other, n_jobs=1, progress=False, cache_dir=cache_dir)
    assert second.X.shape[-1] == 20
    assert len(list(cache_dir.glob("*.npz"))) == 2

    # Rewrite one clip with other audio: a new cache entry, and the new audio's features.
    before = cache_path(clips, SMALL, cache_dir)
    path = clips["path"][0]
    stat = os.stat(path)
    sf.write(path, _tone(3.0, 999.0, seed=7), SR, subtype="PCM_16")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache_path(clips, SMALL, cache_dir) != before
    third = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    assert not np.allclose(third.X[:3], first.X[:3])
    np.testing.assert_array_equal(third.X[3:], first.X[3:])


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "overwritten":
        path.write_bytes(b"\0" * len(data))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bad_crc":  # flip bytes inside the first stored array: the zip's CRC-32 check fails
        middle = len(data) // 4
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:])


@pytest.mark.parametrize("how", ["truncated", "overwritten", "empty", "bad_crc"])
def test_damaged_feature_cache_is_named_and_recomputed(clips, tmp_path, how):
    cache_dir = tmp_path / "cache"
    fresh = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    path = cache_path(clips, SMALL, cache_dir)
    _damage(path, how)
    with pytest.warns(UserWarning, match=rf"cache file .*{path.name} is damaged"):
        again = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.X, fresh.X)
    # recomputed and rewritten: the next call reads a sound cache without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(third.X, fresh.X)
    assert [p.name for p in cache_dir.iterdir()] == [path.name]


def test_cache_without_an_expected_array_is_damaged(tmp_path):
    path = tmp_path / "entry.npz"
    write_cache(path, {"values": np.arange(3)})
    assert read_cache(path, required=("values",))["values"].tolist() == [0, 1, 2]
    with pytest.warns(UserWarning, match="entry.npz is damaged.*paths"):
        assert read_cache(path, required=("values", "paths")) is None
    assert path.exists()  # not deleted: the caller replaces it atomically (cached_arrays)


def test_leftover_temporary_of_a_killed_save_is_removed(tmp_path):
    path = tmp_path / "entry.npz"
    dead = tmp_path / "entry.npz.999999999.0badf00d.tmp"  # no such process id
    dead.write_bytes(b"half a zip")
    mine = tmp_path / f"entry.npz.{os.getpid()}.feedface.tmp"  # a live writer's: left alone
    mine.write_bytes(b"being written")
    other = tmp_path / "other.npz.999999999.0badf00d.tmp"  # another entry's: not ours to judge
    other.write_bytes(b"x")
    write_cache(path, {"values": np.ones(2)})
    assert not dead.exists() and mine.exists() and other.exists()
    assert read_cache(path)["values"].tolist() == [1.0, 1.0]


def test_failed_save_leaves_nothing_half_written(tmp_path, monkeypatch):
    path = tmp_path / "entry.npz"
    write_cache(path, {"values": np.zeros(2)})

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        write_cache(path, {"values": np.ones(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["entry.npz"]
    monkeypatch.undo()
    assert read_cache(path)["values"].tolist() == [0.0, 0.0]  # the old entry is intact


def test_progress_bars_by_default_only_for_full_gtzan_sized_runs():
    assert not show_progress(None, 100)  # mini GTZAN: stored outputs stay clean
    assert show_progress(None, 1000)  # full GTZAN: minutes of work show a bar
    assert show_progress(None, PROGRESS_MIN_TRACKS) and not show_progress(None, PROGRESS_MIN_TRACKS - 1)
    assert show_progress(True, 1) and not show_progress(False, 10_000)  # an explicit choice wins


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_map_tracks_keeps_order(n_jobs):
    assert map_tracks(lambda x: x * x, range(7), n_jobs=n_jobs, progress=False) == [0, 1, 4, 9, 16, 25, 36]
    with pytest.raises(ParameterError, match="n_jobs"):
        map_tracks(abs, [1], n_jobs=0)


def test_bad_clips_are_skipped_named_and_counted(clips, tmp_path):
    bad = tmp_path / "genres" / "rock" / "rock.00054.wav"
    bad.write_bytes(b"this is not a wav file")
    short = tmp_path / "genres" / "rock" / "rock.00055.wav"
    sf.write(short, _tone(0.5, 440.0, seed=3), SR, subtype="PCM_16")
    extra = pd.DataFrame(
        [{"path": str(bad), "genre": "rock", "label": 9, "track_id": "rock.00054", "index": 54},
         {"path": str(short), "genre": "rock", "label": 9, "track_id": "rock.00055", "index": 55}]
    )
    table = pd.concat([clips, extra], ignore_index=True)
    table.attrs["flavour"] = "synthetic"
    with pytest.warns(UserWarning, match=r"skipped 2 of 14 clips") as record:
        fs = extract_features(table, SMALL, n_jobs=1, progress=False, cache=False)
    message = next(str(w.message) for w in record if "skipped" in str(w.message))
    assert "rock.00054.wav" in message and "rock.00055.wav" in message
    assert len(fs.skipped) == 2
    assert any("rock.00054.wav" in s for s in fs.skipped)
    assert any("rock.00055.wav" in s and "shorter than one segment" in s for s in fs.skipped)
    assert fs.n_tracks == len(clips) and "rock.00054" not in set(fs.track_ids)


def test_stereo_and_wrong_rate_clips_are_refused_when_checked(clips, tmp_path):
    stereo = tmp_path / "genres" / "jazz" / "jazz.00060.wav"
    y = _tone(3.0, 300.0, seed=4)
    sf.write(stereo, np.stack([y, y], axis=1), SR, subtype="PCM_16")
    slow = tmp_path / "genres" / "jazz" / "jazz.00061.wav"
    sf.write(slow, _tone(3.0, 300.0, seed=5)[::2], SR // 2, subtype="PCM_16")
    extra = pd.DataFrame(
        [{"path": str(stereo), "genre": "jazz", "label": 5, "track_id": "jazz.00060", "index": 60},
         {"path": str(slow), "genre": "jazz", "label": 5, "track_id": "jazz.00061", "index": 61}]
    )
    table = pd.concat([clips, extra], ignore_index=True)
    table.attrs["flavour"] = "synthetic"
    with pytest.warns(UserWarning, match="skipped 2 of 14"):
        checked = extract_features(table, SMALL, n_jobs=1, progress=False, cache=False)
    reasons = " ".join(checked.skipped)
    assert "jazz.00060.wav" in reasons and "jazz.00061.wav" in reasons
    assert "stereo" in reasons and "11025" in reasons
    loose = extract_features(table, SMALL, n_jobs=1, progress=False, cache=False, check=False)
    assert loose.skipped == [] and loose.n_tracks == 14


def test_missing_columns_raise_data_error(clips):
    with pytest.raises(DataError, match="path"):
        extract_features(clips.drop(columns="path"), SMALL, progress=False, cache=False)


# --- splits and the leak -------------------------------------------------------------------


def test_track_split_is_leak_free_and_segment_split_leaks(clips):
    fs = extract_features(clips, SMALL, n_jobs=1, cache=False, progress=False)
    table = fs.table()
    train, test = track_train_test_split(table, test_size=0.25, seed=0)
    assert set(fs.track_ids[train]).isdisjoint(fs.track_ids[test])
    assert len(train) + len(test) == len(fs)
    assert leak_fraction(fs.track_ids[train], fs.track_ids[test]) == 0.0
    rows = np.arange(len(fs))
    seg_train, seg_test = train_test_split(rows, test_size=0.25, random_state=0)
    leak = leak_fraction(fs.track_ids[seg_train], fs.track_ids[seg_test])
    assert 0.5 < leak <= 1.0


# --- the report's JSON ---------------------------------------------------------------------


def test_report_json_round_trip(tmp_path):
    table = _write_clips(tmp_path / "genres", genres=("blues", "metal"), per_genre=2)
    # one clip 2.9 s long: its last 1 s segment has too few frames and is dropped, as in the report
    sf.write(table["path"][3], _tone(2.9, 500.0, seed=9), SR, subtype="PCM_16")
    out = tmp_path / "data.json"
    kept = extract_report_json(table, out, n_segments=3, track_seconds=3.0, progress=False)
    assert len(kept) == 11 and kept.attrs["dropped"] == ["metal.00001#2"]
    with open(out) as handle:
        raw = json.load(handle)
    assert set(raw) == {"mapping", "labels", "mfcc"}
    assert raw["mapping"] == list(GENRES)
    X, y, mapping = load_report_json(out)
    assert X.shape == (11, 44, 13) and X.dtype == np.float32
    assert y.tolist() == [0] * 6 + [6] * 5 and mapping[6] == "metal"
    np.testing.assert_allclose(X, np.asarray(raw["mfcc"], dtype=np.float32))
    # the report's first segment equals librosa on that segment
    signal, _ = librosa.load(table["path"][0], sr=SR)
    ref = librosa.feature.mfcc(y=signal[:22050], sr=SR, n_mfcc=13, n_fft=2048, hop_length=512).T
    np.testing.assert_allclose(X[0], ref, atol=1e-3)
    assert kept["track_id"].tolist()[:3] == ["blues.00000"] * 3


def test_load_report_json_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(DataError, match="nope.json"):
        load_report_json(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json"):
        load_report_json(broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"mapping": ["a"], "labels": [0]}))
    with pytest.raises(DataError, match=r"partial.json.*mfcc"):
        load_report_json(partial)
    ragged = tmp_path / "ragged.json"
    ragged.write_text(json.dumps({"mapping": ["a"], "labels": [0, 0], "mfcc": [[[1.0]], [[1.0], [2.0]]]}))
    with pytest.raises(DataError, match="ragged.json"):
        load_report_json(ragged)
    mismatch = tmp_path / "mismatch.json"
    mismatch.write_text(json.dumps({"mapping": ["a"], "labels": [0, 0], "mfcc": [[[1.0]]]}))
    with pytest.raises(DataError, match="2 labels but 1"):
        load_report_json(mismatch)


def test_no_warnings_on_clean_extraction(clips):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extract_features(clips, SMALL, n_jobs=1, cache=False, progress=False)


# --- the benchmark (python -m helpers.bench features) ---------------------------------------


def test_benchmark_runs_and_reports(tmp_path, monkeypatch):
    from helpers.bench import features as bench

    table = _write_clips(tmp_path / "genres", genres=("blues", "rock"), per_genre=2, seconds=30.0)
    result = bench.run_benchmark(table, n_jobs=2, limit=2)
    assert result["clips"] == 2 and result["flavour"] == "synthetic"
    assert result["naive_segments"] == result["production_segments"] == 10
    assert result["cold_speedup"] == pytest.approx(result["naive_s"] / result["cold_s"])
    assert result["cached_speedup"] == pytest.approx(result["cold_s"] / result["cached_s"])
    text = bench.format_report(result)
    assert "clips/s" in text and "2 clips of synthetic GTZAN" in text
    # the command line: --limit, --json; a bad --limit is refused
    monkeypatch.setattr("helpers.datasets.load_gtzan", lambda flavour=None: table)
    out = tmp_path / "bench.json"
    assert bench.main(["--limit", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["clips"] == 2
    with pytest.raises(SystemExit):
        bench.main(["--limit", "0"])


# --- issue 24 items 3, 4, 9: a cache is trusted only after validation ----------------------------


def _tamper(arrays, how):
    """A copy of valid feature-cache arrays, broken in one way (each a case the issue found served)."""
    arrays = dict(arrays)
    n = len(arrays["X"])
    if how == "wrong_shape":
        arrays["X"] = np.zeros((n, 5, 13), dtype=np.float32)
    elif how == "too_few_labels":
        arrays["labels"] = arrays["labels"][:3]
    elif how == "nan_in_X":
        arrays["X"] = arrays["X"].copy()
        arrays["X"][4, 2, 1] = np.nan
    elif how == "float64_X":
        arrays["X"] = arrays["X"].astype(np.float64)
    elif how == "other_configuration":
        arrays["config"] = np.asarray(json.dumps({**json.loads(str(arrays["config"])), "n_mfcc": 20}))
    elif how == "config_not_json":
        arrays["config"] = np.asarray("{n_mfcc: 13,")
    elif how == "config_unknown_key":
        arrays["config"] = np.asarray(json.dumps({**json.loads(str(arrays["config"])), "colour": "blue"}))
    elif how == "config_a_list":
        arrays["config"] = np.asarray("[1, 2]")
    elif how == "wrong_labels":
        arrays["labels"] = (arrays["labels"] + 1) % 10
    elif how == "foreign_track":
        arrays["track_ids"] = np.where(arrays["track_ids"] == arrays["track_ids"][0], "pop.00042",
                                       arrays["track_ids"])
    elif how == "missing_track":
        keep = arrays["track_ids"] != arrays["track_ids"][0]
        for name in ("X", "labels", "track_ids", "segments"):
            arrays[name] = arrays[name][keep]
    elif how == "other_flavour":
        arrays["flavour"] = np.asarray("full")
    elif how == "segment_out_of_range":
        arrays["segments"] = arrays["segments"] + 5
    return arrays


TAMPERED = ["wrong_shape", "too_few_labels", "nan_in_X", "float64_X", "other_configuration", "config_not_json",
            "config_unknown_key", "config_a_list", "wrong_labels", "foreign_track", "missing_track",
            "other_flavour", "segment_out_of_range"]


@pytest.fixture
def feature_cache(clips, tmp_path):
    """(cache folder, fresh features, the cache file's valid arrays) of the small clip table."""
    cache_dir = tmp_path / "cache"
    fresh = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    path = cache_path(clips, SMALL, cache_dir)
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    return cache_dir, fresh, arrays


@pytest.mark.parametrize("how", TAMPERED)
def test_a_cache_that_fails_validation_is_recomputed_and_replaced_never_served(clips, feature_cache, how):
    cache_dir, fresh, arrays = feature_cache
    path = cache_path(clips, SMALL, cache_dir)
    write_cache(path, _tamper(arrays, how))
    with pytest.warns(UserWarning, match=rf"cache file .*{path.name} is not valid"):
        again = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.X, fresh.X)
    np.testing.assert_array_equal(again.labels, fresh.labels)
    assert again.config == SMALL
    # replaced atomically by the recomputed entry: the next call is a silent, valid hit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(third.X, fresh.X)
    assert [p.name for p in cache_dir.iterdir()] == [path.name]


def test_a_valid_cache_passes_validation_without_a_warning(clips, feature_cache):
    cache_dir, fresh, arrays = feature_cache
    from helpers.features import check_feature_arrays

    assert check_feature_arrays(arrays, clips, SMALL) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(extract_features(clips, SMALL, n_jobs=1, progress=False,
                                                       cache_dir=cache_dir).X, fresh.X)


def test_a_validation_error_is_never_fatal(tmp_path):
    path = tmp_path / "entry.npz"
    write_cache(path, {"values": np.arange(3)})

    def strict(arrays):
        return json.loads("not json")  # raises JSONDecodeError, a ValueError

    with pytest.warns(UserWarning, match=r"entry\.npz is not valid \(JSONDecodeError"):
        out = cached_arrays(path, lambda: {"values": np.arange(4)}, required=("values",), validate=strict)
    assert out["values"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("restore", ["mtime", "mtime_and_atime"])
def test_a_clip_replaced_with_its_size_and_mtime_restored_gets_new_features(clips, tmp_path, restore):
    """What tar and rsync -a do: same size, same modification time, other audio."""
    cache_dir = tmp_path / "cache"
    first = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    path = clips["path"][0]
    before = os.stat(path)
    replacement = tmp_path / "other.wav"
    sf.write(replacement, _tone(3.0, 999.0, seed=7), SR, subtype="PCM_16")
    os.replace(replacement, path)  # a new inode, as tar and rsync write it
    atime = before.st_atime_ns if restore == "mtime_and_atime" else os.stat(path).st_atime_ns
    os.utime(path, ns=(atime, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    second = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    assert not np.allclose(second.X[:3], first.X[:3])  # the new audio's features, not the old ones
    np.testing.assert_array_equal(second.X[3:], first.X[3:])
    y, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(second.X[:3], clip_features(y, SMALL), atol=1e-4)


def test_a_clip_rewritten_in_place_with_its_mtime_restored_gets_new_features(clips, tmp_path):
    """Same inode, same size, same modification time: only the content (and the ctime) differ."""
    cache_dir = tmp_path / "cache"
    first = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    path = clips["path"][1]
    before = os.stat(path)
    other = tmp_path / "other.wav"
    sf.write(other, _tone(3.0, 777.0, seed=9), SR, subtype="PCM_16")
    with open(path, "r+b") as handle:
        handle.write(other.read_bytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_ino == before.st_ino
    second = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    assert not np.allclose(second.X[3:6], first.X[3:6])


def test_content_hashes_are_memoised_within_a_run(clips, monkeypatch):
    import hashlib

    files_fingerprint(clips["path"])  # hashed (or already remembered from another test)
    calls = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda *a, **k: calls.append(1) or real(*a, **k))
    one = files_fingerprint(clips["path"])
    assert calls == []  # remembered: no file read again
    os.utime(clips["path"][2])  # touched: read again, same content, same fingerprint
    assert files_fingerprint(clips["path"]) == one and len(calls) == 1


def test_a_fifo_among_the_clips_is_not_read(clips, tmp_path):
    fifo = tmp_path / "jazz.00009.wav"
    os.mkfifo(fifo)
    table = clips.copy()
    table.loc[0, "path"] = str(fifo)
    assert files_fingerprint(table["path"])  # returns at once: a FIFO is never opened for hashing


@pytest.mark.parametrize("where", ["under_a_file", "a_file"])
def test_an_uncreatable_cache_folder_means_computing_without_caching(clips, tmp_path, where):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file")
    cache_dir = blocker / "features" if where == "under_a_file" else blocker
    with pytest.warns(UserWarning, match=r"cache folder .* cannot be written") as caught:
        first = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
        second = extract_features(clips, SMALL, n_jobs=1, progress=False, cache_dir=cache_dir)
    assert sum("cannot be written" in str(w.message) for w in caught) == 1  # said once
    np.testing.assert_array_equal(first.X, second.X)
    assert blocker.read_text() == "a file"


def test_a_read_only_cache_folder_means_computing_without_caching(clips, tmp_path, unprivileged):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o555)
    locked = tmp_path / "locked"
    locked.write_text("x")
    locked.chmod(0)
    table = tmp_path / "table.csv"
    clips.to_csv(table, index=False)
    out = unprivileged(f"""
import warnings
import numpy as np, pandas as pd
from helpers.features import FeatureConfig, extract_features
table = pd.read_csv({str(table)!r})
table.attrs["flavour"] = "synthetic"
config = FeatureConfig(track_seconds=3.0, n_segments=3)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    a = extract_features(table, config, n_jobs=1, progress=False, cache_dir={str(cache_dir)!r})
    b = extract_features(table, config, n_jobs=1, progress=False, cache_dir={str(cache_dir)!r})
print("shape", a.X.shape, np.array_equal(a.X, b.X))
print("warnings", [str(w.message) for w in caught])
""", locked)
    assert "shape (36, 44, 13) True" in out, out
    assert out.count("cannot be written (Permission denied); computing without caching") == 1, out
    assert list(cache_dir.iterdir()) == []
