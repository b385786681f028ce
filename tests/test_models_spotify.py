"""Tests for helpers.models.spotify (chapter 1: the report's networks on Spotify's audio features)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import set_seed  # noqa: E402
from helpers.errors import ParameterError  # noqa: E402
from helpers.models import spotify  # noqa: E402
from helpers.tabular import as_sequence  # noqa: E402
from helpers.training import TrainingConfig, fit_model, predict_proba  # noqa: E402

BUILDERS = [
    ("dense", lambda: spotify.build_dense(12), (12,)),
    ("dense-11", lambda: spotify.build_dense((11,), hidden=(8,), dropout=0), (11,)),
    ("cnn1d", lambda: spotify.build_cnn1d((12, 1)), (12, 1)),
    ("cnn1d+pos", lambda: spotify.build_cnn1d((12, 13), filters=(4, 4, 4)), (12, 13)),
    ("lstm", lambda: spotify.build_rnn((12, 1), units=8), (12, 1)),
    ("gru", lambda: spotify.build_rnn((12, 13), cell="gru", units=8, dropout=0), (12, 13)),
    ("bilstm", lambda: spotify.build_rnn((12, 1), 3, units=4, bidirectional=True), (12, 1)),
]


@pytest.mark.parametrize(("name", "build", "shape"), BUILDERS, ids=[b[0] for b in BUILDERS])
def test_builders_return_uncompiled_softmax_models(name, build, shape):
    set_seed(0, with_tensorflow=True)
    model = build()
    assert not model.compiled  # the contract: compiling is the caller's (chapter's) step
    assert model.input_shape == (None, *shape)
    n_classes = 3 if name == "bilstm" else 6
    assert model.output_shape == (None, n_classes)
    probabilities = model.predict(np.random.default_rng(0).normal(size=(5, *shape)).astype(np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-4)


def test_layers_follow_the_options():
    dense = spotify.build_dense(12, hidden=(16, 8), dropout=0)
    assert [type(layer).__name__ for layer in dense.layers] == ["Dense", "Dense", "Dense"]
    assert [layer.units for layer in dense.layers] == [16, 8, 6]
    cnn = spotify.build_cnn1d((12, 1))
    kinds = [type(layer).__name__ for layer in cnn.layers]
    assert kinds == ["Conv1D", "MaxPooling1D", "Conv1D", "Flatten", "Dense", "Dropout", "Dense"]
    assert cnn.layers[2].output.shape[1] == 6  # one pooling halves the 12 steps
    assert type(spotify.build_rnn((12, 1), cell="gru").layers[0]).__name__ == "GRU"
    assert spotify.build_rnn((12, 1), bidirectional=True).name == "bilstm"


def test_dense_learns_a_signal_with_the_books_fit():
    set_seed(1, with_tensorflow=True)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, size=600)
    x = rng.normal(size=(600, 12)).astype(np.float32)
    x[:, 0] += 5 * labels  # the genre is written into one feature
    model = spotify.build_dense(12, hidden=(32,), dropout=0)
    fit_model(model, x[:500], labels[:500], x[500:], labels[500:],
              TrainingConfig(epochs=30, batch_size=64, learning_rate=1e-2, patience=None))
    assert (predict_proba(model, x[500:]).argmax(axis=1) == labels[500:]).mean() > 0.8


def test_sequence_models_train_on_as_sequence_inputs():
    set_seed(2, with_tensorflow=True)
    rng = np.random.default_rng(2)
    x = as_sequence(rng.normal(size=(64, 12)), with_position=True)
    y = rng.integers(0, 6, size=64)
    model = spotify.build_cnn1d(x.shape[1:])
    result = fit_model(model, x[:48], y[:48], x[48:], y[48:], TrainingConfig(epochs=2, batch_size=16, patience=None))
    assert result.epochs_run == 2 and np.isfinite(result.history["loss"]).all()


@pytest.mark.parametrize("call", [
    lambda: spotify.build_cnn1d((12,)),
    lambda: spotify.build_cnn1d((12, 0)),
    lambda: spotify.build_dense((12, 1)),
    lambda: spotify.build_dense(12, hidden=()),
    lambda: spotify.build_cnn1d((12, 1), filters=()),
    lambda: spotify.build_rnn((12, 1), cell="transformer"),
])
def test_bad_arguments_raise_parameter_error(call):
    with pytest.raises(ParameterError):
        call()
