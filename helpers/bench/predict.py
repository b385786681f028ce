"""Benchmark of ``genre-predict``: first run, cold start, per further clip, FLOPs, and a folder on all cores.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), "Classify your own clip". Run it with::

    python -m helpers.bench predict                     # clips of the GTZAN flavour in use
    python -m helpers.bench predict --folder-clips 0    # without the 1,000-clip folder run

On 30 s clips, in one run, it measures today's path *and* the previous one (the reference,
:mod:`helpers.bench.legacy`: librosa's decoding and log-mel and the direct NumPy network, as the
command was before; needs librosa), so the ratios are measured on the same machine at the same time:

1. **first run after install**: a fresh process with an empty bytecode cache
   (``PYTHONPYCACHEPREFIX``: every module compiled, as on the first run of a source install) and,
   for the reference, an empty numba cache (``NUMBA_CACHE_DIR``: librosa's JIT compiled again);
2. **cold start**: a fresh process classifying one clip, from start to exit (best of ``--repeats``);
3. **per further clip**: in one process, the mean wall and CPU time of a clip after the first;
4. **FLOPs**: the network's FLOP count per clip (as a direct convolution counts them, and as the
   NumPy engine performs them), the GFLOP/s achieved on it, and the machine's float32
   matrix-product GFLOP/s (all cores) — the limit;
5. **a folder**: ``--folder-clips`` clips (default 1,000: links to the clips, cycled) classified by
   ``genre-predict FOLDER --jobs -1 --output results.jsonl`` (all cores, streamed, resumable).

It prints a table with the issue's targets (first run ≤ 3 s, cold start ≤ 1.5 s, per further clip
≥ 2× faster than the reference) and the load average before and after: timings on a shared machine
are inflated, so say what the machine was doing. The exit code is 0 either way unless ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_FIRST_RUN_S = 3.0
TARGET_COLD_S = 1.5
TARGET_SPEEDUP = 2.0


def _run(command: list[str], env: dict | None = None) -> float:
    """Seconds for a fresh process to run ``command`` (raises with its stderr if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-500:]}")
    return seconds


def _commands(clip: str) -> dict[str, list[str]]:
    python = sys.executable
    return {"probe": [python, "-m", "helpers.predict", "--model", "probe", "--json", clip],
            "cnn": [python, "-m", "helpers.predict", "--model", "cnn", "--json", clip],
            "reference": [python, "-m", "helpers.bench.legacy", clip]}


def _have_reference() -> bool:
    import importlib.util

    return importlib.util.find_spec("librosa") is not None


def matmul_gflops(size: int = 2048, repeats: int = 3) -> float:
    """The machine's float32 matrix-product speed (all cores, the BLAS NumPy uses), best of ``repeats``."""
    import numpy as np

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def per_clip(clips: list[str]) -> dict:
    """Mean wall and CPU seconds per further clip, today's probe path and the reference, in this process."""
    from helpers.bench import legacy
    from helpers.predict import GenrePredictor, model_bundle

    predictor = GenrePredictor(model_bundle("probe"))
    paths = {"probe": lambda clip: predictor.predict_file(clip)}
    if _have_reference():
        old = legacy.MusicnnNumpy(predictor.bundle.weights_path)
        paths["reference"] = lambda clip: legacy.classify(clip, predictor.bundle, old)
    result = {}
    for name, classify in paths.items():
        classify(clips[0])  # warm: the first clip of a process is not a further clip
        wall, cpu = [], []
        for clip in clips[1:] or clips[:1]:
            start, start_cpu = time.perf_counter(), time.process_time()
            out = classify(clip)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            if name == "probe":
                result.setdefault("probe_network_s", []).append(out.seconds["predict"])
        result[f"{name}_per_clip_s"] = statistics.mean(wall)
        result[f"{name}_per_clip_cpu_s"] = statistics.mean(cpu)
    result["probe_network_s"] = statistics.mean(result["probe_network_s"])
    return result


def folder_run(clips: list[str], n: int) -> dict:
    """``genre-predict FOLDER --jobs -1 --output ...`` on ``n`` links to ``clips`` (cycled)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-predict-folder-"))
    try:
        for i in range(n):
            source = Path(clips[i % len(clips)]).resolve()
            (folder / f"clip{i:05d}{source.suffix}").symlink_to(source)
        output = folder / "results.jsonl"
        seconds = _run([sys.executable, "-m", "helpers.predict", str(folder), "--jobs", "-1",
                        "--output", str(output)])
        records = [json.loads(line) for line in output.read_text().splitlines()]
        errors = sum(record["error"] is not None for record in records)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"folder_clips": n, "folder_s": seconds, "folder_clips_per_s": n / seconds,
            "folder_records": len(records), "folder_errors": errors}


def run_benchmark(clips, repeats: int = 1, first_run: bool = True, folder_clips: int = 1000,
                  cold: bool = True) -> dict:
    """Every measurement of the module docstring on ``clips`` (30 s each; the first is the cold-start clip).

    Returns
    -------
    dict
        Seconds (``*_s``), ratios, FLOP counts and the machine state (``cpu_count``, ``load_before``,
        ``load_after``: 1-minute load averages).
    """
    from helpers.audio import load_clip
    from helpers.musicnn import SR, log_mel, musicnn_numpy, patches

    clips = [str(c) for c in clips]
    result = {"clips": len(clips), "cpu_count": os.cpu_count(), "repeats": repeats,
              "load_before": os.getloadavg()[0], "reference": _have_reference()}
    names = ("probe", "cnn", "reference") if result["reference"] else ("probe", "cnn")
    commands = _commands(clips[0])
    if first_run:
        for name in ("probe", "reference")[: 1 + result["reference"]]:
            with tempfile.TemporaryDirectory() as empty:
                result[f"{name}_first_run_s"] = _run(commands[name], {"PYTHONPYCACHEPREFIX": empty,
                                                                      "NUMBA_CACHE_DIR": empty})
    for name in names if cold else ():
        _run(commands[name])  # bytecode compiled once: cold starts below are a user's second run
        result[f"{name}_cold_s"] = min(_run(commands[name]) for _ in range(repeats))
    result.update(per_clip(clips))
    if result["reference"]:
        result["per_clip_speedup"] = result["reference_per_clip_s"] / result["probe_per_clip_s"]
        if cold:
            result["cold_speedup"] = result["reference_cold_s"] / result["probe_cold_s"]
    net = musicnn_numpy("msd")
    n_patches = len(patches(log_mel(load_clip(clips[0], sr=SR), SR)))
    result["patches_per_clip"] = n_patches
    result["gflop_per_clip"] = net.flops_per_patch() * n_patches / 1e9
    result["gflop_per_clip_performed"] = net.flops_per_patch(performed=True) * n_patches / 1e9
    result["achieved_gflops"] = result["gflop_per_clip"] / result["probe_network_s"]
    result["matmul_gflops"] = matmul_gflops()
    if folder_clips:
        result.update(folder_run(clips, folder_clips))
    result["load_after"] = os.getloadavg()[0]
    return result


def targets(result: dict) -> dict[str, bool | None]:
    """Which targets hold (None: not measured)."""
    first = result.get("probe_first_run_s")
    return {"first run <= 3 s": None if first is None else first <= TARGET_FIRST_RUN_S,
            "cold start <= 1.5 s": None if "probe_cold_s" not in result else result["probe_cold_s"] <= TARGET_COLD_S,
            "per further clip >= 2x faster": None if "per_clip_speedup" not in result
            else result["per_clip_speedup"] >= TARGET_SPEEDUP}


def report(result: dict) -> str:
    """The benchmark's printed table."""
    def cell(key, fmt="{:.2f} s"):
        return fmt.format(result[key]) if result.get(key) is not None else "n/a"

    lines = [f"genre-predict on {result['clips']} clip(s) of 30 s, {result['cpu_count']} CPU core(s); load average "
             f"{result['load_before']:.1f} before, {result['load_after']:.1f} after (timings inflate under load)",
             f"  {'':24}{'today (probe)':>16}{'reference':>12}{'today (cnn)':>14}",
             f"  {'first run after install':24}{cell('probe_first_run_s'):>16}{cell('reference_first_run_s'):>12}",
             f"  {'cold start, one clip':24}{cell('probe_cold_s'):>16}{cell('reference_cold_s'):>12}"
             f"{cell('cnn_cold_s'):>14}",
             f"  {'per further clip, wall':24}{cell('probe_per_clip_s', '{:.3f} s'):>16}"
             f"{cell('reference_per_clip_s', '{:.3f} s'):>12}",
             f"  {'per further clip, CPU':24}{cell('probe_per_clip_cpu_s', '{:.3f} s'):>16}"
             f"{cell('reference_per_clip_cpu_s', '{:.3f} s'):>12}"]
    if "per_clip_speedup" in result:
        lines.append(f"  today vs reference: per further clip {result['per_clip_speedup']:.2f}x faster"
                     + (f", cold start {result['cold_speedup']:.2f}x faster" if "cold_speedup" in result else ""))
    lines.append(f"  musicnn: {result['gflop_per_clip']:.1f} GFLOP per clip ({result['patches_per_clip']} patches, "
                 f"direct-convolution count; the engine performs {result['gflop_per_clip_performed']:.1f}); "
                 f"{result['achieved_gflops']:.0f} GFLOP/s achieved (direct count / network time) vs "
                 f"{result['matmul_gflops']:.0f} GFLOP/s float32 matrix product on this machine")
    if "folder_clips" in result:
        lines.append(f"  folder of {result['folder_clips']} clips, --jobs -1 --output: {result['folder_s']:.1f} s "
                     f"({result['folder_clips_per_s']:.1f} clips/s), {result['folder_records']} records, "
                     f"{result['folder_errors']} errors")
    lines.append("  targets: " + "; ".join(f"{name}: {'n/a' if ok is None else 'met' if ok else 'MISSED'}"
                                           for name, ok in targets(result).items()))
    return "\n".join(lines)


def _default_clips(n: int) -> list[Path]:
    """``n`` clips of the GTZAN flavour in use, spread over the genres."""
    from helpers.datasets import load_gtzan

    table = load_gtzan()
    per_genre = max(1, -(-n // table["genre"].nunique()))
    return [Path(p) for p in table.groupby("genre", sort=False).head(per_genre)["path"].head(n)]


def main(argv=None) -> int:
    """Command-line entry point: ``python -m helpers.bench predict``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.bench predict", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="30 s clips to use (default: from the GTZAN flavour in use)")
    parser.add_argument("--clips", type=int, default=6, help="clips when none are given (first = cold start)")
    parser.add_argument("--repeats", type=int, default=3, help="cold starts per path (the best is kept)")
    parser.add_argument("--folder-clips", type=int, default=1000, help="clips of the folder run (0: skip it)")
    parser.add_argument("--no-first-run", action="store_true", help="skip the first-run measurement")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurements")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a measured target is missed")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.repeats < 1 or args.folder_clips < 0:
        parser.error("--clips and --repeats must be at least 1, --folder-clips at least 0")
    clips = args.files or _default_clips(args.clips)
    result = run_benchmark(clips, repeats=args.repeats, first_run=not args.no_first_run,
                           folder_clips=args.folder_clips, cold=not args.no_cold)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if args.strict and not all(ok is not False for ok in targets(result).values()) else 0


if __name__ == "__main__":
    sys.exit(main())
