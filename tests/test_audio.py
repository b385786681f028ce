"""Tests of helpers.audio: checked loading of clips, header checks, scanning a table, load_mono."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from helpers import audio
from helpers.audio import SILENCE_RMS, check_clip, load_clip, load_mono, scan_clips
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
    silent = write(tmp_path / "silent.wav", value=SILENCE_RMS / 10)
    with pytest.raises(DataError, match=r"silent\.wav is silent"):
        load_mono(silent)
    with pytest.raises(DataError, match="shorter than the required 2 s"):
        load_mono(stereo, min_seconds=2)


def _in_silence(kind: str) -> np.ndarray:
    """30 s of silence with one stray sample, one click, or 16-bit dither (noise below one step)."""
    y = np.zeros(30 * SR, dtype=np.float32)
    if kind == "one 2e-4 sample":
        y[12345] = 2e-4
    elif kind == "one click":
        y[SR * 10 : SR * 10 + 20] = np.hanning(20)
    else:  # triangular dither of +-1 step of 16-bit audio
        rng = np.random.default_rng(0)
        y = ((rng.integers(-1, 1, y.size, endpoint=True) + rng.integers(-1, 1, y.size, endpoint=True)) / 2 / 32768)
    return y.astype(np.float32)


@pytest.mark.parametrize("kind", ["one 2e-4 sample", "one click", "16-bit dither"])
def test_near_silence_is_judged_by_the_energy_over_the_clip(tmp_path, kind):
    """Issue 24 item 17: one 2e-4 sample or one click in 30 s of silence passed the peak check, and the
    level normalisation then made a confident genre of it."""
    path = tmp_path / "nearly_silent.wav"
    sf.write(path, _in_silence(kind), SR, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nearly_silent\.wav is silent: only 0\.\d\d s of it reaches -90 dBFS"):
        load_mono(path)


@pytest.mark.parametrize("seconds", [0.6, 30.0])
def test_quiet_sound_is_not_silence(tmp_path, seconds):
    """Music 60 dB down (a GTZAN-level clip x 1e-3, float WAV) is sound; so is a clip shorter than 1 s."""
    t = np.arange(int(seconds * SR)) / SR
    y = (1e-3 * 0.14 * np.sqrt(2) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(tmp_path / "quiet.wav", y, SR, subtype="FLOAT")
    np.testing.assert_array_equal(load_mono(tmp_path / "quiet.wav"), y)
    assert audio.sound_seconds(y, SR) == pytest.approx(seconds, abs=0.05)


def test_typical_level_is_the_median_clip_rms(tmp_path):
    paths = [write(tmp_path / f"{v}.wav", value=v, subtype="FLOAT") for v in (0.1, 0.4, 0.2)]
    assert audio.typical_level(paths) == pytest.approx(0.2, rel=1e-6)
    assert audio.clip_rms(np.full(10, -0.5)) == pytest.approx(0.5)


def test_a_file_name_that_is_not_utf8_is_read(tmp_path, good):
    """Issue 24 item 7: libsndfile got a name soundfile could not encode (UnicodeEncodeError)."""
    import os

    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    shutil.copy(good, odd)
    assert check_clip(odd)["ok"] is True
    np.testing.assert_array_equal(load_clip(odd), load_clip(good))


def test_max_seconds_refuses_a_longer_file_before_decoding(good, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("the file was decoded")

    monkeypatch.setattr(audio, "_decode", no_decoding)
    with pytest.raises(DataError, match=r"good\.wav is 2\.0 s long; at most 1\.5 s are read"):
        load_clip(good, max_seconds=1.5)
    with pytest.raises(ParameterError, match="max_seconds"):
        load_clip(good, max_seconds=0)


def test_bad_arguments_raise_parameter_error(good):
    for kwargs in ({"sr": 0}, {"sr": -22050}, {"sr": 22050.5}, {"offset": -1.0}, {"duration": 0},
                   {"min_seconds": -1}):
        with pytest.raises(ParameterError):
            load_clip(good, **kwargs)
    with pytest.raises(ParameterError, match="expect_sr"):
        check_clip(good, expect_sr=0)
    with pytest.raises(ParameterError, match="sr"):
        load_mono(good, sr=0)


# ------------------------------------------------------------------ decoding in blocks (issue 24 items 16, 19)


def _peak_traced_bytes(path, **kwargs) -> int:
    """Peak bytes NumPy allocated (tracemalloc) while loading ``path``."""
    import tracemalloc

    tracemalloc.start()
    try:
        load_clip(path, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_a_many_channel_file(tmp_path):
    """8 channels at 48 kHz, 4 s and 16 s: the whole-file read grew by 8 x 48000 x 12 s x 4 bytes (18 MB);
    block decoding grows by the longer result only (16 kHz mono: 12 s x 16000 x 4 bytes = 0.8 MB)."""
    rng = np.random.default_rng(0)
    paths = []
    for seconds in (4, 16):
        paths.append(tmp_path / f"eight_{seconds}.wav")
        sf.write(paths[-1], rng.uniform(-0.5, 0.5, (seconds * 48000, 8)).astype(np.float32), 48000, subtype="PCM_16")
    load_clip(paths[0], sr=16000)  # imports and first-call set-up are not part of the comparison
    short, long = (_peak_traced_bytes(p, sr=16000) for p in paths)
    result_growth = 12 * 16000 * 4
    assert long - short < 3 * result_growth + 1_000_000, (short, long)
    assert long < audio.BLOCK_SAMPLES * 4 * 3 + 3 * 16 * 16000 * 4, long  # a few blocks plus the result


def test_wav_with_a_zero_data_size_is_read(tmp_path):
    """A streamed WAV whose data-size field was left at 0 (the writer could not seek back) holds its samples."""
    y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR)).astype(np.float32)
    for subtype, bits in (("PCM_16", 16), ("PCM_24", 24), ("FLOAT", 32)):
        path = tmp_path / f"streamed_{bits}.wav"
        sf.write(path, np.stack([y, y], axis=1), SR, subtype=subtype)
        data = bytearray(path.read_bytes())
        at = data.index(b"data") + 4
        data[at:at + 4] = (0).to_bytes(4, "little")  # the data chunk declares no bytes
        data[4:8] = (0).to_bytes(4, "little")  # nor does the RIFF header
        path.write_bytes(bytes(data))
        report = check_clip(path)
        assert report["ok"] and report["channels"] == 2 and report["seconds"] == pytest.approx(2.0)
        got = load_clip(path, sr=SR)
        np.testing.assert_allclose(got, y, atol=1e-4)
        assert load_clip(path, sr=16000, offset=0.5, duration=1.0).shape == (16000,)


def test_container_without_a_decoder_names_it(tmp_path, monkeypatch):
    """An .m4a (MPEG-4 audio) file: libsndfile cannot read it; the message names the container and the decoder."""
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(2000))
    audioread = pytest.importorskip("audioread")
    monkeypatch.setattr(audioread, "available_backends", lambda flush_cache=False: [])
    with pytest.raises(DataError, match=r"song\.m4a is MPEG-4 audio .*no decoder for it \(FFmpeg") as error:
        load_clip(path)
    assert "NoBackendError" not in str(error.value) and "ffmpeg -i song.m4a" in str(error.value)
    import builtins

    real_import = builtins.__import__

    def no_audioread(name, *args, **kwargs):
        if name == "audioread":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_audioread)
    with pytest.raises(DataError, match=r"MPEG-4 audio .*no other decoder is installed: pip install audioread"):
        load_clip(path)


def test_block_resampling_equals_librosa(tmp_path):
    """Mixed down and resampled block by block (soxr's stream), the samples equal librosa.resample's of the
    whole mono signal, length included (its floating-point ceil: 5 s at 44.1 kHz -> 48 kHz is 240,001)."""
    librosa = pytest.importorskip("librosa")
    y = np.random.default_rng(1).normal(0, 0.1, (44100 * 5, 2)).astype(np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    for sr in (16000, 22050, 48000):
        expected = librosa.resample(y.mean(axis=1), orig_sr=44100, target_sr=sr)
        got = load_clip(path, sr=sr)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-6)

