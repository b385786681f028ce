"""Tests for the training benchmark (python -m helpers.bench training) on tiny shapes."""

import json

import pytest

pytest.importorskip("tensorflow")

from helpers.bench import training as bench  # noqa: E402


def test_benchmark_times_both_ways(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = bench.main(["--epochs", "2", "--samples", "64", "--val-samples", "16", "--frames", "16",
                       "--batch", "32", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"cnn", "lstm"}
    for name, entry in result["models"].items():
        assert len(entry["naive_epoch_s"]) == len(entry["book_epoch_s"]) == 2
        assert entry["naive_total_s"] == pytest.approx(sum(entry["naive_epoch_s"]))
        assert entry["ratio_total"] == pytest.approx(entry["naive_total_s"] / entry["book_total_s"])
        assert entry["target_s"] == pytest.approx(bench.TARGETS_60[name] * 2 / 60)
    text = capsys.readouterr().out
    assert "ratio naive / book" in text and "cnn" in text and "lstm" in text


def test_bad_arguments():
    with pytest.raises(SystemExit):
        bench.main(["--epochs", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--models", "transformer"])
    with pytest.raises(ValueError, match="unknown model"):
        bench.run_benchmark(["gru"], epochs=1, samples=4, val_samples=2, frames=8)


def test_strict_exit_code(monkeypatch):
    fake = {"epochs": 1, "samples": 1, "val_samples": 1, "frames": 1, "coefficients": 13, "batch_size": 1,
            "cpu_count": 2, "models": {"cnn": {"naive_epoch_s": [2.0], "book_epoch_s": [4.0],
                                               "naive_median_s": 2.0, "book_median_s": 4.0,
                                               "naive_total_s": 2.0, "book_total_s": 4.0,
                                               "ratio_per_epoch": 0.5, "ratio_total": 0.5,
                                               "target_s": 2.0, "target_met": False}}}
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: dict(fake))
    assert bench.main(["--epochs", "1"]) == 0
    assert bench.main(["--epochs", "1", "--strict"]) == 1
    assert "MISSED" in bench.format_report(fake)
