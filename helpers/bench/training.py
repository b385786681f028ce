"""Benchmark of training: plain ``model.fit(numpy)`` vs the book's training loop, same run, same machine.

Explained in chapters *A CNN on MFCCs* and *An LSTM on MFCC sequences*. Run it with::

    python -m helpers.bench training                   # 60 epochs of the report's CNN and LSTM
    python -m helpers.bench training --epochs 5        # a quick look at the time per epoch
    python -m helpers.bench training --models cnn      # one network only

At full-GTZAN shapes — 3,750 training segments (1000 tracks × 5 segments, 75 % for training) of
259 frames × 13 MFCCs, and 750 validation segments; random numbers, since only the time counts — it
trains each network twice from the same initial weights:

1. **naive**: ``model.fit(X, y, validation_data=(X_val, y_val), epochs=E)`` on NumPy arrays, with
   Keras' default batch size of 32 — the report's way;
2. **book**: :func:`helpers.training.fit_model` — a cached, shuffled, prefetched ``tf.data``
   pipeline, repeated so that one pipeline serves all epochs, a larger batch (``--batch``, default 128) and, for the CNN, mixed precision where the
   processor computes 16-bit floats natively (``--precision``, default ``auto``, see
   :mod:`helpers.backend`: ``mixed_bfloat16`` on CPUs with ``avx512_bf16``/``amx_bf16``,
   ``mixed_float16`` on tensor-core GPUs, else ``float32``). The architecture is unchanged (same
   layers, same float32 weights). Early stopping is switched off so that both runs train all
   ``E`` epochs.

The LSTM keeps ``float32`` on a CPU even with ``--precision auto``: its 259 sequential steps are
small matrix products, for which the conversions to and from ``bfloat16`` cost more than they save
(measured here: 3.4 s against 2.8 s per epoch).

It prints the median time per epoch, the total for ``E`` epochs and the ratios, and checks the book's
targets for 60 epochs on 2 CPU cores (CNN ≤ 2 min, LSTM ≤ 5 min; a run with fewer epochs is checked
against the same targets scaled to its epochs). The exit code is 0 either way unless ``--strict`` is
given. Timings on a shared machine vary from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from helpers.config import DEFAULT_SEED
from helpers.errors import ParameterError

#: Targets for 60 epochs on 2 CPU cores, in seconds (the issue "Reproducibility and speed").
TARGETS_60 = {"cnn": 120.0, "lstm": 300.0}
MODELS = ("cnn", "lstm")


def _builder(name: str, frames: int, coefficients: int):
    from helpers.models.mfcc import build_report_cnn, build_report_lstm

    if name == "cnn":
        return lambda: build_report_cnn((frames, coefficients, 1))
    if name == "lstm":
        return lambda: build_report_lstm((frames, coefficients))
    raise ParameterError(f"unknown model {name!r}; choose from {MODELS}")


def _random_segments(samples: int, val_samples: int, frames: int, coefficients: int, seed: int):
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


def time_book(build, X, y, X_val, y_val, epochs: int, batch_size: int, seed: int,
              precision: str = "float32") -> list[float]:
    """The book's way: :func:`helpers.training.fit_model` (tf.data, larger batch, ``precision``).

    Explained in chapter *A CNN on MFCCs*. Returns seconds per epoch.
    """
    import keras

    from helpers import set_seed
    from helpers.backend import dtype_policy
    from helpers.training import fit_model

    keras.backend.clear_session()
    set_seed(seed, with_tensorflow=True)
    with dtype_policy(precision):
        model = build()
    result = fit_model(model, X, y, X_val, y_val, epochs=epochs, batch_size=batch_size, patience=None, seed=seed)
    return result.epoch_seconds


def run_benchmark(models=MODELS, epochs: int = 60, samples: int = 3750, val_samples: int = 750,
                  frames: int = 259, coefficients: int = 13, batch_size: int = 128, seed: int = DEFAULT_SEED,
                  precision: str = "auto") -> dict:
    """Time the naive and the book's training of each model on random data of the given shape.

    Explained in chapters *A CNN on MFCCs* and *An LSTM on MFCC sequences*.

    Returns
    -------
    dict
        Settings (``epochs``, ``samples``, ``batch_size``, ``cpu_count``, ...) and, per model, the
        dtype policy of the book's way (``book_policy``), the epoch times of both ways, their
        medians, totals and the ratios naive / book.
    """

    from helpers.backend import import_tensorflow

    for name in models:
        if name not in MODELS:
            raise ParameterError(f"unknown model {name!r}; choose from {MODELS}")
    if epochs < 1 or samples < 1 or val_samples < 1 or batch_size < 1:
        raise ParameterError("epochs, samples, val_samples and batch_size must be positive")
    import_tensorflow()
    X, y, X_val, y_val = _random_segments(samples, val_samples, frames, coefficients, seed)
    result = {"epochs": epochs, "samples": samples, "val_samples": val_samples, "frames": frames,
              "coefficients": coefficients, "batch_size": batch_size, "cpu_count": os.cpu_count(), "models": {}}
    for name in models:
        build = _builder(name, frames, coefficients)
        naive = time_naive(build, X, y, X_val, y_val, epochs, seed)
        policy = book_policy(name, precision)
        book = time_book(build, X, y, X_val, y_val, epochs, batch_size, seed, precision=policy)
        entry = {"book_policy": policy, "naive_epoch_s": naive, "book_epoch_s": book}
        for way, times in (("naive", naive), ("book", book)):
            entry[f"{way}_median_s"] = statistics.median(times)
            entry[f"{way}_total_s"] = sum(times)
        entry["ratio_per_epoch"] = entry["naive_median_s"] / entry["book_median_s"]
        entry["ratio_total"] = entry["naive_total_s"] / entry["book_total_s"]
        entry["target_s"] = TARGETS_60[name] * epochs / 60
        entry["target_met"] = entry["book_total_s"] <= entry["target_s"]
        result["models"][name] = entry
    return result


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
    X, y, X_val, y_val = _random_segments(samples, val_samples, frames, coefficients, seed)
    build = _builder("cnn", frames, coefficients)
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


def format_report(result: dict) -> str:
    """The benchmark's result as a short text table (chapter *A CNN on MFCCs*)."""
    lines = [
        f"training benchmark: {result['samples']} training + {result['val_samples']} validation segments of "
        f"{result['frames']} × {result['coefficients']} (random data), {result['epochs']} epochs, "
        f"{result['cpu_count']} CPU(s) visible",
        f"naive = model.fit(numpy), batch 32, float32; book = helpers.training.fit_model (tf.data), "
        f"batch {result['batch_size']}, dtype policy per model below",
        f"{'model':<6} {'way':<22} {'first epoch s':>13} {'s / epoch':>10} {'total s':>9}",
    ]
    for name, entry in result["models"].items():
        for way in ("naive", "book"):
            times = entry[f"{way}_epoch_s"]
            label = way if way == "naive" else f"book ({entry['book_policy']})"
            lines.append(f"{name:<6} {label:<22} {times[0]:>13.2f} {entry[f'{way}_median_s']:>10.2f} "
                         f"{entry[f'{way}_total_s']:>9.1f}")
        verdict = "met" if entry["target_met"] else "MISSED"
        lines.append(f"{name:<6} ratio naive / book: {entry['ratio_per_epoch']:.2f}× per epoch (median), "
                     f"{entry['ratio_total']:.2f}× in total; target for {result['epochs']} epochs "
                     f"≤ {entry['target_s']:.0f} s: {verdict}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: ``python -m helpers.bench training [--epochs E] [--models cnn lstm] ...``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.bench training", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=60, help="epochs per run (default 60)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="networks to time")
    parser.add_argument("--batch", type=int, default=128, help="the book's batch size (default 128)")
    parser.add_argument("--samples", type=int, default=3750, help="training segments (default 3750)")
    parser.add_argument("--val-samples", type=int, default=750, help="validation segments (default 750)")
    parser.add_argument("--frames", type=int, default=259, help="frames per segment (default 259)")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                        help="dtype policy of the book's way (default auto: mixed precision where it is native)")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.samples < 1 or args.val_samples < 1 or args.batch < 1 or args.frames < 1:
        parser.error("--epochs, --samples, --val-samples, --batch and --frames must be positive")
    # Keras' NumPy adapter makes TensorFlow log harmless C++ "unknown attribute" errors: keep them out.
    if "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    start = time.perf_counter()
    result = run_benchmark(args.models, epochs=args.epochs, samples=args.samples, val_samples=args.val_samples,
                           frames=args.frames, batch_size=args.batch, precision=args.precision)
    result["wall_s"] = time.perf_counter() - start
    print(format_report(result))
    print(f"benchmark wall time: {result['wall_s']:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    if args.strict and not all(entry["target_met"] for entry in result["models"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
