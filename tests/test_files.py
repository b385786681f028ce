import os
import subprocess
import sys

import pytest

from helpers.files import atomic_path, remove_stale_temporaries


def test_complete_write_replaces_the_target(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith("a.txt.") and tmp != target
        tmp.write_text("new")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_text() == "new" and list(target.parent.iterdir()) == [target]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_suffix_for_writers_that_choose_a_format_by_extension(tmp_path):
    with atomic_path(tmp_path / "x.wav", suffix=".wav") as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"RIFF")
    assert (tmp_path / "x.wav").read_bytes() == b"RIFF"


def test_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    target = tmp_path / "cache.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"cache.npz.{dead}.abcd.tmp"
    live = tmp_path / f"cache.npz.{os.getpid()}.ef01.tmp"
    other = tmp_path / "other.npz.1.x.tmp"
    for path in (stale, live, other):
        path.write_text("x")
    assert remove_stale_temporaries(target) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
