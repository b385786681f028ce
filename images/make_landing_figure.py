"""Draw the landing page's figure, ``images/genre_spectrograms.png``, from real GTZAN clips.

Run from the repository root with a local mini GTZAN (the figure names the flavour it was drawn from)::

    GTZAN_MINI_DIR=/path/to/gtzan_mini .venv/bin/python images/make_landing_figure.py

One clip per genre (the first of each genre folder), its first 5 seconds as a log-mel spectrogram
(128 mel bands, 2048-sample frames every 512 samples — the representation of chapter 3).
"""

from pathlib import Path

import librosa
import librosa.display
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MultipleLocator  # noqa: E402

from helpers import GENRES, set_seed  # noqa: E402
from helpers.config import SAMPLE_RATE  # noqa: E402
from helpers.datasets import load_gtzan  # noqa: E402

OUT = Path(__file__).resolve().parent / "genre_spectrograms.png"
SECONDS = 5.0


def main() -> Path:
    set_seed()
    table = load_gtzan(fallback=False)
    flavour = table.attrs["flavour"]
    fig, axes = plt.subplots(2, 5, figsize=(13, 5.2), sharex=True, sharey=True, constrained_layout=True)
    image = None
    for ax, genre in zip(axes.flat, GENRES, strict=True):
        row = table[table["genre"] == genre].sort_values("index").iloc[0]
        y, sr = librosa.load(row["path"], sr=SAMPLE_RATE, duration=SECONDS)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
        log_mel = librosa.power_to_db(mel, ref=np.max)
        image = librosa.display.specshow(log_mel, sr=sr, hop_length=512, x_axis="time", y_axis="mel",
                                         ax=ax, vmin=-80, vmax=0, cmap="magma")
        ax.set_title(f"{genre} ({row['track_id']})", fontsize=10)
        ax.xaxis.set_major_locator(MultipleLocator(1.0))
        ax.label_outer()
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("frequency (Hz, mel scale)")
    fig.colorbar(image, ax=axes, format="%+2.0f dB", label="level (dB re. clip maximum)", shrink=0.8)
    fig.suptitle(f"Log-mel spectrograms: the first {SECONDS:.0f} s of one clip per genre ({flavour} GTZAN)")
    fig.savefig(OUT, dpi=90)
    return OUT


if __name__ == "__main__":
    print(main())
