"""Tests for helpers.mfcc (chapter *Spectrograms and MFCCs*): the from-scratch MFCC matches librosa."""

import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.fft

from helpers import mfcc as M
from helpers import signals as S
from helpers.errors import ParameterError

SR = 22050
#: The tolerance the chapter states: max |difference| of MFCCs on float64 input.
TOL_F64 = 1e-4
#: On float32 input librosa computes in single precision; the difference grows but stays small.
TOL_F32 = 1e-3


def _signals():
    rng = np.random.default_rng(1234)
    return {
        "tone": S.sine(440.0, 1.5),
        "chord": S.chord([220.0, 277.18, 329.63], 1.0),
        "noise": S.white_noise(1.5, rng),
        "chirp": S.chirp(50.0, 10000.0, 1.5),
        "clicks": S.click_track(120, 2.0)[0],
        "odd_length": S.sine(1000.0, 1.0)[:12345],
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_mfcc_matches_librosa_on_synthetic_signals(name):
    y = _signals()[name]
    ours = M.mfcc(y, sr=SR, n_mfcc=13)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13)
    assert ours.shape == ref.shape == (13, 1 + len(y) // 512)
    assert np.max(np.abs(ours - ref)) < TOL_F64
    # the features are not trivially small: the check would catch an error of a few dB
    assert np.max(np.abs(ref)) > 10


def test_log_mel_matches_librosa():
    y = _signals()["chirp"]
    ours = M.log_mel_spectrogram(y, SR)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR))
    assert ours.shape == ref.shape == (128, 1 + len(y) // 512)
    assert np.max(np.abs(ours - ref)) < 1e-4


def test_each_step_matches_its_librosa_counterpart():
    y = _signals()["noise"]
    frames = M.frame_signal(y)
    assert frames.shape == (2048, 1 + len(y) // 512)
    # frame t is centred on sample t * hop: frame 10's centre sample is y[5120]
    assert frames[1024, 10] == y[5120]
    # first frame starts with 1024 zeros of centre padding
    assert np.all(frames[:1024, 0] == 0) and frames[1024, 0] == y[0]
    np.testing.assert_allclose(M.hann_window(2048), librosa.filters.get_window("hann", 2048), atol=1e-15)
    power = M.power_spectrogram(frames, M.hann_window(2048))
    ref_power = np.abs(librosa.stft(y)) ** 2
    np.testing.assert_allclose(power, ref_power, rtol=1e-9, atol=1e-12)
    x = np.random.default_rng(0).standard_normal((128, 5))
    np.testing.assert_allclose(M.dct_matrix(13, 128) @ x, scipy.fft.dct(x, axis=0, type=2, norm="ortho")[:13], atol=1e-12)
    S_ = np.abs(x) ** 3
    np.testing.assert_allclose(M.power_to_db(S_), librosa.power_to_db(S_), atol=1e-12)
    np.testing.assert_allclose(M.power_to_db(S_, top_db=None), librosa.power_to_db(S_, top_db=None), atol=1e-12)


def test_dct_matrix_is_orthonormal():
    C = M.dct_matrix(64, 64)
    np.testing.assert_allclose(C @ C.T, np.eye(64), atol=1e-12)


@pytest.mark.parametrize(("sr", "n_fft", "n_mels", "fmin", "fmax"),
                         [(22050, 2048, 128, 0.0, None), (16000, 512, 40, 20.0, 8000.0), (44100, 4096, 64, 0.0, 11025.0)])
def test_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = M.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
    assert ours.shape == (n_mels, 1 + n_fft // 2)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)
    # every filter is a triangle: non-negative with a single peak
    assert np.all(ours >= 0) and np.all(ours.max(axis=1) > 0)


def test_mel_scale_round_trip_and_landmarks():
    freqs = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0])
    np.testing.assert_allclose(M.mel_to_hz(M.hz_to_mel(freqs)), freqs, atol=1e-9)
    np.testing.assert_allclose(M.hz_to_mel(freqs), librosa.hz_to_mel(freqs), atol=1e-12)
    assert M.hz_to_mel(1000.0) == pytest.approx(15.0)


def test_lifter_matches_librosa():
    y = _signals()["chord"]
    ours = M.lifter(M.mfcc(y), 22)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, lifter=22)
    assert np.max(np.abs(ours - ref)) < TOL_F64
    assert np.array_equal(M.lifter(ref, 0), ref)


def test_delta_matches_librosa():
    features = librosa.feature.mfcc(y=_signals()["clicks"], sr=SR)
    for width in (3, 9):
        np.testing.assert_allclose(M.delta(features, width), librosa.feature.delta(features, width=width), atol=1e-9)
    ramp = np.tile(np.arange(20.0) * 3.0, (2, 1))
    np.testing.assert_allclose(M.delta(ramp), 3.0)


def test_standardize_uses_given_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal([[-200.0], [50.0], [5.0]], [[30.0], [10.0], [1.0]], size=(3, 500))
    z, mean, std = M.standardize(train)
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=1), 1.0, atol=1e-6)
    test = train[:, :10] + 1.0
    z_test, mean2, std2 = M.standardize(test, mean, std)
    assert np.array_equal(mean2, mean) and np.array_equal(std2, std)
    np.testing.assert_allclose(z_test, (test - mean[:, None]) / (std[:, None] + 1e-8))
    batch = np.stack([train, train])
    zb, mb, _ = M.standardize(batch)
    np.testing.assert_allclose(mb, mean)
    assert zb.shape == batch.shape
    with pytest.raises(ParameterError, match="shape"):
        M.standardize(train, mean[:2], std)


def test_bad_arguments_raise_parameter_error():
    with pytest.raises(ParameterError, match="1-D"):
        M.mfcc(np.zeros((2, 4096)))
    with pytest.raises(ParameterError, match="floating"):
        M.mfcc(np.zeros(4096, dtype=np.int16))
    with pytest.raises(ParameterError, match="NaN"):
        M.mfcc(np.full(4096, np.nan))
    with pytest.raises(ParameterError, match="shorter than one frame"):
        M.frame_signal(np.zeros(100), center=False)
    with pytest.raises(ParameterError, match="hop_length must be a positive whole number, got 0"):
        M.frame_signal(np.zeros(4096), hop_length=0)
    with pytest.raises(ParameterError, match="window of shape"):
        M.power_spectrogram(np.zeros((2048, 3)), M.hann_window(1024))
    with pytest.raises(ParameterError, match="n_out <= n_in"):
        M.dct_matrix(20, 13)
    with pytest.raises(ParameterError, match="fmax"):
        M.mel_filterbank(22050, fmax=20000.0)
    with pytest.raises(ParameterError, match="width"):
        M.delta(np.zeros((13, 5)))


def _real_clip_check(path: Path, seconds: float | None = None):
    y32, sr = librosa.load(path, sr=SR, duration=seconds)
    y = y32.astype(np.float64)
    ours = M.mfcc(y)
    ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) < TOL_F64
    # librosa on the float32 samples it loads: single precision, still well inside the stated tolerance
    ref32 = librosa.feature.mfcc(y=y32, sr=SR, n_mfcc=13)
    assert np.max(np.abs(ours - ref32)) < TOL_F32


def test_matches_librosa_on_a_librosa_example():
    if not os.environ.get("LIBROSA_DATA_DIR") or not Path(os.environ["LIBROSA_DATA_DIR"]).is_dir():
        pytest.skip("LIBROSA_DATA_DIR not set: librosa's example recordings are not available offline")
    try:
        path = librosa.ex("trumpet")
    except Exception as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"librosa example not available: {error}")
    _real_clip_check(Path(path))


def test_matches_librosa_on_a_gtzan_clip():
    mini = os.environ.get("GTZAN_MINI_DIR")
    if not mini or not Path(mini).is_dir():
        pytest.skip("GTZAN_MINI_DIR not set: no real GTZAN clip on this machine")
    from helpers.datasets import gtzan_table

    table = gtzan_table(mini)
    _real_clip_check(Path(table.loc[0, "path"]), seconds=10.0)
