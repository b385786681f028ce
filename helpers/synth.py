"""Synthetic stand-ins for the book's data: GTZAN-layout clips and a Spotify-like table.

Explained in chapter *Getting started* (``chapters/00_getting_started.ipynb``). They are the
offline fallback of a fresh machine without network and the fixtures of the unit tests; every
number computed on them is announced as *synthetic*.

The clips are little pieces of generated "music": a drum kit (kick, snare, hi-hat patterns on a
16-step grid, with swing and human timing), a bass line, chords and a melody, with genre-dependent
tempo, rhythm, timbre (number and strength of harmonics, distortion, noise, recording bandwidth)
and harmony (chord progressions and scales). Each clip draws its own key, tempo, levels and
timbre, and one clip in four borrows the drum pattern of a neighbouring genre (rock/metal,
disco/pop, blues/jazz, ...), so genres are learnable but overlap.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import lfilter

from helpers.config import GENRES, SAMPLE_RATE, SPOTIFY_GENRES, data_home, scratch_home
from helpers.errors import DataError, ParameterError
from helpers.files import set_aside

#: Bump when the generator's output changes, so that cached folders are regenerated.
GENERATOR_VERSION = 2

_CHORDS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dom7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "pow": (0, 7, 12),
}
_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "penta": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}

# One entry per genre. Patterns are 16 steps (sixteenth notes) of one 4/4 bar: 'x' hit, 'o' soft.
# progression: (semitones above the key, chord quality) per chord; chord_bars: bars per chord.
_STYLE: dict[str, dict] = {
    "blues": dict(
        tempo=(68, 100), swing=(0.2, 0.33), kick="x.......x.......", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=0.5, bass=("root", 0.6), chord=("strum", 0.5),
        progression=[(0, "dom7")] * 4 + [(5, "dom7")] * 2 + [(0, "dom7")] * 2 + [(7, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7")],
        chord_bars=1, bright=(0.55, 0.75), harm=8, drive=(1.0, 2.5), noise=(0.01, 0.04),
        scale="blues", melody=(0.35, 0.55), mel_density=0.35, bandwidth=(3500, 8000),
    ),
    "classical": dict(
        tempo=(60, 100), swing=(0, 0), kick="................", snare="................",
        hat="................", drums=0.0, bass=("long", 0.5), chord=("pad", 0.8),
        progression=[(0, "maj"), (5, "maj"), (7, "dom7"), (0, "maj")], chord_bars=2,
        bright=(0.35, 0.6), harm=10, drive=(0.0, 0.0), noise=(0.002, 0.01),
        scale="major", melody=(0.5, 0.8), mel_density=0.5, bandwidth=(5000, 10000),
    ),
    "country": dict(
        tempo=(90, 130), swing=(0, 0.1), kick="x.......x.......", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=0.6, bass=("alt", 0.6), chord=("strum", 0.6),
        progression=[(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")], chord_bars=1,
        bright=(0.6, 0.8), harm=9, drive=(0.0, 0.5), noise=(0.003, 0.015),
        scale="major", melody=(0.35, 0.55), mel_density=0.4, bandwidth=(5000, 10000),
    ),
    "disco": dict(
        tempo=(110, 130), swing=(0, 0.05), kick="x...x...x...x...", snare="....x.......x...",
        hat="..x...x...x...x.", drums=0.8, bass=("octave", 0.7), chord=("stab", 0.45),
        progression=[(0, "min7"), (5, "min7")], chord_bars=2, bright=(0.6, 0.8), harm=7,
        drive=(0.0, 0.4), noise=(0.002, 0.01), scale="dorian", melody=(0.2, 0.4),
        mel_density=0.3, bandwidth=(6000, 10000),
    ),
    "hiphop": dict(
        tempo=(80, 100), swing=(0.05, 0.2), kick="x......x..x.....", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=1.0, bass=("sub", 0.9), chord=("stab", 0.3),
        progression=[(0, "min7"), (8, "maj7")], chord_bars=2, bright=(0.3, 0.55), harm=5,
        drive=(0.0, 0.3), noise=(0.003, 0.02), scale="minor", melody=(0.1, 0.3),
        mel_density=0.2, bandwidth=(4000, 9000),
    ),
    "jazz": dict(
        tempo=(100, 180), swing=(0.25, 0.33), kick="x.......o.......", snare="......o.......o.",
        hat="x...x.x.x...x.x.", drums=0.35, bass=("walk", 0.6), chord=("comp", 0.4),
        progression=[(2, "min7"), (7, "dom7"), (0, "maj7"), (0, "maj7")], chord_bars=1,
        bright=(0.4, 0.65), harm=7, drive=(0.0, 0.3), noise=(0.005, 0.02), scale="dorian",
        melody=(0.4, 0.6), mel_density=0.55, bandwidth=(4000, 9000),
    ),
    "metal": dict(
        tempo=(100, 180), swing=(0, 0), kick="xxxxxxxxxxxxxxxx", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=0.8, bass=("eighth", 0.5), chord=("sustain", 0.8),
        progression=[(0, "pow"), (8, "pow"), (10, "pow"), (0, "pow")], chord_bars=1,
        bright=(0.7, 0.9), harm=10, drive=(4.0, 10.0), noise=(0.01, 0.04), scale="minor",
        melody=(0.2, 0.4), mel_density=0.5, bandwidth=(5000, 10000),
    ),
    "pop": dict(
        tempo=(100, 130), swing=(0, 0.05), kick="x.....x...x.....", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=0.7, bass=("eighth", 0.6), chord=("strum", 0.5),
        progression=[(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")], chord_bars=1,
        bright=(0.5, 0.75), harm=7, drive=(0.0, 0.5), noise=(0.002, 0.01), scale="major",
        melody=(0.45, 0.65), mel_density=0.45, bandwidth=(6000, 10000),
    ),
    "reggae": dict(
        tempo=(60, 90), swing=(0.05, 0.15), kick="........x.......", snare="........x.......",
        hat="x.x.x.x.x.x.x.x.", drums=0.6, bass=("root", 0.9), chord=("offbeat", 0.5),
        progression=[(0, "maj"), (5, "maj")], chord_bars=2, bright=(0.45, 0.7), harm=7,
        drive=(0.0, 0.3), noise=(0.005, 0.02), scale="major", melody=(0.2, 0.4),
        mel_density=0.3, bandwidth=(4000, 9000),
    ),
    "rock": dict(
        tempo=(100, 140), swing=(0, 0.05), kick="x.....x.x.......", snare="....x.......x...",
        hat="x.x.x.x.x.x.x.x.", drums=0.75, bass=("eighth", 0.6), chord=("sustain", 0.7),
        progression=[(0, "pow"), (10, "pow"), (5, "pow"), (0, "pow")], chord_bars=1,
        bright=(0.6, 0.85), harm=9, drive=(1.5, 5.0), noise=(0.005, 0.03), scale="penta",
        melody=(0.3, 0.5), mel_density=0.4, bandwidth=(5000, 10000),
    ),
}

#: Genres whose drum patterns a clip may borrow (the designed overlaps).
_NEIGHBOURS = {
    "blues": ("jazz", "rock", "country"),
    "classical": ("classical",),
    "country": ("rock", "blues", "pop"),
    "disco": ("pop",),
    "hiphop": ("reggae", "pop"),
    "jazz": ("blues",),
    "metal": ("rock",),
    "pop": ("disco", "rock", "country"),
    "reggae": ("hiphop",),
    "rock": ("metal", "pop", "country"),
}


def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _last_onset(t: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Index of the most recent onset at each time (-1 before the first)."""
    return np.searchsorted(onsets, t, side="right") - 1


def _tone(freq: np.ndarray, sr: int, bright: float, harm: int, phase0: float = 0.0) -> np.ndarray:
    """A harmonic tone following a per-sample frequency: sum_h bright**h sin(h*phase), in closed form."""
    phase = np.mod(phase0 + 2 * np.pi * np.cumsum(freq) / sr, 2 * np.pi).astype(np.float32)
    # Keep the highest harmonic below Nyquist for the highest frequency used.
    harm = int(max(1, min(harm, np.floor(0.45 * sr / max(float(freq.max()), 1.0)))))
    a = np.float32(bright)
    # sum_{h=1}^{H} a^h sin(h x) = (a sin x - a^(H+1) sin((H+1) x) + a^(H+2) sin(H x)) / (1 - 2a cos x + a^2)
    num = a * np.sin(phase) - a ** (harm + 1) * np.sin((harm + 1) * phase) + a ** (harm + 2) * np.sin(harm * phase)
    den = 1 - 2 * a * np.cos(phase) + a * a
    norm = bright * (1 - bright**harm) / (1 - bright)
    return (num / (den * np.float32(norm))).astype(np.float32)


def _envelope(t: np.ndarray, onsets: np.ndarray, decay: float, attack: float = 0.005) -> np.ndarray:
    """Percussive envelope: instant-ish attack at each onset, exponential decay (seconds)."""
    if len(onsets) == 0:
        return np.zeros_like(t, dtype=np.float32)
    last = _last_onset(t, onsets)
    since = t - onsets[np.maximum(last, 0)]
    env = (1 - np.exp(-since / attack)) * np.exp(-since / decay)
    env[last < 0] = 0.0
    return env.astype(np.float32)


def _drum_sounds(rng: np.random.Generator, sr: int) -> dict[str, np.ndarray]:
    """One kick, snare and hi-hat sample, with a little per-clip variation."""
    t = np.arange(int(0.4 * sr)) / sr
    f_hi, f_lo = rng.uniform(90, 150), rng.uniform(40, 60)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.08, 0.2))
    noise = rng.standard_normal(len(t))
    snare = (0.7 * noise * np.exp(-t / rng.uniform(0.06, 0.15))
             + 0.5 * np.sin(2 * np.pi * rng.uniform(160, 220) * t) * np.exp(-t / 0.05))
    hat_noise = np.diff(rng.standard_normal(len(t) + 1))  # crude high-pass
    hat = 0.5 * hat_noise * np.exp(-t / rng.uniform(0.02, 0.06))
    return {"kick": kick, "snare": snare, "hat": hat}


def synth_clip(genre: str, seconds: float = 30.0, sr: int = SAMPLE_RATE,  # noqa: C901 (issue 27: split when next touched)
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Generate one synthetic clip of a genre (float32 in [-1, 1]).

    Explained in chapter *Getting started*.

    Parameters
    ----------
    genre : str
        One of :data:`helpers.config.GENRES`.
    seconds : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    rng : numpy.random.Generator, optional
        Source of the clip's random choices (key, tempo, levels, timbre, notes).

    Returns
    -------
    numpy.ndarray
        Shape ``(round(seconds * sr),)``, float32.
    """
    if genre not in _STYLE:
        raise ParameterError(f"unknown genre {genre!r}; choose one of {GENRES}")
    if seconds <= 0 or sr <= 0:
        raise ParameterError(f"seconds ({seconds}) and sr ({sr}) must be positive")
    rng = rng if rng is not None else np.random.default_rng()
    style = _STYLE[genre]
    n = int(round(seconds * sr))
    t = np.arange(n) / sr

    tempo = rng.uniform(*style["tempo"])
    step = 60.0 / tempo / 4  # a sixteenth note, in seconds
    n_steps = int(np.ceil(seconds / step)) + 1
    k = np.arange(n_steps)
    swing = rng.uniform(*style["swing"])
    times = k * step + np.where(k % 4 == 2, swing * 2 * step, 0.0)
    times = times + rng.normal(0, 0.004, n_steps)  # human timing
    times[0] = max(times[0], 0.0)
    bar_of_step = k // 16
    key = int(rng.integers(0, 12))

    # Drums (a clip in four borrows a neighbouring genre's patterns).
    drum_style = style
    if rng.random() < 0.25:
        drum_style = _STYLE[str(rng.choice(_NEIGHBOURS[genre]))]
    sounds = _drum_sounds(rng, sr)
    drums = np.zeros(n, dtype=np.float32)
    for voice in ("kick", "snare", "hat"):
        pattern = drum_style[voice]
        marks = np.array([pattern[i % 16] for i in k])
        amp = np.where(marks == "x", 1.0, np.where(marks == "o", 0.4, 0.0))
        amp = amp * rng.uniform(0.75, 1.0, n_steps)
        index = np.round(times * sr).astype(int)
        keep = (amp > 0) & (index < n)
        sound = sounds[voice].astype(np.float32)
        for start, gain in zip(index[keep], amp[keep], strict=True):
            piece = sound[: n - start]
            drums[start:start + len(piece)] += gain * piece
    drum_level = 0.5 * (style["drums"] + drum_style["drums"])

    # Harmony: one chord per `chord_bars` bars, following the genre's progression. The tonal parts
    # are rendered for one pass of the progression and repeated (songs loop too): this keeps the
    # generator at a fraction of a second per 30 s clip.
    progression = style["progression"]
    loop_steps = min(16 * style["chord_bars"] * len(progression), n_steps)
    loop_n = min(n, int(round(loop_steps * step * sr)))
    t = t[:loop_n]
    k = np.arange(loop_steps)
    n_steps = loop_steps
    times = k * step + np.where(k % 4 == 2, swing * 2 * step, 0.0)
    bar_of_step = k // 16
    chord_of_step = (bar_of_step // style["chord_bars"]) % len(progression)
    step_of_sample = np.clip(_last_onset(t, times), 0, n_steps - 1)
    chord_of_sample = chord_of_step[step_of_sample]
    bright = rng.uniform(*style["bright"])
    harm = style["harm"]
    chord_kind, chord_level = style["chord"]
    base = 48 + key  # the chord voicing starts around C3
    chords = np.zeros(len(t), dtype=np.float32)
    n_voices = max(len(_CHORDS[q]) for _, q in progression)
    for v in range(n_voices):
        notes = np.array([base + d + _CHORDS[q][v % len(_CHORDS[q])] + 12 * (v // len(_CHORDS[q]))
                          for d, q in progression])
        chords += _tone(_hz(notes)[chord_of_sample], sr, bright, harm, rng.uniform(0, 2 * np.pi))
    chords /= n_voices
    beats = times[k % 4 == 0]
    if chord_kind == "pad":
        bars = times[k % (16 * style["chord_bars"]) == 0]
        env = _envelope(t, bars, decay=8.0, attack=0.3) * (1 + 0.1 * np.sin(2 * np.pi * 5.5 * t))
    elif chord_kind == "sustain":
        env = _envelope(t, times[k % 8 == 0], decay=2.0, attack=0.01)
    elif chord_kind == "strum":
        env = _envelope(t, beats, decay=rng.uniform(0.2, 0.4))
    elif chord_kind == "offbeat":
        env = _envelope(t, times[k % 4 == 2], decay=0.08)
    elif chord_kind == "stab":
        env = _envelope(t, times[(k % 16 == 0) | (k % 16 == 6) | (k % 16 == 10)], decay=0.15)
    else:  # "comp": irregular jazz comping on eighth notes
        env = _envelope(t, times[(k % 2 == 0) & (rng.random(n_steps) < 0.3)], decay=0.3)
    chords *= env.astype(np.float32)
    drive = rng.uniform(*style["drive"])
    if drive > 0:
        chords = (np.tanh(drive * chords) / np.tanh(drive)).astype(np.float32)

    # Bass.
    bass_kind, bass_level = style["bass"]
    roots = np.array([36 + key + d for d, _ in progression])
    if bass_kind in ("root", "sub", "long"):
        bass_on = beats if bass_kind != "long" else times[k % 16 == 0]
        bass_notes = roots[chord_of_step[k % 4 == 0]] if bass_kind != "long" else roots[chord_of_step[k % 16 == 0]]
    elif bass_kind in ("eighth", "octave"):
        sel = k % 2 == 0
        bass_on = times[sel]
        bass_notes = roots[chord_of_step[sel]] + (12 * ((k[sel] // 2) % 2) if bass_kind == "octave" else 0)
    elif bass_kind == "alt":  # country: root and fifth on alternating beats
        sel = k % 4 == 0
        bass_on = times[sel]
        bass_notes = roots[chord_of_step[sel]] + 7 * ((k[sel] // 4) % 2)
    else:  # "walk": a walking bass over chord and scale tones
        sel = k % 4 == 0
        bass_on = times[sel]
        bass_notes = roots[chord_of_step[sel]] + rng.choice([0, 2, 3, 4, 5, 7, 9, 10], sel.sum())
    bass_idx = np.clip(_last_onset(t, bass_on), 0, len(bass_on) - 1)
    bass = _tone(_hz(bass_notes)[bass_idx], sr, 0.45 if bass_kind != "sub" else 0.15, 5)
    bass *= _envelope(t, bass_on, decay=0.6 if bass_kind in ("sub", "long") else 0.25, attack=0.01)

    # Melody: a random walk on the genre's scale, on eighth notes with rests.
    scale = np.array(_SCALES[style["scale"]])
    degrees = np.concatenate([scale, scale + 12, scale + 24])
    mel_sel = (k % 2 == 0) & (rng.random(n_steps) < style["mel_density"])
    mel_on = times[mel_sel]
    walk = np.clip(np.cumsum(rng.integers(-2, 3, len(mel_on))) + len(scale), 0, len(degrees) - 1)
    mel_notes = 60 + key + degrees[walk] if len(mel_on) else np.array([60.0])
    mel_idx = np.clip(_last_onset(t, mel_on), 0, max(len(mel_on) - 1, 0))
    vibrato = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t)
    melody = _tone(_hz(mel_notes)[mel_idx] * vibrato, sr, rng.uniform(*style["bright"]), harm)
    melody *= _envelope(t, mel_on, decay=rng.uniform(0.15, 0.6), attack=0.02)

    levels = rng.uniform(0.75, 1.25, 4)
    tonal = (levels[1] * bass_level * bass + levels[2] * chord_level * chords
             + levels[3] * rng.uniform(*style["melody"]) * melody)
    mix = levels[0] * drum_level * drums / max(float(np.abs(drums).max()), 1e-6) + np.resize(tonal, n)
    mix += rng.uniform(*style["noise"]) * rng.standard_normal(n).astype(np.float32)
    # Recording bandwidth: a one-pole low-pass at a random cutoff (GTZAN's quality varies too).
    cutoff = rng.uniform(*style["bandwidth"])
    alpha = float(np.exp(-2 * np.pi * min(cutoff, 0.45 * sr) / sr))
    mix = lfilter([1 - alpha], [1, -alpha], mix)
    peak = float(np.abs(mix).max())
    mix = mix / max(peak, 1e-9) * rng.uniform(0.5, 0.95)
    return mix.astype(np.float32)


def make_synthetic_gtzan(root: str | os.PathLike, n_per_genre: int = 10, seconds: float = 30.0,
                         sr: int = SAMPLE_RATE, seed: int = 0, n_jobs: int | None = None) -> Path:
    """Write a deterministic synthetic GTZAN-layout folder.

    Explained in chapter *Getting started*. Clip ``i`` of genre ``g`` depends only on
    ``(seed, g, i)``, so a larger ``n_per_genre`` adds clips without changing the others.

    Parameters
    ----------
    root : path
        Folder to write into; clips land in ``root/genres/<genre>/<genre>.000NN.wav``.
    n_per_genre : int
        Clips per genre (GTZAN has 100).
    seconds : float
        Length of each clip in seconds (GTZAN: 30).
    sr : int
        Sample rate in Hz (GTZAN: 22050); files are 16-bit mono WAV.
    seed : int
        Seed of the whole folder.
    n_jobs : int, optional
        Threads used (default: up to 4); the output does not depend on it.

    Returns
    -------
    pathlib.Path
        ``root``. A ``synthetic.json`` beside ``genres/`` records the parameters.
    """
    if n_per_genre < 1 or n_per_genre > 100_000:
        raise ParameterError(f"n_per_genre must be between 1 and 99999, not {n_per_genre}")
    from joblib import Parallel, delayed

    root = Path(root)
    for genre in GENRES:
        (root / "genres" / genre).mkdir(parents=True, exist_ok=True)

    def write(label: int, genre: str, index: int) -> None:
        rng = np.random.default_rng([seed, label, index])
        clip = synth_clip(genre, seconds=seconds, sr=sr, rng=rng)
        sf.write(root / "genres" / genre / f"{genre}.{index:05d}.wav", clip, sr, subtype="PCM_16")

    # NumPy releases the GIL in its array loops, so threads use several cores without start-up cost.
    jobs = n_jobs if n_jobs is not None else min(4, os.cpu_count() or 1)
    Parallel(n_jobs=jobs, backend="threading")(
        delayed(write)(label, genre, index)
        for label, genre in enumerate(GENRES) for index in range(n_per_genre)
    )
    info = {"generator_version": GENERATOR_VERSION, "n_per_genre": n_per_genre,
            "seconds": seconds, "sr": sr, "seed": seed, "genres": list(GENRES)}
    (root / "synthetic.json").write_text(json.dumps(info, indent=1))
    return root


def synthetic_gtzan_dir(n_per_genre: int = 10, seconds: float = 30.0, seed: int = 0) -> Path:
    """Return the cached synthetic GTZAN folder, generating it once (about 10 s for 100 clips).

    Explained in chapter *Getting started*. The folder lives under
    :func:`helpers.config.data_home` (``gtzan_synthetic`` for the defaults). It is generated in
    a temporary folder and renamed into place when complete, so an interrupted run never leaves a
    folder that looks complete; a folder from an older generator version is replaced, and a folder
    of that name that the generator did not write is renamed aside
    (:func:`helpers.files.set_aside`), never deleted. Where the data folder is read-only or cannot
    be created, the clips are generated in :func:`helpers.config.scratch_home` instead, with a
    printed notice.

    Returns
    -------
    pathlib.Path
        The folder holding ``genres/<genre>/<genre>.000NN.wav``.

    Raises
    ------
    DataError
        One line, if neither the data folder nor the temporary folder can be written.
    """
    name = "gtzan_synthetic"
    if (n_per_genre, seconds, seed) != (10, 30.0, 0):
        name += f"_{n_per_genre}x{seconds:g}s_seed{seed}"
    wanted = {"generator_version": GENERATOR_VERSION, "n_per_genre": n_per_genre,
              "seconds": seconds, "sr": SAMPLE_RATE, "seed": seed}

    def complete(folder: Path) -> bool:
        info = _generator_record(folder)
        return info is not None and all(info.get(key) == value for key, value in wanted.items())

    for home in _homes():
        if complete(home / name):
            return home / name
    try:
        return _generate_into(data_home() / name, complete, n_per_genre, seconds, seed)
    except (OSError, DataError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        scratch = scratch_home()  # a DataError of its own if this cannot be had either
        print(f"NOTICE: the data folder {data_home(create=False)} cannot be written ({reason}).\n"
              f"        The synthetic clips are generated in {scratch} instead (set BOOK_DATA_DIR to a "
              "writable folder to keep them).")
        try:
            return _generate_into(scratch / name, complete, n_per_genre, seconds, seed)
        except OSError as again:
            raise DataError(f"the synthetic clips cannot be written to {scratch} either "
                            f"({again.strerror or again}); set BOOK_DATA_DIR to a writable folder") from None


def _homes() -> list[Path]:
    """Where a generated folder may already be: the data folder, then the scratch folder (if it is ours)."""
    homes = [data_home(create=False)]
    try:
        homes.append(scratch_home(create=False))
    except DataError:
        pass
    return homes


def _generator_record(folder: Path) -> dict | None:
    """The ``synthetic.json`` this generator wrote in ``folder``, or None (missing, unreadable, not an object)."""
    try:
        info = json.loads((folder / "synthetic.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "generator_version" in info else None


def _generate_into(target: Path, complete, n_per_genre: int, seconds: float, seed: int) -> Path:
    """Generate the folder in a hidden temporary folder beside ``target``, then rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        make_synthetic_gtzan(tmp, n_per_genre=n_per_genre, seconds=seconds, seed=seed)
        if (target.exists() or target.is_symlink()) and not complete(target):
            if _generator_record(target) is not None:
                shutil.rmtree(target, ignore_errors=True)  # ours, from an older generator
            else:
                aside = set_aside(target)
                print(f"NOTICE: {target} was not written by the synthetic generator; it is kept as {aside}.")
        try:
            tmp.rename(target)
        except OSError:
            if not complete(target):  # not a concurrent writer that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# Spotify stand-in: per-genre means of (danceability, energy, speechiness, acousticness,
# instrumentalness, liveness, valence, tempo, loudness, duration in s), close to the real table.
_SPOTIFY_MEANS = {
    "edm": (0.66, 0.80, 0.09, 0.08, 0.22, 0.21, 0.40, 126, -5.4, 223),
    "latin": (0.71, 0.71, 0.10, 0.21, 0.04, 0.18, 0.61, 119, -6.3, 217),
    "pop": (0.64, 0.70, 0.07, 0.17, 0.06, 0.18, 0.50, 121, -6.3, 218),
    "r&b": (0.67, 0.59, 0.12, 0.26, 0.03, 0.18, 0.53, 114, -7.9, 238),
    "rap": (0.72, 0.65, 0.20, 0.19, 0.08, 0.19, 0.51, 121, -7.0, 214),
    "rock": (0.52, 0.73, 0.06, 0.15, 0.06, 0.20, 0.54, 125, -7.6, 249),
}
_SPOTIFY_COLUMNS = (
    "track_id", "track_name", "track_artist", "track_popularity", "track_album_id",
    "track_album_name", "track_album_release_date", "playlist_name", "playlist_id",
    "playlist_genre", "playlist_subgenre", "danceability", "energy", "key", "loudness", "mode",
    "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms",
)


def synthetic_spotify(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """A synthetic stand-in for the TidyTuesday Spotify songs table (same 23 columns).

    Explained in chapter *Getting started*; used by chapter *The Spotify baseline* when the real
    table cannot be had. Features have the real table's ranges and roughly its per-genre means,
    with wide overlaps (the real task is hard: about 50 % accuracy); about 5 % of the tracks
    appear a second time under another genre, as in the real table.

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``attrs['source'] == 'synthetic'``.
    """
    if n < len(SPOTIFY_GENRES):
        raise ParameterError(f"n must be at least {len(SPOTIFY_GENRES)}, not {n}")
    rng = np.random.default_rng(seed)
    n_dup = n // 20
    n_unique = n - n_dup
    genre_idx = np.arange(n_unique) % len(SPOTIFY_GENRES)
    rng.shuffle(genre_idx)
    means = np.array([_SPOTIFY_MEANS[g] for g in SPOTIFY_GENRES])[genre_idx]
    # A hidden per-track "style" shifts every feature, so that genres overlap as in the real table.
    shift = rng.normal(0, 0.08, (n_unique, 1))
    cols = {}
    for j, (name, conc) in enumerate((("danceability", 12), ("energy", 8), ("speechiness", 6),
                                      ("acousticness", 2), ("instrumentalness", 0.6),
                                      ("liveness", 5), ("valence", 5))):
        mean = np.clip(means[:, j] + shift[:, 0] * (1 if j % 2 else -1), 0.01, 0.99)
        cols[name] = rng.beta(mean * conc, (1 - mean) * conc)
    cols["tempo"] = np.clip(rng.normal(means[:, 7], 25), 60, 220)
    cols["loudness"] = np.clip(rng.normal(means[:, 8], 2.9), -40, 1)
    cols["duration_ms"] = np.clip(rng.normal(means[:, 9], 55), 30, 600).round().astype(int) * 1000
    cols["key"] = rng.integers(0, 12, n_unique)
    cols["mode"] = (rng.random(n_unique) < np.where(SPOTIFY_GENRES.index("rock") == genre_idx, 0.7, 0.55)).astype(int)

    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ids = np.array(["".join(row) for row in alphabet[rng.integers(0, len(alphabet), (n_unique, 22))]])
    genres = np.array(SPOTIFY_GENRES)[genre_idx]
    table = pd.DataFrame({"track_id": ids, "playlist_genre": genres, **cols})
    # Duplicates: the same track (same features) listed again under another genre.
    dup = table.sample(n=n_dup, random_state=seed).copy()
    other = (np.array([SPOTIFY_GENRES.index(g) for g in dup["playlist_genre"]])
             + rng.integers(1, len(SPOTIFY_GENRES), n_dup)) % len(SPOTIFY_GENRES)
    dup["playlist_genre"] = np.array(SPOTIFY_GENRES)[other]
    table = pd.concat([table, dup]).sample(frac=1, random_state=seed).reset_index(drop=True)

    m = len(table)
    table["track_name"] = [f"Synthetic song {i}" for i in range(m)]
    table["track_artist"] = [f"Synthetic artist {i % 997}" for i in range(m)]
    table["track_popularity"] = rng.integers(0, 100, m)
    table["track_album_id"] = [f"album{i % 2003:05d}" for i in range(m)]
    table["track_album_name"] = [f"Synthetic album {i % 2003}" for i in range(m)]
    table["track_album_release_date"] = [f"{y}-01-01" for y in rng.integers(1960, 2020, m)]
    table["playlist_name"] = [f"Synthetic {g} playlist" for g in table["playlist_genre"]]
    table["playlist_id"] = [f"pl-{g}" for g in table["playlist_genre"]]
    table["playlist_subgenre"] = [f"synthetic {g}" for g in table["playlist_genre"]]
    for name in ("danceability", "energy", "speechiness", "acousticness", "instrumentalness",
                 "liveness", "valence", "tempo", "loudness"):
        table[name] = table[name].astype(float).round(4)
    table = table[list(_SPOTIFY_COLUMNS)]
    table.attrs["source"] = "synthetic"
    return table
