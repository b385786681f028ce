"""Tests for the training benchmark (python -m helpers.bench training) on tiny shapes."""

import json

import pytest

pytest.importorskip("tensorflow")

from helpers import training_speed  # noqa: E402
from helpers.bench import training as bench  # noqa: E402
from helpers.errors import ParameterError  # noqa: E402


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
        assert entry["book_policy"] == bench.book_policy(name, "auto")
    text = capsys.readouterr().out
    assert "ratio naive / book" in text and "cnn" in text and "lstm" in text


def test_bad_arguments():
    with pytest.raises(SystemExit):
        bench.main(["--epochs", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--models", "transformer"])
    with pytest.raises(ParameterError, match="unknown model"):
        bench.run_benchmark(["gru"], epochs=1, samples=4, val_samples=2, frames=8)


def test_strict_exit_code(monkeypatch):
    fake = {"epochs": 1, "samples": 1, "val_samples": 1, "frames": 1, "coefficients": 13, "batch_size": 1,
            "cpu_count": 2, "models": {"cnn": {"book_policy": "float32", "naive_epoch_s": [2.0], "book_epoch_s": [4.0],
                                               "naive_median_s": 2.0, "book_median_s": 4.0,
                                               "naive_total_s": 2.0, "book_total_s": 4.0,
                                               "ratio_per_epoch": 0.5, "ratio_total": 0.5,
                                               "target_s": 2.0, "target_met": False}}}
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: dict(fake))
    assert bench.main(["--epochs", "1"]) == 0
    assert bench.main(["--epochs", "1", "--strict"]) == 1
    assert "MISSED" in bench.format_report(fake)


def test_book_policy_keeps_the_lstm_in_float32_on_a_bf16_cpu(monkeypatch):
    import helpers.backend as backend

    monkeypatch.setattr(backend, "fast_dtype_policy", lambda: "mixed_bfloat16")
    assert bench.book_policy("cnn") == "mixed_bfloat16"
    assert bench.book_policy("lstm") == "float32"
    assert bench.book_policy("lstm", "mixed_bfloat16") == "mixed_bfloat16"  # asked for explicitly
    monkeypatch.setattr(backend, "fast_dtype_policy", lambda: "mixed_float16")
    assert bench.book_policy("lstm") == "mixed_float16"  # a GPU: cuDNN gains from float16


def test_benchmark_in_float32_when_asked(tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--epochs", "1", "--samples", "16", "--val-samples", "8", "--frames", "16",
                       "--models", "cnn", "--precision", "float32", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["models"]["cnn"]["book_policy"] == "float32"


def test_speed_steps_table():
    table = training_speed.speed_steps(epochs=2, samples=16, val_samples=8, frames=16, batch_size=8)
    assert list(table["way"]) == ["model.fit(numpy)", "tf.data pipeline", "tf.data + mixed precision"]
    assert list(table["dtype policy"])[:2] == ["float32", "float32"]
    assert table["speed-up"].iloc[0] == pytest.approx(1.0)
    assert table["speed-up"].iloc[2] == pytest.approx(table["s / epoch"].iloc[0] / table["s / epoch"].iloc[2])
    with pytest.raises(ParameterError, match="at least 2 epochs"):
        training_speed.speed_steps(epochs=1)
