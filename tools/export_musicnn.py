"""Regenerate ``helpers/weights/musicnn_{msd,mtt}.npz`` from the PyPI wheel of ``musicnn`` 0.1.0.

Explained in chapter 10, *Transfer learning* (``chapters/10_transfer_learning.ipynb``); the network
that reads these files is :mod:`helpers.musicnn`.

The ``musicnn`` wheel (Pons & Serra 2019, ISC licence) ships its trained networks as TensorFlow 1
checkpoints (``musicnn/MSD_musicnn/.index`` + ``.data-00000-of-00001``). This script:

1. downloads the wheel with ``pip download musicnn==0.1.0 --no-deps`` (its metadata pins
   ``numpy<1.17``, so it is never *installed*) and checks its SHA-256;
2. unpacks the two checkpoints and reads their variables with TensorFlow's checkpoint reader, given
   the checkpoint *prefix* ``<dir>/`` (the files are named ``.index``/``.data...`` with an empty
   stem). ``tf.train.load_checkpoint(dir)`` cannot be used: for a directory it follows the
   ``checkpoint`` file, which records the author's absolute path (``/home/jpons/...``);
3. drops the optimizer state (``*/Adam``, ``*/Adam_1``, ``beta*_power``), renames the variables
   to the Keras layer names of :func:`helpers.musicnn.build_musicnn` (``timbral_74/kernel``,
   ``midend_1_bn/moving_mean``, ...; the table is :data:`NAMES`), reshapes the mid-end kernels
   ``(7, C, 1, 64)`` to the ``(7, C, 64)`` of a ``Conv1D``, and writes float32 arrays with
   :func:`numpy.savez_compressed`, atomically (a temporary file, then :func:`os.replace`).

Verification (done once, recorded in ``tests/data/musicnn_reference.json``): in a scratch venv
(``tensorflow==2.21.*``, ``tf-keras``, ``librosa``, then ``pip install --no-deps musicnn==0.1.0``;
``TF_USE_LEGACY_KERAS=1``, eager execution disabled), the original ``models.define_model`` graph,
restored with ``tf.compat.v1.train.Saver().restore(sess, "<site-packages>/musicnn/MSD_musicnn/")``,
was fed the same log-mel patches as the port (:func:`helpers.musicnn.log_mel` and
:func:`~helpers.musicnn.patches`) for the synthetic clip of ``tests/test_musicnn.py``, librosa's
``trumpet`` and ``choice`` examples; the largest differences, both models, all patches, were 1.4e-6
(tag probabilities), 4.8e-6 (penultimate) and 2.9e-4 (max_pool, values up to 124).

Command line (needs TensorFlow and network access to PyPI, or ``--wheel``)::

    python -m tools.export_musicnn                       # writes helpers/weights/*.npz
    python -m tools.export_musicnn --wheel musicnn-0.1.0-py3-none-any.whl --out /tmp/w
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
OUT_DIR = Path(__file__).resolve().parent.parent / "helpers" / "weights"

#: TF1 layer name (order of creation in ``musicnn/models.py``) -> Keras layer name.
NAMES = {
    "batch_normalization": "input_bn",
    "conv2d": "timbral_74", "batch_normalization_1": "timbral_74_bn",
    "conv2d_1": "timbral_77", "batch_normalization_2": "timbral_77_bn",
    "conv2d_2": "temporal_128", "batch_normalization_3": "temporal_128_bn",
    "conv2d_3": "temporal_64", "batch_normalization_4": "temporal_64_bn",
    "conv2d_4": "temporal_32", "batch_normalization_5": "temporal_32_bn",
    "conv2d_5": "midend_1", "batch_normalization_6": "midend_1_bn",
    "conv2d_6": "midend_2", "batch_normalization_7": "midend_2_bn",
    "conv2d_7": "midend_3", "batch_normalization_8": "midend_3_bn",
    "batch_normalization_9": "pool_bn",
    "dense": "penultimate", "batch_normalization_10": "penultimate_bn",
    "dense_1": "logits",
}
PARAMS = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def fetch_wheel(folder: Path) -> Path:
    """Download the wheel into ``folder`` with pip (no dependencies) and check its SHA-256."""
    subprocess.run([sys.executable, "-m", "pip", "download", "musicnn==0.1.0", "--no-deps",
                    "--only-binary=:all:", "-d", str(folder)], check=True)
    return folder / WHEEL


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Read a TF1 checkpoint's trained variables, renamed to Keras paths (see :data:`NAMES`)."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # a prefix, not a directory
    arrays = {}
    for name in reader.get_variable_to_shape_map():
        layer, _, param = name.rpartition("/")
        if layer not in NAMES or param not in PARAMS:
            continue  # Adam slots, beta1_power, beta2_power
        value = reader.get_tensor(name).astype(np.float32)
        if NAMES[layer].startswith("midend_") and param == "kernel":
            value = value[:, :, 0, :]  # (7, C, 1, 64) Conv2D -> (7, C, 64) Conv1D
        arrays[f"{NAMES[layer]}/{param}"] = value
    expected = 2 * 10 + 4 * 11  # 10 conv/dense layers (kernel, bias), 11 BN layers (4 each)
    if len(arrays) != expected:
        raise RuntimeError(f"checkpoint {prefix}: found {len(arrays)} variables, expected {expected}")
    return arrays


def write_npz(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Write ``arrays`` to ``path`` atomically (sorted keys, compressed, no pickled objects)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **{k: arrays[k] for k in sorted(arrays)})
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def export(wheel: Path | None, out: Path) -> list[Path]:
    """Export both models from ``wheel`` (downloaded when None) to ``out``; return the paths."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = wheel or fetch_wheel(tmp)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{wheel}: SHA-256 {digest} is not the pinned {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tmp / "wheel")
        written = []
        for short, folder in MODELS.items():
            arrays = read_checkpoint(f"{tmp / 'wheel' / 'musicnn' / folder}/")
            write_npz(arrays, out / f"musicnn_{short}.npz")
            written.append(out / f"musicnn_{short}.npz")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL} (default: pip download)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in export(args.wheel, args.out):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
