"""Benchmark of feature extraction: the report's loop vs the book's path, cold and cached.

Explained in chapter *From audio to features*. Run it with::

    python -m helpers.bench features              # every clip of the GTZAN flavour in use
    python -m helpers.bench features --limit 20   # a quick run on 20 clips (2 per genre)

In the same run, on the same clips, it times

1. **naive**: the report's loop — per track ``librosa.load``, then per segment
   ``librosa.feature.mfcc``, sequentially, with the BLAS library's default threads (as the report's
   code runs); and, for comparison, the same loop with BLAS limited to one thread (on a busy machine
   a multi-threaded BLAS call per segment over-subscribes the cores, which alone slows the loop down);
2. **cold**: :func:`helpers.features.extract_features` with the cache off and ``n_jobs`` workers
   (default 2): one spectrogram per track, sliced, tracks in parallel;
3. **cached**: the same call again with the cache on, after a first call that wrote the cache
   (into a temporary folder, deleted afterwards); the median of 5 reads, since one read takes
   milliseconds and a single one is at the mercy of the machine's other work.

Both paths are warmed up on one clip first (imports, first-call set-up), so the timings compare
the steady state. It prints clips per second and the ratios, and checks the targets of the book
(cold ≥ 1.8 × naive on 2 cores, cached ≥ 50 × cold); the exit code is 0 either way unless
``--strict`` is given. Timings on a shared machine vary from run to run: run it twice.
"""

from __future__ import annotations

import argparse
import json
import sys

from helpers.bench import clip_benchmark_arguments, parse_clip_benchmark_arguments
from helpers.features.report import naive_extract
from helpers.features.speed import TARGET_CACHED, TARGET_COLD, format_report, run_benchmark


def main(argv=None) -> int:
    """Command-line entry point: ``python -m helpers.bench features [--limit N] [--n-jobs J]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.bench features", description=__doc__.split("\n")[0])
    clip_benchmark_arguments(parser, "the production path")
    args = parse_clip_benchmark_arguments(parser, argv)

    from helpers.datasets import load_gtzan

    table = load_gtzan(args.flavour)
    result = run_benchmark(table, n_jobs=args.n_jobs, limit=args.limit)
    print(format_report(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    met = result["cold_speedup"] >= TARGET_COLD and result["cached_speedup"] >= TARGET_CACHED
    return 1 if args.strict and not met else 0


__all__ = ["format_report", "main", "naive_extract", "run_benchmark"]


if __name__ == "__main__":
    sys.exit(main())
