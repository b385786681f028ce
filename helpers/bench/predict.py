"""Benchmark of ``genre-predict``: cold start for one 30 s clip and time per further clip, probe vs CNN.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), "Classify your own clip". Run it with::

    python -m helpers.bench predict                 # 30 s clips from the GTZAN flavour in use
    python -m helpers.bench predict --clips 4       # cold start + 3 further clips per model

For each shipped model (``--model probe`` and ``--model cnn``) it times

1. **cold start**: a fresh Python subprocess running the command (``python -m helpers.predict``)
   on one 30 s clip, from process start to exit: imports, reading the bundle, reading the clip,
   the network — what a user waits for (the best of ``--repeats`` runs);
2. **per further clip**: in one process, the mean time of :meth:`GenrePredictor.predict_file` on
   the other clips after the first (loading, features or embeddings, the network), wall and CPU
   seconds (the process's CPU time: on a shared machine the wall time also counts waiting for a core).

It prints seconds, the ratios probe / CNN, and the targets of issue 14 on a 2-core machine
(cold start ≤ 10 s, ≤ 1 s per further clip); the exit code is 0 either way unless ``--strict``
is given. Timings on a shared machine vary: run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_COLD_S = 10.0
TARGET_PER_CLIP_S = 1.0
MODELS = ("probe", "cnn")


def _cold_start(model: str, clip: str) -> float:
    """Seconds for a fresh interpreter to run the command on one clip (imports included)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers.predict", "--model", model, "--json", clip],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"genre-predict --model {model} failed ({done.returncode}): {done.stderr[-500:]}")
    return seconds


def run_benchmark(clips, repeats: int = 1, models=MODELS) -> dict:
    """Time the cold start (first clip, fresh process) and further clips (in-process) for each model.

    Returns
    -------
    dict
        ``clips``, ``cpu_count``, and per model ``<model>_cold_s``, ``<model>_per_clip_s`` and
        ``<model>_per_clip_cpu_s`` (process CPU seconds: on a shared machine the wall time also
        counts waiting for a core; ``None`` when only one clip is given), plus ``cold_ratio`` and ``per_clip_ratio``
        (probe / CNN) when both models ran.
    """
    from helpers.predict import GenrePredictor, model_bundle

    clips = [str(c) for c in clips]
    result = {"clips": len(clips), "cpu_count": os.cpu_count(), "repeats": repeats}
    for model in models:
        result[f"{model}_cold_s"] = min(_cold_start(model, clips[0]) for _ in range(repeats))
        predictor = GenrePredictor(model_bundle(model))
        predictor.predict_file(clips[0])  # warm: the first call in a process is not a further clip
        times, cpu = [], []
        for clip in clips[1:]:
            start, start_cpu = time.perf_counter(), time.process_time()
            predictor.predict_file(clip)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[f"{model}_per_clip_s"] = statistics.mean(times) if times else None
        result[f"{model}_per_clip_cpu_s"] = statistics.mean(cpu) if cpu else None
    if set(models) == set(MODELS):
        result["cold_ratio"] = result["probe_cold_s"] / result["cnn_cold_s"]
        if result["cnn_per_clip_s"]:
            result["per_clip_ratio"] = result["probe_per_clip_s"] / result["cnn_per_clip_s"]
    return result


def targets_met(result: dict, model: str = "probe") -> bool:
    """Issue 14's targets for ``model``: cold start ≤ 10 s and ≤ 1 s per further clip."""
    per_clip = result.get(f"{model}_per_clip_s")
    return result[f"{model}_cold_s"] <= TARGET_COLD_S and (per_clip is None or per_clip <= TARGET_PER_CLIP_S)


def report(result: dict) -> str:
    """The benchmark's printed lines."""
    lines = [f"genre-predict on {result['clips']} clip(s) of 30 s, {result['cpu_count']} CPU core(s); "
             f"cold start = fresh process, best of {result['repeats']}"]
    for model in MODELS:
        if f"{model}_cold_s" not in result:
            continue
        per_clip = result[f"{model}_per_clip_s"]
        lines.append(f"  {model:5s}: cold start {result[f'{model}_cold_s']:6.2f} s; per further clip "
                     + (f"{per_clip:6.3f} s ({result[f'{model}_per_clip_cpu_s']:.3f} s CPU)"
                        if per_clip is not None else "   n/a")
                     + f"  (targets ≤ {TARGET_COLD_S:g} s, ≤ {TARGET_PER_CLIP_S:g} s: "
                     + ("met" if targets_met(result, model) else "missed") + ")")
    if "cold_ratio" in result:
        line = f"  probe / CNN: cold start × {result['cold_ratio']:.2f}"
        if "per_clip_ratio" in result:
            line += f", per further clip × {result['per_clip_ratio']:.2f}"
        lines.append(line)
    return "\n".join(lines)


def _default_clips(n: int) -> list[Path]:
    """``n`` clips of the GTZAN flavour in use, spread over the genres."""
    from helpers.datasets import load_gtzan

    table = load_gtzan()
    per_genre = max(1, -(-n // table["genre"].nunique()))
    return [Path(p) for p in table.groupby("genre", sort=False).head(per_genre)["path"].head(n)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench predict", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="clips to use (default: from the GTZAN flavour in use)")
    parser.add_argument("--clips", type=int, default=6, help="clips when none are given (first = cold start)")
    parser.add_argument("--repeats", type=int, default=1, help="cold starts per model (the best is kept)")
    parser.add_argument("--model", choices=MODELS, action="append", help="only this model (repeatable)")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the probe misses a target")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.repeats < 1:
        parser.error("--clips and --repeats must be at least 1")
    clips = args.files or _default_clips(args.clips)
    result = run_benchmark(clips, repeats=args.repeats, models=tuple(args.model or MODELS))
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if args.strict and "probe_cold_s" in result and not targets_met(result) else 0


if __name__ == "__main__":
    sys.exit(main())
