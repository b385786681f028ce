"""Tests for helpers.signals (chapter *Sound and sampling*)."""

import numpy as np
import pytest

from helpers import signals as S
from helpers.errors import ParameterError


def _peak_frequency(y, sr):
    freqs, mag = S.magnitude_spectrum(y, sr)
    return freqs[np.argmax(mag)], mag.max()


def test_report_arithmetic():
    assert S.n_samples(30.0) == 661_500
    assert S.n_samples(3.0, 22050) == 66_150
    assert len(S.sine(440.0, 30.0)) == 661_500
    t = S.time_axis(1.0, 8000)
    assert t[0] == 0 and t[1] == pytest.approx(1 / 8000) and len(t) == 8000


def test_sine_frequency_amplitude_and_phase():
    y = S.sine(440.0, 1.0, 22050, amplitude=0.25)
    assert y.dtype == np.float64
    assert np.max(np.abs(y)) == pytest.approx(0.25, rel=1e-3)
    f, mag = _peak_frequency(y, 22050)
    assert f == pytest.approx(440.0, abs=1.0)
    assert mag == pytest.approx(0.25, rel=0.02)
    assert S.sine(100.0, 0.01, phase=np.pi / 2)[0] == pytest.approx(0.5)


def test_chord_contains_each_note():
    notes = (220.0, 330.0, 440.0)
    y = S.chord(notes, 1.0, amplitude=0.8)
    assert np.max(np.abs(y)) == pytest.approx(0.8)
    freqs, mag = S.magnitude_spectrum(y)
    top3 = np.sort(freqs[np.argsort(mag)[-3:]])
    np.testing.assert_allclose(top3, notes, atol=1.0)


def test_noise_is_reproducible_and_flat():
    a = S.white_noise(1.0, np.random.default_rng(7), amplitude=0.1)
    b = S.white_noise(1.0, np.random.default_rng(7), amplitude=0.1)
    assert np.array_equal(a, b)
    assert a.std() == pytest.approx(0.1, rel=0.05)
    _, mag = S.magnitude_spectrum(a)
    low, high = mag[: len(mag) // 2].mean(), mag[len(mag) // 2 :].mean()
    assert low == pytest.approx(high, rel=0.1)
    with pytest.raises(ParameterError, match="Generator"):
        S.white_noise(1.0, 7)


def test_chirp_sweeps_upwards():
    sr = 22050
    y = S.chirp(200.0, 4000.0, 2.0, sr)
    first, _ = _peak_frequency(y[: sr // 4], sr)
    last, _ = _peak_frequency(y[-sr // 4 :], sr)
    assert first < 800 < 3400 < last


def test_click_track_onsets():
    y, beats = S.click_track(120, 2.0, 22050)
    np.testing.assert_allclose(beats, [0.0, 0.5, 1.0, 1.5])
    energy = np.abs(y)
    for t in beats:
        start = int(t * 22050)
        assert energy[start : start + 200].max() > 0.1
    # silence between clicks
    assert energy[int(0.25 * 22050) : int(0.45 * 22050)].max() == 0


def test_alias_frequency_and_a_sampled_tone_agree():
    sr = 22050
    assert S.alias_frequency(1000.0, sr) == 1000.0
    assert S.alias_frequency(sr / 2, sr) == sr / 2
    assert S.alias_frequency(15000.0, sr) == pytest.approx(7050.0)
    assert S.alias_frequency(23050.0, sr) == pytest.approx(1000.0)
    y = S.sine(15000.0, 1.0, sr)
    f, _ = _peak_frequency(y, sr)
    assert f == pytest.approx(7050.0, abs=1.0)
    # a tone above Nyquist is sample-for-sample the folded tone (up to sign/phase)
    np.testing.assert_allclose(S.sine(23050.0, 0.1, sr), S.sine(1000.0, 0.1, sr), atol=1e-9)


def test_quantize():
    y = S.sine(5.0, 1.0, 1000, amplitude=0.7)
    q = S.quantize(y, 3)  # 8 levels, step 1/4: the rounding error is at most half a step
    assert len(np.unique(q)) <= 8
    assert np.max(np.abs(q - y)) <= 1 / 2**3 + 1e-12
    assert np.max(np.abs(q - y)) > 0.05
    q16 = S.quantize(y, 16)
    assert np.max(np.abs(q16 - y)) <= 2**-16 + 1e-12
    assert S.quantize(np.array([2.0, -2.0]), 8).tolist() == [127 / 128, -1.0]
    with pytest.raises(ParameterError, match="bit depth"):
        S.quantize(y, 0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: S.sine(-1.0), "frequency"),
        (lambda: S.sine(440.0, -1.0), "duration"),
        (lambda: S.sine(440.0, 1.0, sr=0), "sample rate"),
        (lambda: S.chord([]), "at least one"),
        (lambda: S.click_track(0), "tempo"),
        (lambda: S.magnitude_spectrum(np.zeros((2, 2))), "1-D"),
        (lambda: S.chirp(-5.0, 100.0), "chirp"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_audio_player_embeds_small_mp3():
    from helpers.signals import audio_player, sine

    y = sine(440.0, 3.0, 22050)
    player = audio_player(y, 22050, seconds=2.0)
    html = player._repr_html_()
    assert player.mimetype == "audio/mpeg"
    assert "audio/mpeg" in html
    # 2 s of 16-bit WAV would be ~88 kB (~118 kB as base64); the MP3 is far smaller
    assert len(html) < 30_000


def test_audio_player_rejects_stereo():
    import numpy as np
    import pytest

    from helpers.errors import ParameterError
    from helpers.signals import audio_player

    with pytest.raises(ParameterError, match="mono"):
        audio_player(np.zeros((2, 100)), 22050)


def test_audio_player_lossless_keeps_the_samples():
    import base64
    import io
    import re

    import soundfile as sf

    y4 = S.quantize(S.sine(440.0, 2.0, 16000, amplitude=0.8), 4)  # 16 levels: an MP3 would smear them
    player = S.audio_player(y4, 16000, seconds=1.5, lossless=True)
    html = player._repr_html_()
    assert player.mimetype == "audio/wav"
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)
    decoded, rate = sf.read(io.BytesIO(base64.b64decode(payload)), dtype="float64")
    assert rate == 16000 and decoded.size == 24000
    assert np.max(np.abs(decoded - y4[:24000])) < 2 / 2**15  # only 16-bit rounding
    assert len(np.unique(np.round(decoded * 8))) <= 16
    # 1.5 s of 16-bit mono at 16 kHz: 48 kB of samples, about 64 kB as base64
    assert len(html) < 70_000


def test_audio_player_lossless_scales_loud_signals_down():
    import base64
    import io
    import re

    import soundfile as sf

    player = S.audio_player(3.0 * S.sine(100.0, 0.5, 8000, amplitude=1.0), 8000, lossless=True)
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)", player._repr_html_()).group(1)
    decoded, _ = sf.read(io.BytesIO(base64.b64decode(payload)), dtype="float64")
    assert 0.99 < np.max(np.abs(decoded)) <= 1.0


def test_sinc_reconstruct_recovers_a_band_limited_signal():
    sr = 50.0
    n = np.arange(2000)
    # two sines below the Nyquist frequency of 25 Hz
    signal = lambda t: np.sin(2 * np.pi * 3.0 * t) + 0.5 * np.cos(2 * np.pi * 11.0 * t + 0.3)  # noqa: E731
    samples = signal(n / sr)
    t = np.linspace(15.0, 25.0, 777)  # between the samples, far from both ends
    assert np.max(np.abs(S.sinc_reconstruct(samples, sr, t) - signal(t))) < 0.02
    # at the sample times it returns the samples themselves
    assert np.allclose(S.sinc_reconstruct(samples, sr, n[:50] / sr), samples[:50])


def test_sinc_reconstruct_cannot_undo_aliasing():
    sr = 10.0
    n = np.arange(400)
    samples = np.sin(2 * np.pi * 9.0 * n / sr)  # 9 Hz is above Nyquist (5 Hz)
    t = np.linspace(15.0, 25.0, 500)
    rebuilt = S.sinc_reconstruct(samples, sr, t)
    assert np.max(np.abs(rebuilt + np.sin(2 * np.pi * 1.0 * t))) < 0.05  # the 1 Hz alias comes back


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: S.sinc_reconstruct(np.zeros((2, 2)), 10.0, np.zeros(3)), "1-D"),
        (lambda: S.sinc_reconstruct(np.zeros(5), 0.0, np.zeros(3)), "sample rate"),
        (lambda: S.audio_player(np.array([0.0, np.nan]), 8000, lossless=True), "finite"),
    ],
)
def test_bad_reconstruction_and_player_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
