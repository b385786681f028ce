"""Quiet TensorFlow, mixed precision where the processor computes 16-bit floats, librosa compiled once.

Explained in chapter *A CNN on MFCCs* (``chapters/06_cnn.ipynb``, section "Training faster") and
used by every module and chapter that trains a Keras model, and by the training benchmark
(``python -m helpers.bench training``).

:func:`import_tensorflow` loads TensorFlow with its C++ start-up lines kept out of notebook
outputs (:func:`native_stderr_silenced`).

A Keras *dtype policy* says in which float type a layer computes and in which it keeps its
weights. ``'mixed_bfloat16'`` and ``'mixed_float16'`` compute in 16 bits but keep the weights (and
the optimizer's updates) in 32 bits, so training stays as accurate as in ``'float32'`` while the
convolutions move half the bytes. Whether that is faster depends on the processor:

- an NVIDIA GPU with tensor cores (compute capability 7.0 or newer: T4, V100, A100, H100, the
  Colab GPUs) computes ``float16`` natively → ``'mixed_float16'`` (Keras adds loss scaling);
- a CPU with native ``bfloat16`` instructions (``avx512_bf16`` or ``amx_bf16``: recent AMD EPYC and
  Intel Xeon processors) → ``'mixed_bfloat16'``;
- anything else emulates 16-bit floats and gets *slower* → ``'float32'``.

The architecture does not change: the same layers, the same number of weights, stored in
``float32``. Only the arithmetic inside the layers is rounded to 16 bits. The networks' last layer
is built with ``dtype='float32'``, so the softmax and the loss are computed in full precision.

TensorFlow and Keras are not part of the base install (``pip install genre-book-helpers`` is what
``genre-predict`` needs); they come with the ``chapters`` extra. The modules that train
(:mod:`helpers.training`, :mod:`helpers.models`) call :func:`require_chapters` when imported, so
without the extra they stop with one line that names it.

:func:`compile_librosa` compiles librosa's numba functions in the process that is about to start
worker processes, so that the workers never compile them at the same time (chapter *Scaling out*).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from helpers.errors import ParameterError

# --------------------------------------------------------------------------- the chapters extra

#: The optional-dependency group (pyproject.toml) that holds the chapters' stack.
CHAPTERS_EXTRA = "chapters"
#: Distribution name on PyPI.
DISTRIBUTION = "genre-book-helpers"


def require_chapters(needed_by: str, modules: tuple[str, ...] = ("tensorflow", "keras")) -> None:
    """Stop with a one-line message naming the ``chapters`` extra when its libraries are missing.

    Explained in chapter *A CNN on MFCCs*. The base install of the package is what ``genre-predict``
    needs; training a network needs TensorFlow and Keras, which ``pip install
    "genre-book-helpers[chapters]"`` adds (Colab has them preinstalled).

    Parameters
    ----------
    needed_by : str
        What needs them, for the message (a module name such as ``"helpers.training"``).
    modules : tuple of str
        Top-level modules that must be importable.

    Raises
    ------
    ModuleNotFoundError
        When one of ``modules`` is not installed (an ``ImportError``; ``name`` is the first missing
        module), e.g. ``helpers.training needs tensorflow, keras, which the base install of
        genre-book-helpers leaves out: pip install "genre-book-helpers[chapters]"``.
    """
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise ModuleNotFoundError(
            f"{needed_by} needs {', '.join(missing)}, which the base install of {DISTRIBUTION} leaves "
            f'out: pip install "{DISTRIBUTION}[{CHAPTERS_EXTRA}]" (the chapters\' stack)',
            name=missing[0],
        )


# --------------------------------------------------------------------------- librosa's numba cache

#: The librosa modules that compile numba *gufuncs* (``@guvectorize(cache=True)``) when imported:
#: ``localmin``/``localmax``/``peak_pick`` helpers, the resampling kernel, piptrack's
#: interpolation and the beat tracker's loops.
LIBROSA_GUFUNC_MODULES = ("librosa.util.utils", "librosa.core.audio", "librosa.core.pitch", "librosa.beat")


def compile_librosa() -> None:
    """Compile (or load) librosa's numba gufuncs in this process, before it starts worker processes.

    Used by every helper that starts worker processes (:func:`helpers.features.runner.map_tracks`
    with ``backend='loky'``, :func:`helpers.cluster.local_cluster`) and by the test session (the
    prediction path never imports librosa). librosa compiles these functions when its modules are imported and
    writes each to numba's cache as *two* files. Two processes that compile the same gufunc at the
    same time (two fresh workers on an empty cache) can leave those two files from different
    processes, and every process that later loads that pair dies with a segmentation fault
    (numba issue #10128, the cause of librosa issue #1998, whose workaround this is). Compiled here
    first, in one process, the cache holds a consistent pair, and the workers only read it.
    Importing an imported module again costs nothing, so calling this twice is free.
    """
    for module in LIBROSA_GUFUNC_MODULES:
        importlib.import_module(module)


# --------------------------------------------------------------------------- TensorFlow


def import_tensorflow(quiet: bool = True):
    """Import TensorFlow and initialise its devices, keeping its C++ start-up lines out of outputs.

    Explained in chapter *A CNN on MFCCs*. TensorFlow prints a few lines from C++ when it loads
    (oneDNN notices, "could not find CUDA drivers" on a CPU-only machine) before its own log level
    applies; in a notebook they land in the cell's output. With ``quiet=True`` the process's
    standard error is sent to ``/dev/null`` while TensorFlow loads and lists its devices, then
    restored. Python exceptions are not affected. TensorFlow's Python logger is set to ERROR
    (no "retracing" notices when a chapter trains and predicts with many small models). Call it
    before :func:`helpers.set_seed`.

    Returns
    -------
    module
        ``tensorflow``.
    """
    require_chapters("helpers.backend.import_tensorflow", ("tensorflow",))
    if not quiet or "tensorflow" in sys.modules:
        import tensorflow as tf

        if quiet:
            tf.get_logger().setLevel("ERROR")
        return tf
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()
    tf.get_logger().setLevel("ERROR")
    return tf


@contextmanager
def native_stderr_silenced():
    """Send the process's standard error (file descriptor 2) to ``/dev/null`` inside the block.

    Explained in chapter *A CNN on MFCCs*. TensorFlow's C++ core writes some harmless lines
    straight to the process's standard error — at start-up, and when Keras converts NumPy arrays
    ("NodeDef mentions attribute ... Unknown attributes will be ignored") — where a notebook shows
    them in the cell's output. Python exceptions still propagate normally.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


# --------------------------------------------------------------------------- dtype policies

#: Dtype policies :func:`dtype_policy` accepts besides ``'auto'``.
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

#: CPU flags (Linux ``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes ``bfloat16`` natively (chapter *A CNN on MFCCs*).

    Parameters
    ----------
    cpuinfo : str or Path
        Linux's CPU description; on other systems (no such file) the answer is False.

    Returns
    -------
    bool
        True if a ``flags`` line lists one of :data:`BF16_CPU_FLAGS`.
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and set(value.split()) & set(BF16_CPU_FLAGS):
            return True
    return False


def _gpu_compute_capabilities() -> list[tuple[int, int]]:
    """Compute capabilities of the visible NVIDIA GPUs (empty without TensorFlow GPUs)."""
    if "tensorflow" not in sys.modules:
        return []
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(device).get("compute_capability")
        if capability:
            found.append(tuple(int(c) for c in capability))
    return found


def fast_dtype_policy(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The Keras dtype policy that trains fastest here without losing accuracy.

    Explained in chapter *A CNN on MFCCs*: ``'mixed_float16'`` on an NVIDIA GPU with compute
    capability 7.0 or newer, ``'mixed_bfloat16'`` on a CPU with native bfloat16 (see
    :func:`cpu_has_native_bfloat16`), otherwise ``'float32'``. The GPUs are looked up only when
    TensorFlow is already imported.

    Returns
    -------
    str
        One of :data:`POLICIES`.
    """
    capabilities = _gpu_compute_capabilities()
    if capabilities:
        return "mixed_float16" if min(capabilities) >= (7, 0) else "float32"
    return "mixed_bfloat16" if cpu_has_native_bfloat16(cpuinfo) else "float32"


def resolve_policy(policy: str | None) -> str:
    """``'auto'`` → :func:`fast_dtype_policy`; None → ``'float32'``; a known policy → itself.

    Explained in chapter *A CNN on MFCCs*.

    Raises
    ------
    helpers.errors.ParameterError
        For a policy not in :data:`POLICIES` (nor ``'auto'``/None).
    """
    if policy is None:
        return "float32"
    if policy == "auto":
        return fast_dtype_policy()
    if policy not in POLICIES:
        raise ParameterError(f"unknown precision {policy!r}; choose 'auto' or one of {POLICIES}")
    return policy


@contextmanager
def dtype_policy(policy: str | None = "auto"):
    """Build models under a Keras dtype policy, restoring the previous policy afterwards.

    Explained in chapter *A CNN on MFCCs*::

        with dtype_policy("auto") as used:
            model = build_report_cnn()   # layers compute in 16 bits where that is fast
        print(used)                      # e.g. 'mixed_bfloat16'

    The policy is read by layers when they are *created*, so build the model inside the block;
    training and prediction can happen outside it. (``keras.backend.clear_session()`` also resets
    Keras' global policy, which is why the book sets it per model and not once per chapter.)

    Parameters
    ----------
    policy : {'auto', 'float32', 'mixed_bfloat16', 'mixed_float16'} or None
        See :func:`resolve_policy`.

    Yields
    ------
    str
        The policy in force inside the block.
    """
    require_chapters("helpers.backend.dtype_policy", ("keras",))
    import keras

    name = resolve_policy(policy)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)

