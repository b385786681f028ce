"""The pretrained *musicnn* tagger (Pons & Serra 2019), rebuilt in Keras 3, as a feature extractor.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

*musicnn* ("musicnn: pre-trained convolutional neural networks for music audio tagging", ISMIR
2019 late-breaking demo; PyPI ``musicnn`` 0.1.0, ISC licence) is a CNN trained to predict 50 tags
from 3-second log-mel patches, either on the Million Song Dataset (``"msd"``) or MagnaTagATune
(``"mtt"``). Its front-end has musically motivated filters: tall ones that see timbre (7 frames ×
38 or 67 mel bands) and long ones that see rhythm (128, 64, 32 frames × 1 band); a mid-end of three
1-D convolutions with residual connections; a back-end that pools over time (max and mean),
then a 200-unit dense layer (the *penultimate* layer) and the 50 tag outputs.

This module is a small rebuild of ``musicnn/models.py``, with the weights of the original
checkpoints (exported once by ``tools/export_musicnn.py`` into ``helpers/weights/``), and the
original's input pipeline without its two flaws: the log is taken in float32 (the original casts
the mel spectrogram to float16 first, so ``10000 * mel`` overflows to infinity on loud clips) and
every patch gets its own embeddings (the original's extractor repeats the first patch's
``penultimate`` vector for every patch). TensorFlow is imported only when a network is built.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from helpers.errors import DataError, ParameterError

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
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

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


def log_mel(y: np.ndarray, sr: int) -> np.ndarray:
    """Return musicnn's input representation: ``log10(10000 * mel + 1)``, computed in float32.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Same parameters as the original (16 kHz, 512-sample FFT, hop 256, 96 Slaney mel bands of the
    power spectrum, frames centred with reflect padding — librosa 0.7's default, which the
    original relied on), but without its float16 cast.

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(n,)``; resampled to :data:`SR` if ``sr`` differs.
    sr : int
        Sample rate of ``y`` in Hz.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(frames, 96)`` (time first, as the network reads it).

    Raises
    ------
    ParameterError
        If ``y`` is not a 1-D numeric array or ``sr`` is not a positive integer.
    DataError
        If ``y`` holds NaN or infinity, or is shorter than one patch (:data:`PATCH_SECONDS`).
    """
    import librosa

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
        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS,
                                         pad_mode="reflect")
    return np.log10(10000 * mel.T.astype(np.float32) + 1)


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


def weights_path(model: str = "msd") -> Path:
    """Path of the packaged weight file of ``model`` (``"msd"`` or ``"mtt"``).

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).
    """
    return WEIGHTS_DIR / f"musicnn_{_check_model(model)}.npz"


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


def extract(y: np.ndarray, sr: int, model: str = "msd", hop: int = PATCH_FRAMES) -> dict:
    """Run musicnn on a signal, patch by patch: tag probabilities and embeddings per 3 s patch.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Parameters
    ----------
    y, sr
        Mono signal and its sample rate (see :func:`log_mel`).
    model : {"msd", "mtt"}
        Which pretrained network.
    hop : int
        Frames between patches (see :func:`patches`).

    Returns
    -------
    dict
        ``taggram`` ``(n_patches, 50)``, ``penultimate`` ``(n_patches, 200)``, ``max_pool`` and
        ``mean_pool`` ``(n_patches, 753)`` (float32 arrays), ``tags`` (the vocabulary, in
        ``taggram`` column order) and ``start_seconds`` (where each patch starts).
    """
    _check_model(model)
    batch = patches(log_mel(y, sr), hop)
    out = {k: np.asarray(v) for k, v in load_musicnn(model).predict_on_batch(batch).items()}
    out["tags"] = TAGS[model]
    out["start_seconds"] = np.arange(len(batch)) * hop * HOP / SR
    return out


def pool_patches(per_patch: np.ndarray) -> dict:
    """Pool per-patch vectors into per-track vectors: mean and max over patches.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).

    Parameters
    ----------
    per_patch : numpy.ndarray
        ``(n_patches, dim)``.

    Returns
    -------
    dict
        ``{"mean": (dim,), "max": (dim,)}`` float32 arrays.
    """
    per_patch = np.asarray(per_patch, dtype=np.float32)
    if per_patch.ndim != 2 or per_patch.shape[0] == 0:
        raise ParameterError(f"per_patch must have shape (n_patches >= 1, dim), got "
                             f"{per_patch.shape}")
    return {"mean": per_patch.mean(axis=0), "max": per_patch.max(axis=0)}


def track_embeddings(y: np.ndarray, sr: int, model: str = "msd",
                     layer: str = "penultimate") -> dict:
    """One track's musicnn embedding: a layer's patch vectors pooled over the track.

    Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``).
    A pure function of the signal, for a cached, parallel feature loop.

    Parameters
    ----------
    y, sr
        Mono signal and its sample rate (at least :data:`PATCH_SECONDS` long).
    model : {"msd", "mtt"}
        Which pretrained network.
    layer : {"penultimate", "max_pool", "mean_pool"}
        Which per-patch embedding to pool (sizes in :data:`LAYERS`).

    Returns
    -------
    dict
        ``mean`` and ``max`` (``(dim,)`` float32: over patches), ``tags`` (``(50,)``: the
        track's mean tag probabilities) and ``n_patches``.
    """
    if layer not in LAYERS:
        raise ParameterError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
    out = extract(y, sr, model)
    pooled = pool_patches(out[layer])
    return {**pooled, "tags": out["taggram"].mean(axis=0), "n_patches": len(out["taggram"])}


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
