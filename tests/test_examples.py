import os

import librosa
import pytest
import soundfile as sf

from helpers.datasets import examples


def _no_network(name):
    raise OSError("no network (simulated)")


def test_offline_falls_back_to_labelled_stand_in(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(librosa, "ex", _no_network)
    path = examples.example_recording("trumpet")
    assert "NOTICE" in capsys.readouterr().out
    assert path.startswith(str(tmp_path))
    info = sf.info(path)
    assert info.samplerate == 22050 and info.channels == 1
    assert info.duration == pytest.approx(examples.STAND_IN_SECONDS["trumpet"], abs=0.01)
    # a second call reuses the file (no temporary left behind)
    assert examples.example_recording("trumpet") == path
    assert [p.name for p in (tmp_path / "librosa_stand_ins").iterdir()] == ["trumpet.wav"]


def test_unknown_example_is_not_hidden(monkeypatch):
    monkeypatch.setattr(librosa, "ex", _no_network)
    with pytest.raises(OSError):
        examples.example_recording("not-an-example")


@pytest.mark.skipif(not os.environ.get("LIBROSA_DATA_DIR"), reason="LIBROSA_DATA_DIR not set")
def test_real_example_when_available(capsys):
    path = examples.example_recording("trumpet")
    assert "NOTICE" not in capsys.readouterr().out
    assert sf.info(path).duration > 5


@pytest.mark.parametrize("blocker", ["a_file", "under_a_file"])
def test_an_uncreatable_data_folder_puts_the_stand_in_in_the_scratch_folder(monkeypatch, tmp_path, capsys, blocker):
    import tempfile

    afile = tmp_path / "blocker"
    afile.write_text("the user's")
    monkeypatch.setenv("BOOK_DATA_DIR", str(afile if blocker == "a_file" else afile / "data"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(librosa, "ex", _no_network)
    path = examples.example_recording("trumpet")
    out = capsys.readouterr().out
    assert "cannot be written" in out and "SYNTHETIC stand-in" in out
    assert path.startswith(str(tmp_path / f"genre-book-{os.getuid()}")) and sf.info(path).samplerate == 22050
    assert examples.example_recording("trumpet") == path and afile.read_text() == "the user's"
