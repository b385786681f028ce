"""Benchmark of musicnn embedding extraction: cold (empty cache) vs cached re-run.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``). Run it with::

    python -m helpers.bench embeddings              # every clip of the GTZAN flavour in use
    python -m helpers.bench embeddings --limit 20   # a quick run on 20 clips (2 per genre)

On the same clips it times

1. **start-up**: loading the NumPy musicnn network's weights (once per process; no TensorFlow);
2. **cold**: :func:`helpers.embeddings.extract_embeddings` into an empty temporary cache folder
   (every clip through the one embedding path, :func:`helpers.musicnn.clip_embeddings`, on
   ``n_jobs`` workers);
3. **cached**: the same call again, reading the cache file; the median of 5 reads, since one read
   takes milliseconds.

It prints the seconds, clips per second and the ratio cold / cached, and checks the targets of
issue 14 on a 2-core machine (cold ≤ 90 s for the 100 mini clips, cached ≥ 50 × faster); the exit
code is 0 either way unless ``--strict`` is given. Timings on a shared machine vary: run it twice.
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

from helpers.bench import clip_benchmark_arguments, parse_clip_benchmark_arguments

TARGET_COLD_S = 90.0  #: for the 100 mini clips on 2 cores
TARGET_CACHED = 50.0
CACHED_REPEATS = 5


def run_benchmark(table, n_jobs: int = 2, limit: int | None = None, model: str = "msd") -> dict:
    """Time start-up, cold extraction and cached reads of musicnn embeddings on the same clips.

    Explained in chapter 10, *Transfer learning*.

    Returns
    -------
    dict
        ``clips``, ``flavour``, ``n_jobs``, ``cpu_count``, ``startup_s``, ``cold_s``, ``cached_s``,
        clips per second of cold and cached, and ``cached_speedup`` (cold / cached).
    """
    import numpy as np

    from helpers.datasets.gtzan import spread_over_genres
    from helpers.embeddings import extract_embeddings
    from helpers.musicnn import musicnn_numpy

    table = spread_over_genres(table, limit)
    start = time.perf_counter()
    musicnn_numpy(model)
    startup_s = time.perf_counter() - start
    cache_dir = tempfile.mkdtemp(prefix="bench-embeddings-")
    try:
        start = time.perf_counter()
        cold = extract_embeddings(table, model=model, n_jobs=n_jobs, progress=False, cache_dir=cache_dir)
        cold_s = time.perf_counter() - start
        reads = []
        for _ in range(CACHED_REPEATS):
            start = time.perf_counter()
            cached = extract_embeddings(table, model=model, n_jobs=n_jobs, progress=False,
                                        cache_dir=cache_dir)
            reads.append(time.perf_counter() - start)
        cached_s = statistics.median(reads)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    if not np.array_equal(cached.X, cold.X):
        raise RuntimeError("cached embeddings differ from the freshly computed ones")
    n = len(table)
    return {
        "clips": n,
        "flavour": table.attrs.get("flavour", "unknown"),
        "model": model,
        "n_jobs": n_jobs,
        "cpu_count": os.cpu_count(),
        "patches": int(cold.n_patches.sum()),
        "startup_s": startup_s,
        "cold_s": cold_s,
        "cached_s": cached_s,
        "cold_clips_per_s": n / cold_s,
        "cached_clips_per_s": n / cached_s,
        "cached_speedup": cold_s / cached_s,
    }


def format_report(result: dict) -> str:
    """A short human-readable table of a :func:`run_benchmark` result."""
    cold_target = TARGET_COLD_S * result["clips"] / 100
    return "\n".join([
        f"musicnn ({result['model']}) embedding benchmark: {result['clips']} clips of "
        f"{result['flavour']} GTZAN ({result['patches']} patches of 3 s), {result['cpu_count']} CPU core(s), "
        f"n_jobs={result['n_jobs']}",
        f"  {'path':<36}{'seconds':>9}{'clips/s':>10}",
        f"  {'start-up (NumPy network weights)':<36}{result['startup_s']:>9.2f}",
        f"  {'cold (empty cache)':<36}{result['cold_s']:>9.2f}{result['cold_clips_per_s']:>10.2f}",
        f"  {'cached (median of 5 reads)':<36}{result['cached_s']:>9.3f}{result['cached_clips_per_s']:>10.0f}",
        f"  cold: {result['cold_s']:.1f} s (target <= {cold_target:.0f} s, i.e. {TARGET_COLD_S:.0f} s per 100 "
        f"clips): {'met' if result['cold_s'] <= cold_target else 'NOT met'}",
        f"  cached vs cold: {result['cached_speedup']:.0f}x faster (target >= {TARGET_CACHED:.0f}x): "
        f"{'met' if result['cached_speedup'] >= TARGET_CACHED else 'NOT met'}",
    ])


def targets_met(result: dict) -> bool:
    """Whether both targets hold (the cold one scaled to the number of clips)."""
    return (result["cold_s"] <= TARGET_COLD_S * result["clips"] / 100
            and result["cached_speedup"] >= TARGET_CACHED)


def main(argv=None) -> int:
    """Command-line entry point: ``python -m helpers.bench embeddings [--limit N] [--n-jobs J]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.bench embeddings",
                                     description=__doc__.split("\n")[0])
    clip_benchmark_arguments(parser, "the per-track loop", extra=[lambda p: p.add_argument(
        "--model", choices=["msd", "mtt"], default="msd", help="musicnn variant")])
    args = parse_clip_benchmark_arguments(parser, argv)

    from helpers.datasets import load_gtzan

    table = load_gtzan(args.flavour)
    result = run_benchmark(table, n_jobs=args.n_jobs, limit=args.limit, model=args.model)
    print(format_report(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 1 if args.strict and not targets_met(result) else 0


if __name__ == "__main__":
    sys.exit(main())
