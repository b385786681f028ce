"""Tests for helpers.precision (mixed precision, chapter 6)."""

import numpy as np
import pytest

from helpers import precision

BF16_CPU = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 fma\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\nbugs\t\t: avx512_bf16_is_not_a_flag_here\n"


def test_cpu_flags_are_read_from_the_flags_line(tmp_path):
    (tmp_path / "new").write_text(BF16_CPU)
    (tmp_path / "old").write_text(OLD_CPU)
    assert precision.cpu_has_native_bfloat16(tmp_path / "new")
    assert not precision.cpu_has_native_bfloat16(tmp_path / "old")
    assert not precision.cpu_has_native_bfloat16(tmp_path / "missing")  # not Linux: no claim


def test_fast_policy_follows_the_hardware(tmp_path, monkeypatch):
    (tmp_path / "new").write_text(BF16_CPU)
    (tmp_path / "old").write_text(OLD_CPU)
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [])
    assert precision.fast_dtype_policy(tmp_path / "new") == "mixed_bfloat16"
    assert precision.fast_dtype_policy(tmp_path / "old") == "float32"
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [(7, 5)])  # a Colab T4
    assert precision.fast_dtype_policy(tmp_path / "old") == "mixed_float16"
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [(6, 0)])  # no tensor cores
    assert precision.fast_dtype_policy(tmp_path / "new") == "float32"


def test_resolve_policy():
    assert precision.resolve_policy(None) == "float32"
    assert precision.resolve_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert precision.resolve_policy("auto") in precision.POLICIES
    with pytest.raises(ValueError, match="unknown precision 'float8'"):
        precision.resolve_policy("float8")


def test_dtype_policy_applies_to_models_built_inside_and_is_restored():
    pytest.importorskip("tensorflow")
    import keras

    from helpers.models.mfcc import build_report_cnn

    before = keras.config.dtype_policy().name
    with precision.dtype_policy("mixed_bfloat16") as used:
        model = build_report_cnn((32, 13, 1))
    assert used == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
    assert precision.model_policy(model) == "mixed_bfloat16"
    conv = model.layers[0]
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"  # weights stay float32
    assert model.layers[-1].compute_dtype == "float32"  # the softmax in full precision
    out = model(np.zeros((2, 32, 13, 1), dtype="float32"))
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)
    assert precision.model_policy(build_report_cnn((32, 13, 1))) == before


def test_policy_is_restored_after_an_error():
    pytest.importorskip("tensorflow")
    import keras

    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError), precision.dtype_policy("mixed_float16"):
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == before


def test_train_and_score_builds_under_the_requested_policy():
    pytest.importorskip("tensorflow")
    from helpers.evaluation import train_and_score
    from helpers.models.mfcc import build_report_cnn

    rng = np.random.default_rng(0)
    n = 24

    class Tiny:
        X = rng.normal(size=(n, 16, 13)).astype("float32")
        labels = (np.arange(n) // 2) % 2
        track_ids = np.repeat([f"t{i}" for i in range(n // 2)], 2)
        genres = ["a", "b"]

    rows = np.arange(n)
    result = train_and_score(lambda: build_report_cnn((16, 13, 1), n_classes=2), Tiny, rows[:12], rows[12:18],
                             rows[18:], epochs=1, patience=None, precision="mixed_bfloat16")
    assert precision.model_policy(result.model) == "mixed_bfloat16"
    assert result.test_probabilities.dtype == np.float32


def test_train_and_evaluate_builds_under_the_requested_policy():
    pytest.importorskip("tensorflow")
    import pandas as pd

    from helpers.models.mfcc import build_report_cnn
    from helpers.training import train_and_evaluate

    rng = np.random.default_rng(1)
    n_tracks, per_track = 12, 2
    track_ids = np.repeat([f"t{i}" for i in range(n_tracks)], per_track)
    labels = np.repeat(np.arange(n_tracks) % 2, per_track)

    class Tiny:
        X = rng.normal(size=(n_tracks * per_track, 16, 13)).astype("float32")

        @staticmethod
        def table():
            return pd.DataFrame({"track_id": track_ids, "genre": np.where(labels == 0, "a", "b")})

    Tiny.labels, Tiny.track_ids = labels, track_ids
    rows = np.arange(len(labels))
    result = train_and_evaluate(lambda: build_report_cnn((16, 13, 1), n_classes=2), Tiny, rows[:16], rows[16:],
                                epochs=1, patience=None, precision="mixed_bfloat16")
    assert precision.model_policy(result.model) == "mixed_bfloat16"
    assert result.probabilities.dtype == np.float32 and result.probabilities.shape == (8, 2)
