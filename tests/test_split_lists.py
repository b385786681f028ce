"""Tests of helpers.datasets.split_lists.read_split_list (issue 24 item 18: split-list sub-cases)."""

from __future__ import annotations

import os

import pytest

from helpers.datasets.split_lists import read_split_list
from helpers.errors import DataError


def test_the_real_lists_read_as_before(shared_data):
    counts = {name: len(read_split_list(shared_data / "gtzan_split" / f"{name}_filtered.txt"))
              for name in ("train", "valid", "test")}
    assert counts == {"train": 443, "valid": 197, "test": 290}


@pytest.mark.parametrize("text", [
    b"blues/blues.00000.wav\nblues/blues.00001.wav\n",
    b"blues/blues.00000.wav\r\nblues/blues.00001.wav\r\n",  # CRLF
    b"\xef\xbb\xbfblues/blues.00000.wav\n\n  blues/blues.00001.wav  \n",  # BOM, blank line, spaces
    b"blues.00000.wav\nblues.00001.au",  # no folder, .au, no final newline
])
def test_ordinary_variations_are_accepted(tmp_path, text):
    path = tmp_path / "train_filtered.txt"
    path.write_bytes(text)
    assert read_split_list(path) == ["blues.00000", "blues.00001"]


@pytest.mark.parametrize("copies", [2, 3])
def test_a_track_listed_twice_is_kept_once_with_a_warning(tmp_path, copies):
    path = tmp_path / "train_filtered.txt"
    path.write_text("blues/blues.00000.wav\nblues/blues.00001.wav\n" * copies)  # e.g. appended twice
    with pytest.warns(UserWarning, match=r"train_filtered\.txt lists 2 track\(s\) more than once, kept once: "
                                         r"blues\.00000 \(lines 1, 3"):
        assert read_split_list(path) == ["blues.00000", "blues.00001"]


@pytest.mark.parametrize(("data", "line", "byte"), [
    (b"blues/blues.00000.wav\nblues/bl\xe9s.00001.wav\n", 2, "e9"),  # Latin-1
    (b"\xff\xfeb\x00l\x00", 1, "ff"),  # UTF-16
])
def test_a_byte_that_is_not_utf8_is_a_clear_error_naming_the_file_and_line(tmp_path, data, line, byte):
    path = tmp_path / "valid_filtered.txt"
    path.write_bytes(data)
    with pytest.raises(DataError, match=rf"valid_filtered\.txt, line {line}: byte 0x{byte} is not UTF-8"):
        read_split_list(path)


@pytest.mark.parametrize("kind", ["missing", "folder", "FIFO", "bad line"])
def test_other_problems_are_one_line_errors(tmp_path, kind):
    path = tmp_path / "test_filtered.txt"
    if kind == "folder":
        path.mkdir()
    elif kind == "FIFO":
        os.mkfifo(path)  # never opened: reading it would block
    elif kind == "bad line":
        path.write_text("blues/blues.00000.wav\nnot a clip\n")
    expected = {"missing": "is missing", "folder": "not a regular file", "FIFO": "not a regular file",
                "bad line": r"line 2: 'not a clip' is not 'genre/genre\.000NN\.wav'"}[kind]
    with pytest.raises(DataError, match=rf"test_filtered\.txt.*{expected}"):
        read_split_list(path)


@pytest.mark.parametrize("case", ["duplicates", "not_utf8"])
def test_load_filtered_split_reads_lists_with_read_split_list(tmp_path, case):
    """Issue 24 item 18 through the loader the chapters call."""
    from helpers.splits import load_filtered_split

    lines = {"train": "blues/blues.00000.wav\n", "valid": "blues/blues.00001.wav\n", "test": "blues/blues.00002.wav\n"}
    for name, text in lines.items():
        (tmp_path / f"{name}_filtered.txt").write_text(text)
    if case == "duplicates":
        (tmp_path / "train_filtered.txt").write_text(lines["train"] * 2)
        with pytest.warns(UserWarning, match="more than once"):
            assert load_filtered_split(tmp_path)["train"] == ["blues.00000"]
    else:
        (tmp_path / "valid_filtered.txt").write_bytes(b"blues/bl\xe9s.00001.wav\n")
        with pytest.raises(DataError, match=r"valid_filtered\.txt, line 1: byte 0xe9"):
            load_filtered_split(tmp_path)
