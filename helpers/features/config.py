"""What to extract: :class:`FeatureConfig`, the frozen settings of every feature path.

Explained in chapter *From audio to features* (``chapters/05_features.ipynb``). NumPy only: the
prediction path (:mod:`helpers.predict`) imports it without pandas or SciPy.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from helpers.config import SAMPLE_RATE
from helpers.errors import ParameterError

#: Bumped when the numbers change, so that old caches are not served.
FEATURES_VERSION = 3

#: The two kinds of features: MFCCs or the log-mel spectrogram, both in dB.
KINDS = ("mfcc", "logmel")


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the feature extraction (chapter *From audio to features*).

    Parameters
    ----------
    sr : int
        Sample rate in Hz the clips are loaded at (GTZAN's own: ``config.SAMPLE_RATE``).
    n_segments : int
        Segments per ``track_seconds`` track (the report: 5, i.e. 6 s each).
    track_seconds : float
        Nominal track length in seconds (GTZAN: 30).
    kind : {'mfcc', 'logmel'}
        MFCCs (``n_mfcc`` per frame) or the log-mel spectrogram (``n_mels`` per frame), in dB.
    n_mfcc : int
        Number of MFCCs (the report: 13).
    n_mels : int
        Mel bands (librosa's default 128; the MFCCs are computed from these bands).
    n_fft : int
        FFT size in samples (2048 = 93 ms at 22050 Hz).
    hop_length : int
        Hop between frames in samples (512 = 23 ms).
    """

    sr: int = SAMPLE_RATE
    n_segments: int = 5
    track_seconds: float = 30.0
    kind: str = "mfcc"
    n_mfcc: int = 13
    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 512

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError(f"FeatureConfig.kind={self.kind!r} must be one of {KINDS}")
        for name in ("sr", "n_segments", "n_mfcc", "n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ParameterError(f"FeatureConfig.{name}={value!r} must be a positive integer")
        if self.track_seconds <= 0:
            raise ParameterError(f"FeatureConfig.track_seconds={self.track_seconds!r} must be positive")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc={self.n_mfcc} cannot exceed n_mels={self.n_mels}")
        if self.segment_samples < self.n_fft:
            raise ParameterError(
                f"segments of {self.segment_samples} samples are shorter than n_fft={self.n_fft}"
            )

    @property
    def segment_samples(self) -> int:
        """Samples per segment, as the report computes it: ``int(sr * track_seconds / n_segments)``."""
        return int(self.sr * self.track_seconds / self.n_segments)

    @property
    def frames_per_segment(self) -> int:
        """Frames per segment, as the report computes it: ``ceil(segment_samples / hop_length)``."""
        return math.ceil(self.segment_samples / self.hop_length)

    @property
    def n_features(self) -> int:
        """Features per frame: ``n_mfcc`` for MFCCs, ``n_mels`` for log-mel."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def segment_seconds(self) -> float:
        """Segment length in seconds."""
        return self.segment_samples / self.sr

    def key(self) -> str:
        """A short, stable hash of every field (and the code version), used to name cache files."""
        payload = json.dumps({"version": FEATURES_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]


__all__ = [
    "FEATURES_VERSION",
    "FeatureConfig",
    "KINDS",
]
