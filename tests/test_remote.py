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
