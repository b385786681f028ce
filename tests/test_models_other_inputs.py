"""Tests of helpers.models.other_inputs (chapter *Beyond*): fusion packing and builders."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.errors import ParameterError
from helpers.models.other_inputs import pack_fusion_inputs


def test_pack_fusion_inputs():
    X = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    D = np.array([[100, 101], [200, 201]], dtype=np.float32)
    packed = pack_fusion_inputs(X, D)
    assert packed.shape == (2, 14)
    assert np.array_equal(packed[:, :12].reshape(2, 4, 3), X) and np.array_equal(packed[:, 12:], D)
    assert np.array_equal(pack_fusion_inputs(X[..., None], D), packed)  # channel axis accepted
    with pytest.raises(ParameterError):
        pack_fusion_inputs(X, D[:1])


def test_builders():
    keras = pytest.importorskip("keras")
    from helpers.models.other_inputs import (
        DESCRIPTOR_NORM,
        adapt_descriptor_norm,
        build_descriptor_mlp,
        build_fusion_model,
        build_logmel_cnn,
    )

    packed = build_fusion_model(n_descriptors=38)
    assert packed.input_shape == (None, 259 * 13 + 38, 1) and packed.output_shape == (None, 10)
    # the packed rows are cut back into exactly the MFCC segment and the descriptors
    rng = np.random.default_rng(0)
    X, D = rng.normal(size=(3, 259, 13)).astype("float32"), rng.normal(size=(3, 38)).astype("float32")
    parts = keras.Model(packed.input, [packed.get_layer("mfcc").output, packed.get_layer("descriptors").output])
    mfcc, descriptors = parts.predict(pack_fusion_inputs(X, D)[..., None], verbose=0)
    np.testing.assert_array_equal(mfcc[..., 0], X)
    np.testing.assert_array_equal(descriptors, D)
    # the MFCC branch is the report CNN's: the same three conv blocks
    convs = [layer for layer in packed.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [tuple(c.output.shape[1:]) for c in convs] == [(259, 13, 32), (130, 7, 32), (65, 4, 32)]
    with pytest.raises(ParameterError, match="n_descriptors"):
        build_fusion_model(n_descriptors=0)
    assert adapt_descriptor_norm(packed, pack_fusion_inputs(X, D))
    np.testing.assert_allclose(packed.get_layer(DESCRIPTOR_NORM).mean.numpy().ravel(), D.mean(axis=0), atol=1e-5)

    mel = build_logmel_cnn()
    assert mel.input_shape == (None, 259, 128) and mel.output_shape == (None, 10)
    pools = [layer.output.shape[1:] for layer in mel.layers if isinstance(layer, keras.layers.MaxPooling1D)]
    assert [tuple(p) for p in pools] == [(130, 64), (65, 64), (33, 64)]
    assert build_logmel_cnn((259, 96), 4).output_shape == (None, 4)
    with pytest.raises(ParameterError):
        build_logmel_cnn(input_shape=(259, 128, 2))
    with pytest.raises(ParameterError, match="filters"):
        build_logmel_cnn(filters=())
    mlp = build_descriptor_mlp((38,), n_classes=4)
    assert mlp.input_shape == (None, 38) and mlp.output_shape == (None, 4)
    assert not adapt_descriptor_norm(mel, np.zeros((2, 259, 128)))  # no descriptor layer: nothing done
