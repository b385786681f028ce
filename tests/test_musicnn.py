"""Tests for helpers.musicnn: the Keras 3 port of the pretrained musicnn tagger (chapter 10)."""

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


@pytest.fixture(scope="module")
def outputs() -> dict:
    """The port's outputs on the synthetic clip, for both models."""
    pytest.importorskip("keras")
    return {model: musicnn.extract(synthetic_clip(), 16000, model) for model in ("msd", "mtt")}


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
    assert out["tags"] == musicnn.TAGS["msd"] and len(set(musicnn.TAGS["mtt"])) == 50
    np.testing.assert_allclose(out["start_seconds"], [0, 2.992, 5.984])
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


def test_track_embeddings_pool_the_patches(outputs):
    y, out = synthetic_clip(), outputs["mtt"]
    emb = musicnn.track_embeddings(y, 16000, "mtt", layer="mean_pool")
    assert emb["n_patches"] == 3 and emb["mean"].shape == emb["max"].shape == (753,)
    np.testing.assert_allclose(emb["mean"], out["mean_pool"].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(emb["max"], out["mean_pool"].max(axis=0), atol=1e-5)
    np.testing.assert_allclose(emb["tags"], out["taggram"].mean(axis=0), atol=1e-6)


def test_pool_patches():
    pooled = musicnn.pool_patches([[1.0, -2.0], [3.0, -4.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(pooled["mean"], [1.0, -2.0])
    np.testing.assert_array_equal(pooled["max"], [3.0, 0.0])
    assert pooled["mean"].dtype == np.float32
    with pytest.raises(ParameterError, match="per_patch"):
        musicnn.pool_patches(np.zeros((0, 4)))


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
    out = musicnn.extract(y, 16000)
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
    (lambda: musicnn.extract(np.zeros(64000), 16000, model="gtzan"), ParameterError, "model"),
    (lambda: musicnn.weights_path("MSD_musicnn"), ParameterError, "model must be one of"),
    (lambda: musicnn.track_embeddings(np.zeros(64000), 16000, layer="cnn1"), ParameterError,
     "layer must be one of"),
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
