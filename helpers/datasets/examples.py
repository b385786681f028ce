"""librosa's example recordings, with a labelled offline stand-in.

Explained in chapter *Sound and sampling* (``chapters/02_sound_and_sampling.ipynb``); used again in
chapters *Spectrograms and MFCCs* and *Beyond*.

``librosa.ex(name)`` downloads a recording once with pooch (or finds it in ``$LIBROSA_DATA_DIR``).
On a machine without network and without that folder it cannot, so :func:`example_recording`
falls back to a synthetic stand-in, written once under :func:`helpers.config.data_home` and
announced with a printed notice — the chapter still runs, and says its sound is not the recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.config import SAMPLE_RATE, data_home, scratch_home
from helpers.errors import DataError
from helpers.files import atomic_path

#: Which synthetic genre stands in for each example when offline (rough character of the recording).
STAND_IN_GENRE = {
    "trumpet": "jazz",
    "brahms": "classical",
    "nutcracker": "classical",
    "vibeace": "jazz",
    "fishin": "country",
    "humpback": "classical",
    "libri1": "hiphop",
    "libri2": "hiphop",
    "libri3": "hiphop",
}

#: Length of each stand-in in seconds (close to the real recording's, capped at 30 s).
STAND_IN_SECONDS = {"trumpet": 5.3, "libri1": 14.0, "libri2": 10.0, "libri3": 12.0}


def example_recording(name: str) -> str:
    """Return the path of librosa's example ``name``, or of a labelled synthetic stand-in offline.

    Explained in chapter *Sound and sampling*.

    Parameters
    ----------
    name : str
        A key of ``librosa.util.list_examples()`` (the book uses the CC-BY and public-domain ones:
        trumpet, brahms, nutcracker, vibeace, fishin, humpback, libri1–3).

    Returns
    -------
    str
        A path that ``librosa.load`` reads.

    Raises
    ------
    librosa.util.exceptions.ParameterError
        If ``name`` is not one of librosa's examples.
    """
    import librosa

    try:
        return librosa.ex(name)
    except OSError as error:  # pooch/requests: no network, DNS failure, refused connection
        if name not in STAND_IN_GENRE:
            raise
        path = _stand_in(name)
        print(
            f"NOTICE: librosa's example {name!r} could not be downloaded ({type(error).__name__}).\n"
            f"        Using a SYNTHETIC stand-in ({path.name}): what you see and hear below is not the recording.\n"
            "        Set LIBROSA_DATA_DIR to a folder holding librosa's examples to use the real ones."
        )
        return str(path)


def _stand_in(name: str) -> Path:
    """Write (once, atomically) and return the synthetic stand-in for ``name``.

    It is written under :func:`helpers.config.data_home`; where that folder cannot be written, in
    :func:`helpers.config.scratch_home`, with a printed notice (a one-line :class:`DataError` if
    neither can).
    """
    import soundfile as sf

    from helpers import synth

    for home in (data_home(create=False), scratch_home(create=False)):
        if (home / "librosa_stand_ins" / f"{name}.wav").is_file():
            return home / "librosa_stand_ins" / f"{name}.wav"
    seed = sum(map(ord, name))
    y = synth.synth_clip(STAND_IN_GENRE[name], seconds=STAND_IN_SECONDS.get(name, 30.0),
                         rng=np.random.default_rng(seed))

    def write(folder: Path) -> Path:
        path = folder / "librosa_stand_ins" / f"{name}.wav"
        with atomic_path(path, suffix=".wav") as tmp:
            sf.write(tmp, y, SAMPLE_RATE, subtype="PCM_16")
        return path

    try:
        return write(data_home())
    except (OSError, DataError) as error:
        scratch = scratch_home()
        print(f"NOTICE: the data folder {data_home(create=False)} cannot be written "
              f"({getattr(error, 'strerror', None) or error}); the stand-in is written to {scratch} instead.")
        try:
            return write(scratch)
        except OSError as again:
            raise DataError(f"the stand-in for {name!r} cannot be written to {scratch} either "
                            f"({again.strerror or again}); set BOOK_DATA_DIR to a writable folder") from None
