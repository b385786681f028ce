"""Tests of the data layer: GTZAN tables and flavours, the Spotify table (splits: test_splits.py)."""

from __future__ import annotations

import json
import shutil
import sys
import types

import pytest

from helpers import synth
from helpers.config import GENRES
from helpers.datasets import (
    DataError,
    gtzan_table,
    load_gtzan,
    load_spotify,
)
from helpers.datasets.gtzan import default_flavour, find_genre_root
from helpers.errors import ParameterError


@pytest.fixture
def gtzan_copy(synthetic_gtzan, tmp_path):
    """A writable copy of the synthetic folder (for breaking it)."""
    return shutil.copytree(synthetic_gtzan, tmp_path / "gtzan")


def test_table_columns_and_order(synthetic_gtzan):
    table = gtzan_table(synthetic_gtzan)
    assert list(table.columns) == ["path", "genre", "label", "track_id", "index"]
    assert table["genre"].tolist() == [g for g in GENRES for _ in range(2)]
    assert table["label"].tolist() == [GENRES.index(g) for g in table["genre"]]
    assert table["track_id"].iloc[:2].tolist() == ["blues.00000", "blues.00001"]
    assert table.attrs["root"].endswith("genres") and table.attrs["skipped"] == []


def test_kaggle_layout_and_macos_files(synthetic_gtzan, tmp_path):
    kaggle = tmp_path / "archive" / "Data" / "genres_original"
    shutil.copytree(synthetic_gtzan / "genres", kaggle)
    (kaggle / "blues" / "._blues.00000.wav").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (kaggle / "blues" / ".DS_Store").write_bytes(b"junk")
    (kaggle / "blues" / "notes.txt").write_text("not a clip")
    for root in (tmp_path / "archive", tmp_path / "archive" / "Data"):
        table = gtzan_table(root)
        assert len(table) == 20
        assert find_genre_root(root) == kaggle
    assert not any("._" in p for p in table["path"])


def test_au_clips_are_listed(gtzan_copy):
    wav = gtzan_copy / "genres/blues/blues.00001.wav"
    wav.rename(wav.with_suffix(".au"))
    table = gtzan_table(gtzan_copy)
    assert table.loc[table["track_id"] == "blues.00001", "path"].item().endswith(".au")


def test_missing_genre_folder(gtzan_copy):
    shutil.rmtree(gtzan_copy / "genres" / "reggae")
    with pytest.raises(DataError, match=r"genre folder .*reggae is missing"):
        gtzan_table(gtzan_copy)


def test_empty_genre_folder(gtzan_copy):
    for clip in (gtzan_copy / "genres" / "pop").iterdir():
        clip.unlink()
    with pytest.raises(DataError, match=r"pop holds no clips"):
        gtzan_table(gtzan_copy)


def test_not_a_gtzan_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        gtzan_table(tmp_path / "nowhere")
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match="no GTZAN genre folders"):
        gtzan_table(tmp_path / "photos")


def test_clip_in_the_wrong_genre_folder(gtzan_copy):
    shutil.copy(gtzan_copy / "genres/jazz/jazz.00000.wav", gtzan_copy / "genres/rock/jazz.00005.wav")
    with pytest.raises(DataError, match=r"jazz\.00005\.wav is named as genre 'jazz' but lies in"):
        gtzan_table(gtzan_copy)


def test_skip_unreadable_clips_with_a_warning(gtzan_copy):
    (gtzan_copy / "genres/jazz/jazz.00001.wav").write_bytes(b"RIFF" + bytes(60))
    (gtzan_copy / "genres/rock/rock.00000.wav").write_bytes(b"")
    assert len(gtzan_table(gtzan_copy)) == 20  # listing alone does not open files
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable GTZAN clip\(s\).*jazz\.00001.*rock\.00000"):
        table = gtzan_table(gtzan_copy, skip_unreadable=True)
    assert len(table) == 18 and "jazz.00001" not in set(table["track_id"])
    assert len(table.attrs["skipped"]) == 2


def test_recorded_faults_are_skipped(gtzan_copy):
    (gtzan_copy / "_complete.json").write_text(json.dumps({"faults": ["jazz.00001"]}))
    with pytest.warns(UserWarning, match=r"skipped 1 .*jazz\.00001: recorded as unreadable"):
        table = gtzan_table(gtzan_copy)
    assert len(table) == 19


def test_load_gtzan_from_path_and_env(synthetic_gtzan, data_home, monkeypatch):
    table = load_gtzan("mini", path=synthetic_gtzan)
    assert table.attrs["flavour"] == "mini" and len(table) == 20
    monkeypatch.setenv("GTZAN_FULL_DIR", str(synthetic_gtzan))
    assert load_gtzan("full").attrs["flavour"] == "full"
    monkeypatch.setenv("GTZAN_FLAVOUR", "full")
    assert default_flavour() == "full"
    assert load_gtzan().attrs["flavour"] == "full"


def test_load_gtzan_synthetic_flavour(synthetic_gtzan, data_home, monkeypatch):
    monkeypatch.setattr(synth, "synthetic_gtzan_dir", lambda: synthetic_gtzan)
    table = load_gtzan("synthetic")
    assert table.attrs["flavour"] == "synthetic" and len(table) == 20


def test_default_flavour_is_mini_even_on_colab(monkeypatch):
    monkeypatch.delenv("GTZAN_FLAVOUR", raising=False)
    assert default_flavour() == "mini"
    if "google" not in sys.modules:  # what ``import google.colab`` finds on Colab
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    import google.colab  # noqa: F401 - what a Colab check imports, found
    assert default_flavour() == "mini"
    monkeypatch.setenv("GTZAN_FLAVOUR", " Full ")
    assert default_flavour() == "full"


def test_bad_flavour(data_home, monkeypatch):
    with pytest.raises(ParameterError, match="unknown GTZAN flavour 'huge'"):
        load_gtzan("huge")
    monkeypatch.setenv("GTZAN_FLAVOUR", "tiny")
    with pytest.raises(ParameterError, match="GTZAN_FLAVOUR='tiny'"):
        default_flavour()


def test_real_mini_gtzan(shared_data, data_home):
    table = load_gtzan("mini", path=shared_data / "gtzan_mini")
    assert len(table) == 100 and table.attrs["flavour"] == "mini"
    assert table.groupby("genre").size().eq(10).all()
    assert table["index"].max() < 20  # clips 00000–00009 (jazz: 00011, 00012 replace two)


# --- Spotify ---------------------------------------------------------------------------------

def test_real_spotify(shared_data, data_home):
    table = load_spotify(shared_data / "spotify" / "spotify_songs.csv")
    assert table.attrs["source"] == "real"
    assert table.shape == (32833, 23)
    assert table["track_id"].nunique() == 28356


def test_spotify_bad_files(tmp_path, data_home):
    with pytest.raises(DataError, match=r"nothere\.csv does not exist"):
        load_spotify(tmp_path / "nothere.csv")
    path = tmp_path / "cut.csv"
    synth.synthetic_spotify(n=50).drop(columns=["tempo"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"cut\.csv lacks column\(s\) \['tempo'\]"):
        load_spotify(path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv is not a readable CSV"):
        load_spotify(empty)


# --- issue 17: data-layer gaps -----------------------------------------------------------------


def test_unreadable_clip_is_skipped_with_a_warning_naming_it(gtzan_copy, unprivileged):
    locked = gtzan_copy / "genres/jazz/jazz.00001.wav"
    locked.chmod(0)
    out = unprivileged(f"""
import warnings
from helpers.audio import scan_clips
from helpers.datasets import load_gtzan
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    table = load_gtzan("mini", path={str(gtzan_copy)!r})
print("clips:", len(table), "jazz.00001" in set(table["track_id"]))
print("warning:", " | ".join(str(w.message) for w in caught))
from helpers.datasets import gtzan_table
print("scan:", scan_clips(gtzan_table({str(gtzan_copy)!r})).attrs["problems"])
""", locked)
    assert "clips: 19 False" in out, out
    assert "skipped 1 unreadable GTZAN clip(s)" in out and "jazz.00001: cannot be read (Permission denied)" in out
    assert "scan: ['jazz.00001: cannot be read (Permission denied)']" in out


def test_odd_clip_names_are_accepted_or_named(gtzan_copy):
    blues = gtzan_copy / "genres/blues"
    (blues / "blues.00001.wav").rename(blues / "Blues.00001.WAV")  # unambiguous: accepted
    shutil.copy(blues / "blues.00000.wav", blues / "blues_00007.wav")
    shutil.copy(blues / "blues.00000.wav", blues / "take 2.mp3")
    with pytest.warns(UserWarning, match=r"ignored 2 file\(s\) .*blues/blues_00007\.wav, blues/take 2\.mp3"):
        table = gtzan_table(gtzan_copy)
    assert len(table) == 20 and table.loc[1, "track_id"] == "blues.00001"
    assert table.loc[1, "path"].endswith("Blues.00001.WAV")
    assert table.attrs["ignored"] == ["blues/blues_00007.wav", "blues/take 2.mp3"]


def test_a_wav_and_an_au_of_the_same_clip_are_refused(gtzan_copy):
    wav = gtzan_copy / "genres/rock/rock.00001.wav"
    shutil.copy(wav, wav.with_suffix(".au"))
    with pytest.raises(DataError, match=r"rock\.00001\.au and .*rock\.00001\.wav are both clip rock\.00001"
                                        r"|rock\.00001\.wav and .*rock\.00001\.au are both clip rock\.00001"):
        gtzan_table(gtzan_copy)


def test_spotify_csv_pointing_at_a_folder(tmp_path, data_home, monkeypatch):
    monkeypatch.setenv("SPOTIFY_CSV", str(tmp_path))
    with pytest.raises(DataError, match=rf"Spotify table {tmp_path} is a folder"):
        load_spotify()


def test_spotify_non_numeric_feature_is_named(tmp_path, data_home):
    table = synth.synthetic_spotify(n=50)
    table["energy"] = table["energy"].astype(object)
    table.loc[7, "energy"] = "loud"
    path = tmp_path / "songs.csv"
    table.to_csv(path, index=False)
    track = table.loc[7, "track_id"]
    with pytest.raises(DataError, match=rf"column 'energy' holds the non-numeric value 'loud' in data row 8 "
                                        rf"\(track_id '{track}'\)"):
        load_spotify(path)
    table.loc[7, "energy"] = "0.5"  # numbers written as text in a mixed column are fine
    table.to_csv(path, index=False)
    assert load_spotify(path)["energy"].dtype.kind == "f"


# --- issue 24 items 7, 14, 18: odd entries in a GTZAN folder, FIFOs, both layouts -----------------


def _make_entry(path, kind):
    """Put an entry of ``kind`` that is not a readable regular file at ``path``."""
    import os

    if kind == "dangling symbolic link":
        path.symlink_to(path.parent / "nowhere.wav")
    elif kind == "symbolic link loop":
        path.symlink_to(path)
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
        (path / "inside.wav").write_bytes(b"RIFF")


@pytest.mark.parametrize("kind", ["dangling symbolic link", "symbolic link loop", "FIFO", "folder"])
@pytest.mark.parametrize("name", ["blues.00007.wav", "take 2.mp3"])
def test_entries_named_like_clips_that_are_not_files_are_named_in_a_warning(gtzan_copy, kind, name):
    _make_entry(gtzan_copy / "genres" / "blues" / name, kind)
    with pytest.warns(UserWarning, match=rf"ignored 1 entry in .* named like clips that are not readable files: "
                                         rf"blues/{name} \(a {kind}\)"):
        table = gtzan_table(gtzan_copy)
    assert len(table) == 20 and table.attrs["not_files"] == [f"blues/{name} (a {kind})"]


def test_a_symbolic_link_to_a_clip_is_a_clip_and_hidden_entries_stay_silent(gtzan_copy):
    blues = gtzan_copy / "genres" / "blues"
    (blues / "blues.00005.wav").symlink_to(blues / "blues.00000.wav")
    (blues / "._blues.00006.wav").symlink_to(blues / "nowhere")  # hidden: ignored silently, as before
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = gtzan_table(gtzan_copy)
    assert "blues.00005" in set(table["track_id"]) and len(table) == 21


def test_both_layouts_present_say_which_is_used(synthetic_gtzan, tmp_path):
    root = tmp_path / "gtzan"
    shutil.copytree(synthetic_gtzan / "genres", root / "genres")
    shutil.copytree(synthetic_gtzan / "genres", root / "Data" / "genres_original")
    with pytest.warns(UserWarning, match=rf"several folders below {root} hold GTZAN genre folders: using "
                                         rf"{root / 'genres'}, not {root / 'Data' / 'genres_original'}"):
        table = gtzan_table(root)
    assert table.attrs["root"] == str(root / "genres")


NON_UTF8 = b"caf\xe9 \xff.wav"


@pytest.mark.parametrize("kind", ["file", "dangling symbolic link"])
def test_a_non_utf8_file_name_in_a_gtzan_folder_is_named_printably(gtzan_copy, kind):
    import os

    blues = os.fsencode(gtzan_copy / "genres" / "blues")
    target = os.path.join(blues, NON_UTF8)
    if kind == "file":
        shutil.copy(os.path.join(blues, b"blues.00000.wav"), target)
    else:
        os.symlink(b"nowhere", target)
    with pytest.warns(UserWarning) as caught:
        table = load_gtzan("mini", path=gtzan_copy)
    messages = [str(w.message) for w in caught]
    assert len(table) == 20
    assert any("blues/caf\\xe9 \\xff.wav" in m for m in messages), messages
    for message in messages:
        message.encode("utf-8")  # printable anywhere: no lone surrogates (a Jupyter kernel's stream refuses them)
    for entry in table.attrs["ignored"] + table.attrs["not_files"]:
        entry.encode("utf-8")


def test_a_gtzan_folder_whose_own_path_is_not_utf8_is_a_clear_error(synthetic_gtzan, tmp_path):
    import os

    root = os.path.join(os.fsencode(tmp_path), b"m\xfcsica")
    shutil.copytree(os.fsencode(synthetic_gtzan), root)
    with pytest.raises(DataError, match=r"m\\xfcsica/genres has a name that is not valid UTF-8"):
        gtzan_table(os.fsdecode(root))


@pytest.mark.parametrize("via", ["argument", "SPOTIFY_CSV"])
def test_spotify_csv_pointing_at_a_fifo_is_a_clear_error_not_a_hang(tmp_path, data_home, monkeypatch, via):
    import os
    import threading

    fifo = tmp_path / "songs.csv"
    os.mkfifo(fifo)
    if via == "SPOTIFY_CSV":
        monkeypatch.setenv("SPOTIFY_CSV", str(fifo))
    outcome = []

    def load():
        try:
            load_spotify(fifo if via == "argument" else None)
        except Exception as error:  # noqa: BLE001 - recorded and checked below
            outcome.append(error)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # release the reader blocked on the FIFO, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_spotify hung on a FIFO")
    [error] = outcome
    assert isinstance(error, DataError) and f"Spotify table {fifo} is a FIFO" in str(error)
