"""Reproducible release wheels (tools/release.py): a rebuild of the same source is the same file."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest

from tools import release


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """One export of the working tree's tracked files, built twice: the second time from a copy
    whose files have other modes and dates, under another umask. (One export, because the
    checkout is shared: a file saved between two exports would make them different sources.)"""
    source = release.export_source(tmp_path_factory.mktemp("export") / "src", ref=None)
    first = release.build_wheel(tmp_path_factory.mktemp("first"), source=source)
    for number, path in enumerate(sorted(source.rglob("*.py"))):
        os.chmod(path, 0o664 if number % 2 else 0o600)
        os.utime(path, (1_700_000_000 + number, 1_700_000_000 + number))
    old = os.umask(0o002)
    try:
        second = release.build_wheel(tmp_path_factory.mktemp("second"), source=source)
    finally:
        os.umask(old)
    return first, second


@pytest.mark.slow
def test_two_builds_of_the_same_source_are_the_same_file(two_builds):
    first, second = two_builds
    assert first.name == second.name == f"genre_book_helpers-{release.project()['version']}-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.slow
def test_wheel_entries_have_one_date_and_mode_and_the_package_data(two_builds):
    with zipfile.ZipFile(two_builds[0]) as wheel:
        infos = wheel.infolist()
        names = [info.filename for info in infos]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {stat.S_IFREG | 0o644}
    assert names[-1].endswith(".dist-info/RECORD")
    assert "helpers/bundled/musicnn_probe.json" in names and "helpers/__init__.py" in names
    assert not any(name.startswith(("tests/", "tools/", "chapters/")) for name in names)


def test_normalise_fixes_dates_and_modes_and_keeps_contents(tmp_path):
    path = tmp_path / "x.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, mode, date in (("b.py", 0o755, (2024, 5, 6, 7, 8, 10)), ("a.py", 0o600, (2001, 1, 1, 0, 0, 0))):
            info = zipfile.ZipInfo(name, date_time=date)
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, f"# {name}\n")
    release.normalise_wheel(path)
    with zipfile.ZipFile(path) as archive:
        assert [i.filename for i in archive.infolist()] == ["b.py", "a.py"]
        assert {i.external_attr >> 16 for i in archive.infolist()} == {stat.S_IFREG | 0o644}
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.read("a.py") == b"# a.py\n"
    once = path.read_bytes()
    release.normalise_wheel(path)
    assert path.read_bytes() == once


@pytest.mark.slow
def test_record_and_check(two_builds, tmp_path, monkeypatch):
    first, second = two_builds
    record = tmp_path / "release.json"
    written = release.write_record(first, path=record)
    assert json.loads(record.read_text()) == written == {
        "version": release.project()["version"], "wheel": first.name, "sha256": release.sha256(second)}
    other = tmp_path / "genre_book_helpers-9.9.9-py3-none-any.whl"
    other.write_bytes(first.read_bytes())
    with pytest.raises(SystemExit, match="not the wheel of version"):
        release.write_record(other, path=record)
    # check() rebuilds; here the rebuild is the second build, compared with the first's record
    monkeypatch.setattr(release, "build_wheel", lambda out, ref=None: second)
    assert release.check(None, record=record) is None
    record.write_text(json.dumps({**written, "sha256": "0" * 64}))
    assert "is not the recorded" in release.check(None, record=record)


def test_recorded_release_is_this_version():
    recorded = release.read_record()
    version = release.project()["version"]
    assert recorded["version"] == version
    assert recorded["wheel"] == f"genre_book_helpers-{version}-py3-none-any.whl"
    assert len(recorded["sha256"]) == 64 and int(recorded["sha256"], 16) > 0, "python -m tools.release record"
