"""Tests of helpers.engine (chapter *Beyond*): every supported layer equals Keras on random weights; the rest is refused."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from helpers.engine import SUPPORTED_ACTIVATIONS, SUPPORTED_LAYERS, NumpyModel
from helpers.errors import DataError

keras = pytest.importorskip("keras")
layers = keras.layers


def _randomized(model, seed=0):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        values = rng.normal(0, 0.3, size=weight.shape)
        if "variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values.astype("float32"))
    return model


def _small_cnn_2d():
    """Strided valid convolutions, pooling windows other than their strides, GAP and a linear Dense."""
    return keras.Sequential([keras.Input((17, 11, 2)), layers.Conv2D(4, (3, 2), strides=(2, 1), activation="relu"),
                             layers.MaxPooling2D((3, 3), strides=(2, 1)), layers.Conv2D(3, 2, padding="same"),
                             layers.GlobalAveragePooling2D(), layers.Dense(5)])


def _builders():
    from helpers.models.mfcc import build_report_cnn
    from helpers.models.other_inputs import (
        build_descriptor_mlp,
        build_fusion_model,
        build_logmel_cnn,
    )

    return {
        "report_cnn": (build_report_cnn, (3, 259, 13, 1)),
        "tutorial_cnn": (lambda: build_report_cnn(variant="tutorial"), (3, 259, 13, 1)),
        "normalized_cnn": (lambda: build_report_cnn(normalization=(np.arange(13.0), np.arange(1.0, 14.0))),
                           (2, 259, 13, 1)),
        "logmel_cnn": (build_logmel_cnn, (2, 259, 128)),
        "fusion_packed": (build_fusion_model, (3, 259 * 13 + 38, 1)),
        "descriptor_mlp": (build_descriptor_mlp, (4, 38)),
        "small_cnn_2d": (_small_cnn_2d, (3, 17, 11, 2)),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_numpy_model_equals_keras(tmp_path, name):
    build, shape = _builders()[name]
    model = _randomized(build())
    X = np.random.default_rng(1).normal(size=shape).astype("float32")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    engine = NumpyModel(path)
    assert len(engine.input_shape) == len(model.input_shape)
    assert engine.output_shape == tuple(model.output_shape)
    # compare with the model as Keras loads it from the same file (what the predict command uses)
    reloaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(engine.predict(X), reloaded.predict(X, verbose=0), atol=2e-5)


def test_every_supported_layer_and_activation_is_covered():
    """The models compared with Keras above use every layer type and activation the engine accepts."""
    kinds, activations = set(), set()
    for build, _ in _builders().values():
        for layer in build().layers:
            kinds.add(type(layer).__name__)
            activations.add(layer.get_config().get("activation", "linear"))
    kinds.add("InputLayer")  # present in every saved model's config, not in model.layers
    assert set(SUPPORTED_LAYERS) == kinds
    assert set(SUPPORTED_ACTIVATIONS) == activations


def _save(model, path):
    model.save(path)
    return path


def test_other_layers_and_settings_are_refused_by_name(tmp_path):
    lstm = keras.Sequential([keras.Input((20, 13)), layers.LSTM(4, name="my_lstm"), layers.Dense(10)])
    with pytest.raises(NotImplementedError, match="'my_lstm': layer type LSTM is not supported"):
        NumpyModel(_save(lstm, tmp_path / "lstm.keras"))
    tanh = keras.Sequential([keras.Input((5,)), layers.Dense(3, activation="tanh", name="squash")])
    with pytest.raises(NotImplementedError, match="'squash': activation 'tanh'"):
        NumpyModel(_save(tanh, tmp_path / "tanh.keras"))
    dilated = keras.Sequential([keras.Input((9, 9, 1)), layers.Conv2D(2, 3, dilation_rate=2, name="wide")])
    with pytest.raises(NotImplementedError, match="'wide': dilation"):
        NumpyModel(_save(dilated, tmp_path / "dilated.keras"))
    average = keras.Sequential([keras.Input((8, 8, 1)), layers.AveragePooling2D(2, name="avg")])
    with pytest.raises(NotImplementedError, match="AveragePooling2D"):
        NumpyModel(_save(average, tmp_path / "avg.keras"))


def _edit_config(path, edit):
    """Rewrite the architecture (config.json) inside a .keras zip, keeping its weights."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    edit(config["config"]["layers"])
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(("key", "value"), [("kernel_size", [5, 5]), ("filters", 16)])
def test_weights_that_do_not_fit_the_architecture_raise_data_error(tmp_path, key, value):
    from helpers.models.mfcc import build_report_cnn

    path = _save(build_report_cnn(), tmp_path / "cnn.keras")

    def edit(layer_list):
        conv = next(layer for layer in layer_list if layer["class_name"] == "Conv2D")
        conv["config"][key] = value

    _edit_config(path, edit)
    with pytest.raises(DataError, match="cnn.keras: weights and architecture disagree"):
        NumpyModel(path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda layer_list: next(x for x in layer_list if x["class_name"] == "Conv2D")["config"].update(strides=[0, 0]),
     "weights and architecture disagree"),
    (lambda layer_list: next(x for x in layer_list if x["class_name"] == "Conv2D").update(config=[]),
     "could not be read: AttributeError"),
    (lambda layer_list: layer_list[-1]["config"].update(units=7), "weights and architecture disagree: kernel of shape"),
])
def test_a_malformed_architecture_raises_data_error(tmp_path, edit, message):
    """Issue 24 item 10: zero strides (ZeroDivisionError), a layer config that is a list (AttributeError) and a
    Dense layer whose units disagree with its kernel are one DataError naming the file."""
    from helpers.models.mfcc import build_report_cnn

    path = _save(build_report_cnn(), tmp_path / "cnn.keras")
    _edit_config(path, edit)
    with pytest.raises(DataError, match=message):
        NumpyModel(path)


def test_a_file_that_is_not_a_model_raises_data_error(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="junk.keras could not be read"):
        NumpyModel(path)


# ------------------------------------------------------------------ the probe (musicnn in NumPy: test_musicnn.py)


def test_probe_probabilities_equal_the_fitted_probe():
    from helpers.engine import probe_probabilities
    from helpers.models.probe import build_probe

    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(40, 7)), np.arange(40) % 4
    probe = build_probe(4, C=0.5).fit(X, y)
    np.testing.assert_allclose(probe_probabilities(X, probe.to_dict()), probe.predict_proba(X), atol=1e-6)
