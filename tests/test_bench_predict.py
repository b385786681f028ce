"""Smoke test of the predict benchmark (python -m helpers.bench predict) on 2 synthetic 30 s clips.

No timing is asserted: the benchmark measures, the test checks that it runs and reports.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.bench import __main__ as bench_main
from helpers.bench import predict as bench
from helpers.predict import model_bundle

SHIPPED = all(Path(str(model_bundle(m)) + ".json").is_file() for m in bench.MODELS)


@pytest.mark.skipif(not SHIPPED, reason="the shipped probe and CNN bundles are needed")
def test_benchmark_runs_on_two_clips(tmp_path, capsys):
    sr = 22050
    t = np.arange(30 * sr) / sr
    clips = []
    for i, f in enumerate((220.0, 330.0)):
        clips.append(tmp_path / f"clip{i}.wav")
        sf.write(clips[-1], (0.2 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32), sr)
    out = tmp_path / "bench.json"
    assert bench_main.main(["predict", *map(str, clips), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["clips"] == 2 and set(bench.MODELS) <= {k.split("_")[0] for k in result if k.endswith("_cold_s")}
    assert result["cold_ratio"] == pytest.approx(result["probe_cold_s"] / result["cnn_cold_s"])
    assert result["per_clip_ratio"] == pytest.approx(result["probe_per_clip_s"] / result["cnn_per_clip_s"])
    text = capsys.readouterr().out
    assert "cold start" in text and "probe / CNN" in text


def test_targets_report_and_strict_exit_code(monkeypatch, capsys):
    slow = {"clips": 6, "cpu_count": 2, "repeats": 1, "probe_cold_s": 12.0, "probe_per_clip_s": 0.8,
            "probe_per_clip_cpu_s": 0.7, "cnn_per_clip_cpu_s": 0.1,
            "cnn_cold_s": 3.0, "cnn_per_clip_s": 0.2, "cold_ratio": 4.0, "per_clip_ratio": 4.0}
    assert not bench.targets_met(slow) and bench.targets_met(slow, "cnn")
    assert bench.targets_met({**slow, "probe_cold_s": 9.0})
    assert "probe: cold start  12.00 s" in bench.report(slow) and "missed" in bench.report(slow)
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: slow)
    assert bench.main(["x.wav"]) == 0
    assert bench.main(["x.wav", "--strict"]) == 1
    with pytest.raises(SystemExit):
        bench.main(["--clips", "0"])
