"""The full-scale rehearsal: every chapter with ``GTZAN_FLAVOUR=full`` on a generated 1000-clip tree.

Usage::

    python -m tools.rehearsal build DIR [--per-genre 100] [--seconds 30]
    python -m tools.rehearsal run [--per-genre 100] [--chapters chapters/05_features.ipynb ...] [--keep]

``build`` writes a GTZAN-layout tree ``DIR/genres/<genre>/<genre>.000NN.wav`` (22050 Hz, mono,
16-bit) derived from the mini GTZAN clips (from :mod:`helpers.synth` when mini is not available).
Every derived clip differs in content (another mini clip of the genre, circularly shifted by a
per-clip offset, a small speed change that moves pitch and tempo together, a gain, low-level noise),
so no feature cache or de-duplication makes the run faster than it would be on the real 1000
clips. ``jazz.00054.wav`` is written unreadable (a cut-off header), as in many real copies. With
fewer than 100 clips per genre the clip numbers are drawn from the fault-filtered split lists
(train, valid and test in turn), so the protocol finds tracks of every list. A
``GENERATED.json`` at the tree's root declares it generated and states ``n_per_genre`` and
``seconds``; :func:`helpers.datasets.gtzan.verify_gtzan_content` checks the tree at that size and
never trusts such a marker in a download location. The tree is written into a temporary folder
and renamed when complete; a non-empty target is refused. **Disk**: 1000 clips of 30 s take about
1.3 GB (1.32 MB per clip).

``run`` builds the tree under ``data_home()/rehearsal`` and executes COPIES of the chapters (never
the committed notebooks) one at a time, each in a fresh kernel, with ``GTZAN_FLAVOUR=full`` and
``GTZAN_FULL_DIR`` set to the tree. The kernel imports a copy of ``helpers`` that is not a checkout
(as on Colab, where the package is installed), with ``BOOK_DATA_DIR`` set to a fresh folder, so
every result table, model bundle and feature cache a chapter writes stays in the temporary
workspace, and every cache starts cold. The fault-filtered lists come from ``$GTZAN_SPLIT_DIR`` or
the data layer (cache or download; the stand-in when neither works, said in ``notes``). Per
chapter it records into ``results/rehearsal/full.csv``:

``chapter, clips, per_genre, seconds, peak_rss_mb, status, executed_utc, machine, notes``

``seconds`` is the sum of the cell execution times (:func:`tools.runtimes.notebook_runtime`).
``peak_rss_mb`` is the peak resident memory of the chapter's kernel and the processes it started:
the largest of the total sampled every half second (psutil) and the exact peak of the largest single
process (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a process that only runs that chapter).
A chapter above Colab's ~12 GB gets ``status`` ``over-colab-memory``. Rows of an earlier run of the
same chapter and size are replaced. The tree and the workspace are removed afterwards unless
``--keep``. The full run (1000 clips, every chapter) takes hours on a 2-core CPU (``make rehearsal``);
``make rehearsal-quick`` runs 5 clips per genre through chapters 0, 4 and 5.

The record lives in ``results/rehearsal/``, not ``results/``: chapter *Beyond* gathers every
``results/*.csv`` into the book's comparison of models.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from helpers.config import GENRES, SAMPLE_RATE, data_home
from helpers.datasets.gtzan import GENERATED_MARKER, KNOWN_FAULTS
from helpers.errors import DataError, ParameterError

REPO = Path(__file__).resolve().parent.parent

#: Where ``run`` writes its record (committed; the course plan renders it).
RECORD = REPO / "results" / "rehearsal" / "full.csv"
COLUMNS = ("chapter", "clips", "per_genre", "seconds", "peak_rss_mb", "status", "executed_utc",
           "machine", "notes")
#: Colab's memory for a standard runtime, in MB (about 12.7 GB, of which the system uses some).
COLAB_MEMORY_MB = 12_000
#: Bytes of one 30 s clip at 22050 Hz, 16 bit, mono (plus its 44-byte header).
CLIP_BYTES = int(30 * SAMPLE_RATE) * 2 + 44
#: Seed of the derivation (clip ``i`` of genre ``g`` depends only on it, ``g`` and ``i``).
SEED = 16


# --------------------------------------------------------------------------- which clips


def clip_indices(n_per_genre: int, split: dict | None = None) -> dict[str, list[int]]:
    """The clip numbers of each genre in a generated tree of ``n_per_genre`` clips per genre.

    100 gives GTZAN's 00000–00099. Fewer take the genre's tracks of the fault-filtered lists in turn
    (train, valid, test, train, ...; then excluded numbers), so every list has tracks of the genre
    as soon as ``n_per_genre >= 3``; jazz starts its train turn with the known fault ``jazz.00054``.
    ``split`` is ``{'train': [...], 'valid': [...], 'test': [...]}`` of track ids
    (:func:`helpers.splits.load_filtered_split`; the lists need not be complete).
    """
    if not 1 <= n_per_genre <= 100:
        raise ParameterError(f"--per-genre must be between 1 and 100 (GTZAN has 100), not {n_per_genre}")
    if n_per_genre == 100:
        return {genre: list(range(100)) for genre in GENRES}
    split = split or {}
    faults = {int(t.split(".")[1]) for t in KNOWN_FAULTS if t.startswith("jazz.")}
    chosen = {}
    for genre in GENRES:
        queues = []
        for name in ("train", "valid", "test"):
            numbers = sorted(int(t.split(".")[1]) for t in split.get(name, []) if t.split(".")[0] == genre)
            if genre == "jazz":
                numbers = sorted(numbers, key=lambda i: i not in faults)  # the fault first
            queues.append(numbers)
        order, turn = [], 0
        while any(queues):
            queue = queues[turn % 3]
            if queue:
                order.append(queue.pop(0))
            turn += 1
        order += [i for i in range(100) if i not in order]
        chosen[genre] = sorted(order[:n_per_genre])
    return chosen


# --------------------------------------------------------------------------- the tree


def _mini_sources() -> dict[str, list[str]] | None:
    """Paths of the mini GTZAN clips per genre, or None when mini is not available locally."""
    from helpers.datasets import load_gtzan

    try:
        table = load_gtzan("mini", download=False, fallback=False, skip_unreadable=True)
    except (OSError, DataError):
        return None
    sources = {genre: list(table.loc[table["genre"] == genre, "path"]) for genre in GENRES}
    return sources if all(sources.values()) else None


def clip_seconds(genre_label: int, index: int, seconds: float) -> float:
    """A clip's length: ``seconds`` plus 5–35 ms, and 10–100 ms less for about one clip in 50.

    Real GTZAN clips are not all exactly 30 s; a few are slightly shorter, which the chapters'
    short-clip branches (a report segment that does not fit) must meet in the rehearsal too.
    """
    rng = np.random.default_rng([SEED, genre_label, index, 1])
    return seconds + (rng.uniform(-0.1, -0.01) if rng.random() < 0.02 else rng.uniform(0.005, 0.035))


def derive_clip(source: np.ndarray, genre_label: int, index: int, seconds: float,
                sr: int = SAMPLE_RATE) -> np.ndarray:
    """One derived clip: ``source`` sped up or slowed down by up to 3 %, circularly shifted, scaled and mixed with low-level noise (about 40 dB below the signal), all drawn from ``(SEED, genre_label, index)``; float32, :func:`clip_seconds` long."""
    rng = np.random.default_rng([SEED, genre_label, index])
    n = int(round(clip_seconds(genre_label, index, seconds) * sr))
    rate = rng.uniform(0.97, 1.03)
    position = (np.arange(n) * rate + rng.integers(sr, max(sr + 1, len(source) - sr))) % len(source)
    y = np.interp(position, np.arange(len(source)), source).astype(np.float32)
    y *= rng.uniform(0.6, 0.95) / max(float(np.max(np.abs(y))), 1e-6)
    rms = float(np.sqrt(np.mean(y ** 2))) or 1e-3
    y += (0.01 * rms * rng.standard_normal(n)).astype(np.float32)
    return np.clip(y, -1.0, 1.0)


def write_unreadable(path: Path) -> None:
    """Write a WAV file whose header is cut off after 32 bytes (libsndfile cannot open it)."""
    header = b"RIFF" + (36 + 2 * 661_500).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    path.write_bytes(header + b"\x01\x00\x01\x00" + b"\x22\x56\x00\x00")


def build_tree(target: str | os.PathLike, n_per_genre: int = 100, seconds: float = 30.0,
               split: dict | None = None, mini: bool = True, progress: bool = False) -> Path:
    """Write a generated GTZAN-layout tree at ``target`` (see the module docstring) and return it.

    Parameters
    ----------
    target : path
        The tree's root; must not exist or be an empty folder.
    n_per_genre : int
        Clips per genre, 1–100 (:func:`clip_indices`).
    seconds : float
        Clip length (GTZAN: 30).
    split : dict, optional
        The fault-filtered lists (:func:`helpers.splits.load_filtered_split`; loaded if omitted).
    mini : bool
        Derive from the mini clips when available; False: from :func:`helpers.synth.synth_clip`.

    Raises
    ------
    ParameterError
        Bad sizes, or ``target`` is a non-empty folder or a file.
    """
    import soundfile as sf

    from helpers.audio import load_clip
    from helpers.synth import synth_clip

    target = Path(target).expanduser()
    if not 0 < seconds <= 60:
        raise ParameterError(f"--seconds must be in (0, 60], not {seconds}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ParameterError(f"{target} exists and is not an empty folder: refusing to write a tree into it")
    if split is None:
        from helpers.splits import load_filtered_split

        split = load_filtered_split()
    indices = clip_indices(n_per_genre, split)
    sources = _mini_sources() if mini else None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        written = 0
        for label, genre in enumerate(GENRES):
            folder = tmp / "genres" / genre
            folder.mkdir(parents=True)
            loaded = {}  # the genre's mini clips, each read once when first needed
            for index in indices[genre]:
                path = folder / f"{genre}.{index:05d}.wav"
                if f"{genre}.{index:05d}" in KNOWN_FAULTS:
                    write_unreadable(path)
                    continue
                if sources:
                    source = sources[genre][index % len(sources[genre])]
                    if source not in loaded:
                        loaded[source] = load_clip(source)
                    y = derive_clip(loaded[source], label, index, seconds)
                else:
                    y = synth_clip(genre, seconds=clip_seconds(label, index, seconds),
                                   rng=np.random.default_rng([SEED, label, index]))
                sf.write(path, y, SAMPLE_RATE, subtype="PCM_16")
                written += 1
            if progress:
                print(f"  {genre}: {len(indices[genre])} clips", flush=True)
        info = {
            "generated": True, "generator": "tools/rehearsal.py", "n_per_genre": n_per_genre,
            "seconds": seconds, "sr": SAMPLE_RATE, "seed": SEED,
            "source": "mini GTZAN clips, derived" if sources else "helpers.synth (mini not available)",
            "unreadable": [t for t in KNOWN_FAULTS if int(t.split(".")[1]) in indices[t.split(".")[0]]],
            "split_source": getattr(split, "source", "given"), "indices": indices,
        }
        (tmp / GENERATED_MARKER).write_text(json.dumps(info, indent=1))
        if target.exists():
            target.rmdir()  # empty, checked above
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- executing chapters


def machine() -> str:
    """The machine in words: CPU cores, memory, GPU (``nvidia-smi`` present or not)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "NVIDIA GPU" if shutil.which("nvidia-smi") else "no GPU"
    return f"{os.cpu_count()}-core {platform.machine()} CPU, {memory:.0f} GB RAM, {gpu}"


def _tree_rss_mb(process) -> float:
    total = 0
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except Exception:  # noqa: BLE001 - a process that ended between listing and reading
            continue
    return total / 2**20


def execute_measured(notebook: Path, timeout: int) -> dict:
    """Execute one notebook in place in a fresh kernel; return its status and peak memory.

    Runs inside a process of its own (see :func:`run_chapter`), so that
    ``getrusage(RUSAGE_CHILDREN)`` covers this chapter's kernel only.
    """
    import nbformat
    from nbclient import NotebookClient

    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the book's environment
        psutil = None
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not done.wait(0.5):
            peak[0] = max(peak[0], _tree_rss_mb(me))

    sampler = threading.Thread(target=sample, daemon=True) if psutil else None
    if sampler:
        sampler.start()
    nb = nbformat.read(notebook, as_version=4)
    status = "ok"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    except Exception as error:  # noqa: BLE001 - any failure is recorded, the next chapter runs
        status = f"failed ({type(error).__name__})"
        print(str(error)[-3000:], file=sys.stderr)
    finally:
        done.set()
        nbformat.write(nb, notebook)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB on Linux
    return {"status": status, "peak_rss_mb": round(max(peak[0], largest), 1)}


def run_chapter(notebook: Path, env: dict, timeout: int) -> dict:
    """Execute one chapter copy in a process of its own; return the row's measured part."""
    from tools.runtimes import notebook_runtime

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    code = ("import json, sys; from pathlib import Path; from tools.rehearsal import execute_measured; "
            f"print('REHEARSAL ' + json.dumps(execute_measured(Path({str(notebook)!r}), {int(timeout)})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=notebook.parent, capture_output=True,
                          text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("REHEARSAL ")), None)
    if line is None:
        sys.stderr.write(proc.stderr[-3000:])
        measured = {"status": f"failed (exit {proc.returncode})", "peak_rss_mb": float("nan")}
    else:
        measured = json.loads(line.removeprefix("REHEARSAL "))
        if proc.stderr.strip() and measured["status"] != "ok":
            sys.stderr.write(proc.stderr[-3000:])
    try:
        seconds = notebook_runtime(notebook)["seconds"]
    except DataError:
        seconds = float("nan")
    if measured["status"] == "ok" and measured["peak_rss_mb"] > COLAB_MEMORY_MB:
        measured["status"] = "over-colab-memory"
    return {"seconds": round(seconds, 1), "executed_utc": started, **measured}


def kernel_environment(workspace: Path, tree: Path) -> tuple[dict, str]:
    """The chapters' environment: full flavour on ``tree``, an installed-like ``helpers``, a fresh cache.

    Returns the environment and a note on where the split lists and the Spotify table come from.
    """
    from helpers.datasets import remote

    package = workspace / "package"
    shutil.copytree(REPO / "helpers", package / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = dict(os.environ)
    env.update(GTZAN_FLAVOUR="full", GTZAN_FULL_DIR=str(tree), BOOK_DATA_DIR=str(workspace / "data"),
               PYTHONPATH=os.pathsep.join([str(package), str(REPO)]))
    env.pop("MPLBACKEND", None)  # a non-interactive backend would stop the kernel from storing figures
    env.pop("BOOK_CACHE_DIR", None)  # every cache starts cold in the workspace's data folder
    notes = []
    if not env.get("GTZAN_SPLIT_DIR"):
        try:
            env["GTZAN_SPLIT_DIR"] = str(remote.fetch_filtered_split())
        except (OSError, DataError):
            notes.append("split lists: stand-in (the real lists could not be had)")
    if not env.get("SPOTIFY_CSV"):
        try:
            env["SPOTIFY_CSV"] = str(remote.fetch_spotify())
        except (OSError, DataError):
            notes.append("Spotify: synthetic stand-in")
    return env, "; ".join(notes)


def write_record(rows: list[dict], path: Path = RECORD) -> Path:
    """Merge ``rows`` into the CSV record (replacing rows of the same chapter and size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = []
    if path.is_file():
        with path.open(newline="") as handle:
            old = list(csv.DictReader(handle))
    new_keys = {(r["chapter"], str(r["per_genre"])) for r in rows}
    kept = [r for r in old if (r["chapter"], str(r["per_genre"])) not in new_keys]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=lambda r: (-int(r["per_genre"]), r["chapter"])))
    tmp.replace(path)
    return path


def run(chapters: list[Path] | None = None, n_per_genre: int = 100, seconds: float = 30.0,
        keep: bool = False, timeout: int = 3600, record: Path = RECORD, home: Path | None = None) -> list[dict]:
    """Build the tree, execute copies of the chapters against it, record each; see the module docstring."""
    from tools.notebooks import chapter_paths

    chapters = [Path(c).resolve() for c in chapters] if chapters else chapter_paths()
    missing = [str(c) for c in chapters if not c.is_file()]
    if missing:
        raise ParameterError(f"no such chapter notebook(s): {', '.join(missing)}")
    home = Path(home) if home is not None else data_home() / "rehearsal"
    home.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix="run-", dir=home))
    tree = workspace / f"gtzan_{n_per_genre}_per_genre"
    size = 10 * n_per_genre * CLIP_BYTES * seconds / 30 / 1e9
    print(f"building {10 * n_per_genre} clips of {seconds:g} s in {tree} (about {size:.2f} GB) ...", flush=True)
    rows = []
    try:
        build_tree(tree, n_per_genre, seconds, progress=n_per_genre >= 20)
        env, notes = kernel_environment(workspace, tree)
        copies = workspace / "chapters"
        copies.mkdir()
        base_notes = "; ".join(filter(None, [json.loads((tree / GENERATED_MARKER).read_text())["source"], notes]))
        for chapter in chapters:
            copy = copies / chapter.name
            shutil.copy2(chapter, copy)
            print(f"executing a copy of {chapter.name} ...", flush=True)
            measured = run_chapter(copy, env, timeout)
            row = {"chapter": chapter.stem, "clips": 10 * n_per_genre, "per_genre": n_per_genre,
                   "machine": machine(), "notes": base_notes, **measured}
            rows.append(row)
            write_record(rows, record)  # after each chapter: an interrupted run keeps what it measured
            print(f"  {row['status']}: {row['seconds']} s of cells, peak {row['peak_rss_mb']} MB", flush=True)
    finally:
        if keep:
            print(f"kept {workspace} (tree, executed copies, caches)")
        else:
            shutil.rmtree(workspace, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write a generated GTZAN-layout tree (about 1.3 GB for 1000 clips)")
    build.add_argument("dir", type=Path, nargs="?", help="default: data_home()/rehearsal/gtzan_<N>_per_genre")
    for p in (build, sub.add_parser("run", help="build a tree, execute copies of the chapters, record")):
        p.add_argument("--per-genre", type=int, default=100, help="clips per genre (default 100)")
        p.add_argument("--seconds", type=float, default=30.0, help="clip length (default 30)")
    run_parser = sub.choices["run"]
    run_parser.add_argument("--chapters", nargs="*", type=Path, help="chapter notebooks (default: all)")
    run_parser.add_argument("--keep", action="store_true", help="keep the tree and the executed copies")
    run_parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    run_parser.add_argument("--record", type=Path, default=RECORD, help=f"CSV (default {RECORD.relative_to(REPO)})")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            target = args.dir or data_home() / "rehearsal" / f"gtzan_{args.per_genre}_per_genre"
            print(build_tree(target, args.per_genre, args.seconds, progress=True))
            return 0
        rows = run(args.chapters, args.per_genre, args.seconds, keep=args.keep, timeout=args.timeout,
                   record=args.record)
    except (ParameterError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    bad = [r["chapter"] for r in rows if r["status"] != "ok"]
    print(f"{len(rows)} chapter(s) recorded in {args.record}; not ok: {', '.join(bad) or 'none'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
