"""Audio in the book's notebooks: find embedded players, and tell whether one plays an excerpt of a GTZAN clip.

Used by ``tests/test_budgets.py`` (no GTZAN audio in committed outputs, CONTRIBUTING's rule 7): every
audio payload in a notebook's outputs (:func:`embedded_audio`), decoded (:func:`audio_samples`), is
compared with the local GTZAN clips (:func:`gtzan_excerpts`): loudness envelopes find candidate
offsets cheaply (:func:`log_envelope`), the samples themselves confirm them (:func:`best_match`), so a
copy survives rescaling and 16-bit requantisation while music with a similar contour does not match.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.config import SAMPLE_RATE

#: GTZAN's sample rate: embedded audio at another rate is not a GTZAN excerpt.
GTZAN_RATE = SAMPLE_RATE

#: An audio payload inlined in HTML (a data URI): its MIME type and base64 data.
AUDIO_DATA_URI = re.compile(r"data:(audio/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)")


def embedded_audio(notebook: dict) -> list[dict]:
    """Every audio payload in a notebook's outputs: ``{"cell", "mime", "data"}`` (decoded bytes)."""
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            for mime, value in output.get("data", {}).items():
                text = "".join(value) if isinstance(value, list) else str(value)
                if mime.startswith("audio/"):
                    found.append({"cell": index, "mime": mime, "data": base64.b64decode(text)})
                elif mime == "text/html":
                    for match in AUDIO_DATA_URI.finditer(text):
                        found.append({"cell": index, "mime": match.group(1),
                                      "data": base64.b64decode(re.sub(r"\s", "", match.group(2)))})
    return found


def audio_samples(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an embedded audio payload to mono float samples and its sample rate."""
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


def log_envelope(samples: np.ndarray, frame: int = 256) -> np.ndarray:
    """Log RMS loudness per frame: a fingerprint that survives rescaling and 16-bit requantisation."""
    count = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame).astype(np.float64) ** 2, axis=1))
    return np.log10(rms + 1e-5)


def _waveform_match(excerpt: np.ndarray, clip: np.ndarray, offset: int, frame: int) -> float:
    """Sample-level normalized correlation of the excerpt's start with the clip near ``offset``."""
    head = excerpt[:8192].astype(np.float64)
    head = head - head.mean()
    if not head.any():
        return 0.0
    lo = max(0, offset - 2 * frame)
    region = clip[lo : offset + len(head) + 2 * frame].astype(np.float64)
    n = len(head)
    if len(region) < n:
        return 0.0
    sums = np.cumsum(np.r_[0.0, region])
    squares = np.cumsum(np.r_[0.0, region**2])
    energy = (squares[n:] - squares[:-n]) - (sums[n:] - sums[:-n]) ** 2 / n
    corr = np.correlate(region, head, mode="valid")
    return float(np.max(corr / (np.linalg.norm(head) * np.sqrt(np.maximum(energy, 1e-12)))))


def best_match(excerpt: np.ndarray, clip: np.ndarray, signal: np.ndarray | None = None,
               frame: int = 256, candidates: int = 5) -> float:
    """How well the excerpt matches some part of a clip: ~1.0 for a copy (rescaled, requantised), low otherwise.

    Stage 1 compares loudness envelopes (:func:`log_envelope`, cheap) to find candidate offsets;
    stage 2 checks the samples themselves there, so music with a similar loudness contour does not match.
    ``signal`` is the clip's envelope if already computed.
    """
    signal = log_envelope(clip, frame) if signal is None else signal
    found: dict[int, tuple[float, int]] = {}  # frame -> (envelope correlation, offset in samples)
    for phase in range(0, frame, frame // 8):  # the excerpt may start anywhere within a frame
        template = log_envelope(excerpt[phase:], frame)
        m = len(template)
        if m < 40 or len(signal) < m or template.std() < 1e-6:
            return 0.0
        template = (template - template.mean()) / template.std()
        sums = np.cumsum(np.r_[0.0, signal])
        squares = np.cumsum(np.r_[0.0, signal**2])
        means = (sums[m:] - sums[:-m]) / m
        stds = np.sqrt(np.maximum((squares[m:] - squares[:-m]) / m - means**2, 1e-12))
        ncc = np.correlate(signal, template, mode="valid") / (m * stds)
        for index in np.argsort(ncc)[-candidates:]:
            if ncc[index] >= 0.6:
                offset = int(index) * frame - phase
                key = offset // frame  # near-identical offsets are checked once
                if found.get(key, (-1.0, 0))[0] < ncc[index]:
                    found[key] = (float(ncc[index]), offset)
    best = sorted(found.values(), reverse=True)[:candidates]
    return max((_waveform_match(excerpt, clip, offset, frame) for _, offset in best), default=0.0)


def gtzan_excerpts(notebooks: list[Path], clips: list[Path], threshold: float = 0.95) -> list[str]:
    """Embedded audio (at GTZAN's rate, ≥ 1 s) that is a copy of a part of a GTZAN clip (see :func:`best_match`)."""
    candidates = []
    for path in notebooks:
        for item in embedded_audio(json.loads(path.read_text(encoding="utf-8"))):
            try:
                samples, rate = audio_samples(item["data"])
            except (RuntimeError, sf.LibsndfileError):
                continue  # undecodable audio is reported by test_embedded_audio_within_budget
            if rate == GTZAN_RATE and len(samples) >= rate:
                candidates.append((f"{path.name} cell {item['cell']}", samples))
    hits = []
    if not candidates:
        return hits
    for clip_path in clips:
        clip, _ = sf.read(clip_path, dtype="float32", always_2d=True)
        clip = clip.mean(axis=1)
        signal = log_envelope(clip)
        for where, samples in candidates:
            score = best_match(samples, clip, signal)
            if score >= threshold:
                hits.append(f"{where} plays an excerpt of {clip_path.name} (correlation {score:.3f})")
    return hits


__all__ = ["AUDIO_DATA_URI", "GTZAN_RATE", "audio_samples", "best_match", "embedded_audio", "gtzan_excerpts", "log_envelope"]
