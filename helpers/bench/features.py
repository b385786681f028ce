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
import os
import shutil
import statistics
import sys
import tempfile
import time

from helpers.config import SAMPLE_RATE

TARGET_COLD = 1.8
TARGET_CACHED = 50.0
CACHED_REPEATS = 5


def naive_extract(paths, n_segments=5, n_mfcc=13, n_fft=2048, hop_length=512, sr=SAMPLE_RATE, track_seconds=30.0):
    """The report's loop, in memory: per track ``librosa.load``, then :func:`helpers.features.report_segment_mfccs`.

    Explained in chapter *From audio to features*. Returns the number of segments kept.
    """
    import librosa

    from helpers.features import report_segment_mfccs

    kept = 0
    for path in paths:
        signal, _ = librosa.load(path, sr=sr)
        kept += len(report_segment_mfccs(signal, sr, n_segments, n_mfcc, n_fft, hop_length, track_seconds))
    return kept


def _spread(table, limit):
    """At most ``limit`` clips, spread evenly over the genres (first clips of each genre)."""
    if limit is None or limit >= len(table):
        return table
    per_genre = max(1, limit // table["genre"].nunique())
    picked = table.groupby("genre", sort=False).head(per_genre)
    picked = picked.head(limit)
    picked.attrs.update(table.attrs)
    return picked


def run_benchmark(table, n_jobs: int = 2, limit: int | None = None) -> dict:
    """Time the naive loop, the cold production path and the cached one on the same clips.

    Explained in chapter *From audio to features*.

    Parameters
    ----------
    table : pandas.DataFrame
        A GTZAN clip table (:func:`helpers.datasets.load_gtzan`).
    n_jobs : int
        Workers of the production path.
    limit : int, optional
        Use at most this many clips, spread over the genres.

    Returns
    -------
    dict
        ``clips``, ``flavour``, ``n_jobs``, ``cpu_count``, seconds (``naive_s``, ``cold_s``,
        ``cached_s``), clips per second for each, and the ratios ``cold_speedup`` (naive / cold)
        and ``cached_speedup`` (cold / cached).
    """
    from threadpoolctl import threadpool_limits

    from helpers.features import FeatureConfig, extract_features

    table = _spread(table, limit)
    paths = table["path"].astype(str).tolist()
    config = FeatureConfig()
    cache_dir = tempfile.mkdtemp(prefix="bench-features-")
    try:
        # Warm-up on one clip: imports and first-call set-up are not what we compare.
        naive_extract(paths[:1])
        extract_features(table.head(1), config, n_jobs=1, cache=False, progress=False)

        start = time.perf_counter()
        naive_segments = naive_extract(paths)
        naive_s = time.perf_counter() - start

        with threadpool_limits(limits=1, user_api="blas"):
            start = time.perf_counter()
            naive_extract(paths)
            naive_1_s = time.perf_counter() - start

        start = time.perf_counter()
        cold = extract_features(table, config, n_jobs=n_jobs, cache=False, progress=False)
        cold_s = time.perf_counter() - start

        extract_features(table, config, n_jobs=n_jobs, cache=True, progress=False, cache_dir=cache_dir)
        reads = []
        for _ in range(CACHED_REPEATS):  # a read takes milliseconds: take the median of a few
            start = time.perf_counter()
            cached = extract_features(table, config, n_jobs=n_jobs, cache=True, progress=False,
                                      cache_dir=cache_dir)
            reads.append(time.perf_counter() - start)
        cached_s = statistics.median(reads)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    if cached.X.shape != cold.X.shape:
        raise RuntimeError(f"cached features {cached.X.shape} differ from fresh ones {cold.X.shape}")
    n = len(paths)
    return {
        "clips": n,
        "flavour": table.attrs.get("flavour", "unknown"),
        "n_jobs": n_jobs,
        "cpu_count": os.cpu_count(),
        "naive_segments": int(naive_segments),
        "production_segments": len(cold),
        "naive_s": naive_s,
        "naive_1blas_s": naive_1_s,
        "cold_s": cold_s,
        "cached_s": cached_s,
        "naive_clips_per_s": n / naive_s,
        "naive_1blas_clips_per_s": n / naive_1_s,
        "cold_clips_per_s": n / cold_s,
        "cached_clips_per_s": n / cached_s,
        "cold_speedup": naive_s / cold_s,
        "cold_speedup_vs_1blas": naive_1_s / cold_s,
        "cached_speedup": cold_s / cached_s,
    }


def format_report(result: dict) -> str:
    """A short human-readable table of a :func:`run_benchmark` result."""
    lines = [
        f"feature extraction benchmark: {result['clips']} clips of {result['flavour']} GTZAN, "
        f"{result['cpu_count']} CPU core(s), production n_jobs={result['n_jobs']}",
        f"  {'path':<34}{'seconds':>9}{'clips/s':>10}",
        f"  {'naive (report loop, sequential)':<34}{result['naive_s']:>9.2f}{result['naive_clips_per_s']:>10.1f}",
        f"  {'naive, BLAS limited to 1 thread':<34}{result['naive_1blas_s']:>9.2f}"
        f"{result['naive_1blas_clips_per_s']:>10.1f}",
        f"  {'production, cold (no cache)':<34}{result['cold_s']:>9.2f}{result['cold_clips_per_s']:>10.1f}",
        f"  {'production, cached':<34}{result['cached_s']:>9.3f}{result['cached_clips_per_s']:>10.0f}",
        f"  cold vs naive:  {result['cold_speedup']:.1f}x faster (target >= {TARGET_COLD}x): "
        f"{'met' if result['cold_speedup'] >= TARGET_COLD else 'NOT met'}; "
        f"vs the 1-thread loop: {result['cold_speedup_vs_1blas']:.1f}x",
        f"  cached vs cold: {result['cached_speedup']:.0f}x faster (target >= {TARGET_CACHED:.0f}x): "
        f"{'met' if result['cached_speedup'] >= TARGET_CACHED else 'NOT met'}",
        f"  segments kept: naive {result['naive_segments']}, production {result['production_segments']}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command-line entry point: ``python -m helpers.bench features [--limit N] [--n-jobs J]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.bench features", description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use at most N clips (spread over genres)")
    parser.add_argument("--n-jobs", type=int, default=2, help="workers of the production path (default 2)")
    parser.add_argument("--flavour", choices=["full", "mini", "synthetic"], help="GTZAN flavour")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a target is not met")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    from helpers.datasets import load_gtzan

    table = load_gtzan(args.flavour)
    result = run_benchmark(table, n_jobs=args.n_jobs, limit=args.limit)
    print(format_report(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    met = result["cold_speedup"] >= TARGET_COLD and result["cached_speedup"] >= TARGET_CACHED
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
