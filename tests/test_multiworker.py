"""helpers.multiworker (chapter 11): MultiWorkerMirroredStrategy on local worker processes.

The launches start real TensorFlow processes (a few seconds each), on tiny random data: 64 rows of
16 frames x 13 coefficients, one short epoch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.errors import DataError, ParameterError
from helpers.multiworker import build_plain_report_cnn, free_ports, launch, tf_config


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("multiworker") / "data.npz"
    np.savez(path, X_train=rng.normal(size=(64, 16, 13, 1)).astype(np.float32), y_train=np.arange(64) % 10,
             X_test=rng.normal(size=(20, 16, 13, 1)).astype(np.float32), y_test=np.arange(20) % 10)
    return path


def test_tf_config_names_every_worker_and_this_one():
    config = tf_config([2222, 3333], 1)
    assert config == {"cluster": {"worker": ["localhost:2222", "localhost:3333"]},
                      "task": {"type": "worker", "index": 1}}
    assert json.loads(json.dumps(config)) == config
    with pytest.raises(ParameterError, match="index 2"):
        tf_config([2222, 3333], 2)
    ports = free_ports(3)
    assert len(set(ports)) == 3 and all(0 < p < 65536 for p in ports)


def test_plain_cnn_is_the_report_cnn_without_batchnorm_and_dropout():
    from keras import layers

    from helpers.models.mfcc import build_report_cnn

    plain, full = build_plain_report_cnn((16, 13, 1)), build_report_cnn((16, 13, 1))
    names = [type(layer).__name__ for layer in plain.layers]
    assert "BatchNormalization" not in names and "Dropout" not in names
    kept = [type(layer).__name__ for layer in full.layers
            if not isinstance(layer, (layers.BatchNormalization, layers.Dropout))]
    assert names == kept and plain.output_shape == full.output_shape == (None, 10)


def test_two_local_workers_train_one_epoch_in_step(tiny_data, tmp_path):
    results = launch({"data": str(tiny_data), "model": "plain", "epochs": 1, "global_batch": 16}, n_workers=2,
                     timeout=300, workdir=tmp_path)
    assert [r["index"] for r in results] == [0, 1] and all(r["workers"] == 2 for r in results)
    first, second = results
    assert first["error"] is None and first["steps_per_epoch"] == 4 and len(first["losses"]) == 1
    assert np.isfinite(first["losses"][0]) and 0 < first["losses"][0] < 10
    assert first["losses"] == second["losses"]  # the all-reduced loss is the same number on both
    assert first["checksum"] == second["checksum"]  # and so are the weights after the update
    assert first["test_accuracy"] == second["test_accuracy"] and 0 <= first["test_accuracy"] <= 1


def test_bad_specs_and_failing_workers_say_why(tiny_data, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        launch({"data": str(tmp_path / "none.npz")})
    with pytest.raises(ParameterError, match="model must be one of"):
        launch({"data": str(tiny_data), "model": "resnet"})
    with pytest.raises(RuntimeError, match="worker 0 exited with status 1(.|\n)*global batch 128"):
        launch({"data": str(tiny_data), "global_batch": 128}, n_workers=1, timeout=300, workdir=tmp_path)


def test_keras_errors_are_shortened_to_one_line():
    from helpers.multiworker import _short_error

    error = ValueError("Attempt to convert a value (PerReplica:{\n  0: <tf.Tensor: shape=(16, 2)>\n  1: [[1.0]]\n}) "
                       "with an unsupported type (<class 'PerReplica'>) to a Tensor.")
    assert _short_error(error) == ("ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported "
                                   "type (<class 'PerReplica'>) to a Tensor.")
