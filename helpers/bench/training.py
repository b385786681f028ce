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
from helpers.training_speed import (
    MODELS,
    book_policy,
    model_builder,
    random_segments,
    speed_steps,
    time_book,
    time_naive,
)

#: Targets for 60 epochs on 2 CPU cores, in seconds (the issue "Reproducibility and speed").
TARGETS_60 = {"cnn": 120.0, "lstm": 300.0}


def run_benchmark(models=MODELS, epochs: int = 60, samples: int = 3750, val_samples: int = 750,  # noqa: PLR0913 (issue 27: split when next touched)
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
    X, y, X_val, y_val = random_segments(samples, val_samples, frames, coefficients, seed)
    result = {"epochs": epochs, "samples": samples, "val_samples": val_samples, "frames": frames,
              "coefficients": coefficients, "batch_size": batch_size, "cpu_count": os.cpu_count(), "models": {}}
    for name in models:
        build = model_builder(name, frames, coefficients)
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


__all__ = ["MODELS", "TARGETS_60", "book_policy", "format_report", "main", "run_benchmark", "speed_steps",
           "time_book", "time_naive"]


if __name__ == "__main__":
    sys.exit(main())
