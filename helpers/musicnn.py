"""The pretrained *musicnn* tagger (Pons & Serra 2019) and the book's one musicnn embedding path.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``), which
shows :func:`clip_embeddings` as its own code.

*musicnn* ("musicnn: pre-trained convolutional neural networks for music audio tagging", ISMIR
2019 late-breaking demo; PyPI ``musicnn`` 0.1.0, ISC licence) is a CNN trained to predict 50 tags
from 3-second log-mel patches, either on the Million Song Dataset (``"msd"``) or MagnaTagATune
(``"mtt"``). Its front-end has musically motivated filters: tall ones that see timbre (7 frames ×
38 or 67 mel bands) and long ones that see rhythm (128, 64, 32 frames × 1 band); a mid-end of three
1-D convolutions with residual connections; a back-end that pools over time (max and mean),
then a 200-unit dense layer (the *penultimate* layer) and the 50 tag outputs.

The one embedding path
----------------------
Every musicnn embedding of the book — chapter 10's table (:func:`helpers.embeddings.extract_embeddings`),
the shipped probe's training (``tools/train_probe_bundle.py``) and ``genre-predict`` — comes from
:func:`clip_embeddings`: the clip scaled to a fixed RMS level (:func:`normalise_level`), musicnn's
log-mel (:func:`log_mel`), 3 s patches (:func:`patches`), the network (:class:`MusicnnNumpy`), and
the pooling over the patches (mean and max). So the probe ``genre-predict`` applies was trained on
exactly the numbers chapter 10 evaluates.

Two implementations of the same network
---------------------------------------
:func:`build_musicnn` / :func:`load_musicnn` rebuild ``musicnn/models.py`` in Keras 3 (chapter 10
shows its architecture; tests compare it with the original checkpoints' outputs), and
:class:`MusicnnNumpy` runs the same forward pass in NumPy from the same weight file (tested against
the Keras port), without TensorFlow — what the embedding path uses. The weights of the original
checkpoints were exported once by ``tools/export_musicnn.py`` into ``helpers/weights/``.

The input pipeline is the original's without its two flaws: the log is taken in float32 (the
original casts the mel spectrogram to float16 first, so ``10000 * mel`` overflows to infinity on
loud clips) and every patch gets its own embeddings (the original's extractor repeats the first
patch's ``penultimate`` vector for every patch). Nothing here imports TensorFlow, Keras or librosa
except :func:`build_musicnn` / :func:`load_musicnn`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from helpers.errors import DataError, ParameterError
from helpers.mfcc import hann_window, mel_filterbank

SR = 16000  #: sample rate the networks were trained at (Hz)
N_FFT = 512  #: STFT window (32 ms)
HOP = 256  #: STFT hop (16 ms)
N_MELS = 96  #: mel bands
#: Frames in a 3 s patch: ``librosa.time_to_frames(3, sr=SR, n_fft=N_FFT, hop_length=HOP) + 1``;
#: the original's default hop between patches is the same (no overlap).
PATCH_FRAMES = 187
PATCH_SECONDS = (PATCH_FRAMES - 1) * HOP / SR  # 2.976 s: shortest signal giving one patch
#: Per-patch embeddings the book uses, with their sizes.
LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753}
#: Poolings over a clip's patches.
POOLINGS = ("mean", "max")
#: RMS level every signal is scaled to before the log-mel, in chapter 10, in the probe's training
#: and in ``genre-predict`` alike, so that the same clip played louder or softer gives the same
#: embedding (the log-mel ``log10(10000 * mel + 1)`` is not scale-invariant).
TARGET_RMS = 0.1
#: Patches the NumPy network runs at once: small products that stay in the CPU caches, bounded memory.
MUSICNN_BATCH = 2
#: Threads the NumPy network runs its batches of patches on (None: one per CPU core), each with one
#: BLAS thread. Many small matrix products run faster side by side than each split over the cores, and
#: a multi-threaded BLAS that waits for busy cores wastes them (measured on a loaded 2-core machine:
#: 3.1 s instead of 0.6 s for a clip). ``genre-predict``'s worker processes set 1.
MUSICNN_THREADS = None
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_BN_EPSILON = 1e-3  # Keras' BatchNormalization default, which build_musicnn uses

#: The tag vocabularies, in output order (from the original's ``configuration.py``).
TAGS = {
    "msd": ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance",
            "00s", "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
            "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
            "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
            "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
            "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
            "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy"),
    "mtt": ("guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock",
            "fast", "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian",
            "opera", "male", "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet",
            "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
            "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats",
            "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral"),
}


def _check_model(model: str) -> str:
    if model not in TAGS:
        raise ParameterError(f"model must be one of {sorted(TAGS)}, got {model!r}")
    return model


# ---------------------------------------------------------------------------------------------
# The input: level, log-mel, patches
# ---------------------------------------------------------------------------------------------


def normalise_level(y, target_rms: float = TARGET_RMS) -> np.ndarray:
    """Scale a signal to a fixed RMS level (float32); a silent signal is returned unchanged.

    Explained in chapter 10, *Transfer learning*: the first step of :func:`clip_embeddings`.
    """
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    if not np.isfinite(rms):
        raise DataError("the signal holds NaN or infinite samples")
    return y if rms < 1e-8 else (y * np.float32(target_rms / rms)).astype(np.float32)


@lru_cache(maxsize=1)
def _mel_constants() -> tuple[np.ndarray, np.ndarray]:
    """The periodic Hann window and the transposed Slaney mel filterbank (chapter 3's), float32."""
    window = hann_window(N_FFT).astype(np.float32)
    return window, np.ascontiguousarray(mel_filterbank(SR, N_FFT, N_MELS).T.astype(np.float32))


def log_mel(y: np.ndarray, sr: int) -> np.ndarray:
    """Return musicnn's input representation: ``log10(10000 * mel + 1)``, computed in float32.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Same parameters as the original (16 kHz, 512-sample FFT, hop 256, 96 Slaney mel bands of the
    power spectrum, frames centred with reflect padding — librosa 0.7's default, which the
    original relied on), but without its float16 cast. Vectorised NumPy: the frames are a strided
    view of the padded signal, one ``rfft`` transforms them all and one matrix product applies the
    filterbank (chapter 3's :func:`helpers.mfcc.mel_filterbank`), so no librosa is needed; it
    equals ``librosa.feature.melspectrogram(..., pad_mode="reflect")`` to float32 rounding
    (``tests/test_musicnn.py`` states the tolerance). Another rate is resampled with ``soxr``
    (librosa's default resampler).

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(n,)``; resampled to :data:`SR` if ``sr`` differs.
    sr : int
        Sample rate of ``y`` in Hz.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(1 + n // 256, 96)`` at 16 kHz (time first, as the network reads it).

    Raises
    ------
    ParameterError
        If ``y`` is not a 1-D numeric array or ``sr`` is not a positive integer.
    DataError
        If ``y`` holds NaN or infinity, or is shorter than one patch (:data:`PATCH_SECONDS`).
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.number):
        raise ParameterError(f"y must be a 1-D (mono) numeric signal, got shape {y.shape} "
                             f"and dtype {y.dtype}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer sample rate in Hz, got {sr!r}")
    if not np.isfinite(y).all():
        raise DataError("the signal y holds NaN or infinite samples")
    if y.size < PATCH_SECONDS * sr:
        raise DataError(f"the signal y is {y.size / sr:.2f} s long; musicnn needs at least "
                        f"{PATCH_SECONDS:.3f} s (one {PATCH_FRAMES}-frame patch)")
    y = y.astype(np.float32)
    if sr != SR:
        import soxr

        y = soxr.resample(y, sr, SR, quality="HQ")
    window, filterbank = _mel_constants()
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]  # a view: no copy
    spectrum = np.fft.rfft(frames * window, axis=-1)  # (frames, 257) complex64
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    return np.log10(np.float32(10000) * (power @ filterbank) + np.float32(1))


def patches(mel: np.ndarray, hop: int = PATCH_FRAMES) -> np.ndarray:
    """Cut a log-mel spectrogram into 3 s patches, dropping the incomplete tail (as the original).

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Parameters
    ----------
    mel : numpy.ndarray
        ``(frames, 96)`` output of :func:`log_mel`.
    hop : int
        Frames between patch starts (default :data:`PATCH_FRAMES`: no overlap, the original's).

    Returns
    -------
    numpy.ndarray
        ``(n_patches, 187, 96)`` float32 array (a copy).
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[1] != N_MELS:
        raise ParameterError(f"mel must have shape (frames, {N_MELS}), got {mel.shape}")
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop <= 0:
        raise ParameterError(f"hop must be a positive number of frames, got {hop!r}")
    if mel.shape[0] < PATCH_FRAMES:
        raise DataError(f"the spectrogram has {mel.shape[0]} frames, fewer than one patch "
                        f"({PATCH_FRAMES})")
    starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, hop)
    return np.stack([mel[s:s + PATCH_FRAMES] for s in starts]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The network in NumPy
# ---------------------------------------------------------------------------------------------


def weights_path(model: str = "msd") -> Path:
    """Path of the packaged weight file of ``model`` (``"msd"`` or ``"mtt"``).

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).
    """
    return WEIGHTS_DIR / f"musicnn_{_check_model(model)}.npz"


def _bn_affine(stored: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch normalisation (inference) as ``x * scale + shift``, float32."""
    gamma, beta, mean, var = (stored[f"{name}/{k}"].astype(np.float64)
                              for k in ("gamma", "beta", "moving_mean", "moving_variance"))
    scale = gamma / np.sqrt(var + _BN_EPSILON)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _same_pad(size: int, kernel: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding at stride 1: the extra sample goes to the end."""
    return (kernel - 1) // 2, kernel // 2


@lru_cache(maxsize=1)
def _blas_controller():
    """Threadpoolctl's view of the loaded BLAS libraries (None without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """A context in which BLAS uses one thread (nothing changes without threadpoolctl)."""
    from contextlib import nullcontext

    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else nullcontext()


def _spectral_kernel(kernel: np.ndarray, size: int = N_MELS) -> tuple[np.ndarray, np.ndarray]:
    """A ``(kh, kw, filters)`` kernel's 'valid' cross-correlation along ``size`` frequency bands as two matrices: the kernel's transform per bin ``(bins, 2 x filters, 2 x kh)`` (real and imaginary parts, for ``Y = X * conj(K)``) and the inverse real transform onto the ``size - kw + 1`` valid bands ``(bands, 2 x bins)``."""
    kh, kw, filters = kernel.shape
    spectrum = np.fft.rfft(kernel.astype(np.float64), n=size, axis=1).transpose(1, 2, 0)  # (bins, filters, kh)
    re, im = spectrum.real, spectrum.imag
    real_part = np.concatenate([re, im], axis=2)  # Re(X conj K) = Xr Kr + Xi Ki
    imag_part = np.concatenate([-im, re], axis=2)  # Im(X conj K) = Xi Kr - Xr Ki
    matrix = np.concatenate([real_part, imag_part], axis=1)  # (bins, 2 x filters, 2 x kh)
    bins, bands = np.arange(size // 2 + 1)[:, None], np.arange(size - kw + 1)[None, :]
    weight = np.where((bins == 0) | (bins == size // 2), 1.0, 2.0) / size
    angle = 2 * np.pi * bins * bands / size
    inverse = np.stack([weight * np.cos(angle), -weight * np.sin(angle)], axis=1).reshape(-1, bands.size)
    return np.ascontiguousarray(matrix, dtype=np.float32), np.ascontiguousarray(inverse.T, dtype=np.float32)


class MusicnnNumpy:
    """musicnn's forward pass in NumPy, from the packaged weights (no TensorFlow).

    Explained in chapter 10, *Transfer learning*. The same network as :func:`build_musicnn`
    (checked against it in ``tests/test_musicnn.py``): input batch norm; timbral convolutions
    (7 × 38 and 7 × 67, 'valid' in frequency after padding time by 3) and temporal ones (128, 64,
    32 × 1, 'same'), each with ReLU, batch norm and a max over frequency; three 1-D convolutions
    (the last two residual); max and mean over time; batch norm, a 200-unit dense layer (the
    *penultimate* layer), batch norm and the sigmoid tag outputs.

    How it is made fast (the same numbers as Keras' order of operations, to float32 rounding):

    * the timbral convolutions (80 % of the direct FLOPs) run in the frequency domain along the
      frequency axis: one ``rfft`` of each input frame (96 bins → 49), one batched matrix product
      that applies the 7-frame × 204-filter kernel to every frequency of the transform (a circular
      cross-correlation, which equals the 'valid' one on the 59 or 30 bands it keeps), and one
      matrix product with the inverse transform restricted to those bands: 2.6× fewer FLOPs than
      the direct convolution, equal to it within float32 rounding;
    * every other convolution is one matrix product over a strided view of its input (*im2col*);
    * ReLU and the batch norm's affine map are monotonic per filter, so the max over frequency is
      taken straight after the convolution, on 51 or 204 numbers per frame instead of after the
      two maps on every frequency bin; a filter whose batch-norm scale is negative (a decreasing
      map) has its kernel negated once at load time, so one max serves every filter;
    * the three temporal convolutions share one copy of their windows: the 64- and 32-frame
      windows are the middle rows of the 128-frame one;
    * patches go through in batches of :data:`MUSICNN_BATCH` (bounded memory, cache-sized products).

    Parameters
    ----------
    weights_path : path
        A weight file of :func:`weights_path`.

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
                weights = {key: stored[key].astype(np.float32) for key in stored.files}
        except (OSError, ValueError) as error:
            raise DataError(f"musicnn weight file {self.path} cannot be read ({error})") from None
        expected = {"input_bn/gamma": (1,), "timbral_74/kernel": (7, 38, 1, 204),
                    "timbral_77/kernel": (7, 67, 1, 204), "temporal_128/kernel": (128, 1, 1, 51),
                    "temporal_64/kernel": (64, 1, 1, 51), "temporal_32/kernel": (32, 1, 1, 51),
                    "midend_1/kernel": (7, 561, 64), "midend_2/kernel": (7, 64, 64),
                    "midend_3/kernel": (7, 64, 64), "penultimate/kernel": (1506, 200)}
        for key, shape in expected.items():
            if key not in weights or weights[key].shape != shape:
                found = weights[key].shape if key in weights else "missing"
                raise DataError(f"musicnn weight file {self.path}: {key} should have shape {shape}, "
                                f"found {found}")
        try:
            self._prepare(weights)
        except (KeyError, ValueError) as error:
            raise DataError(f"musicnn weight file {self.path} does not hold musicnn's variables "
                            f"({type(error).__name__}: {error})") from None
        self.weights = weights
        self.n_tags = weights["logits/bias"].shape[0]

    def _prepare(self, w: dict) -> None:
        """Fold what can be folded once: batch norms as affine maps, signed kernels as matrices."""
        self._input_bn = tuple(v[0] for v in _bn_affine(w, "input_bn"))
        self._front, self._spectral = {}, {}
        for name in (*self.TIMBRAL, *self.TEMPORAL):
            kernel = w[f"{name}/kernel"]  # (kh, kw, 1, filters)
            scale, shift = _bn_affine(w, f"{name}_bn")
            sign = np.where(scale >= 0, 1, -1).astype(np.float32)
            matrix = np.ascontiguousarray((kernel[:, :, 0, :] * sign).reshape(-1, kernel.shape[-1]))
            self._front[name] = (kernel.shape[:2], matrix, sign, w[f"{name}/bias"], scale, shift)
        for name in self.TIMBRAL:
            self._spectral[name] = _spectral_kernel(self._front[name][1].reshape(*self._front[name][0], -1))
        self._mid = []
        for i in (1, 2, 3):
            kernel = w[f"midend_{i}/kernel"]  # (k, channels, filters): rows of the matrix in (k, c) order
            self._mid.append((kernel.shape[0], np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1])),
                              w[f"midend_{i}/bias"], *_bn_affine(w, f"midend_{i}_bn")))
        self._pool_bn = _bn_affine(w, "pool_bn")
        self._dense = (w["penultimate/kernel"], w["penultimate/bias"], *_bn_affine(w, "penultimate_bn"))
        self._logits = (w["logits/kernel"], w["logits/bias"])

    def _temporal_block(self, columns: np.ndarray, shape: tuple, name: str) -> np.ndarray:
        """Conv (one product with the ``(k, n x t x f)`` windows) → max over frequency → + bias → ReLU → batch norm: ``(n, t, filters)``."""
        _, matrix, sign, bias, scale, shift = self._front[name]
        n, t, f = shape
        z = matrix.T @ columns  # (filters, n x t x f)
        top = z.reshape(-1, n * t, f).max(axis=2).T.reshape(n, t, -1) * sign + bias
        return np.maximum(top, 0) * scale + shift

    def _timbral_block(self, padded: np.ndarray, name: str) -> np.ndarray:
        """A timbral block through the frequency domain (see the class docstring): ``(n, t, filters)``."""
        (kh, _), _, sign, bias, scale, shift = self._front[name]
        kernel, inverse = self._spectral[name]  # (bins, 2 x filters, 2 x kh), (bands, 2 x bins)
        n, t = padded.shape[0], padded.shape[1] - kh + 1
        spectrum = np.fft.rfft(padded, axis=2)  # (n, t + kh - 1, bins)
        windows = np.lib.stride_tricks.sliding_window_view(spectrum, kh, axis=1).transpose(2, 3, 0, 1)
        columns = np.concatenate([windows.real, windows.imag], axis=1).reshape(len(kernel), 2 * kh, n * t)
        products = kernel @ columns  # (bins, real/imaginary x filters, n x t): each bin's cross-correlation
        bands = inverse @ products.reshape(2 * len(kernel), -1)  # (bands, filters x n x t): back to 'valid' bands
        top = bands.reshape(len(inverse), -1, n * t).max(axis=0).T.reshape(n, t, -1) * sign + bias
        return np.maximum(top, 0) * scale + shift

    def _forward(self, x: np.ndarray) -> dict:
        scale, shift = self._input_bn
        h = x * scale + shift  # (n, time, 96): the one-channel input, channel axis dropped
        padded = np.pad(h, ((0, 0), (3, 3), (0, 0)))  # pad time only, then 'valid' in frequency
        front = [self._timbral_block(padded, name) for name in self.TIMBRAL]
        longest = self._front[self.TEMPORAL[0]][0][0]  # 128 frames
        padded = np.pad(h, ((0, 0), _same_pad(h.shape[1], longest), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, longest, axis=1)  # (n, t, f, 128)
        columns = np.ascontiguousarray(windows.transpose(3, 0, 1, 2)).reshape(longest, -1)  # (128, n x t x f)
        for name in self.TEMPORAL:  # a k-frame 'same' window is the middle of the 128-frame one
            k = self._front[name][0][0]
            first = _same_pad(h.shape[1], longest)[0] - _same_pad(h.shape[1], k)[0]
            front.append(self._temporal_block(columns[first:first + k], h.shape, name))
        mid = [np.concatenate(front, axis=-1)]  # (n, time, 561)
        for i, (k, matrix, bias, scale, shift) in enumerate(self._mid):  # conv 1 adapts, 2 and 3 are residual
            padded = np.pad(mid[-1], ((0, 0), _same_pad(h.shape[1], k), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=1)  # (n, t, c, k)
            n, t = windows.shape[:2]
            c = np.maximum(windows.transpose(0, 1, 3, 2).reshape(n * t, -1) @ matrix + bias, 0)
            c = c.reshape(n, t, -1) * scale + shift
            mid.append(c if i == 0 else c + mid[-1])
        features = np.concatenate(mid, axis=-1)  # (n, time, 753)
        max_pool, mean_pool = features.max(axis=1), features.mean(axis=1)
        pooled = np.stack([max_pool, mean_pool], axis=-1).reshape(len(x), -1)  # TF1 order
        scale, shift = self._pool_bn
        kernel, bias, scale2, shift2 = self._dense
        penultimate = np.maximum((pooled * scale + shift) @ kernel + bias, 0) * scale2 + shift2
        logits = penultimate @ self._logits[0] + self._logits[1]
        return {"taggram": 1 / (1 + np.exp(-logits)), "penultimate": penultimate,
                "max_pool": max_pool, "mean_pool": mean_pool}

    def predict(self, patches) -> dict:
        """Outputs for ``(n, 187, 96)`` log-mel patches, as :func:`build_musicnn`'s (``taggram``, ``penultimate``, ``max_pool``, ``mean_pool``), float32.

        Batches of :data:`MUSICNN_BATCH` patches run on :data:`MUSICNN_THREADS` threads with one BLAS
        thread each (from a thread other than the main one, e.g. inside a parallel per-track loop, on
        that thread alone).
        """
        import threading

        x = np.asarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise DataError(f"musicnn takes (n, {PATCH_FRAMES}, {N_MELS}) log-mel patches, got shape {x.shape}")
        batches = [x[i:i + MUSICNN_BATCH] for i in range(0, len(x), MUSICNN_BATCH)]
        threads = MUSICNN_THREADS or os.cpu_count() or 1
        if threading.current_thread() is not threading.main_thread():
            threads = 1
        with _one_blas_thread():
            if threads > 1 and len(batches) > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(threads, len(batches))) as pool:
                    parts = list(pool.map(self._forward, batches))
            else:
                parts = [self._forward(batch) for batch in batches]
        return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in parts[0]}

    def flops_per_patch(self, performed: bool = False) -> int:
        """Floating-point operations of one patch: 2 per multiply-add of every convolution and dense layer, counted as a direct convolution does them (the network's FLOP count), or with ``performed=True`` as this implementation does them (the timbral blocks' products in the frequency domain instead; transforms and element-wise steps not counted)."""
        t, total = PATCH_FRAMES, 0
        for name in (*self.TIMBRAL, *self.TEMPORAL):
            (kh, kw), matrix, *_ = self._front[name]
            if performed and name in self._spectral:
                kernel, inverse = self._spectral[name]
                total += 2 * t * (kernel.size + inverse.size * kernel.shape[1] // 2)
                continue
            total += 2 * t * (N_MELS - kw + 1 if name in self.TIMBRAL else N_MELS) * matrix.size
        total += sum(2 * t * matrix.size for _, matrix, *_ in self._mid)
        return int(total + 2 * self._dense[0].size + 2 * self._logits[0].size)


@lru_cache(maxsize=2)
def musicnn_numpy(model: str = "msd") -> MusicnnNumpy:
    """The NumPy network of ``model`` with its packaged weights (built once per process).

    Explained in chapter 10, *Transfer learning*.
    """
    return MusicnnNumpy(weights_path(model))


# ---------------------------------------------------------------------------------------------
# The one embedding path
# ---------------------------------------------------------------------------------------------


def clip_embeddings(y, sr: int, net) -> dict:
    """One clip's musicnn embeddings: level → log-mel → 3 s patches → network → pooling over patches.

    Notebook: chapters/10_transfer_learning.ipynb

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``), as the
    chapter's own code: the one path of every musicnn embedding in the book (chapter 10's table,
    the shipped probe's training and ``genre-predict``).

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, at least :data:`PATCH_SECONDS` long.
    sr : int
        Its sample rate in Hz (resampled to 16 kHz if another).
    net : MusicnnNumpy
        The network (:func:`musicnn_numpy`), or anything with its ``predict``.

    Returns
    -------
    dict
        ``<layer>_mean`` and ``<layer>_max`` for every layer of :data:`LAYERS` (``(dims,)``: over
        the patches), ``tags`` (``(50,)``: the mean tag probabilities), ``n_patches``, and
        ``per_patch`` (the network's outputs, one row per patch).
    """
    x = patches(log_mel(normalise_level(y), sr))  # the level first: loudness must not decide
    per_patch = net.predict(x)  # taggram, penultimate, max_pool, mean_pool: one row per patch
    pooled = {f"{layer}_{how}": getattr(np, how)(per_patch[layer], axis=0)
              for layer in LAYERS for how in POOLINGS}
    return {**pooled, "tags": per_patch["taggram"].mean(axis=0), "n_patches": len(x), "per_patch": per_patch}


def top_tags(probabilities: np.ndarray, model: str = "msd", k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely tags of a ``(50,)`` probability vector, most likely first.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).
    """
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (len(TAGS[_check_model(model)]),):
        raise ParameterError(f"probabilities must have shape ({len(TAGS[model])},), got "
                             f"{probabilities.shape}")
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(TAGS[model][i], float(probabilities[i])) for i in order]


# ---------------------------------------------------------------------------------------------
# The network in Keras (chapter 10 shows its architecture; TensorFlow is imported only here)
# ---------------------------------------------------------------------------------------------

def build_musicnn(n_tags: int = 50):
    """Build the (untrained) musicnn network with Keras' functional API.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Returns
    -------
    keras.Model
        Input ``(batch, 187, 96)`` log-mel patches; outputs a dict: ``taggram`` (sigmoid tag
        probabilities, ``(batch, n_tags)``), ``penultimate`` (200), ``max_pool`` and ``mean_pool``
        (753 each: the mid-end features pooled over time). Layer names match the weight files.
    """
    import keras
    from keras import layers, ops

    def conv_bn_freqmax(inputs, kernel, padding, name):  # conv, batch norm, max over frequency
        h = layers.Conv2D(kernel[2], kernel[:2], padding=padding, activation="relu", name=name)
        h = layers.BatchNormalization(name=f"{name}_bn")(h(inputs))
        return ops.max(h, axis=2)

    x = keras.Input((PATCH_FRAMES, N_MELS), name="log_mel")
    h = layers.BatchNormalization(name="input_bn")(layers.Reshape((PATCH_FRAMES, N_MELS, 1))(x))
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(h)  # pad time only, then 'valid' in frequency
    front = [conv_bn_freqmax(padded, (7, int(f * N_MELS), 204), "valid", f"timbral_{n}")
             for f, n in ((0.4, 74), (0.7, 77))]
    front += [conv_bn_freqmax(h, (n, 1, 51), "same", f"temporal_{n}") for n in (128, 64, 32)]
    mid = [layers.Concatenate()(front)]  # (time, 561)
    for i in (1, 2, 3):  # dense connections: conv 1 adapts, convs 2 and 3 are residual
        c = layers.Conv1D(64, 7, padding="same", activation="relu", name=f"midend_{i}")(mid[-1])
        c = layers.BatchNormalization(name=f"midend_{i}_bn")(c)
        mid.append(c if i == 1 else layers.Add()([c, mid[-1]]))
    features = layers.Concatenate()(mid)  # (time, 753)
    max_pool, mean_pool = ops.max(features, axis=1), ops.mean(features, axis=1)
    pooled = layers.Reshape((2 * 753,))(ops.stack([max_pool, mean_pool], axis=-1))  # TF1 order
    pooled = layers.BatchNormalization(name="pool_bn")(pooled)
    dense = layers.Dense(200, activation="relu", name="penultimate")(pooled)
    penultimate = layers.BatchNormalization(name="penultimate_bn")(dense)
    logits = layers.Dense(n_tags, name="logits")(penultimate)
    outputs = {"taggram": ops.sigmoid(logits), "penultimate": penultimate,
               "max_pool": max_pool, "mean_pool": mean_pool}
    return keras.Model(x, outputs, name="musicnn")


@lru_cache(maxsize=2)
def load_musicnn(model: str = "msd"):
    """Build musicnn and load the pretrained weights of ``model`` (cached: built once per process).

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Parameters
    ----------
    model : {"msd", "mtt"}
        Trained on the Million Song Dataset or on MagnaTagATune (tags in :data:`TAGS`).

    Returns
    -------
    keras.Model
        See :func:`build_musicnn`.

    Raises
    ------
    DataError
        If the weight file is missing or does not match the network (names or shapes).
    """
    path = weights_path(model)
    net = build_musicnn(len(TAGS[model]))
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError) as error:
        raise DataError(f"weight file {path} cannot be read ({error}); regenerate it with "
                        "`python -m tools.export_musicnn`") from None
    wanted = {w.path: w for w in net.weights}
    if set(wanted) != set(arrays):
        raise DataError(f"weight file {path} does not match the network: missing "
                        f"{sorted(set(wanted) - set(arrays))}, unexpected "
                        f"{sorted(set(arrays) - set(wanted))}")
    for key, variable in wanted.items():
        if tuple(variable.shape) != arrays[key].shape:
            raise DataError(f"weight file {path}: {key} has shape {arrays[key].shape}, the "
                            f"network expects {tuple(variable.shape)}")
        variable.assign(arrays[key].astype(np.float32))
    return net
