"""Tests for helpers.backend (quiet TensorFlow import, mixed precision; chapter 6; librosa compiled once)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import backend as precision
from helpers.errors import ParameterError

BF16_CPU = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 fma\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\nbugs\t\t: avx512_bf16_is_not_a_flag_here\n"


def layer_policies(model) -> set[str]:
    """The dtype policies of a model's layers that hold weights."""
    return {layer.dtype_policy.name for layer in model.layers if layer.weights}


def test_cpu_flags_are_read_from_the_flags_line(tmp_path):
    (tmp_path / "new").write_text(BF16_CPU)
    (tmp_path / "old").write_text(OLD_CPU)
    assert precision.cpu_has_native_bfloat16(tmp_path / "new")
    assert not precision.cpu_has_native_bfloat16(tmp_path / "old")
    assert not precision.cpu_has_native_bfloat16(tmp_path / "missing")  # not Linux: no claim


def test_fast_policy_follows_the_hardware(tmp_path, monkeypatch):
    (tmp_path / "new").write_text(BF16_CPU)
    (tmp_path / "old").write_text(OLD_CPU)
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [])
    assert precision.fast_dtype_policy(tmp_path / "new") == "mixed_bfloat16"
    assert precision.fast_dtype_policy(tmp_path / "old") == "float32"
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [(7, 5)])  # a Colab T4
    assert precision.fast_dtype_policy(tmp_path / "old") == "mixed_float16"
    monkeypatch.setattr(precision, "_gpu_compute_capabilities", lambda: [(6, 0)])  # no tensor cores
    assert precision.fast_dtype_policy(tmp_path / "new") == "float32"


def test_resolve_policy():
    assert precision.resolve_policy(None) == "float32"
    assert precision.resolve_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert precision.resolve_policy("auto") in precision.POLICIES
    with pytest.raises(ParameterError, match="unknown precision 'float8'"):
        precision.resolve_policy("float8")


def test_dtype_policy_applies_to_models_built_inside_and_is_restored():
    pytest.importorskip("tensorflow")
    import keras

    from helpers.models.mfcc import build_report_cnn

    before = keras.config.dtype_policy().name
    with precision.dtype_policy("mixed_bfloat16") as used:
        model = build_report_cnn((32, 13, 1))
    assert used == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
    assert layer_policies(model) == {"mixed_bfloat16", "float32"}  # the softmax layer computes in float32
    conv = model.layers[0]
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"  # weights stay float32
    assert model.layers[-1].compute_dtype == "float32"  # the softmax in full precision
    out = model(np.zeros((2, 32, 13, 1), dtype="float32"))
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)
    assert layer_policies(build_report_cnn((32, 13, 1))) == {before}


def test_policy_is_restored_after_an_error():
    pytest.importorskip("tensorflow")
    import keras

    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError), precision.dtype_policy("mixed_float16"):
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == before


def test_import_tensorflow_is_quiet_and_restores_stderr():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = ("import os\nfrom helpers.backend import import_tensorflow\ntf = import_tensorflow()\n"
            "tf.constant(1.0) + 1\nos.write(2, b'stderr works')\nprint(tf.__name__)")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tensorflow"
    assert done.stderr.strip() == "stderr works"  # no start-up lines, and stderr restored afterwards


def test_native_stderr_silenced_hides_fd2_writes_and_restores_it():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = ("import os\nfrom helpers.backend import native_stderr_silenced\n"
            "with native_stderr_silenced():\n    os.write(2, b'hidden C++ line')\n"
            "try:\n    with native_stderr_silenced():\n        raise KeyError('boom')\nexcept KeyError:\n    pass\n"
            "os.write(2, b'visible again')")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "visible again"


# --------------------------------------------------------------------------- librosa's numba cache

def librosa_gufunc_modules() -> set[str]:
    """The librosa modules whose source declares a numba gufunc (``guvectorize``), read from the installed files."""
    import librosa

    root = Path(librosa.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        if re.search(r"^\s*@(numba\.)?guvectorize\(", path.read_text(encoding="utf-8"), flags=re.MULTILINE):
            parts = path.relative_to(root.parent).with_suffix("").parts
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_compile_librosa_covers_every_librosa_module_with_a_gufunc():
    """A librosa release that adds a gufunc elsewhere fails here, not as a segfault in a worker."""
    assert set(precision.LIBROSA_GUFUNC_MODULES) == librosa_gufunc_modules()


def test_compile_librosa_writes_every_gufunc_pair_into_the_cache(tmp_path):
    """One process, an empty cache: afterwards each gufunc has its kernel and its ``guf-`` wrapper cached."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = "from helpers.backend import compile_librosa\ncompile_librosa()\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600, cwd=Path(__file__).parent.parent)
    data = {path.name for path in tmp_path.rglob("*.nbc")}
    wrappers = {name for name in data if name.startswith("guf-")}
    for module in ("utils", "audio", "pitch", "beat"):
        assert any(name.startswith(f"guf-{module}.") for name in wrappers), (module, sorted(data))
    assert {name.removeprefix("guf-") for name in wrappers} <= data  # every wrapper with its kernel


def test_worker_processes_start_after_librosa_is_compiled(monkeypatch):
    """map_tracks with processes compiles librosa in this process first; threads need not."""
    from helpers.features import runner

    calls = []
    monkeypatch.setattr(runner, "compile_librosa", lambda: calls.append("compiled"))
    assert runner.map_tracks(abs, [-1, -2], n_jobs=2, backend="threading") == [1, 2]
    assert calls == []
    assert runner.map_tracks(abs, [-1, -2], n_jobs=2, backend="loky") == [1, 2]
    assert calls == ["compiled"]
