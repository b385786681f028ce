"""The chapter's speed measurement: the report's loop against the book's path, cold and cached.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``), which runs
:func:`run_benchmark` on 20 clips; ``python -m helpers.bench features`` runs it on every clip (see
:mod:`helpers.bench.features` for what is timed and how).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time

from helpers.datasets.gtzan import spread_over_genres
from helpers.features.config import FeatureConfig
from helpers.features.extract import extract_features
from helpers.features.report import naive_extract

TARGET_COLD = 1.8
TARGET_CACHED = 50.0
CACHED_REPEATS = 5


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


    table = spread_over_genres(table, limit)
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


__all__ = ["CACHED_REPEATS", "TARGET_CACHED", "TARGET_COLD", "format_report", "run_benchmark"]
