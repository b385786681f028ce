"""Smoke test of the embedding benchmark (python -m helpers.bench embeddings) on 2 synthetic clips.

No timing is asserted: the benchmark measures, the test checks that it runs and reports.
"""

import json

import pytest

from helpers.bench import __main__ as bench_main
from helpers.bench import embeddings as bench
from helpers.datasets.gtzan import gtzan_table


def test_benchmark_runs_on_two_clips(synthetic_gtzan, tmp_path, capsys, monkeypatch):
    table = gtzan_table(synthetic_gtzan)
    table.attrs["flavour"] = "synthetic"
    monkeypatch.setattr("helpers.datasets.load_gtzan", lambda flavour=None: table)
    out = tmp_path / "bench.json"
    assert bench_main.main(["embeddings", "--limit", "2", "--n-jobs", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["clips"] == 2 and result["patches"] == 2
    assert result["cached_speedup"] == pytest.approx(result["cold_s"] / result["cached_s"])
    text = capsys.readouterr().out
    assert "cold (empty cache)" in text and "cached vs cold" in text


def test_strict_exit_code_and_bad_arguments(monkeypatch):
    slow = {"clips": 100, "flavour": "mini", "model": "msd", "n_jobs": 2, "cpu_count": 2, "patches": 1000,
            "startup_s": 5.0, "cold_s": 200.0, "cached_s": 0.01, "cold_clips_per_s": 0.5,
            "cached_clips_per_s": 1e4, "cached_speedup": 2e4}
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: slow)
    monkeypatch.setattr("helpers.datasets.load_gtzan", lambda flavour=None: None)
    assert bench.main([]) == 0
    assert bench.main(["--strict"]) == 1
    assert not bench.targets_met(slow)
    assert bench.targets_met({**slow, "cold_s": 80.0})
    with pytest.raises(SystemExit):
        bench.main(["--limit", "0"])
