"""Tests for helpers.models.mfcc (chapters 6 and 7)."""

import numpy as np
import pytest

from helpers.errors import ParameterError

keras = pytest.importorskip("keras")

from helpers.models.mfcc import (  # noqa: E402
    build_report_cnn,
    build_report_lstm,
    normalization_layer,
    report_conv_blocks,
)


def _pool_shapes(model):
    return [tuple(layer.output.shape[1:]) for layer in model.layers if "pool" in layer.name]


def test_report_cnn_layers_and_shapes():
    model = build_report_cnn()
    # 3 × (conv, pool, batchnorm) + flatten, dense, dropout, dense: the report's 13 layers.
    assert len(model.layers) == 13
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:3] == ["Conv2D", "MaxPooling2D", "BatchNormalization"]
    assert kinds[-4:] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert all(layer.kernel_size == (3, 3) for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert _pool_shapes(model) == [(130, 7, 32), (65, 4, 32), (33, 2, 32)]
    assert model.output_shape == (None, 10)
    out = model.predict(np.zeros((2, 259, 13, 1), dtype="float32"), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_tutorial_cnn_variant():
    model = build_report_cnn(variant="tutorial", n_classes=4)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3), (2, 2)]
    assert _pool_shapes(model) == [(129, 6, 32), (64, 2, 32), (32, 1, 32)]
    assert model.output_shape == (None, 4)
    with pytest.raises(ParameterError, match="variant"):
        build_report_cnn(variant="vgg")
    with pytest.raises(ParameterError, match="input_shape"):
        build_report_cnn(input_shape=(259, 13))


def test_batchnorm_momentum():
    norms = [la for la in build_report_cnn().layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(n.momentum == pytest.approx(0.99) for n in norms)  # Keras' default
    fast = build_report_cnn(variant="tutorial", bn_momentum=0.9)
    assert {la.momentum for la in fast.layers if isinstance(la, keras.layers.BatchNormalization)} == {0.9}
    with pytest.raises(ParameterError, match="momentum"):
        build_report_cnn(bn_momentum=1.0)


def test_lstm_and_gru():
    lstm = build_report_lstm()
    kinds = [type(layer).__name__ for layer in lstm.layers]
    assert kinds == ["LSTM", "LSTM", "Dense", "Dropout", "Dense"]
    assert lstm.layers[0].return_sequences and not lstm.layers[1].return_sequences
    assert lstm.layers[0].units == 64 and lstm.layers[2].units == 64
    assert lstm.layers[3].rate == pytest.approx(0.3)
    gru = build_report_lstm(cell="gru")
    assert [type(layer).__name__ for layer in gru.layers][:2] == ["GRU", "GRU"]
    # GRU: three gates instead of four → fewer weights.
    assert gru.count_params() < lstm.count_params()
    assert lstm.predict(np.zeros((3, 259, 13), dtype="float32"), verbose=0).shape == (3, 10)
    with pytest.raises(ParameterError, match="cell"):
        build_report_lstm(cell="rnn")


def test_normalization_layer_standardizes():
    mean = np.arange(13, dtype="float32")
    std = np.full(13, 2.0, dtype="float32")
    layer = normalization_layer(mean, std)
    x = np.tile(mean + 2 * std, (1, 4, 1))  # every frame two std above the mean
    np.testing.assert_allclose(np.asarray(layer(x)), 2.0, rtol=1e-5)
    model = build_report_cnn(normalization=(mean, std))
    assert len(model.layers) == 14 and model.layers[0].name == "standardize"
    # the CNN's (frames, coefficients, 1) input: the same statistics per coefficient (Keras 3.10 and 3.15)
    x_cnn = np.tile(mean + 2 * std, (1, 4, 1))[..., None]
    np.testing.assert_allclose(np.asarray(model.layers[0](x_cnn)), 2.0, rtol=1e-5)
    with pytest.raises(ParameterError, match="std"):
        normalization_layer(mean, np.zeros(13))


def test_report_conv_blocks_serve_sequential_and_functional_models():
    blocks = report_conv_blocks()
    assert [type(layer).__name__ for layer in blocks] == ["Conv2D", "MaxPooling2D", "BatchNormalization"] * 3
    assert all(a is not b for a, b in zip(blocks, report_conv_blocks(), strict=True))  # fresh layers each call
    inputs = keras.Input((259, 13, 1))
    x = inputs
    for layer in report_conv_blocks(bn_momentum=0.9):
        x = layer(x)
    assert tuple(x.shape[1:]) == (33, 2, 32)  # the same maps as build_report_cnn's
    conv_part = keras.Model(inputs, x)
    assert conv_part.count_params() == sum(layer.count_params() for layer in build_report_cnn().layers[:9])
