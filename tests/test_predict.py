"""Tests of helpers.predict (chapter *Beyond*): the predict path, its errors, the CLI (the engine: test_engine.py).

The reliability cases of issue 24 (items 5-8, 10, 11, 13, 15, 17, 20) are in the section at the end,
each named after what it holds; the near-silence cases of item 17 are in tests/test_audio.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.audio import load_mono
from helpers.bundle import read_bundle
from helpers.config import GENRES, cnn_bundle
from helpers.errors import DataError, ParameterError
from helpers.predict import DEFAULT_MODEL, GenrePredictor, main, model_bundle, predict_files

REPO = Path(__file__).resolve().parent.parent
SR = 22050


def _tone(seconds: float, sr: int, base: float = 220.0, seed: int = 0) -> np.ndarray:
    """A chord with a little deterministic noise: the 'same sound' at any sample rate."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.2 * np.sin(2 * np.pi * base * k * t) / k for k in (1, 2, 3, 5))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t))  # 2 Hz tremolo: something for the CNN to see
    return y.astype(np.float32)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A report CNN trained for two epochs on synthetic tones and saved as a bundle."""
    pytest.importorskip("keras")
    from helpers import set_seed
    from helpers.bundle import save_bundle
    from helpers.features import FeatureConfig, clip_features
    from helpers.models.mfcc import build_report_cnn
    from helpers.training import TrainingConfig, apply_standardizer, fit_model, fit_standardizer

    config = FeatureConfig()
    X, y = [], []
    for label in range(len(GENRES)):
        for k in range(2):
            signal = _tone(6.5, SR, base=110.0 * (1 + label / 3) + 7 * k)
            X.append(clip_features(signal, config, max_segments=1)[0])
            y.append(label)
    X, y = np.stack(X), np.asarray(y)
    mean, std = fit_standardizer(X)
    Xs = apply_standardizer(X, mean, std)
    set_seed(0, with_tensorflow=True)
    result = fit_model(build_report_cnn(), Xs, y, Xs, y, TrainingConfig(epochs=2, patience=None))
    stem = tmp_path_factory.mktemp("bundle") / "tiny_cnn"
    save_bundle(stem, result.model, config, mean, std, GENRES,
                {"data": "synthetic", "protocol": "none (test fixture)"})
    return stem


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    files = {
        "good": folder / "good.wav",
        "stereo44k": folder / "stereo_44k.wav",
        "long": folder / "long.flac",
        "short": folder / "short.wav",
        "silent": folder / "silent.wav",
        "text": folder / "notes.wav",
    }
    sf.write(files["good"], _tone(13.0, SR), SR)
    left = _tone(13.0, 44100)
    sf.write(files["stereo44k"], np.stack([left, left], axis=1), 44100)
    sf.write(files["long"], _tone(40.0, SR, base=330.0), SR)
    sf.write(files["short"], _tone(3.0, SR), SR)
    sf.write(files["silent"], np.zeros(10 * SR, dtype=np.float32), SR)
    files["text"].write_text("this is not audio\n" * 100)
    return files


def test_good_file_top3(tiny_bundle, audio_files):
    [result] = predict_files([audio_files["good"]], bundle=tiny_bundle)
    assert result.error is None
    assert result.n_segments == 2  # 13 s holds two whole 6 s segments
    assert result.duration == pytest.approx(13.0, abs=0.01)
    assert len(result.top) == 3
    genres = [g for g, _ in result.top]
    probs = [p for _, p in result.top]
    assert set(genres) <= set(GENRES) and len(set(genres)) == 3
    assert probs == sorted(probs, reverse=True)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert probs[0] == pytest.approx(result.probabilities.max())
    # the clip-level probabilities are the mean of the segment probabilities
    np.testing.assert_allclose(result.segment_probabilities.mean(axis=0), result.probabilities, atol=1e-6)
    assert set(result.seconds) == {"load", "features", "predict", "total"}
    assert str(audio_files["good"]) in str(result) and "1. " in str(result)


def test_numpy_engine_matches_keras_on_a_file(tiny_bundle, audio_files):
    fast = GenrePredictor(tiny_bundle, engine="numpy")
    slow = GenrePredictor(tiny_bundle, engine="keras")
    assert (fast.engine, slow.engine) == ("numpy", "keras")
    a = fast.predict_file(audio_files["long"])
    b = slow.predict_file(audio_files["long"])
    np.testing.assert_allclose(a.segment_probabilities, b.segment_probabilities, atol=1e-5)
    assert [g for g, _ in a.top] == [g for g, _ in b.top]


def test_stereo_44k_file_is_resampled_and_mixed(tiny_bundle, audio_files):
    mono, stereo = predict_files([audio_files["good"], audio_files["stereo44k"]], bundle=tiny_bundle)
    assert stereo.n_segments == mono.n_segments == 2
    assert stereo.duration == pytest.approx(mono.duration, abs=0.01)
    # the same sound at another rate and in two channels gives (nearly) the same answer
    np.testing.assert_allclose(stereo.probabilities, mono.probabilities, atol=0.05)
    y = load_mono(audio_files["stereo44k"], sr=SR)
    assert y.ndim == 1 and abs(len(y) - 13 * SR) <= 2


def test_long_file_uses_every_whole_segment(tiny_bundle, audio_files):
    [result] = predict_files(audio_files["long"], bundle=tiny_bundle)
    assert result.n_segments == 6  # 40 s → six whole 6 s segments (more than GTZAN's five)


@pytest.mark.parametrize(
    ("name", "message"),
    [("short", "66150 samples long at 22050 Hz, shorter than one segment"), ("silent", "silent"),
     ("text", "not an audio file")],
)
def test_bad_files_raise_naming_the_file(tiny_bundle, audio_files, name, message):
    with pytest.raises(DataError, match=message) as error:
        predict_files([audio_files[name]], bundle=tiny_bundle)
    assert str(audio_files[name]) in str(error.value)


def test_missing_file_raises(tiny_bundle, tmp_path):
    with pytest.raises(DataError, match="nowhere.wav"):
        predict_files([tmp_path / "nowhere.wav"], bundle=tiny_bundle)


def test_keep_errors_classifies_the_others(tiny_bundle, audio_files):
    results = predict_files([audio_files["text"], audio_files["good"]], bundle=tiny_bundle, on_error="keep")
    assert results[0].error is not None and str(audio_files["text"]) in results[0].error
    assert results[1].error is None and len(results[1].top) == 3


def test_cli_exit_codes_and_output(tiny_bundle, audio_files, capsys):
    code = main([str(audio_files["good"]), str(audio_files["silent"]), "--bundle", str(tiny_bundle), "--timing"])
    out, err = capsys.readouterr()
    assert code == 1
    assert str(audio_files["good"]) in out and "  3. " in out and "%" in out
    assert f"error: audio file {audio_files['silent']} is silent" in err
    assert "timing:" in err and "features" in err and "engine numpy" in err
    assert main([str(audio_files["good"]), "--bundle", str(tiny_bundle), "--json", "--top", "2"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["segments"] == 2 and len(record["top"]) == 2
    assert main([str(audio_files["good"]), "--bundle", str(tiny_bundle.parent / "absent")]) == 2
    assert "absent.json is missing" in capsys.readouterr().err


def test_cli_subprocess_does_not_import_tensorflow(tiny_bundle, audio_files):
    code = (
        "import sys; from helpers.predict import main; "
        f"rc = main([{str(audio_files['good'])!r}, '--bundle', {str(tiny_bundle)!r}]); "
        "print('TF' if 'tensorflow' in sys.modules else 'noTF'); sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1. " in done.stdout and done.stdout.strip().endswith("noTF")


def test_bundle_errors(tmp_path, tiny_bundle):
    with pytest.raises(DataError, match="is missing"):
        read_bundle(tmp_path / "none")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_bundle(bad)
    info = json.loads(Path(str(tiny_bundle) + ".json").read_text())
    info["format"] = "something-else"
    (tmp_path / "other.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="is not a"):
        read_bundle(tmp_path / "other")
    with pytest.raises(ParameterError, match="engine"):
        GenrePredictor(tiny_bundle, engine="torch")


def test_unsupported_layers_fall_back_to_keras(tmp_path, tiny_bundle):
    pytest.importorskip("keras")
    from helpers.bundle import save_bundle
    from helpers.features import FeatureConfig
    from helpers.models.mfcc import build_report_lstm

    model = build_report_lstm()
    stem = tmp_path / "lstm"
    save_bundle(stem, model, FeatureConfig(), np.zeros(13), np.ones(13), GENRES,
                {"data": "synthetic", "protocol": "none (test)"})
    with pytest.raises(NotImplementedError, match="LSTM"):
        GenrePredictor(stem, engine="numpy")
    predictor = GenrePredictor(stem, engine="auto")
    assert predictor.engine == "keras"
    result = predictor.predict_signal(_tone(6.5, SR), name="tone")
    assert result.n_segments == 1 and result.probabilities.shape == (10,)


@pytest.mark.skipif(not Path(str(cnn_bundle()) + ".json").is_file(), reason="no committed model bundle")
def test_committed_bundle_loads_and_predicts():
    predictor = GenrePredictor(model_bundle("cnn"))
    assert predictor.engine == "numpy"  # the book's model needs no TensorFlow to run
    # chapter 8 saves it with the level of its training clips (helpers.audio.typical_level): issue 24 item 17
    assert predictor.bundle.level is not None, "the shipped CNN bundle records no training level"
    assert predictor.genres == GENRES
    assert predictor.info["metadata"]["data"].split()[0] in ("full", "mini", "synthetic")  # e.g. "mini GTZAN"
    result = predictor.predict_signal(_tone(12.5, SR), name="tone")
    assert result.n_segments == 2 and result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    pytest.importorskip("keras")
    slow = GenrePredictor(model_bundle("cnn"), engine="keras").predict_signal(_tone(12.5, SR), name="tone")
    np.testing.assert_allclose(result.segment_probabilities, slow.segment_probabilities, atol=1e-5)


# ------------------------------------------------------------------ issue 17: bundles and the command


def test_clip_one_sample_short_is_reported_in_samples(tiny_bundle, tmp_path):
    path = tmp_path / "almost.wav"
    sf.write(path, _tone(7.0, SR)[: 6 * SR - 1], SR)  # one sample short of a 6 s segment
    [result] = predict_files([path], bundle=tiny_bundle, on_error="keep")
    assert "is 132299 samples long at 22050 Hz, shorter than one segment (132300 samples, 6 s)" in result.error


def _edited_bundle(tiny_bundle, folder, edit):
    """A copy of the test bundle with its JSON description edited."""
    info = json.loads(Path(str(tiny_bundle) + ".json").read_text())
    info["model_file"] = "edited.keras"
    edit(info)
    stem = folder / "edited"
    Path(str(stem) + ".keras").write_bytes(Path(str(tiny_bundle) + ".keras").read_bytes())
    Path(str(stem) + ".json").write_text(json.dumps(info))
    return stem


@pytest.mark.parametrize(("edit", "message"), [
    (lambda info: info["standardization"].update(std=[0.0] * 13), "std must be positive"),
    (lambda info: info["standardization"].update(std=[float("nan")] * 13), "NaN"),
    (lambda info: info.update(genres=info["genres"][:9]), "names 9 genres"),
    (lambda info: info.update(model_file="../x.keras"), "model_file '../x.keras'"),
    (lambda info: info["feature_config"].update(hop_length=256), "does not fit the feature settings"),
])
def test_cli_exits_2_with_a_message_for_a_bad_bundle(tiny_bundle, audio_files, tmp_path, capsys, edit, message):
    stem = _edited_bundle(tiny_bundle, tmp_path, edit)
    assert main([str(audio_files["good"]), "--bundle", str(stem), "--json"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: model bundle {stem}.json: ") and message in err
    [record] = map(json.loads, out.splitlines())  # --json: a record per input, naming the bundle's problem
    assert record["path"] == str(audio_files["good"]) and record["error"] == err.strip()[len("error: "):]


def test_cli_exits_2_for_an_edited_kernel_shape(tiny_bundle, audio_files, tmp_path, capsys):
    import zipfile

    stem = _edited_bundle(tiny_bundle, tmp_path, lambda info: None)
    keras_path = Path(str(stem) + ".keras")
    with zipfile.ZipFile(keras_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")["config"]["kernel_size"] = [5, 5]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(keras_path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert main([str(audio_files["good"]), "--bundle", str(stem)]) == 2
    err = capsys.readouterr().err
    assert "weights and architecture disagree" in err and str(keras_path) in err and "Traceback" not in err


def test_json_has_one_record_per_input_errors_included(tiny_bundle, audio_files, capsys):
    files = [audio_files["good"], audio_files["text"], audio_files["short"]]
    assert main([*map(str, files), "--bundle", str(tiny_bundle), "--json"]) == 1
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in JSON")) for line in lines]
    assert [r["path"] for r in records] == [str(f) for f in files]
    assert records[0]["error"] is None and records[0]["segments"] == 2 and len(records[0]["top"]) == 3
    assert "not an audio file" in records[1]["error"] and records[1]["top"] == []
    assert "shorter than one segment" in records[2]["error"] and records[2]["duration_s"] is None


def test_closed_output_ends_quietly(tiny_bundle, audio_files):
    read, write = os.pipe()
    os.close(read)  # like `| head -1` after its first line: every write now fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "helpers.predict", str(audio_files["good"]),
                               str(audio_files["good"]), "--bundle", str(tiny_bundle)],
                              cwd=REPO, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 1


def _truncated(path, y, fmt):
    sf.write(path, y, SR, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(("fmt", "suffix"), [("MP3", "mp3"), ("OGG", "ogg")])
def test_truncated_compressed_files_are_reported(tiny_bundle, tmp_path, capfd, fmt, suffix):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {fmt}")
    whole = tmp_path / f"whole.{suffix}"
    sf.write(whole, _tone(20.0, SR), SR, format=fmt)
    cut = _truncated(tmp_path / f"cut.{suffix}", _tone(20.0, SR), fmt)
    good, bad = predict_files([whole, cut], bundle=tiny_bundle, on_error="keep")
    assert good.error is None and good.n_segments == 3
    assert bad.error is not None and f"audio file {cut} is truncated" in bad.error
    assert "Xing" not in capfd.readouterr().err  # the decoder's own noise is silenced


def test_long_files_are_refused_before_decoding(tiny_bundle, audio_files):
    predictor = GenrePredictor(tiny_bundle, max_seconds=30.0)
    [result] = predict_files([audio_files["long"]], predictor=predictor, on_error="keep")
    assert "is 40.0 s long; at most 30 s are read" in result.error
    assert predictor.predict_file(audio_files["good"]).n_segments == 2
    with pytest.raises(ParameterError, match="max_seconds"):
        GenrePredictor(tiny_bundle, max_seconds=0)


# ------------------------------------------------------------------ the musicnn probe bundle (issue 14)


@pytest.fixture(scope="session")
def probe_bundle(tmp_path_factory):
    """A probe bundle with random (but valid) arrays: tests the path, not the accuracy."""
    from helpers.bundle import save_probe_bundle

    rng = np.random.default_rng(0)
    probe = {"mean": rng.normal(0, 0.1, 200).tolist(), "scale": (np.abs(rng.normal(size=200)) + 0.5).tolist(),
             "coef": rng.normal(0, 0.3, (10, 200)).tolist(), "intercept": rng.normal(size=10).tolist()}
    stem = tmp_path_factory.mktemp("probe") / "probe"
    save_probe_bundle(stem, probe, GENRES, {"data": "synthetic", "protocol": "none (test fixture)"},
                      target_rms=0.1)
    return stem


def test_probe_bundle_predicts_a_file(probe_bundle, audio_files):
    predictor = GenrePredictor(probe_bundle)
    assert predictor.engine == "numpy" and predictor.sr == 16000
    result = predictor.predict_file(audio_files["good"])
    assert result.error is None and result.n_segments == 4  # 13 s holds four 3 s musicnn patches
    assert result.probabilities.shape == (10,) and result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.top[0][1] == pytest.approx(result.probabilities.max())
    assert result.segment_probabilities.shape == (4, 10)


def test_probe_bundle_ignores_the_level(probe_bundle, tmp_path):
    """The clip is scaled to a fixed RMS before the log-mel: half or double volume changes nothing."""
    predictor = GenrePredictor(probe_bundle)
    y = _tone(7.0, SR)
    results = []
    for gain in (0.5, 1.0, 2.0):
        path = tmp_path / f"gain{gain}.wav"
        sf.write(path, gain * y, SR, subtype="FLOAT")
        results.append(predictor.predict_file(path).probabilities)
    np.testing.assert_allclose(results[0], results[1], atol=1e-4)
    np.testing.assert_allclose(results[2], results[1], atol=1e-4)


def test_probe_bundle_numpy_equals_keras(probe_bundle, audio_files):
    pytest.importorskip("keras")
    fast = GenrePredictor(probe_bundle, engine="numpy").predict_file(audio_files["good"])
    slow = GenrePredictor(probe_bundle, engine="keras").predict_file(audio_files["good"])
    np.testing.assert_allclose(fast.probabilities, slow.probabilities, atol=1e-4)


def test_probe_bundle_short_clip_and_bad_bundle(probe_bundle, audio_files, tmp_path, capsys):
    [result] = predict_files([audio_files["short"]], bundle=probe_bundle, on_error="keep")
    assert result.error is None and result.n_segments == 1  # 3 s is one musicnn patch
    path = tmp_path / "tiny.wav"
    sf.write(path, _tone(2.5, SR), SR)
    [result] = predict_files([path], bundle=probe_bundle, on_error="keep")
    assert "shorter than one segment" in result.error
    info = json.loads(Path(str(probe_bundle) + ".json").read_text())
    info["probe"]["coef"] = info["probe"]["coef"][:9]
    Path(tmp_path / "bad.json").write_text(json.dumps(info))
    assert main([str(audio_files["good"]), "--bundle", str(tmp_path / "bad"), "--json"]) == 2
    out, err = capsys.readouterr()
    assert "probe coef has shape (9, 200)" in err and "probe coef has shape (9, 200)" in json.loads(out)["error"]


def test_model_option_chooses_the_shipped_bundle():
    assert DEFAULT_MODEL == "probe"
    assert model_bundle("cnn") == cnn_bundle()
    assert model_bundle("probe").name == "musicnn_probe"
    with pytest.raises(ParameterError):
        model_bundle("svm")


@pytest.mark.skipif(not Path(str(model_bundle("probe")) + ".json").is_file(), reason="no shipped probe bundle")
def test_shipped_probe_bundle_cli_runs_without_tensorflow(audio_files):
    code = ("import sys; from helpers.predict import main; "
            f"rc = main([{str(audio_files['good'])!r}, '--json']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["error"] is None and record["top"][0][0] in GENRES and record["segments"] == 4


# ------------------------------------------------------------------ many files: folders, cores, resume (issue 23)


@pytest.fixture
def clip_folder(tmp_path):
    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        sf.write(folder / ("sub" if i == 3 else "") / f"clip{i}.wav", _tone(3.5, SR, base=200.0 + 50 * i), SR)
    (folder / "notes.txt").write_text("not a clip")  # not an audio suffix: not taken
    return folder


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_folder_output_is_resumable_after_an_interruption(probe_bundle, clip_folder, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    first = sorted(str(p) for p in clip_folder.glob("clip[01].wav"))
    assert main([*first, "--bundle", str(probe_bundle), "--output", str(out)]) == 0
    done = out.read_text()
    assert [r["path"] for r in _records(out)] == first
    with open(out, "a") as file:  # a run killed while writing its third record
        file.write('{"path": "' + str(clip_folder / "clip2.wav") + '", "err')
    assert main([str(clip_folder), "--bundle", str(probe_bundle), "--output", str(out)]) == 0
    records = _records(out)
    assert out.read_text().startswith(done)  # the earlier records are kept, not recomputed
    assert sorted(r["path"] for r in records) == sorted(map(str, [*clip_folder.glob("*.wav"), clip_folder / "sub/clip3.wav"]))
    assert all(r["error"] is None and r["segments"] == 1 for r in records)
    assert "2 already there, skipped" in capsys.readouterr().err
    assert main([str(clip_folder), "--bundle", str(probe_bundle), "--output", str(out)]) == 0  # nothing left to do
    assert len(_records(out)) == 4


def test_jobs_classify_on_worker_processes_as_files_finish(probe_bundle, clip_folder, tmp_path, capsys):
    code = main([str(clip_folder), str(tmp_path / "absent.wav"), "--bundle", str(probe_bundle), "--jobs", "2",
                 "--json"])
    assert code == 1  # the absent file is an error record; the others are classified
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 5 and sum(r["error"] is not None for r in records) == 1
    serial = {r.path: r.probabilities for r in predict_files(sorted(map(str, clip_folder.rglob("*.wav"))),
                                                             bundle=probe_bundle)}
    for record in records:
        if record["error"] is None:
            expected = serial[record["path"]]
            assert record["top"][0][1] == pytest.approx(float(expected.max()), abs=1e-5)
    assert main([str(clip_folder), "--bundle", str(probe_bundle), "--jobs", "0"]) == 2


# ------------------------------------------------------------------ a light prediction path (issues 23 and 24)

#: What the prediction path must never import (slow to import; numba needs a writable cache folder).
HEAVY = ("tensorflow", "keras", "librosa", "numba", "sklearn", "pandas")


@pytest.mark.parametrize(("model", "home"), [("probe", "unset"), ("cnn", "unset"), ("probe", "locked"),
                                           ("cnn", "locked"), ("cnn", "/nonexistent")])
def test_prediction_path_is_light_and_needs_no_writable_home(audio_files, tmp_path, unprivileged, model, home):
    """Issues 23 and 24 (item 8): after importing helpers.predict and after classifying a clip, no heavy
    library is loaded (numba's cache needed a writable HOME); as a user who cannot read or write HOME
    (unset, a folder of mode 000, a folder that does not exist), from a folder outside the checkout."""
    locked = tmp_path / "home"
    locked.mkdir()
    locked.chmod(0)
    code = (
        "import json, sys\n"
        f"heavy = lambda: sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "from helpers.predict import main\n"
        "after_import = heavy()\n"
        f"rc = main([{str(audio_files['good'])!r}, '--model', {model!r}, '--json'])\n"
        "print(json.dumps({'rc': rc, 'after_import': after_import, 'after_classifying': heavy()}))\n"
    )
    home_value = {"unset": None, "locked": str(locked)}.get(home, home)
    try:
        out = unprivileged(code, locked, env={"HOME": home_value, "XDG_CACHE_HOME": None, "NUMBA_CACHE_DIR": None},
                           cwd=tmp_path)
    finally:
        locked.chmod(0o700)
    record, summary = (json.loads(line) for line in out.strip().splitlines()[-2:])
    assert summary == {"rc": 0, "after_import": [], "after_classifying": []}, summary
    assert record["error"] is None and record["top"][0][0] in GENRES


# ------------------------------------------------------------------ reliability, round 3 (issue 24)

SHIPPED_CNN = Path(str(model_bundle("cnn")) + ".json")
needs_shipped_cnn = pytest.mark.skipif(not SHIPPED_CNN.is_file(), reason="no committed CNN bundle")


def _hostile_copy(folder: Path, base, edit=None, edit_layers=None, replace=()) -> Path:
    """A copy of bundle ``base`` with its JSON (``edit``, then text ``replace``) or, for a CNN, the
    layers of its network's config.json (``edit_layers``) changed; returns the copy's stem."""
    import zipfile

    info = json.loads(Path(str(base) + ".json").read_text())
    stem = folder / "hostile"
    if "model_file" in info:
        info["model_file"] = "hostile.keras"
        files = {}
        with zipfile.ZipFile(str(base) + ".keras") as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
        if edit_layers is not None:
            config = json.loads(files["config.json"])
            edit_layers(config["config"]["layers"])
            files["config.json"] = json.dumps(config).encode()
        with zipfile.ZipFile(str(stem) + ".keras", "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    if edit is not None:
        edit(info)
    text = json.dumps(info).encode()
    for old, new in replace:
        text = text.replace(old, new)
    Path(str(stem) + ".json").write_bytes(text)
    return stem


def _layer(kind: str, number: int = 0):
    """An edit of the ``number``-th layer of class ``kind`` in a network's layer list."""
    def edit(function):
        def apply(layers):
            function([layer for layer in layers if layer["class_name"] == kind][number])
        return apply
    return edit


def _cli_fails_with_one_line(args, capsys, message) -> str:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err, err
    return out


@needs_shipped_cnn
@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_cnn_bundle_whose_output_is_not_a_softmax_is_refused(audio_files, tmp_path, capsys, activation):
    """Item 5: a last Dense layer without a softmax printed "blues 559.5 %" with exit 0."""
    stem = _hostile_copy(tmp_path, model_bundle("cnn"),
                         edit_layers=_layer("Dense", -1)(lambda layer: layer["config"].update(activation=activation)))
    _cli_fails_with_one_line([str(audio_files["good"]), "--bundle", str(stem), "--model", "cnn"], capsys,
                             f"is a Dense with activation '{activation}': it must be a Dense layer with a softmax")
    with pytest.raises(DataError, match="softmax"):
        GenrePredictor(stem)


@pytest.mark.parametrize("where", ["genre", "file name"])
def test_printed_names_are_escaped(probe_bundle, audio_files, tmp_path, capsys, where):
    """Item 6: a genre or file name holding terminal escape codes is printed with them escaped."""
    stem, path = probe_bundle, audio_files["good"]
    if where == "genre":
        stem = _hostile_copy(tmp_path, probe_bundle,
                             edit=lambda info: info.update(genres=["\x1b[31mred\x1b[0m", *info["genres"][1:]]))
    else:
        path = tmp_path / "clip\x1b]0;owned\x07.wav"
        path.write_bytes(audio_files["good"].read_bytes())
    assert main([str(path), "--bundle", str(stem), "--top", "10"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert ("\\x1b[31mred\\x1b[0m" if where == "genre" else "clip\\x1b]0;owned\\x07.wav") in out


@pytest.mark.parametrize("mode", ["text", "json", "output"])
def test_a_file_name_that_is_not_utf8_is_classified_with_the_others(probe_bundle, audio_files, tmp_path, capsys,
                                                                   mode):
    """Item 7: a non-UTF-8 file name raised UnicodeEncodeError and the remaining files were never classified."""
    folder = tmp_path / "clips"
    folder.mkdir()
    odd = folder / os.fsdecode(b"caf\xe9.wav")
    odd.write_bytes(audio_files["good"].read_bytes())
    (folder / "plain.wav").write_bytes(audio_files["good"].read_bytes())
    records = tmp_path / "out.jsonl"
    options = {"text": [], "json": ["--json"], "output": ["--output", str(records)]}[mode]
    assert main([str(odd), str(folder / "plain.wav"), "--bundle", str(probe_bundle), *options]) == 0
    out = capsys.readouterr().out
    if mode == "text":
        assert "caf\\xe9.wav  (13.0 s, 4 segments)" in out and "plain.wav  (13.0 s" in out
        return
    lines = out.splitlines() if mode == "json" else records.read_text().splitlines()
    assert [json.loads(line)["path"] for line in lines] == [str(odd), str(folder / "plain.wav")]
    assert all(json.loads(line)["error"] is None for line in lines)
    assert os.fsencode(json.loads(lines[0])["path"]).endswith(b"caf\xe9.wav")  # the name's bytes come back


_DEEP = b'"@@deep@@"'


def _nested(depth: int) -> list:
    """A list nested ``depth`` levels deep."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


HOSTILE = {  # name: (base, JSON edit, network layer edit, text replacements, message)
    "variant is a list": ("probe", lambda i: i["musicnn"].update(variant=[]), None, (),
                          "musicnn variant [] is not one of"),
    "layer is an object": ("probe", lambda i: i["musicnn"].update(layer={}), None, (),
                           "musicnn layer {} is not one of"),
    "kind is a list": ("probe", lambda i: i.update(kind=[]), None, (), "kind [] is not one of"),
    "200,000-deep nesting": ("cnn", lambda i: i["metadata"].update(notes="@@deep@@"), None,
                             ((_DEEP, b"[" * 200_000 + b"]" * 200_000),), "levels deep (at most 64 are read)"),
    "5,000-digit integer": ("cnn", lambda i: i.update(format_version="@@deep@@"), None,
                            ((_DEEP, b"1" + b"0" * 4999),), "holds an integer of 5000 digits"),
    "Conv2D strides [0, 0]": ("cnn", None, _layer("Conv2D")(lambda layer: layer["config"].update(strides=[0, 0])),
                              (), "'conv2d' (Conv2D) has strides [0, 0]: it must be positive whole numbers"),
    "MaxPooling2D strides [0, 0]": ("cnn", None,
                                    _layer("MaxPooling2D")(lambda layer: layer["config"].update(strides=[0, 0])),
                                    (), "(MaxPooling2D) has strides [0, 0]"),
    "layer config is a list": ("cnn", None, _layer("Conv2D", 1)(lambda layer: layer.update(config=[])), (),
                               "config.json) is malformed: layer 4 is not an object with a class_name and a config"),
    "track_seconds Infinity": ("cnn", lambda i: i["feature_config"].update(track_seconds="@@deep@@"), None,
                               ((_DEEP, b"Infinity"),), "holds Infinity, which is not JSON"),
    "track_seconds 1e999": ("cnn", lambda i: i["feature_config"].update(track_seconds="@@deep@@"), None,
                            ((_DEEP, b"1e999"),), "beyond the range of a float"),
    "std 1e-300": ("cnn", lambda i: i.update(standardization={"mean": [0.0] * 13, "std": [1e-300] * 13}), None, (),
                   "standardization std must be positive, at least 1e-05"),
    "mean 1e300": ("cnn", lambda i: i.update(standardization={"mean": [1e300] * 13, "std": [1.0] * 13}), None, (),
                   "standardization mean holds 1e+300, implausibly large"),
    "probe scale 1e-300": ("probe", lambda i: i["probe"].update(scale=[1e-300] * 200), None, (),
                           "probe scale must be positive"),
    "level 1e300": ("cnn", lambda i: i.update(level={"rms": 1e300}), None, (), "level {'rms': 1e+300} must be null"),
    "genres nested": ("cnn", lambda i: i.update(genres=[[]] * 10), None, (), "must be a list of at least two"),
    "not UTF-8": ("cnn", None, None, ((b'"mini GTZAN"', b'"mini \xff GTZAN"'),), "is not UTF-8 text"),
    "deep network config": ("cnn", None, _layer("Dense", -1)(lambda layer: layer["config"].update(
        activation=_nested(80))), (), "config.json in hostile.keras) nests"),
}


@needs_shipped_cnn
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_bundle_is_one_line_and_exit_2(probe_bundle, audio_files, tmp_path, capsys, case):
    """Item 10: unhashable values, deep nesting, huge integers, zero strides, a layer config that is a list,
    Infinity, implausible statistics gave TypeError, RecursionError, ValueError, ZeroDivisionError,
    AttributeError, OverflowError tracebacks (exit 1) or passed the check."""
    base, edit, layers, replace, message = HOSTILE[case]
    stem = _hostile_copy(tmp_path, probe_bundle if base == "probe" else model_bundle("cnn"), edit, layers, replace)
    out = _cli_fails_with_one_line([str(audio_files["good"]), "--bundle", str(stem), "--json"], capsys, message)
    assert json.loads(out)["error"].startswith(f"model bundle {stem}.json: ")
    with pytest.raises(DataError, match="model bundle"):
        read_bundle(stem)


@pytest.mark.parametrize("stem", ["", ".", "/"])
def test_bundle_path_without_a_name_exits_2(audio_files, capsys, stem):
    """Item 11: --bundle "", "." or "/" gave a ValueError traceback (exit 1)."""
    _cli_fails_with_one_line([str(audio_files["good"]), "--bundle", stem], capsys, "is not a bundle: give its stem")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpers.predict", *args]


@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_stdout_full_or_closed_is_one_line_and_exit_1(probe_bundle, audio_files, stdout):
    """Item 13: stdout to /dev/full or closed gave OSError / AttributeError tracebacks."""
    if stdout == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    target = open("/dev/full", "w") if stdout == "/dev/full" else None  # noqa: SIM115
    try:
        done = subprocess.run(_command(str(audio_files["good"]), "--bundle", str(probe_bundle)), cwd=REPO,
                              stdout=target, stderr=subprocess.PIPE, text=True, timeout=120,
                              preexec_fn=None if target else lambda: os.close(1))
    finally:
        if target:
            target.close()
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("No space left on device" if target else "standard output is closed") in done.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_mid_batch_exits_130_with_the_printed_lines_intact(probe_bundle, audio_files, jobs):
    """Item 13: SIGINT (to the whole process group, as Ctrl-C sends it) mid-batch gave KeyboardInterrupt
    tracebacks, from the workers too."""
    import signal

    files = [str(audio_files["good"])] * 200
    process = subprocess.Popen(_command(*files, "--bundle", str(probe_bundle), "--json", "--jobs", jobs), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = process.stdout.readline()
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.count("\n") == 1 and "interrupted" in err, err
    lines = (first + out).splitlines()
    assert 1 <= len(lines) < len(files)
    assert all(json.loads(line)["error"] is None for line in lines)  # every printed line is whole


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
@pytest.mark.parametrize("model", ["probe", "cnn"])
def test_max_segments_must_be_a_positive_whole_number(probe_bundle, tiny_bundle, model, value):
    """Item 15: max_segments=0 gave "cannot reshape" (CNN); -1 silently dropped the last 2.9 s (probe)."""
    with pytest.raises(ParameterError, match="max_segments must be None"):
        GenrePredictor(probe_bundle if model == "probe" else tiny_bundle, max_segments=value)
    capped = GenrePredictor(probe_bundle if model == "probe" else tiny_bundle, max_segments=1)
    assert capped.predict_signal(_tone(13.0, capped.sr)).n_segments == 1


@needs_shipped_cnn
@pytest.mark.parametrize("gain", [1e-3, 1000.0])
def test_cnn_answer_does_not_depend_on_the_level(tmp_path, gain):
    """Item 17: the same clip x1000 (float WAV) became "hiphop 100 %", x1e-3 "classical 99.97 %". The CNN
    path now scales every clip to its bundle's recorded training level first, as the probe does."""
    stem = _hostile_copy(tmp_path, model_bundle("cnn"), edit=lambda info: info.update(level={"rms": 0.14}))
    predictor = GenrePredictor(stem)
    y = _tone(13.0, SR)
    paths = {}
    for g in (1.0, gain):
        paths[g] = tmp_path / f"x{g}.wav"
        sf.write(paths[g], (np.float32(g) * y).astype(np.float32), SR, subtype="FLOAT")  # no clipping
    reference, scaled = (predictor.predict_file(paths[g]).probabilities for g in (1.0, gain))
    np.testing.assert_allclose(scaled, reference, atol=1e-4)


def test_json_with_a_bad_bundle_gives_an_error_record_per_input(clip_folder, audio_files, tmp_path, capsys):
    """Item 20: --json with a bundle error printed nothing on stdout; a script reading --json needs a
    record per input (files, and every audio file of a folder). With --output nothing is appended."""
    missing = tmp_path / "absent"
    assert main([str(audio_files["text"]), str(clip_folder), "--bundle", str(missing), "--json"]) == 2
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(audio_files["text"]),
                                            *sorted(str(p) for p in clip_folder.rglob("*.wav"))]
    assert all(r["error"] == f"model bundle description {missing}.json is missing (train and save the model "
               "first)" and r["top"] == [] and r["duration_s"] is None for r in records)
    assert err.startswith("error: model bundle description") and err.count("\n") == 1
    output = tmp_path / "results.jsonl"
    assert main([str(clip_folder), "--bundle", str(missing), "--json", "--output", str(output)]) == 2
    assert capsys.readouterr().out == "" and not output.exists()  # a later run still classifies every file
