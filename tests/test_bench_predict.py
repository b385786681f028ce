"""Smoke test of the predict benchmark (python -m helpers.bench predict) on 2 synthetic 30 s clips.

No timing is asserted: the benchmark measures, the test checks that it runs, counts and reports.
"""

import json

import numpy as np
import pytest
import soundfile as sf

from helpers.bench import __main__ as bench_main
from helpers.bench import predict as bench


def test_benchmark_runs_on_two_clips(tmp_path, capsys):
    sr = 22050
    t = np.arange(30 * sr) / sr
    clips = []
    for i, f in enumerate((220.0, 330.0)):
        clips.append(tmp_path / f"clip{i}.wav")
        sf.write(clips[-1], (0.2 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32), sr)
    out = tmp_path / "bench.json"
    argv = ["predict", *map(str, clips), "--repeats", "1", "--folder-clips", "3", "--no-first-run", "--no-cold",
            "--json", str(out)]
    assert bench_main.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["clips"] == 2 and result["patches_per_clip"] == 10
    assert result["folder_records"] == 3 and result["folder_errors"] == 0
    assert result["gflop_per_clip"] == pytest.approx(10 * 2.797107168, rel=1e-6)
    assert 0 < result["gflop_per_clip_performed"] < result["gflop_per_clip"]
    if result["reference"]:
        assert result["per_clip_speedup"] == pytest.approx(result["reference_per_clip_s"] / result["probe_per_clip_s"])
    assert "probe_cold_s" not in result  # cold starts (fresh processes) are measured by the benchmark, not here
    text = capsys.readouterr().out
    assert "cold start" in text and "GFLOP/s" in text and "folder of 3 clips" in text and "load average" in text


def test_targets_report_and_strict_exit_code(monkeypatch, capsys):
    slow = {"clips": 6, "cpu_count": 2, "repeats": 1, "load_before": 0.5, "load_after": 0.7, "reference": True,
            "probe_first_run_s": 2.0, "reference_first_run_s": 30.0, "probe_cold_s": 2.0, "reference_cold_s": 5.0,
            "cnn_cold_s": 1.0, "probe_per_clip_s": 0.3, "probe_per_clip_cpu_s": 0.5, "reference_per_clip_s": 0.45,
            "reference_per_clip_cpu_s": 0.8, "per_clip_speedup": 1.5, "cold_speedup": 2.5, "patches_per_clip": 10,
            "gflop_per_clip": 28.0, "gflop_per_clip_performed": 14.0, "achieved_gflops": 100.0,
            "matmul_gflops": 150.0}
    assert bench.targets(slow) == {"first run <= 3 s": True, "cold start <= 1.5 s": False,
                                   "per further clip >= 2x faster": False}
    assert bench.targets({**slow, "probe_cold_s": 1.0, "per_clip_speedup": 2.1}) == dict.fromkeys(bench.targets(slow), True)
    text = bench.report(slow)
    assert "cold start <= 1.5 s: MISSED" in text and "1.50x faster" in text and "28.0 GFLOP per clip" in text
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: slow)
    assert bench.main(["x.wav"]) == 0
    assert bench.main(["x.wav", "--strict"]) == 1
    with pytest.raises(SystemExit):
        bench.main(["--clips", "0"])
