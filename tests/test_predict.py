"""Tests of helpers.predict (chapter *Beyond*): the predict path, its errors, the CLI (the engine: test_engine.py)."""

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
from helpers.bundle import read_bundle_info
from helpers.config import GENRES, default_bundle
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
    from helpers.training import apply_standardizer, fit_model, fit_standardizer

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
    result = fit_model(build_report_cnn(), Xs, y, Xs, y, epochs=2, patience=None)
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
        read_bundle_info(tmp_path / "none")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_bundle_info(bad)
    info = json.loads(Path(str(tiny_bundle) + ".json").read_text())
    info["format"] = "something-else"
    (tmp_path / "other.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="is not a"):
        read_bundle_info(tmp_path / "other")
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


@pytest.mark.skipif(not Path(str(default_bundle()) + ".json").is_file(), reason="no committed model bundle")
def test_committed_bundle_loads_and_predicts():
    predictor = GenrePredictor(model_bundle("cnn"))
    assert predictor.engine == "numpy"  # the book's model needs no TensorFlow to run
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
    assert out == "" and "Traceback" not in err
    assert err.startswith(f"error: model bundle {stem}.json: ") and message in err


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
    assert "is 40.0 s long; the command reads files of at most 30 s" in result.error
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
    assert out == "" and "probe coef has shape (9, 200)" in err


def test_model_option_chooses_the_shipped_bundle():
    assert DEFAULT_MODEL == "probe"
    assert model_bundle("cnn") == default_bundle()
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
