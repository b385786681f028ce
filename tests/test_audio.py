"""Tests of helpers.audio: checked loading of clips, header checks, scanning a table, load_mono."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from helpers.audio import SILENCE_PEAK, check_clip, load_clip, load_mono, scan_clips
from helpers.datasets import gtzan_table
from helpers.errors import DataError, ParameterError

SR = 22050


def write(path, seconds=1.0, sr=SR, channels=1, subtype="PCM_16", fmt=None, value=0.25):
    frames = int(seconds * sr)
    data = np.full((frames, channels), value, dtype=np.float32)
    sf.write(path, data if channels > 1 else data[:, 0], sr, subtype=subtype, format=fmt)
    return path


@pytest.fixture
def good(tmp_path):
    return write(tmp_path / "good.wav", seconds=2.0)


def test_load_good_clip(good):
    y = load_clip(good)
    assert y.shape == (2 * SR,) and y.dtype == np.float32
    assert y[100] == pytest.approx(0.25, abs=1e-3)
    assert check_clip(good) == {"path": str(good), "sr": SR, "channels": 1, "seconds": 2.0,
                                "ok": True, "problem": ""}


def test_offset_duration_and_resampling(good):
    assert load_clip(good, offset=0.5, duration=1.0).shape == (SR,)
    assert load_clip(good, sr=11025).shape == (SR,)
    assert load_clip(good, sr=None).shape == (2 * SR,)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.wav does not exist"):
        load_clip(tmp_path / "missing.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(DataError, match=r"empty\.wav is empty \(0 bytes\)"):
        load_clip(path)
    assert check_clip(path)["ok"] is False


def test_truncated_wav_is_detected_not_silently_shortened(tmp_path, good):
    path = tmp_path / "truncated.wav"
    path.write_bytes(good.read_bytes()[: 44 + SR])  # header says 2 s, half a second of data left
    with pytest.raises(DataError, match=r"truncated\.wav is truncated: its header declares 2\.00 s"):
        load_clip(path)


def test_truncated_au_is_detected(tmp_path):
    full = write(tmp_path / "full.au", seconds=2.0, fmt="AU")
    path = tmp_path / "truncated.au"
    path.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    assert load_clip(full).shape == (2 * SR,)
    with pytest.raises(DataError, match=r"truncated\.au is truncated"):
        load_clip(path)


def test_header_only_file_is_corrupt(tmp_path, good):
    path = tmp_path / "header_only.wav"
    path.write_bytes(good.read_bytes()[:30])
    with pytest.raises(DataError, match=r"header_only\.wav is corrupt or truncated"):
        load_clip(path)


def test_corrupt_clip(tmp_path, good):
    # A RIFF file whose header bytes are garbage, like GTZAN's unreadable jazz.00054.wav.
    data = bytearray(good.read_bytes())
    data[4:44] = bytes(range(40))
    path = tmp_path / "jazz.00054.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"jazz\.00054\.wav is corrupt"):
        load_clip(path)
    report = check_clip(path)
    assert report["ok"] is False and report["sr"] is None and "corrupt" in report["problem"]


def test_non_audio_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not a recording\n" * 20)
    with pytest.raises(DataError, match=r"notes\.wav is not an audio file"):
        load_clip(path)


def test_non_finite_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = np.zeros(SR, dtype=np.float32)
    data[10] = np.nan
    sf.write(path, data, SR, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav holds non-finite samples"):
        load_clip(path)


def test_wrong_sample_rate(tmp_path):
    path = write(tmp_path / "cd.wav", sr=44100)
    with pytest.raises(DataError, match=r"cd\.wav has sample rate 44100 Hz, expected 22050 Hz"):
        load_clip(path, expect_sr=SR)
    assert load_clip(path).shape == (SR,)  # without expect_sr it is resampled


def test_stereo(tmp_path):
    path = write(tmp_path / "stereo.wav", channels=2)
    with pytest.raises(DataError, match=r"stereo\.wav has 2 channels \(stereo\), expected mono"):
        load_clip(path, expect_mono=True)
    assert load_clip(path).shape == (SR,)
    assert load_clip(path, mono=False).shape == (2, SR)


def test_too_short(tmp_path):
    path = write(tmp_path / "short.wav", seconds=1.5)
    with pytest.raises(DataError, match=r"short\.wav is 1\.50 s long, shorter than the required 29 s"):
        load_clip(path, min_seconds=29)
    report = check_clip(path, min_seconds=29)
    assert report["ok"] is False and "shorter" in report["problem"]


def test_directory_is_not_a_clip(tmp_path):
    with pytest.raises(DataError, match="is not a file"):
        load_clip(tmp_path)


def test_scan_clips_reports_problems_with_a_count(synthetic_gtzan, tmp_path):
    root = tmp_path / "gtzan"
    shutil.copytree(synthetic_gtzan, root)
    (root / "genres/jazz/jazz.00001.wav").write_bytes(b"RIFF" + bytes(40))
    write(root / "genres/rock/rock.00000.wav", sr=44100, seconds=3.0)
    table = gtzan_table(root)
    report = scan_clips(table, n_jobs=2)
    assert len(report) == len(table) == 20
    assert report.attrs["n_problems"] == 2
    bad = report.loc[~report["ok"], "track_id"].tolist()
    assert bad == ["jazz.00001", "rock.00000"]
    assert any(p.startswith("rock.00000: has sample rate 44100 Hz") for p in report.attrs["problems"])
    good = report[report["ok"]]
    assert (good["sr"] == SR).all() and (good["channels"] == 1).all()
    assert good["seconds"].round(3).eq(3.0).all()


def test_real_mini_clips_are_clean(shared_data):
    table = gtzan_table(shared_data / "gtzan_mini")
    report = scan_clips(table, min_seconds=29.0, n_jobs=2)
    assert report.attrs["n_problems"] == 0, report.attrs["problems"]
    y = load_clip(table["path"].iloc[0], expect_sr=SR, expect_mono=True, min_seconds=29)
    assert 29 * SR <= len(y) <= 31 * SR


# --- issue 17: unreadable files, streamed WAVs; load_mono; bad arguments ---------------------------


def test_unreadable_file_is_a_data_error_naming_it(tmp_path, good, unprivileged):
    locked = shutil.copy(good, tmp_path / "locked.wav")
    locked.chmod(0)
    out = unprivileged(f"""
from helpers.audio import check_clip, load_clip, load_mono
from helpers.errors import DataError
for load in (load_clip, load_mono):
    try:
        load({str(locked)!r})
    except DataError as error:
        print("DataError:", error)
print("report:", check_clip({str(locked)!r})["problem"])
""", locked)
    message = f"DataError: audio file {locked} cannot be read (Permission denied)"
    assert out.count(message) == 2, out
    assert "report: cannot be read (Permission denied)" in out


@pytest.mark.parametrize("placeholder", [0x7FFFF000, 0xFFFFFFFF])
def test_streamed_wav_with_a_placeholder_size_is_read_whole(tmp_path, good, placeholder):
    data = bytearray(good.read_bytes())
    assert data[36:40] == b"data"  # the canonical 44-byte header soundfile writes
    data[4:8] = placeholder.to_bytes(4, "little")  # RIFF size
    data[40:44] = placeholder.to_bytes(4, "little")  # data size: a pipe's writer could not seek back
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    assert check_clip(path)["ok"] is True
    np.testing.assert_array_equal(load_clip(path), load_clip(good))
    # A real truncation is still caught.
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[: 44 + SR])
    assert "truncated" in check_clip(tmp_path / "cut.wav")["problem"]


def test_load_mono_mixes_down_resamples_and_refuses_silence(tmp_path):
    stereo = write(tmp_path / "stereo44k.wav", sr=44100, channels=2)
    y = load_mono(stereo, sr=SR)
    assert y.shape == (SR,) and y.dtype == np.float32
    assert y[SR // 2] == pytest.approx(0.25, abs=1e-3)
    silent = write(tmp_path / "silent.wav", value=SILENCE_PEAK / 10)
    with pytest.raises(DataError, match=r"silent\.wav is silent"):
        load_mono(silent)
    with pytest.raises(DataError, match="shorter than the required 2 s"):
        load_mono(stereo, min_seconds=2)


def test_bad_arguments_raise_parameter_error(good):
    for kwargs in ({"sr": 0}, {"sr": -22050}, {"sr": 22050.5}, {"offset": -1.0}, {"duration": 0},
                   {"min_seconds": -1}):
        with pytest.raises(ParameterError):
            load_clip(good, **kwargs)
    with pytest.raises(ParameterError, match="expect_sr"):
        check_clip(good, expect_sr=0)
    with pytest.raises(ParameterError, match="sr"):
        load_mono(good, sr=0)
