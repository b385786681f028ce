"""Tests for helpers.models.spotify (chapter 1: the report's networks on 12 features)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import set_seed  # noqa: E402
from helpers.models import spotify  # noqa: E402
from helpers.tabular import as_sequence, one_hot  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12)).astype(np.float32)
    y = one_hot(rng.integers(0, 6, size=64))
    return x, y


BUILDERS = [
    ("dense", lambda: spotify.build_dense(12), False, False),
    ("cnn1d", lambda: spotify.build_cnn1d((12, 1)), True, False),
    ("cnn1d+pos", lambda: spotify.build_cnn1d((12, 13)), True, True),
    ("lstm", lambda: spotify.build_lstm((12, 1), units=8), True, False),
    ("gru", lambda: spotify.build_gru((12, 13), units=8), True, True),
    ("bilstm", lambda: spotify.build_bidirectional((12, 1), units=4), True, False),
]


@pytest.mark.parametrize(("name", "build", "sequence", "position"), BUILDERS, ids=[b[0] for b in BUILDERS])
def test_builders_output_six_classes_and_train(tiny, name, build, sequence, position):
    set_seed(0, with_tensorflow=True)
    x, y = tiny
    inputs = as_sequence(x, with_position=position) if sequence else x
    model = build()
    assert model.output_shape == (None, 6)
    assert model.loss == "categorical_crossentropy"
    history, seconds = spotify.fit_model(model, inputs, y, validation_data=(inputs[:16], y[:16]),
                                         epochs=2, batch_size=32, patience=None)
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
    assert np.isfinite(history.history["loss"]).all() and seconds > 0
    probabilities = model.predict(inputs[:5], verbose=0)
    assert probabilities.shape == (5, 6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-4)
    np.testing.assert_array_equal(spotify.predict_classes(model, inputs[:5]), probabilities.argmax(axis=1))


def test_dense_can_fit_a_learnable_signal():
    set_seed(1, with_tensorflow=True)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, size=600)
    x = rng.normal(size=(600, 12)).astype(np.float32)
    x[:, 0] += 3 * labels  # the genre is written into one feature
    model = spotify.build_dense(12, hidden=(32,), dropout=0, learning_rate=1e-2)
    history, _ = spotify.fit_model(model, x, one_hot(labels), epochs=30, batch_size=64, patience=None)
    assert history.history["accuracy"][-1] > 0.8
    assert (spotify.predict_classes(model, x) == labels).mean() > 0.8


def test_early_stopping_restores_and_stops(tiny):
    set_seed(2, with_tensorflow=True)
    x, y = tiny  # random labels: validation loss cannot keep falling
    model = spotify.build_dense(12, hidden=(64,), dropout=0, learning_rate=1e-2)
    history, _ = spotify.fit_model(model, x, y, validation_data=(x[:16] + 1, y[:16]), epochs=200,
                                   batch_size=16, patience=3)
    assert len(history.history["loss"]) < 200
    with pytest.raises(ValueError, match="validation"):
        spotify.fit_model(model, x, y, patience=3)


def test_bad_arguments():
    with pytest.raises(ValueError):
        spotify.build_cnn1d((12,))
    with pytest.raises(ValueError):
        spotify.build_rnn((12, 1), cell="transformer")
    with pytest.raises(ValueError):
        spotify.build_dense(12, hidden=())
