"""How fast the book trains: the report's ``model.fit(numpy)`` against the book's loop, one change at a time.

Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``), which shows :func:`speed_steps`
(a quick look on random data of full-GTZAN segment shape). The benchmark ``python -m helpers.bench
training`` (:mod:`helpers.bench.training`) times the same two ways, :func:`time_naive` and
:func:`time_book`, for 60 epochs of the report's CNN and LSTM.
"""

from __future__ import annotations

import statistics

from helpers.config import DEFAULT_SEED
from helpers.errors import ParameterError

#: The report's two networks the benchmark times.
MODELS = ("cnn", "lstm")


def model_builder(name: str, frames: int, coefficients: int):
    """A function building the report's ``name`` network (``'cnn'`` or ``'lstm'``) for segments of this shape."""
    from helpers.models.mfcc import build_report_cnn, build_report_lstm

    if name == "cnn":
        return lambda: build_report_cnn((frames, coefficients, 1))
    if name == "lstm":
        return lambda: build_report_lstm((frames, coefficients))
    raise ParameterError(f"unknown model {name!r}; choose from {MODELS}")


def random_segments(samples: int, val_samples: int, frames: int, coefficients: int, seed: int):
    """Random training and validation segments with 10 classes: only their shape matters for timing."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, frames, coefficients)).astype("float32")
    y = rng.integers(0, 10, samples)
    X_val = rng.normal(size=(val_samples, frames, coefficients)).astype("float32")
    y_val = rng.integers(0, 10, val_samples)
    return X, y, X_val, y_val


def time_naive(build, X, y, X_val, y_val, epochs: int, seed: int) -> list[float]:
    """The report's way: ``model.fit`` on NumPy arrays, batch 32, quiet. Returns seconds per epoch.

    Explained in chapter *A CNN on MFCCs*.
    """
    import keras

    from helpers import set_seed
    from helpers.backend import native_stderr_silenced
    from helpers.training import compile_model, epoch_timer, with_channel_axis

    keras.backend.clear_session()
    set_seed(seed, with_tensorflow=True)
    model = build()
    compile_model(model, 1e-3)
    timer = epoch_timer()
    with native_stderr_silenced():  # Keras' NumPy adapter makes TensorFlow's C++ core log harmless lines
        model.fit(with_channel_axis(model, X), y, validation_data=(with_channel_axis(model, X_val), y_val),
                  epochs=epochs, batch_size=32, callbacks=[timer], verbose=0)
    return timer.seconds


def book_policy(name: str, precision: str = "auto") -> str:
    """The dtype policy the book's way uses for model ``name`` (chapter *A CNN on MFCCs*).

    ``precision`` resolved by :func:`helpers.backend.resolve_policy`, except that the LSTM stays
    in ``float32`` on a CPU (``mixed_bfloat16`` makes it slower there; see the module docstring).
    """
    from helpers.backend import resolve_policy

    policy = resolve_policy(precision)
    if name == "lstm" and precision == "auto" and policy == "mixed_bfloat16":
        return "float32"
    return policy


def time_book(build, X, y, X_val, y_val, epochs: int, batch_size: int, seed: int,  # noqa: PLR0913 (issue 27: split when next touched)
              precision: str = "float32") -> list[float]:
    """The book's way: :func:`helpers.training.fit_model` (tf.data, larger batch, ``precision``).

    Explained in chapter *A CNN on MFCCs*. Returns seconds per epoch.
    """
    import keras

    from helpers import set_seed
    from helpers.backend import dtype_policy
    from helpers.training import TrainingConfig, fit_model

    keras.backend.clear_session()
    set_seed(seed, with_tensorflow=True)
    with dtype_policy(precision):
        model = build()
    result = fit_model(model, X, y, X_val, y_val, TrainingConfig(epochs=epochs, batch_size=batch_size, patience=None),
                       seed=seed)
    return result.epoch_seconds


def speed_steps(epochs: int = 3, samples: int = 1000, val_samples: int = 200, frames: int = 259,
                coefficients: int = 13, batch_size: int = 128, seed: int = DEFAULT_SEED):
    """The report's CNN timed one change at a time, for chapter *A CNN on MFCCs* (a quick look).

    Three runs of ``epochs`` epochs on the same random data of full-GTZAN segment shape: the naive
    way (``model.fit`` on NumPy arrays, batch 32, float32), the ``tf.data`` pipeline with batch
    ``batch_size`` in float32, and the same with mixed precision where the processor computes it
    natively (:func:`helpers.backend.fast_dtype_policy`; float32 again elsewhere).

    Returns
    -------
    pandas.DataFrame
        One row per way: ``way``, ``dtype policy``, ``batch``, ``s / epoch`` (median after the
        first epoch, which includes tracing) and ``speed-up`` against the naive way.
    """
    import pandas as pd

    from helpers.backend import fast_dtype_policy, import_tensorflow

    if epochs < 2:
        raise ParameterError("speed_steps needs at least 2 epochs (the first one includes tracing)")
    import_tensorflow()
    X, y, X_val, y_val = random_segments(samples, val_samples, frames, coefficients, seed)
    build = model_builder("cnn", frames, coefficients)
    fast = fast_dtype_policy()
    runs = [
        ("model.fit(numpy)", "float32", 32, time_naive(build, X, y, X_val, y_val, epochs, seed)),
        ("tf.data pipeline", "float32", batch_size,
         time_book(build, X, y, X_val, y_val, epochs, batch_size, seed, precision="float32")),
        ("tf.data + mixed precision", fast, batch_size,
         time_book(build, X, y, X_val, y_val, epochs, batch_size, seed, precision=fast)),
    ]
    table = pd.DataFrame([{"way": way, "dtype policy": policy, "batch": batch,
                           "s / epoch": statistics.median(times[1:])} for way, policy, batch, times in runs])
    table["speed-up"] = table["s / epoch"].iloc[0] / table["s / epoch"]
    return table


__all__ = ["MODELS", "book_policy", "model_builder", "random_segments", "speed_steps", "time_book", "time_naive"]
