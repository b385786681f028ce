"""Tests for helpers.musicnn (chapter 10): the NumPy log-mel, the Keras 3 port of the pretrained musicnn
tagger against the original's outputs, the NumPy network against the port, and the one embedding path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import musicnn
from helpers.errors import DataError, ParameterError

REFERENCE = json.loads((Path(__file__).parent / "data" / "musicnn_reference.json").read_text())


def synthetic_clip(seconds: float = 10.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A chord progression (A, D, E, A major; 2.5 s each) with a 2 Hz pulse, plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    roots = np.array([220.0, 293.66, 329.63, 220.0])[np.minimum((t // 2.5).astype(int), 3)]
    chord = sum(np.sin(2 * np.pi * np.cumsum(roots * r) / sr) for r in (1.0, 1.26, 1.5))
    pulse = 0.6 + 0.4 * (np.sin(2 * np.pi * 2.0 * t) > 0)
    return (0.1 * chord * pulse + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def keras_outputs(y, model="msd") -> dict:
    """The Keras port's outputs per patch of ``y`` (16 kHz, no level normalisation: the original's input)."""
    out = musicnn.load_musicnn(model).predict_on_batch(musicnn.patches(musicnn.log_mel(y, 16000)))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def outputs() -> dict:
    """The port's outputs on the synthetic clip, for both models."""
    pytest.importorskip("keras")
    return {model: keras_outputs(synthetic_clip(), model) for model in ("msd", "mtt")}


@pytest.mark.parametrize("model", ["msd", "mtt"])
def test_matches_the_original_network(outputs, model):
    ref, out = REFERENCE["models"][model], outputs[model]
    top = musicnn.top_tags(out["taggram"].mean(axis=0), model, k=5)
    assert [tag for tag, _ in top] == [tag for tag, _ in ref["top5_mean_taggram"]]
    np.testing.assert_allclose([p for _, p in top], [p for _, p in ref["top5_mean_taggram"]],
                               atol=1e-4)
    np.testing.assert_allclose(out["penultimate"][0, :8], ref["penultimate_patch0_first8"], atol=1e-4)
    np.testing.assert_allclose(out["penultimate"][2, :8], ref["penultimate_patch2_first8"], atol=1e-4)


def test_shapes_and_tags(outputs):
    out = outputs["msd"]
    assert out["taggram"].shape == (3, 50) and out["penultimate"].shape == (3, 200)
    assert out["max_pool"].shape == out["mean_pool"].shape == (3, 753)
    assert len(set(musicnn.TAGS["msd"])) == len(set(musicnn.TAGS["mtt"])) == 50
    assert ((out["taggram"] >= 0) & (out["taggram"] <= 1)).all()
    # 30 s at GTZAN's rate -> 16 kHz -> 1876 frames -> 10 non-overlapping patches of 187
    mel = musicnn.log_mel(np.zeros(30 * 22050, np.float32), 22050)
    assert mel.shape == (1876, 96) and musicnn.patches(mel).shape == (10, 187, 96)
    assert musicnn.patches(mel, hop=93).shape == (19, 187, 96)


def test_patches_get_their_own_embeddings(outputs):
    # The original extractor repeats the first patch's penultimate vector for every patch.
    for layer in musicnn.LAYERS:
        emb = outputs["msd"][layer]
        assert not np.allclose(emb[0], emb[1]) and not np.allclose(emb[1], emb[2]), layer


def test_numpy_log_mel_equals_librosa():
    """Stated tolerance: 2e-4 absolute on log10(10000 * mel + 1) (values up to about 6), resampling included."""
    librosa = pytest.importorskip("librosa")
    y = synthetic_clip(seconds=7.0, sr=22050, seed=3)
    y16 = librosa.resample(y, orig_sr=22050, target_sr=16000)
    mel = librosa.feature.melspectrogram(y=y16, sr=16000, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect")
    expected = np.log10(10000 * mel.T.astype(np.float32) + 1)
    for signal, sr in ((y16, 16000), (y, 22050)):
        got = musicnn.log_mel(signal, sr)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-4)


def _weights_with_negative_scales(tmp_path) -> dict:
    """The MSD weights with the batch-norm scale of every other front-end filter negated (a decreasing
    map: the NumPy network's max-over-frequency shortcut then takes the other branch)."""
    with np.load(musicnn.weights_path("msd")) as stored:
        arrays = {k: stored[k] for k in stored.files}
    for name in (*musicnn.MusicnnNumpy.TIMBRAL, *musicnn.MusicnnNumpy.TEMPORAL):
        gamma = arrays[f"{name}_bn/gamma"]
        arrays[f"{name}_bn/gamma"] = gamma * np.where(np.arange(gamma.size) % 2, -1, 1).astype(np.float32)
    np.savez(tmp_path / "signed.npz", **arrays)
    return arrays


def test_numpy_network_equals_the_keras_port(tmp_path):
    pytest.importorskip("keras")
    arrays = _weights_with_negative_scales(tmp_path)
    net = musicnn.build_musicnn()
    for variable in net.weights:
        variable.assign(arrays[variable.path])
    x = musicnn.patches(musicnn.log_mel(synthetic_clip(seconds=7.0), 16000))
    expected = net.predict_on_batch(x)
    ours = musicnn.MusicnnNumpy(tmp_path / "signed.npz")
    assert (ours._front["timbral_74"][2] < 0).any() and (ours._front["temporal_32"][2] > 0).any()
    got = ours.predict(x)
    assert set(got) == set(expected) and got["penultimate"].shape == (2, 200)
    for name, values in expected.items():
        values = np.asarray(values)
        np.testing.assert_allclose(got[name], values, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(values).max()))
    # the packaged weights too, through the cached loader the embedding path uses
    expected = keras_outputs(synthetic_clip(seconds=7.0))
    got = musicnn.musicnn_numpy("msd").predict(x)
    np.testing.assert_allclose(got["penultimate"], expected["penultimate"], rtol=1e-4, atol=1e-4)


def test_flop_count_of_a_patch():
    # timbral: 187 frames x (96 - 38 + 1 | 96 - 67 + 1) bands x 7 x (38 | 67) x 204; temporal: 187 x 96 x
    # (128 + 64 + 32) x 51; mid-end: 187 x 7 x (561 + 64 + 64) x 64; dense 1506 x 200 + 200 x 50
    macs = (187 * 59 * 7 * 38 * 204 + 187 * 30 * 7 * 67 * 204 + 187 * 96 * 224 * 51 + 187 * 7 * 689 * 64
            + 1506 * 200 + 200 * 50)
    assert musicnn.musicnn_numpy("msd").flops_per_patch() == 2 * macs


def test_numpy_network_refuses_bad_weights_and_inputs(tmp_path):
    with np.load(musicnn.weights_path("msd")) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays["timbral_74/kernel"] = arrays["timbral_74/kernel"][:, :30]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match="timbral_74/kernel should have shape"):
        musicnn.MusicnnNumpy(tmp_path / "bad.npz")
    with pytest.raises(DataError, match="cannot be read"):
        musicnn.MusicnnNumpy(tmp_path / "absent.npz")
    with pytest.raises(DataError, match=r"\(n, 187, 96\)"):
        musicnn.musicnn_numpy("msd").predict(np.zeros((1, 100, 96)))


def test_clip_embeddings_is_the_level_normalised_path():
    y = synthetic_clip(seconds=10.0)
    net = musicnn.musicnn_numpy("mtt")
    out = musicnn.clip_embeddings(y, 16000, net)
    per_patch = net.predict(musicnn.patches(musicnn.log_mel(musicnn.normalise_level(y), 16000)))
    assert out["n_patches"] == 3 and set(out["per_patch"]) == set(per_patch)
    for layer, dims in musicnn.LAYERS.items():
        assert out[f"{layer}_mean"].shape == out[f"{layer}_max"].shape == (dims,)
        np.testing.assert_allclose(out[f"{layer}_mean"], per_patch[layer].mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(out[f"{layer}_max"], per_patch[layer].max(axis=0), atol=1e-5)
    np.testing.assert_allclose(out["tags"], per_patch["taggram"].mean(axis=0), atol=1e-6)
    # loudness does not decide: a tenth or ten times the level gives the same embedding
    for gain in (0.1, 10.0):
        np.testing.assert_allclose(musicnn.clip_embeddings(gain * y, 16000, net)["penultimate_mean"],
                                   out["penultimate_mean"], rtol=1e-4, atol=1e-4)


def test_normalise_level_makes_gain_irrelevant():
    y = np.random.default_rng(5).normal(0, 0.05, 16000).astype(np.float32)
    a, b = musicnn.normalise_level(y), musicnn.normalise_level(4 * y)
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) == pytest.approx(musicnn.TARGET_RMS, rel=1e-5)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not musicnn.normalise_level(np.zeros(100)).any()  # silence stays silence
    with pytest.raises(DataError, match="NaN"):
        musicnn.normalise_level(np.array([0.0, np.nan]))


def test_loud_clip_stays_finite():
    pytest.importorskip("keras")
    import librosa

    y = synthetic_clip(seconds=4.0)
    y = 0.99 * y / np.abs(y).max()  # peak-normalised, as mastered music is
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    with np.errstate(over="ignore"):
        original = np.log10(10000 * mel.astype(np.float16) + 1)  # the original's recipe
    # float16 tops out at 65504, so 10000 * mel overflows wherever mel > 6.55 (here up to ~65)
    assert mel.max() > 6.55 and np.isinf(original).sum() > 100
    ours = musicnn.log_mel(y, 16000)
    assert np.isfinite(ours).all() and ours.max() < 6  # log10(10000 * 65 + 1) = 5.8
    out = keras_outputs(y)
    assert all(np.isfinite(out[k]).all() for k in ("taggram", *musicnn.LAYERS))
    # The same network fed the overflowed spectrogram gives NaN (eagerly) or, in graph mode (as
    # predict_on_batch and the original run it), NaNs that max-pooling drops and one input-
    # independent answer: rock 0.328, electronic 0.265, pop 0.223, for the trumpet or drum'n'bass.
    bad = musicnn.load_musicnn("msd").predict_on_batch(musicnn.patches(original.astype(np.float32)))
    error = np.abs(bad["taggram"] - out["taggram"])
    assert np.isnan(error).any() or error.max() > 0.1


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: musicnn.log_mel(np.zeros((2, 64000)), 16000), ParameterError, "y must be a 1-D"),
    (lambda: musicnn.log_mel(["a"] * 64000, 16000), ParameterError, "y must be a 1-D"),
    (lambda: musicnn.log_mel(np.zeros(64000), 0), ParameterError, "sr must be a positive"),
    (lambda: musicnn.log_mel(np.zeros(64000), 16000.0), ParameterError, "sr must be a positive"),
    (lambda: musicnn.log_mel(np.full(64000, np.nan), 16000), DataError, "NaN or infinite"),
    (lambda: musicnn.log_mel(np.zeros(16000), 16000), DataError, "1.00 s long.*at least 2.976"),
    (lambda: musicnn.patches(np.zeros((200, 40))), ParameterError, r"mel must have shape"),
    (lambda: musicnn.patches(np.zeros((200, 96)), hop=0), ParameterError, "hop must be"),
    (lambda: musicnn.patches(np.zeros((100, 96))), DataError, "100 frames"),
    (lambda: musicnn.musicnn_numpy("gtzan"), ParameterError, "model"),
    (lambda: musicnn.weights_path("MSD_musicnn"), ParameterError, "model must be one of"),
    (lambda: musicnn.clip_embeddings(np.zeros(16000), 16000, None), DataError, "at least 2.976"),
    (lambda: musicnn.top_tags(np.zeros(10)), ParameterError, r"shape \(50,\)"),
])
def test_bad_arguments_raise_clearly(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("model", ["msd", "mtt"])
def test_weight_files(model):
    path = musicnn.weights_path(model)
    assert path.stat().st_size < 8e6
    with np.load(path, allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    assert len(arrays) == 64 and all(a.dtype == np.float32 for a in arrays.values())
    assert arrays["timbral_74/kernel"].shape == (7, 38, 1, 204)
    assert arrays["midend_1/kernel"].shape == (7, 561, 64)
    assert arrays["logits/kernel"].shape == (200, 50)
    assert "ISC" in (musicnn.WEIGHTS_DIR / "LICENSE-musicnn.txt").read_text()


def test_broken_weight_file_raises(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    monkeypatch.setattr(musicnn, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "musicnn_msd.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="musicnn_msd.npz cannot be read"):
        musicnn.load_musicnn.__wrapped__("msd")
    np.savez(tmp_path / "musicnn_msd.npz", logits=np.zeros(3, np.float32))
    with pytest.raises(DataError, match="does not match the network: missing"):
        musicnn.load_musicnn.__wrapped__("msd")
