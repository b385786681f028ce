import os
import subprocess
import sys

import pytest

from helpers.errors import ParameterError
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
    stale = tmp_path / f"cache.npz.{dead}.abcd0123.tmp"
    live = tmp_path / f"cache.npz.{os.getpid()}.ef01ab23.tmp"
    other = tmp_path / "other.npz.1.0000abcd.tmp"
    for path in (stale, live, other):
        path.write_text("x")
    assert remove_stale_temporaries(target) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


# --- issue 24 item 2: only the writer's own temporaries are removed ------------------------------

DEAD_PID = 999999999  # above any pid_max: no such process


@pytest.mark.parametrize("name", [
    "scores.csv.backup.tmp",              # the user's backup
    "scores.csv.2024.tmp.txt",            # the user's notes
    "scores.csv.tmp",                     # no pid, no random part
    f"scores.csv.{DEAD_PID}.tmp",         # no random part
    f"scores.csv.{DEAD_PID}.abcd.tmp",    # a random part of the wrong length
    f"scores.csv.{DEAD_PID}.ABCD0123.tmp",  # not lower-case hex, as os.urandom(4).hex() writes
    f"scores.csv.{DEAD_PID}.abcd0123.tmp.old.txt",  # more than one suffix
    f"scores.csv.x{DEAD_PID}.abcd0123.tmp",
    f"scores.csv.{DEAD_PID}.abcd0123.tmpfile",
    f"scores.csvx.{DEAD_PID}.abcd0123.tmp",  # another file's temporary
])
def test_files_that_merely_look_like_temporaries_survive_a_write(tmp_path, name):
    bystander = tmp_path / name
    bystander.write_text("the user's")
    with atomic_path(tmp_path / "scores.csv") as tmp:
        tmp.write_text("new")
    assert bystander.read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "scores.csv"])


@pytest.mark.parametrize("suffix", ["", ".wav", ".keras"])
def test_a_dead_writers_temporary_of_the_exact_pattern_is_removed(tmp_path, suffix):
    target = tmp_path / "scores.csv"
    leftover = tmp_path / f"scores.csv.{DEAD_PID}.0badf00d.tmp{suffix}"
    leftover.write_text("half")
    with atomic_path(target, suffix=suffix) as tmp:
        assert tmp.name.endswith(f".tmp{suffix}") and tmp.name.startswith(f"scores.csv.{os.getpid()}.")
        tmp.write_text("new")
    assert not leftover.exists() and [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_names_with_glob_characters_and_odd_suffixes(tmp_path):
    target = tmp_path / "a[1]*.csv"
    leftover = tmp_path / f"a[1]*.csv.{DEAD_PID}.0badf00d.tmp"
    leftover.write_text("half")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and not leftover.exists()
    with pytest.raises(ParameterError, match="suffix"), atomic_path(target, suffix=".tmp.txt"):
        pass
