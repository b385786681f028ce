"""The probe path of ``genre-predict`` before the light rewrite, kept as the predict benchmark's reference.

Explained in chapter *Beyond* (``chapters/09_beyond.ipynb``), "Classify your own clip": the
benchmark (:mod:`helpers.bench.predict`) times today's path against this one in the same run, so
its ratios are measured, not remembered. This is that code as it was (commit ``1e6cdd4~1``):
the whole file decoded at once, mixed down and resampled with ``librosa.resample``, librosa's
log-mel, and the direct NumPy network (every convolution one matrix product over its windows, a
max *and* a min over frequency, batches of 8 patches). It needs librosa (the chapters' stack) and
is used by nothing but the benchmark. ``python -m helpers.bench.legacy FILE`` classifies one file
with the shipped probe bundle as the old command did (for the cold-start comparison).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from helpers.errors import DataError

TARGET_RMS = 0.1
MUSICNN_BATCH = 8

def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


_BN_EPSILON = 1e-3  # Keras' BatchNormalization default, which helpers.musicnn.build_musicnn uses


def normalise_level(y, target_rms: float = TARGET_RMS) -> np.ndarray:
    """Scale a signal to a fixed RMS level (float32); a silent signal is returned unchanged.

    Used on every clip before :func:`helpers.musicnn.log_mel` by the probe bundle, both when
    ``tools/train_probe_bundle.py`` trains it and when ``genre-predict`` uses it.
    """
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    if not np.isfinite(rms):
        raise DataError("the signal holds NaN or infinite samples")
    return y if rms < 1e-8 else (y * np.float32(target_rms / rms)).astype(np.float32)


def _bn_affine(stored: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch normalisation as ``x * scale + shift``."""
    gamma, beta, mean, var = (stored[f"{name}/{k}"] for k in ("gamma", "beta", "moving_mean", "moving_variance"))
    scale = gamma / np.sqrt(var + _BN_EPSILON)
    return scale, beta - mean * scale


def _conv_bn_freqmax(x, stored: dict, name: str, padding: str) -> np.ndarray:
    """Musicnn's front-end block on a one-channel ``(n, time, freq)`` input: Conv2D (stride 1) → ReLU → batch norm → max over frequency, as ``(n, time', filters)``.

    ReLU and the batch norm's affine map are monotonic per filter, so the max over frequency of
    the result is taken from the max (scale ≥ 0) or the min (scale < 0) of the convolution: the
    same numbers as Keras' order of operations, without running them on every frequency bin.
    """
    kernel, bias = stored[f"{name}/kernel"], stored[f"{name}/bias"]
    kh, kw, _, filters = kernel.shape
    if padding == "same":
        x = np.pad(x, ((0, 0), _same_pad(x.shape[1], kh, 1), _same_pad(x.shape[2], kw, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (n, t, f, kh, kw)
    n, t, f = windows.shape[:3]
    z = (windows.reshape(-1, kh * kw) @ kernel.reshape(kh * kw, filters)).reshape(n, t, f, filters)
    scale, shift = _bn_affine(stored, f"{name}_bn")
    top = np.where(scale >= 0, z.max(axis=2), z.min(axis=2)) + bias
    return np.maximum(top, 0) * scale + shift


def _conv1d_same(x, kernel, bias) -> np.ndarray:
    """A Conv1D ('same', stride 1) of ``(n, time, channels)`` with kernel ``(k, channels, filters)``."""
    k, c, filters = kernel.shape
    x = np.pad(x, ((0, 0), _same_pad(x.shape[1], k, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)  # (n, t, c, k)
    n, t = windows.shape[:2]
    z = windows.reshape(-1, c * k) @ kernel.transpose(1, 0, 2).reshape(c * k, filters)
    return z.reshape(n, t, filters) + bias


class MusicnnNumpy:
    """musicnn's forward pass in NumPy, from the packaged weights (no TensorFlow).

    The same network as :func:`helpers.musicnn.build_musicnn` (checked against it in
    ``tests/test_engine.py``): input batch norm; timbral convolutions (7 × 38 and 7 × 67, 'valid'
    in frequency after padding time by 3) and temporal ones (128, 64, 32 × 1, 'same'), each with
    ReLU, batch norm and a max over frequency; three 1-D convolutions (the last two residual);
    max and mean over time; batch norm, a 200-unit dense layer (the *penultimate* layer), batch
    norm and the sigmoid tag outputs.

    Parameters
    ----------
    weights_path : path
        A weight file of :func:`helpers.musicnn.weights_path`.

    Raises
    ------
    DataError
        If the file cannot be read or does not hold musicnn's variables with their shapes.
    """

    TIMBRAL = ("timbral_74", "timbral_77")
    TEMPORAL = ("temporal_128", "temporal_64", "temporal_32")

    def __init__(self, weights_path):
        self.path = Path(weights_path)
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                self.weights = {key: stored[key].astype(np.float32) for key in stored.files}
        except (OSError, ValueError) as error:
            raise DataError(f"musicnn weight file {self.path} cannot be read ({error})") from None
        expected = {"input_bn/gamma": (1,), "timbral_74/kernel": (7, 38, 1, 204),
                    "timbral_77/kernel": (7, 67, 1, 204), "temporal_128/kernel": (128, 1, 1, 51),
                    "midend_1/kernel": (7, 561, 64), "penultimate/kernel": (1506, 200)}
        for key, shape in expected.items():
            if key not in self.weights or self.weights[key].shape != shape:
                found = self.weights[key].shape if key in self.weights else "missing"
                raise DataError(f"musicnn weight file {self.path}: {key} should have shape {shape}, "
                                f"found {found}")
        self.n_tags = self.weights["logits/bias"].shape[0] if "logits/bias" in self.weights else 0

    def _forward(self, x: np.ndarray) -> dict:
        w = self.weights
        scale, shift = _bn_affine(w, "input_bn")
        h = x * scale[0] + shift[0]  # (n, time, 96): the one-channel input, channel axis dropped
        padded = np.pad(h, ((0, 0), (3, 3), (0, 0)))  # pad time only, then 'valid' in frequency
        front = [_conv_bn_freqmax(padded, w, name, "valid") for name in self.TIMBRAL]
        front += [_conv_bn_freqmax(h, w, name, "same") for name in self.TEMPORAL]
        mid = [np.concatenate(front, axis=-1)]
        for i in (1, 2, 3):  # conv 1 adapts, convs 2 and 3 are residual
            c = np.maximum(_conv1d_same(mid[-1], w[f"midend_{i}/kernel"], w[f"midend_{i}/bias"]), 0)
            scale, shift = _bn_affine(w, f"midend_{i}_bn")
            c = c * scale + shift
            mid.append(c if i == 1 else c + mid[-1])
        features = np.concatenate(mid, axis=-1)
        max_pool, mean_pool = features.max(axis=1), features.mean(axis=1)
        pooled = np.stack([max_pool, mean_pool], axis=-1).reshape(len(x), -1)  # TF1 order
        scale, shift = _bn_affine(w, "pool_bn")
        dense = np.maximum((pooled * scale + shift) @ w["penultimate/kernel"] + w["penultimate/bias"], 0)
        scale, shift = _bn_affine(w, "penultimate_bn")
        penultimate = dense * scale + shift
        logits = penultimate @ w["logits/kernel"] + w["logits/bias"]
        return {"taggram": 1 / (1 + np.exp(-logits)), "penultimate": penultimate,
                "max_pool": max_pool, "mean_pool": mean_pool}

    def predict(self, patches) -> dict:
        """Outputs for ``(n, 187, 96)`` log-mel patches, as :func:`helpers.musicnn.build_musicnn`'s (``taggram``, ``penultimate``, ``max_pool``, ``mean_pool``), float32."""
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (187, 96):
            raise DataError(f"musicnn takes (n, 187, 96) log-mel patches, got shape {x.shape}")
        parts = [self._forward(x[i:i + MUSICNN_BATCH]) for i in range(0, len(x), MUSICNN_BATCH)]
        return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in parts[0]}


def read_clip(path, sr: int) -> np.ndarray:
    """The old decoding: the whole file at once (every channel), then the mean, then ``librosa.resample``."""
    import librosa
    import soundfile as sf

    data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = data.T.mean(axis=0)
    return librosa.resample(y, orig_sr=file_sr, target_sr=sr) if file_sr != sr else y


def log_mel(y: np.ndarray, sr: int = 16000) -> np.ndarray:
    """The old musicnn input: librosa's mel spectrogram (reflect padding), ``log10(10000 * mel + 1)``."""
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect")
    return np.log10(10000 * mel.T.astype(np.float32) + 1)


def patch_embeddings(y, net: MusicnnNumpy, layer: str = "penultimate") -> np.ndarray:
    """The old per-clip path: level, librosa log-mel, patches, the direct network; ``(n_patches, dims)``."""
    from helpers.musicnn import patches

    return net.predict(patches(log_mel(normalise_level(y))))[layer]


def classify(path, bundle, net: MusicnnNumpy) -> np.ndarray:
    """The clip probabilities of the old path for a probe bundle (:func:`helpers.bundle.read_bundle`'s record)."""
    from helpers.engine import probe_probabilities

    per_patch = patch_embeddings(read_clip(path, 16000), net, bundle.layer)
    pooled = np.concatenate([getattr(np, how)(per_patch, axis=0) for how in bundle.pooling])
    return probe_probabilities(pooled[np.newaxis], bundle.probe)[0]


def main(argv=None) -> int:
    """``python -m helpers.bench.legacy FILE``: the old command's work on one file (imports included)."""
    import librosa  # noqa: F401  (the old command imported it on its way to the first result)
    import pandas  # noqa: F401  (and pandas, through helpers.audio)

    from helpers.bundle import read_bundle
    from helpers.config import BUNDLED_DIR

    argv = sys.argv[1:] if argv is None else argv
    bundle = read_bundle(BUNDLED_DIR / "musicnn_probe")
    probabilities = classify(Path(argv[0]), bundle, MusicnnNumpy(bundle.weights_path))
    best = int(np.argmax(probabilities))
    print(json.dumps({"path": argv[0], "top": [[bundle.genres[best], round(float(probabilities[best]), 6)]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
