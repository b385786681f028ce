"""Tests of the downloads: helpers.datasets.remote (checksums, mirrors, timeouts, offline fallback)
and GTZAN's archives (helpers.datasets.gtzan.fetch_gtzan: atomic extraction, verification).

No test touches the internet: downloads come from a local HTTP server on 127.0.0.1 or from a
mocked ``retrieve``. Timeouts are tested by their logic (the configured value is used, the next
mirror is tried), never by the wall clock.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import socket
import tarfile
import threading
import zipfile

import pytest
import requests

from helpers import synth
from helpers.datasets import (
    DataError,
    gtzan,
    gtzan_table,
    load_gtzan,
    load_spotify,
    remote,
)
from helpers.datasets.remote import DownloadError
from helpers.errors import ParameterError
from helpers.splits import load_filtered_split


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/cut/"):  # announce 100 kB, send 1 kB, hang up: an interrupted download
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server serving ``tmp_path/www``; yields (base_url, folder)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(www), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", www
    httpd.shutdown()
    httpd.server_close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_download_with_matching_hash(server, tmp_path):
    base, www = server
    (www / "songs.csv").write_bytes(b"a,b\n1,2\n")
    folder = tmp_path / "cache"
    path = remote.retrieve([base + "songs.csv"], sha256(b"a,b\n1,2\n"), "songs.csv", folder)
    assert path == folder / "songs.csv" and path.read_bytes() == b"a,b\n1,2\n"


def test_mirror_is_used_when_the_first_url_fails(server, tmp_path):
    base, www = server
    (www / "songs.csv").write_bytes(b"data")
    path = remote.retrieve([base + "missing.csv", base + "songs.csv"], sha256(b"data"), "s.csv",
                           tmp_path / "cache")
    assert path.read_bytes() == b"data"


def test_checksum_mismatch_names_file_and_both_hashes_and_leaves_nothing(server, tmp_path):
    base, www = server
    (www / "songs.csv").write_bytes(b"tampered")
    folder = tmp_path / "cache"
    expected = sha256(b"original")
    with pytest.raises(DataError) as info:
        remote.retrieve([base + "songs.csv"], expected, "songs.csv", folder)
    message = str(info.value)
    assert "songs.csv" in message and "checksum mismatch" in message
    assert expected.split(":")[1] in message and sha256(b"tampered").split(":")[1] in message
    assert list(folder.iterdir()) == []


def test_interrupted_download_leaves_nothing(server, tmp_path):
    base, _ = server
    folder = tmp_path / "cache"
    with pytest.raises((DownloadError, DataError)):
        remote.retrieve([base + "cut/big.bin"], sha256(b"whatever"), "big.bin", folder)
    assert list(folder.iterdir()) == []


def test_unreachable_server_raises_download_error(tmp_path):
    with pytest.raises(DownloadError, match=r"could not download x\.bin \(127\.0\.0\.1:9: no connection"):
        remote.retrieve(["http://127.0.0.1:9/x.bin"], None, "x.bin", tmp_path)


@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers; yields (base_url, accepted)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # held open, never answered
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/", accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_silent_mirror_costs_the_configured_timeout_once_then_the_next_host_is_tried(
        silent_server, server, tmp_path, monkeypatch):
    import pooch

    silent, accepted = silent_server
    base, www = server
    (www / "songs.csv").write_bytes(b"data")
    timeouts = []
    real_downloader = pooch.HTTPDownloader

    def spy(**kwargs):
        timeouts.append(kwargs.get("timeout"))
        return real_downloader(**kwargs)

    monkeypatch.setattr(pooch, "HTTPDownloader", spy)
    monkeypatch.setenv("BOOK_DOWNLOAD_TIMEOUT", "0.3")
    path = remote.retrieve([silent + "a.csv", silent + "b.csv", base + "songs.csv"], sha256(b"data"),
                           "songs.csv", tmp_path / "cache")
    assert path.read_bytes() == b"data"  # the fallback to the answering host happened
    assert timeouts == [(0.3, 0.3)]  # the one configured timeout is the one used
    assert len(accepted) == 1  # the silent host was asked once, not once per URL on it
    with pytest.raises(DownloadError, match=r"no answer: timed out"):
        remote.retrieve([silent + "a.csv"], None, "a.csv", tmp_path / "cache")


def test_download_timeout_is_configured_in_one_place(monkeypatch):
    from helpers import config

    monkeypatch.delenv("BOOK_DOWNLOAD_TIMEOUT", raising=False)
    assert config.download_timeout() == config.DOWNLOAD_TIMEOUT
    monkeypatch.setenv("BOOK_DOWNLOAD_TIMEOUT", "2,45")
    assert config.download_timeout() == (2.0, 45.0)
    monkeypatch.setenv("BOOK_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ParameterError, match="BOOK_DOWNLOAD_TIMEOUT"):
        config.download_timeout()


def no_network(*args, **kwargs):
    raise requests.exceptions.ConnectionError("Failed to resolve 'github.com' (NameResolutionError)")


def test_no_network_falls_back_to_synthetic_with_a_notice(data_home, monkeypatch, capsys, synthetic_gtzan):
    monkeypatch.setattr("pooch.retrieve", no_network)
    monkeypatch.setattr(synth, "synthetic_gtzan_dir", lambda: synthetic_gtzan)
    with pytest.raises(DownloadError, match="no network"):
        remote.fetch_spotify()
    spotify = load_spotify()
    table = load_gtzan("mini")
    split = load_filtered_split()
    out = capsys.readouterr().out
    assert out.count("NOTICE") == 3 and "SYNTHETIC" in out and "STAND-IN" in out
    assert spotify.attrs["source"] == "synthetic" and table.attrs["flavour"] == "synthetic"
    assert split.source == "stand-in"
    with pytest.raises(OSError):
        load_gtzan("mini", fallback=False)


def test_offline_and_download_false_never_touch_the_network(data_home, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr("pooch.retrieve", forbidden)
    for fetch in (remote.fetch_spotify, remote.fetch_filtered_split, lambda **k: gtzan.fetch_gtzan("full", **k)):
        with pytest.raises(DownloadError, match="download=False"):
            fetch(download=False)
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    for fetch in (remote.fetch_spotify, remote.fetch_filtered_split, lambda: gtzan.fetch_gtzan("mini")):
        with pytest.raises(DownloadError, match="BOOK_OFFLINE"):
            fetch()
    with pytest.raises(ParameterError, match="cannot be downloaded"):
        gtzan.fetch_gtzan("synthetic")


def test_cached_file_with_a_wrong_hash_is_named_then_replaced(data_home, monkeypatch, capsys):
    folder = data_home / "spotify"
    folder.mkdir(parents=True)
    cached = folder / "spotify_songs.csv"
    cached.write_text("stale copy")
    calls = []

    def fake_retrieve(urls, known_hash, fname, target):
        calls.append((known_hash, capsys.readouterr().out))  # what was printed before the download
        (target / fname).write_text("fresh")
        return target / fname

    monkeypatch.setattr(remote, "retrieve", fake_retrieve)
    assert remote.fetch_spotify().read_text() == "fresh"
    [(known_hash, printed)] = calls
    assert known_hash == remote.SPOTIFY_HASH
    assert f"the cached file {cached} failed its checksum" in printed


def test_cached_split_list_with_a_wrong_hash_is_named_in_the_fallback(data_home, monkeypatch, capsys):
    folder = data_home / "gtzan_split"
    folder.mkdir(parents=True)
    (folder / "train_filtered.txt").write_text("blues/blues.00000.wav\n")
    monkeypatch.setattr("pooch.retrieve", no_network)
    split = load_filtered_split()
    out = capsys.readouterr().out
    assert split.source == "stand-in"
    assert out.index(f"the cached file {folder / 'train_filtered.txt'} failed its checksum") < out.index("STAND-IN")


# --- GTZAN archives ---------------------------------------------------------------------------

@pytest.fixture
def small_expectations(monkeypatch):
    """Make fetch_gtzan accept the 2-clips-per-genre, 3 s synthetic fixture as a complete GTZAN."""
    monkeypatch.setattr(gtzan, "EXPECTED", {
        "mini": {"n_per_genre": 2, "seconds": (2.5, 3.5), "known_faults": ()},
        "full": {"n_per_genre": 2, "seconds": (2.5, 3.5), "known_faults": ("jazz.00001",)},
    })


def make_zip(source, path, prefix="gtzan_mini-main/"):
    with zipfile.ZipFile(path, "w") as zipped:
        for file in sorted(source.rglob("*")):
            if file.is_file():
                zipped.write(file, prefix + str(file.relative_to(source)))
    return path


def make_tar(source, path):
    with tarfile.open(path, "w:gz") as tarred:
        tarred.add(source / "genres", arcname="genres")
    return path


def fake_download(archive, calls=None):
    def retrieve(urls, known_hash, fname, folder):
        if calls is not None:
            calls.append(known_hash)
        folder.mkdir(parents=True, exist_ok=True)
        return shutil.copy(archive, folder / fname)
    return retrieve


def test_fetch_mini_extracts_verifies_and_cleans_up(data_home, synthetic_gtzan, tmp_path, monkeypatch,
                                                    small_expectations):
    archive = make_zip(synthetic_gtzan, tmp_path / "main.zip")
    monkeypatch.setattr(remote, "retrieve", fake_download(archive))
    folder = gtzan.fetch_gtzan("mini")
    assert folder == data_home / "gtzan_mini"
    marker = json.loads((folder / "_complete.json").read_text())
    assert marker["archive_hash"] == gtzan.MINI_HASH and marker["clips"] == 20
    assert len(gtzan_table(folder)) == 20
    assert not (data_home / "downloads" / "gtzan_mini.zip").exists()
    assert not [p for p in data_home.iterdir() if p.name.startswith(".")]
    # Cached now: no second download, and load_gtzan finds it.
    monkeypatch.setattr(remote, "retrieve", no_network)
    assert gtzan.fetch_gtzan("mini") == folder
    assert load_gtzan("mini").attrs["flavour"] == "mini"


def test_interrupted_extraction_leaves_no_complete_looking_folder(data_home, synthetic_gtzan, tmp_path,
                                                                  monkeypatch, small_expectations):
    archive = make_zip(synthetic_gtzan, tmp_path / "main.zip")
    monkeypatch.setattr(remote, "retrieve", fake_download(archive))
    real_extract = remote.extract_archive

    def extract_then_die(archive, destination):
        real_extract(archive, destination)
        raise KeyboardInterrupt  # e.g. the user pressed Ctrl-C during extraction

    monkeypatch.setattr(remote, "extract_archive", extract_then_die)
    with pytest.raises(KeyboardInterrupt):
        gtzan.fetch_gtzan("mini")
    assert not (data_home / "gtzan_mini").exists()
    assert not [p for p in data_home.iterdir() if p.name.startswith(".gtzan")]
    # A half folder left by hand (or an older version) is not taken for a complete one.
    (data_home / "gtzan_mini" / "genres" / "blues").mkdir(parents=True)
    monkeypatch.setattr(remote, "extract_archive", real_extract)
    folder = gtzan.fetch_gtzan("mini")
    assert (folder / "_complete.json").is_file() and len(gtzan_table(folder)) == 20


def test_damaged_archive_is_rejected_and_removed(data_home, tmp_path, monkeypatch):
    archive = tmp_path / "main.zip"
    archive.write_bytes(b"PK\x03\x04 this zip was cut short")
    monkeypatch.setattr(remote, "retrieve", fake_download(archive))
    with pytest.raises(DataError, match="neither a zip nor a tar|damaged"):
        gtzan.fetch_gtzan("mini")
    assert not (data_home / "gtzan_mini").exists()
    assert not (data_home / "downloads" / "gtzan_mini.zip").exists()


def test_archive_with_a_bad_clip_fails_verification(data_home, synthetic_gtzan, tmp_path, monkeypatch,
                                                   small_expectations):
    source = shutil.copytree(synthetic_gtzan, tmp_path / "src")
    (source / "genres/metal/metal.00001.wav").write_text("not audio")
    monkeypatch.setattr(remote, "retrieve", fake_download(make_zip(source, tmp_path / "main.zip")))
    with pytest.raises(DataError, match=r"metal\.00001\.wav is not an audio file"):
        gtzan.fetch_gtzan("mini")
    assert not (data_home / "gtzan_mini").exists()


def test_fetch_full_records_the_archive_hash_and_pins_it(data_home, synthetic_gtzan, tmp_path,
                                                         monkeypatch, small_expectations):
    source = shutil.copytree(synthetic_gtzan, tmp_path / "src")
    (source / "genres/jazz/jazz.00001.wav").write_bytes(b"RIFF" + bytes(40))  # the known fault
    (source / "genres/blues/._blues.00000.wav").write_bytes(b"\x00\x05\x16\x07")
    archive = make_tar(source, tmp_path / "genres.tar.gz")
    calls = []
    monkeypatch.setattr(remote, "retrieve", fake_download(archive, calls))
    folder = gtzan.fetch_gtzan("full")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    record = json.loads((data_home / "gtzan_full.sha256.json").read_text())
    assert record["sha256"] == digest and calls == [None]
    marker = json.loads((folder / "_complete.json").read_text())
    assert marker["faults"] == ["jazz.00001"] and marker["archive_hash"] == digest
    with pytest.warns(UserWarning, match=r"jazz\.00001"):
        table = load_gtzan("full")
    assert len(table) == 19 and table.attrs["flavour"] == "full"
    # A later download must match the recorded hash.
    shutil.rmtree(folder)
    folder = gtzan.fetch_gtzan("full")
    assert calls == [None, f"sha256:{digest}"]


def test_verifier_on_a_fake_full_tree(synthetic_gtzan, tmp_path):
    tree = shutil.copytree(synthetic_gtzan, tmp_path / "tree")
    report = gtzan.verify_gtzan_content(tree, n_per_genre=2, seconds=(2.5, 3.5))
    assert report == {"clips": 20, "faults": []}
    with pytest.raises(DataError, match=r"holds 2 clips, expected 100"):
        gtzan.verify_gtzan_content(tree)  # too few clips for full GTZAN (and too short)
    with pytest.raises(DataError, match=r"is 3\.00 s long, expected 29–31 s"):
        gtzan.verify_gtzan_content(tree, n_per_genre=2)
    (tree / "genres/pop/pop.00001.wav").write_bytes(b"")
    (tree / "genres/jazz/jazz.00001.wav").write_bytes(b"RIFF" + bytes(40))
    with pytest.raises(DataError, match=r"(?s)2 problem\(s\).*jazz\.00001\.wav is corrupt.*pop\.00001\.wav is empty"):
        gtzan.verify_gtzan_content(tree, n_per_genre=2, seconds=(2.5, 3.5))
    (tree / "genres/pop/pop.00001.wav").unlink()
    shutil.rmtree(tree / "genres/rock")
    with pytest.raises(DataError, match=r"rock is missing"):
        gtzan.verify_gtzan_content(tree, n_per_genre=2, seconds=(2.5, 3.5))


def test_unsafe_zip_paths_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../outside.txt", "escape")
    with pytest.raises(DataError, match="unsafe path"):
        remote.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()


# --- issue 24 item 1: a cached file that fails its checksum is never deleted ----------------------

CRLF_SPLIT = b"blues/blues.00000.wav\r\nblues/blues.00001.wav\r\n"  # e.g. the user's copy, converted to CRLF


def _stale_copy(data_home, which):
    """A cached Spotify table or split list whose bytes fail the pinned hash; returns its path."""
    if which == "spotify":
        path = data_home / "spotify" / "spotify_songs.csv"
    else:
        path = data_home / "gtzan_split" / "train_filtered.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(CRLF_SPLIT if which == "split" else b"track_id,playlist_genre\r\nabc,pop\r\n")
    return path


def _fetch(which, **kwargs):
    return (remote.fetch_spotify if which == "spotify" else remote.fetch_filtered_split)(**kwargs)


@pytest.mark.parametrize("how", ["BOOK_OFFLINE", "download=False"])
@pytest.mark.parametrize("which", ["spotify", "split"])
def test_offline_a_cached_file_failing_its_checksum_is_kept_and_reported(data_home, monkeypatch, capsys,
                                                                          which, how):
    path = _stale_copy(data_home, which)
    before = path.read_bytes()
    monkeypatch.setattr("pooch.retrieve", lambda *a, **k: pytest.fail("a download was attempted"))
    if how == "BOOK_OFFLINE":
        monkeypatch.setenv("BOOK_OFFLINE", "1")
    with pytest.raises(DownloadError, match=how):
        _fetch(which, download=how != "download=False")
    out = capsys.readouterr().out
    assert path.read_bytes() == before and sorted(path.parent.iterdir()) == [path]  # kept, nothing aside
    assert f"the cached file {path} failed its checksum" in out
    assert "kept as it is and not used" in out and how in out
    assert "will be downloaded" not in out and "fresh download" not in out and "removed" not in out
    variable = "SPOTIFY_CSV" if which == "spotify" else "GTZAN_SPLIT_DIR"
    assert f"set {variable}=" in out


@pytest.mark.parametrize("which", ["spotify", "split"])
def test_the_fallbacks_keep_a_cached_file_failing_its_checksum_offline(data_home, monkeypatch, capsys, which):
    path = _stale_copy(data_home, which)
    before = path.read_bytes()
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    if which == "spotify":
        assert load_spotify().attrs["source"] == "synthetic"
    else:
        assert load_filtered_split().source == "stand-in"
    out = capsys.readouterr().out
    assert path.read_bytes() == before and "will be downloaded again" not in out


def _serve_as_spotify(monkeypatch, server, body):
    base, www = server
    (www / "songs.csv").write_bytes(body)
    monkeypatch.setattr(remote, "SPOTIFY_URLS", [base + "songs.csv"])
    monkeypatch.setattr(remote, "SPOTIFY_HASH", sha256(b"the real table"))


def test_online_a_failed_download_leaves_the_old_file_in_place(data_home, monkeypatch, server):
    path = _stale_copy(data_home, "spotify")
    before = path.read_bytes()
    _serve_as_spotify(monkeypatch, server, b"a tampered mirror")  # a real pooch download, wrong hash
    with pytest.raises(DataError, match="checksum mismatch"):
        remote.fetch_spotify()
    assert path.read_bytes() == before and sorted(path.parent.iterdir()) == [path]
    monkeypatch.setattr("pooch.retrieve", no_network)
    with pytest.raises(DownloadError):
        remote.fetch_spotify()
    assert path.read_bytes() == before and sorted(path.parent.iterdir()) == [path]


def test_online_the_old_file_is_replaced_only_by_a_verified_download_and_kept_aside(data_home, monkeypatch,
                                                                                    server, capsys):
    path = _stale_copy(data_home, "spotify")
    before = path.read_bytes()
    _serve_as_spotify(monkeypatch, server, b"the real table")
    assert remote.fetch_spotify().read_bytes() == b"the real table"
    aside = path.with_name(f"{path.name}.failed-checksum-{hashlib.sha256(before).hexdigest()[:12]}")
    assert aside.read_bytes() == before and sorted(path.parent.iterdir()) == sorted([path, aside])
    assert f"is then kept as {aside.name}" in capsys.readouterr().out


def test_a_cached_fifo_is_refused_not_read(data_home, monkeypatch):
    import os

    folder = data_home / "spotify"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "spotify_songs.csv")
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    with pytest.raises(DataError, match=r"spotify_songs\.csv is not a regular file \(a FIFO\)"):
        remote.fetch_spotify()


# --- issue 24 item 12: a damaged _complete.json is treated as absent ------------------------------

DAMAGED_MARKERS = ["null", '{"faults": 5}', "not json {", "[]", '{"faults": [1, 2]}', '"done"']


@pytest.mark.parametrize("content", DAMAGED_MARKERS)
def test_a_damaged_complete_marker_means_the_folder_is_verified_again(data_home, synthetic_gtzan, monkeypatch,
                                                                      small_expectations, content):
    target = shutil.copytree(synthetic_gtzan, data_home / "gtzan_mini")
    (target / "_complete.json").write_text(content)
    monkeypatch.setattr(remote, "retrieve", lambda *a, **k: pytest.fail("a download was attempted"))
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    assert gtzan.fetch_gtzan("mini") == target  # verified again, no crash, no download
    record = json.loads((target / "_complete.json").read_text())
    assert record["clips"] == 20 and record["faults"] == []
    assert load_gtzan("mini").attrs["flavour"] == "mini"


@pytest.mark.parametrize("content", DAMAGED_MARKERS)
def test_a_damaged_complete_marker_in_a_local_folder_is_ignored_with_a_warning(gtzan_folder, content):
    (gtzan_folder / "_complete.json").write_text(content)
    with pytest.warns(UserWarning, match=r"_complete\.json is not a valid record"):
        table = gtzan_table(gtzan_folder)
    assert len(table) == 20


def test_a_damaged_marker_on_a_folder_that_fails_verification_is_not_trusted(data_home, synthetic_gtzan,
                                                                             monkeypatch, small_expectations,
                                                                             capsys):
    target = shutil.copytree(synthetic_gtzan, data_home / "gtzan_mini")
    (target / "genres/pop/pop.00001.wav").unlink()
    (target / "_complete.json").write_text("null")
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    with pytest.raises(DownloadError, match="BOOK_OFFLINE"):
        gtzan.fetch_gtzan("mini")
    assert "fails verification" in capsys.readouterr().out
    assert (target / "genres/pop/pop.00000.wav").is_file()  # left as it was
    # online, the new download goes into place and the old folder is set aside, not deleted
    monkeypatch.delenv("BOOK_OFFLINE")
    monkeypatch.setattr(remote, "retrieve", fake_download(make_zip(synthetic_gtzan, data_home.parent / "m.zip")))
    assert len(gtzan_table(gtzan.fetch_gtzan("mini"))) == 20
    [aside] = [p for p in data_home.iterdir() if p.name.startswith("gtzan_mini.set-aside-")]
    assert (aside / "genres/pop/pop.00000.wav").is_file() and "kept as" in capsys.readouterr().out


def test_a_damaged_full_gtzan_hash_record_is_a_clear_error(data_home, monkeypatch):
    data_home.mkdir()
    (data_home / "gtzan_full.sha256.json").write_text("null")
    monkeypatch.setattr(remote, "retrieve", lambda *a, **k: pytest.fail("a download was attempted"))
    with pytest.raises(DataError, match=r"gtzan_full\.sha256\.json is damaged"):
        gtzan.fetch_gtzan("full")


@pytest.fixture
def gtzan_folder(synthetic_gtzan, tmp_path):
    return shutil.copytree(synthetic_gtzan, tmp_path / "gtzan")


# --- issue 24 item 9: a read-only or uncreatable BOOK_DATA_DIR ------------------------------------

def _small_synthetic(monkeypatch):
    """Make the synthetic fallback generate 1 clip of 1 s per genre (the test is about where, not what)."""
    real = synth.make_synthetic_gtzan
    monkeypatch.setattr(synth, "make_synthetic_gtzan",
                        lambda root, **kwargs: real(root, n_per_genre=1, seconds=1.0, n_jobs=1))


@pytest.mark.parametrize("blocker", ["a_file", "under_a_file"])
def test_an_uncreatable_data_folder_is_a_clear_notice_not_a_traceback(data_home, tmp_path, monkeypatch, capsys,
                                                                      blocker):
    import tempfile

    from helpers.config import data_home as resolve

    afile = tmp_path / "blocker"
    afile.write_text("the user's file")
    monkeypatch.setenv("BOOK_DATA_DIR", str(afile if blocker == "a_file" else afile / "data"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    _small_synthetic(monkeypatch)
    with pytest.raises(DataError, match=r"^the data folder \(\$BOOK_DATA_DIR\) .* cannot be created.*set BOOK_DATA_DIR"):
        resolve()
    table = load_gtzan("mini")
    assert table.attrs["flavour"] == "synthetic" and len(table) == 10
    assert table["path"].str.startswith(str(tmp_path / "tmp")).all()
    assert load_spotify().attrs["source"] == "synthetic"
    assert load_filtered_split().source == "stand-in"
    out = capsys.readouterr().out
    assert "cannot be created" in out and "generated in" in out
    assert afile.read_text() == "the user's file"
    monkeypatch.delenv("BOOK_OFFLINE")  # online: a one-line error before any download starts
    monkeypatch.setattr(remote, "retrieve", lambda *a, **k: pytest.fail("a download was attempted"))
    for fetch in (remote.fetch_spotify, remote.fetch_filtered_split, lambda: load_gtzan("mini", fallback=False)):
        with pytest.raises(DataError, match="cannot be created"):
            fetch()


def test_a_read_only_data_folder_is_used_and_falls_back_where_it_would_write(data_home, tmp_path, monkeypatch,
                                                                            unprivileged, synthetic_gtzan):
    # a read-only cache holding a verified mini GTZAN (a classroom's shared copy) and nothing else
    shutil.copytree(synthetic_gtzan, data_home / "gtzan_mini")
    remote.write_complete_marker(data_home / "gtzan_mini", flavour="mini", clips=20, faults=[])
    for folder in (data_home, *data_home.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o555)
    locked = tmp_path / "locked"
    locked.write_text("x")
    locked.chmod(0)
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    try:
        out = unprivileged("""
import warnings
warnings.simplefilter("ignore")
from helpers import synth
real = synth.make_synthetic_gtzan
synth.make_synthetic_gtzan = lambda root, **k: real(root, n_per_genre=1, seconds=1.0, n_jobs=1)
from helpers.datasets import load_gtzan, load_spotify
from helpers.features import FeatureConfig, extract_features
mini = load_gtzan("mini")
print("mini:", mini.attrs["flavour"], len(mini))
features = extract_features(mini.head(4), FeatureConfig(track_seconds=3.0, n_segments=3), n_jobs=1)
print("features:", features.X.shape)
fallback = load_gtzan("synthetic")
print("synthetic:", fallback.attrs["flavour"], len(fallback))
print("spotify:", load_spotify().attrs["source"])
""", locked)
    finally:
        for folder in (data_home, *data_home.rglob("*")):
            if folder.is_dir():
                folder.chmod(0o755)
    assert "mini: mini 20" in out and "features: (12, 44, 13)" in out, out
    assert "synthetic: synthetic 10" in out and "spotify: synthetic" in out, out
    assert f"the data folder {data_home} cannot be written (Permission denied)" in out, out
    assert not [p for p in data_home.iterdir() if p.name != "gtzan_mini"]
