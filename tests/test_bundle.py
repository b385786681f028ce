"""Tests of helpers.bundle (chapter *Evaluation*): round trip, atomic files, typed records checked once, clear errors, safe mode.

Hostile bundles through the command (issue 24 items 5, 10, 11) are in tests/test_predict.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers.bundle import (  # noqa: E402
    CnnBundle,
    ProbeBundle,
    bundle_paths,
    load_bundle,
    read_bundle,
    save_bundle,
)
from helpers.errors import DataError  # noqa: E402

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


@dataclass
class _Config:
    sr: int = 22050
    n_segments: int = 5
    kind: str = "mfcc"
    n_mfcc: int = 13


def _tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((259, 13, 1))  # one segment with the default feature settings
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _save(tmp_path, model=None, **overrides):
    model = model or _tiny_model()
    args = {
        "feature_config": _Config(),
        "mean": np.linspace(-1, 1, 13, dtype=np.float32),
        "std": np.linspace(1, 2, 13, dtype=np.float32),
        "genres": GENRES,
        "metadata": {"data": "synthetic", "protocol": "track 5-fold", "accuracy": 0.5},
    }
    args.update(overrides)
    return model, save_bundle(tmp_path / "models" / "net", model, **args)


def test_round_trip_gives_equal_predictions_and_metadata(tmp_path):
    model, (keras_path, json_path) = _save(tmp_path)
    assert keras_path.name == "net.keras" and json_path.name == "net.json"
    assert sorted(p.name for p in keras_path.parent.iterdir()) == ["net.json", "net.keras"]  # no temp files
    umask = os.umask(0)
    os.umask(umask)
    for path in (keras_path, json_path):  # readable like any other file, not private like a temp file
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    loaded, info = load_bundle(tmp_path / "models" / "net")
    X = np.random.default_rng(0).normal(size=(4, 259, 13, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert info["genres"] == list(GENRES)
    assert info["feature_config"] == {"sr": 22050, "n_segments": 5, "kind": "mfcc", "n_mfcc": 13}
    assert info["metadata"]["data"] == "synthetic" and info["metadata"]["accuracy"] == 0.5
    assert info["input_shape"] == [259, 13, 1]
    assert info["versions"]["keras"] == keras.__version__
    record = read_bundle(tmp_path / "models" / "net")
    assert isinstance(record, CnnBundle) and record.input_shape == (259, 13, 1) and record.level is None
    assert record.genres == GENRES and record.metadata["data"] == "synthetic"
    np.testing.assert_allclose(record.mean, np.linspace(-1, 1, 13), rtol=1e-6)
    assert record.std.dtype == np.float32 and record.std.shape == (13,)
    # plain JSON on disk, loadable without this package
    raw = json.loads(json_path.read_text())
    assert raw["standardization"]["std"][0] == pytest.approx(1.0)
    # either file name works as the stem too
    assert load_bundle(keras_path)[1]["genres"] == list(GENRES)


def test_bundle_without_standardization(tmp_path):
    _, (_, json_path) = _save(tmp_path, mean=None, std=None, feature_config={"n_mfcc": 13})
    _, info = load_bundle(json_path)
    assert info["standardization"] is None
    record = read_bundle(json_path)
    assert record.mean is None and record.std is None


def test_save_refuses_incomplete_or_inconsistent_input(tmp_path):
    with pytest.raises(DataError, match="protocol"):
        _save(tmp_path, metadata={"data": "mini"})
    with pytest.raises(DataError, match="the network has 10 outputs but the description names 3 genres"):
        _save(tmp_path, genres=("a", "b", "c"))
    with pytest.raises(DataError, match="both mean and std"):
        _save(tmp_path, std=None)
    with pytest.raises(DataError, match="positive"):
        _save(tmp_path, std=np.zeros(13))
    with pytest.raises(DataError, match="does not fit the feature settings"):
        _save(tmp_path, feature_config={"n_mfcc": 20})  # the network takes 13 coefficients
    assert not (tmp_path / "models" / "net.json").exists()


def test_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match=r"net\.json is missing"):
        load_bundle(tmp_path / "net")
    _, (keras_path, _) = _save(tmp_path)
    keras_path.unlink()
    with pytest.raises(DataError, match=r"model file .*net\.keras is missing"):
        load_bundle(tmp_path / "models" / "net")


def test_corrupt_files_give_clear_errors(tmp_path):
    _, (keras_path, json_path) = _save(tmp_path)
    good_json = json_path.read_text()
    json_path.write_text(good_json[:40])
    with pytest.raises(DataError, match=r"net\.json: the file is not valid JSON"):
        load_bundle(json_path)
    json_path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(DataError, match="is not a genre-book-bundle"):
        load_bundle(json_path)
    json_path.write_text(good_json)
    keras_path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match=r"net\.keras is not a readable Keras model"):
        load_bundle(json_path)


def test_wrong_genre_count_in_description_is_detected(tmp_path):
    _, (_, json_path) = _save(tmp_path)
    info = json.loads(json_path.read_text())
    info["genres"] = info["genres"][:5]
    json_path.write_text(json.dumps(info))
    with pytest.raises(DataError, match="10 outputs but .* names 5 genres"):
        load_bundle(json_path)


def test_safe_mode_refuses_code_in_the_model_file(tmp_path):
    inputs = keras.Input((259, 13, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    _save(tmp_path, model=model)
    with pytest.raises(DataError, match="could not be loaded"):
        load_bundle(tmp_path / "models" / "net")


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_save_refuses_a_network_whose_output_is_not_a_softmax(tmp_path, activation):
    """Issue 24 item 5: outputs that are not probabilities printed "blues 559.5 %"."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((259, 13, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation=activation, name="scores")(x))
    with pytest.raises(DataError, match=f"output layer 'scores' is a Dense with activation '{activation}': it must "
                                        "be a Dense layer with a softmax"):
        _save(tmp_path, model=model)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())  # nothing written


def test_level_is_recorded_and_checked(tmp_path):
    """Issue 24 item 17: the typical level of the training clips travels with the network."""
    _save(tmp_path, level=0.12)
    assert read_bundle(tmp_path / "models" / "net").level == pytest.approx(0.12)
    for bad in (0.0, -0.1, 5.0, float("nan")):
        with pytest.raises(DataError, match="level .* must be null or"):
            _save(tmp_path / str(bad), level=bad)


@pytest.mark.parametrize("stem", ["", ".", "/", ".."])
def test_a_path_without_a_name_is_not_a_bundle(stem):
    """Issue 24 item 11: --bundle '' / . / gave a ValueError traceback."""
    with pytest.raises(DataError, match="is not a bundle: give its stem"):
        bundle_paths(stem)


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 200_000 + "]" * 200_000, "nests 200000 levels deep"),
    ('{"a": ' + "9" * 5000 + "}", "integer of 5000 digits"),
    ('{"a": Infinity}', "holds Infinity, which is not JSON"),
    ('{"a": -Infinity}', "holds -Infinity"),
    ('{"a": NaN}', "holds NaN"),
    ('{"a": 1e999}', "beyond the range of a float"),
    ('{"a": "[[[[" , "b": 1}', None),  # brackets inside strings are not nesting
])
def test_json_is_parsed_with_limits(text, message):
    from helpers.bundle import parse_json

    if message is None:
        assert parse_json(text) == {"a": "[[[[", "b": 1}
        return
    with pytest.raises(ValueError, match=message):
        parse_json(text)


def test_bundle_paths_accepts_stem_or_either_suffix(tmp_path):
    expected = (tmp_path / "m.keras", tmp_path / "m.json")
    assert bundle_paths(tmp_path / "m") == expected
    assert bundle_paths(tmp_path / "m.keras") == expected
    assert bundle_paths(str(tmp_path / "m.json")) == expected


def _edited(tmp_path, edit):
    """Save a good bundle, apply ``edit`` to its JSON description, return the description's path."""
    _, (_, json_path) = _save(tmp_path)
    info = json.loads(json_path.read_text())
    edit(info)
    json_path.write_text(json.dumps(info))  # NaN is written as the (invalid) JSON literal NaN
    return json_path


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(info):
        target = info
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_set("standardization", "std", lambda v: [0.0] * len(v)), "std must be positive"),
    (_set("standardization", "std", lambda v: [float("nan")] + v[1:]), "NaN or infinite"),
    (_set("standardization", "std", lambda v: v[:12]), r"std has shape \(12,\), expected \(13,\)"),
    (_set("genres", lambda v: v[:9]), "10 outputs but the description names 9 genres"),
    (_set("genres", lambda v: [v[0]] * len(v)), "different names"),
    (_set("format_version", "1"), "format_version '1'"),
    (_set("model_file", "../x.keras"), "model_file '../x.keras'"),
    (_set("model_file", "/etc/passwd"), "model_file"),
    (_set("feature_config", "n_mfcc", 20), "input_shape .* does not fit"),
    (_set("feature_config", "hop_length", 256), "input_shape .* does not fit"),
    (_set("feature_config", "sr", 44100), "input_shape .* does not fit"),
    (_set("feature_config", "kind", "logmel"), "input_shape .* does not fit"),
    (_set("feature_config", "n_fft", -1), "feature settings .* are invalid"),
    (_set("input_shape", [259, 13]), r"the network takes inputs of shape \[259, 13, 1\]"),
    (_set("metadata", {"data": "mini"}), "metadata must name"),
])
def test_edited_description_is_refused_on_load(tmp_path, edit, message):
    json_path = _edited(tmp_path, edit)
    with pytest.raises(DataError, match=message) as error:
        read_bundle(json_path)
    assert str(json_path) in str(error.value)  # the message names the bundle


def test_newer_keras_defaults_are_dropped_other_values_kept():
    from helpers.bundle import strip_newer_keras_defaults

    config = {"layers": [{"class_name": "Dense", "config": {"units": 4, "quantization_config": None}},
                         {"class_name": "BatchNormalization",
                          "config": {"renorm": False, "renorm_momentum": 0.99, "momentum": 0.9}},
                         {"class_name": "Dense", "config": {"renorm": True}}]}
    stripped = strip_newer_keras_defaults(config)
    assert stripped["layers"][0]["config"] == {"units": 4}
    assert stripped["layers"][1]["config"] == {"momentum": 0.9}
    assert stripped["layers"][2]["config"] == {"renorm": True}  # not a default: kept (and refused)


def test_shipped_bundle_loads_through_the_older_keras_path():
    """Colab's Keras 3.10 cannot read the file Keras 3.15 wrote; the fallback gives the same network.

    The reference is the NumPy engine, which reads the same file without Keras, so the check means
    the same on every Keras version; where this Keras reads the file itself, it must agree too.
    """
    import keras

    from helpers.bundle import load_with_older_keras
    from helpers.config import cnn_bundle
    from helpers.engine import NumpyModel

    path = str(cnn_bundle()) + ".keras"
    rebuilt = load_with_older_keras(path)
    x = np.random.default_rng(0).standard_normal((2, *rebuilt.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), NumpyModel(path).predict(x), atol=2e-5)
    try:
        direct = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (TypeError, ValueError):  # an older Keras than the one that wrote the file: the reason for the fallback
        return
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), direct.predict(x, verbose=0), atol=1e-6)


# ------------------------------------------------------------------ musicnn-probe bundles (issue 14)


def _probe_dict(dims=200, n=10, seed=0):
    rng = np.random.default_rng(seed)
    return {"kind": "embedding-logistic", "C": 0.01, "mean": rng.normal(size=dims).tolist(),
            "scale": (np.abs(rng.normal(size=dims)) + 0.5).tolist(),
            "coef": rng.normal(size=(n, dims)).tolist(), "intercept": rng.normal(size=n).tolist()}


def _save_probe(stem, **changes):
    from helpers.bundle import save_probe_bundle

    args = {"probe": _probe_dict(), "genres": GENRES, "metadata": {"data": "synthetic", "protocol": "test"}}
    args.update(changes)
    return save_probe_bundle(stem, args.pop("probe"), args.pop("genres"), args.pop("metadata"),
                             target_rms=0.1, **args)


def test_probe_bundle_round_trip(tmp_path):
    from helpers.bundle import PROBE_KIND, file_sha256
    from helpers.musicnn import weights_path

    path = _save_probe(tmp_path / "probe")
    assert path == tmp_path / "probe.json" and not (tmp_path / "probe.keras").exists()
    record = read_bundle(tmp_path / "probe")
    assert isinstance(record, ProbeBundle) and record.kind == PROBE_KIND and record.weights_path == weights_path("msd")
    assert record.description["musicnn"]["weights_sha256"] == file_sha256(weights_path("msd"))
    assert record.probe["coef"].shape == (10, 200) and record.pooling == ("mean",) and record.genres == GENRES
    with pytest.raises(DataError, match="not a Keras model"):
        load_bundle(tmp_path / "probe")


@pytest.mark.parametrize(("changes", "message"), [
    ({"genres": GENRES[:9]}, r"probe coef has shape \(10, 200\), expected \(9, 200\)"),
    ({"probe": {**_probe_dict(), "mean": [float("nan")] * 200}}, "NaN"),
    ({"probe": _probe_dict(dims=199)}, r"expected \(200,\)"),
    ({"probe": {**_probe_dict(), "scale": [0.0] * 200}}, "scale must be positive"),
    ({"layer": "conv9"}, "musicnn layer 'conv9'"),
    ({"variant": "jukebox"}, "musicnn variant 'jukebox'"),
    ({"pooling": "median"}, "pooling 'median'"),
    ({"metadata": {"data": "mini"}}, "metadata must name"),
])
def test_probe_bundle_save_refuses_bad_entries(tmp_path, changes, message):
    with pytest.raises(DataError, match=message):
        _save_probe(tmp_path / "probe", **changes)
    assert not (tmp_path / "probe.json").exists()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda info: info.update(kind="musicnn-svm"), "kind 'musicnn-svm'"),
    (lambda info: info["probe"].update(intercept=[1.0] * 9), r"intercept has shape \(9,\)"),
    (lambda info: info["probe"].update(coef=[["x"] * 200] * 10), "list of numbers"),
    (lambda info: info["musicnn"].update(weights_sha256="0" * 64), "SHA-256 differs"),
    (lambda info: info["musicnn"].update(target_rms=-1), "target_rms"),
    (lambda info: info.pop("probe"), "lacks"),
])
def test_probe_bundle_read_refuses_edited_descriptions(tmp_path, edit, message):
    path = _save_probe(tmp_path / "probe")
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info))
    with pytest.raises(DataError, match=message):
        read_bundle(tmp_path / "probe")
