"""Tests of helpers.models.beyond (chapter *Beyond*): fusion packing, builders, late fusion, fold scores."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.errors import DataError
from helpers.evaluation import track_accuracy
from helpers.models.beyond import fold_scores, late_fusion, pack_fusion_inputs


def test_pack_fusion_inputs():
    X = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    D = np.array([[100, 101], [200, 201]], dtype=np.float32)
    packed = pack_fusion_inputs(X, D)
    assert packed.shape == (2, 14)
    assert np.array_equal(packed[:, :12].reshape(2, 4, 3), X) and np.array_equal(packed[:, 12:], D)
    assert np.array_equal(pack_fusion_inputs(X[..., None], D), packed)  # channel axis accepted
    with pytest.raises(DataError):
        pack_fusion_inputs(X, D[:1])


def test_late_fusion():
    a = np.array([[0.8, 0.2], [0.4, 0.6]])
    b = np.array([[0.2, 0.8], [0.2, 0.8]])
    np.testing.assert_allclose(late_fusion(a, b), [[0.5, 0.5], [0.3, 0.7]])
    np.testing.assert_allclose(late_fusion(a, b, weights=[3, 1]), 0.75 * a + 0.25 * b)
    with pytest.raises(ValueError):
        late_fusion(a)
    with pytest.raises(DataError):
        late_fusion(a, b[:1])
    with pytest.raises(ValueError):
        late_fusion(a, b, weights=[1, -1])


def test_fold_scores_match_a_manual_count():
    rng = np.random.default_rng(0)
    track_ids = np.repeat([f"t{i}" for i in range(6)], 2)
    labels = np.repeat([0, 1, 2, 0, 1, 2], 2)
    folds = [(np.arange(6, 12), np.arange(0, 6)), (np.arange(0, 6), np.arange(6, 12))] * 2  # two repeats
    probs = rng.dirichlet(np.ones(3), size=(2, 12))
    scores = fold_scores(probs, labels, track_ids, folds)
    assert list(scores["repeat"]) == [0, 0, 1, 1]
    for (_, test), (_, row) in zip(folds, scores.iterrows(), strict=True):
        p = probs[int(row["repeat"])][test]
        assert row["segment_accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels[test]))
        assert row["track_accuracy"] == pytest.approx(track_accuracy(p, track_ids[test], labels[test]))
    with pytest.raises(DataError, match="repetition"):
        fold_scores(probs[:1], labels, track_ids, folds)
    holes = probs.copy()
    holes[0, 0] = np.nan
    with pytest.raises(DataError, match="without out-of-fold"):
        fold_scores(holes, labels, track_ids, folds)


def test_builders():
    keras = pytest.importorskip("keras")
    from helpers.models.beyond import build_descriptor_mlp, build_fusion_model, build_logmel_cnn

    packed = build_fusion_model(n_descriptors=38)
    two = build_fusion_model(n_descriptors=38, inputs="two")
    assert packed.input_shape == (None, 259 * 13 + 38, 1)
    assert [tuple(i.shape) for i in two.inputs] == [(None, 259, 13, 1), (None, 38)]
    assert packed.count_params() == two.count_params()  # the same network, packed or not
    # the packed model sees exactly the two parts: copy weights across and compare outputs
    two.set_weights(packed.get_weights())
    rng = np.random.default_rng(0)
    X, D = rng.normal(size=(3, 259, 13)).astype("float32"), rng.normal(size=(3, 38)).astype("float32")
    out_packed = packed.predict(pack_fusion_inputs(X, D)[..., None], verbose=0)
    out_two = two.predict([X[..., None], D], verbose=0)
    np.testing.assert_allclose(out_packed, out_two, atol=1e-5)
    with pytest.raises(ValueError, match="inputs"):
        build_fusion_model(inputs="three")

    mel = build_logmel_cnn()
    assert mel.input_shape == (None, 259, 128) and mel.output_shape == (None, 10)
    pools = [layer.output.shape[1:] for layer in mel.layers if isinstance(layer, keras.layers.MaxPooling1D)]
    assert [tuple(p) for p in pools] == [(130, 64), (65, 64), (33, 64)]
    assert build_logmel_cnn(input_shape=(259, 96, 1)).input_shape == (None, 259, 96)
    with pytest.raises(DataError):
        build_logmel_cnn(input_shape=(259, 128, 2))
    mlp = build_descriptor_mlp(38, n_classes=4)
    assert mlp.input_shape == (None, 38) and mlp.output_shape == (None, 4)
