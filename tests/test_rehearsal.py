"""The quick rehearsal: a few generated clips per genre through the full-flavour data path.

A tiny tree from ``tools.rehearsal`` (4 clips of 6 s per genre, drawn from the fault-filtered
lists, ``jazz.00054`` unreadable) goes through ``load_gtzan("full")`` with ``GTZAN_FULL_DIR``, the
content check at the size the tree declares, feature extraction and the fault-filtered protocol.
The ``run`` command is tested on small fake chapters (no book chapter is executed here).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers.config import GENRES
from helpers.datasets.gtzan import GENERATED_MARKER, load_gtzan, verify_gtzan_content
from helpers.errors import DataError, ParameterError
from helpers.evaluation import nested_cross_validate
from helpers.features import FeatureConfig, extract_features
from helpers.splits import (
    SPLIT_NAMES,
    filtered_split,
    gtzan_fold_plan,
    load_filtered_split,
    standin_filtered_split,
)
from tools import rehearsal

#: The real data of the build machines (as in conftest.py); without it: synthetic clips, stand-in split.
SHARED = Path(os.environ.get("BOOK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PER_GENRE, SECONDS = 4, 6.0


@pytest.fixture(scope="module")
def split():
    """The real fault-filtered lists where the shared data has them, else the stand-in."""
    folder = SHARED / "gtzan_split"
    return load_filtered_split(folder) if (folder / "train_filtered.txt").is_file() else standin_filtered_split()


@pytest.fixture(scope="module")
def tree(tmp_path_factory, split):
    """The tiny generated tree, derived from mini GTZAN where it is available (else synthetic)."""
    mini = SHARED / "gtzan_mini"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GTZAN_MINI_DIR", str(mini))
        return rehearsal.build_tree(tmp_path_factory.mktemp("rehearsal") / "gtzan", PER_GENRE, SECONDS,
                                    split=split, mini=mini.is_dir())


def test_clip_indices_cover_every_list_and_the_known_fault(split):
    for n in (3, 4):
        chosen = rehearsal.clip_indices(n, split)
        for genre in GENRES:
            names = filtered_split(_ids(genre, chosen[genre]), split)
            assert len(chosen[genre]) == n and set(SPLIT_NAMES) <= set(names)
        assert 54 in chosen["jazz"]
    assert rehearsal.clip_indices(100, split) == {g: list(range(100)) for g in GENRES}
    with pytest.raises(ParameterError, match="between 1 and 100"):
        rehearsal.clip_indices(101, split)


def _ids(genre, indices):
    return pd.DataFrame({"track_id": [f"{genre}.{i:05d}" for i in indices]})


def test_tree_declares_itself_and_passes_the_check_at_its_size(tree):
    marker = json.loads((tree / GENERATED_MARKER).read_text())
    assert marker["generated"] is True and marker["n_per_genre"] == PER_GENRE
    assert marker["unreadable"] == ["jazz.00054"]
    report = verify_gtzan_content(tree)
    assert report == {"clips": 10 * PER_GENRE, "faults": ["jazz.00054"]}
    info = sf.info(str(tree / "genres" / "blues" / f"blues.{marker['indices']['blues'][0]:05d}.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert SECONDS - 0.1 <= info.duration <= SECONDS + 0.035
    lengths = [rehearsal.clip_seconds(label, i, 30.0) for label in range(10) for i in range(100)]
    assert 0 < sum(t < 30.0 for t in lengths) < 60 and max(lengths) <= 30.035  # a few short clips, like GTZAN
    with pytest.raises(DataError, match="expected 100"):  # an explicit count wins over the marker
        verify_gtzan_content(tree, n_per_genre=100)
    with pytest.raises(DataError, match="not a GTZAN download"):  # fetch_gtzan's check
        verify_gtzan_content(tree, allow_generated=False)


def test_marker_cannot_relax_the_check_of_a_real_download(tree, tmp_path, monkeypatch):
    # a downloaded folder (the downloader's _complete.json) that also holds a marker is refused
    download = tmp_path / "copy"
    shutil.copytree(tree, download)
    (download / "_complete.json").write_text(json.dumps({"flavour": "full", "faults": []}))
    with pytest.raises(DataError, match="download location"):
        verify_gtzan_content(download)
    # so is a marker in the download cache's GTZAN folder, even without _complete.json
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "home"))
    cached = tmp_path / "home" / "gtzan_full"
    shutil.copytree(tree, cached)
    with pytest.raises(DataError, match="download location"):
        verify_gtzan_content(cached)
    # without the marker the same tree is checked as full GTZAN: 100 clips per genre, 30 s
    (cached / GENERATED_MARKER).unlink()
    with pytest.raises(DataError, match="expected 100"):
        verify_gtzan_content(cached)
    # a marker that does not say generated: true with a count is an error, not a real download
    broken = tmp_path / "broken"
    shutil.copytree(tree, broken)
    (broken / GENERATED_MARKER).write_text(json.dumps({"n_per_genre": 4, "seconds": 6}))
    with pytest.raises(DataError, match="generated: true"):
        verify_gtzan_content(broken)


def test_derived_clips_differ_in_content(tree):
    paths = sorted((tree / "genres").glob("*/*.wav"))
    readable = [p for p in paths if p.name != "jazz.00054.wav"]
    assert len({p.read_bytes() for p in readable}) == len(readable)
    marker = json.loads((tree / GENERATED_MARKER).read_text())
    for genre in ("blues", "rock"):
        a, b = (sf.read(tree / "genres" / genre / f"{genre}.{i:05d}.wav")[0] for i in marker["indices"][genre][:2])
        n = min(len(a), len(b))
        assert abs(np.corrcoef(a[:n], b[:n])[0, 1]) < 0.5  # not copies, nor shifted copies in step


def test_full_flavour_path_and_the_fault_filtered_protocol(tree, split, tmp_path, monkeypatch):
    monkeypatch.setenv("GTZAN_FLAVOUR", "full")
    monkeypatch.setenv("GTZAN_FULL_DIR", str(tree))
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path / "home"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_gtzan()
    assert any("jazz.00054" in str(w.message) for w in caught)
    assert table.attrs["flavour"] == "full" and len(table) == 10 * PER_GENRE - 1
    assert "jazz.00054" not in set(table["track_id"])
    config = FeatureConfig(track_seconds=SECONDS, n_segments=2)  # the report's 10 segments per 30 s
    features = extract_features(table, config, n_jobs=1, progress=False)
    fitting = [min(2, sf.info(path).frames // config.segment_samples) for path in table["path"]]
    assert features.n_tracks == len(table) and len(features) == sum(fitting)  # short clips: fewer segments
    plan = gtzan_fold_plan(features, "cv", split=split)
    assert plan.name == "fault-filtered lists" and len(plan.folds) == 1
    rows = plan.rows(features.track_ids, 0)
    train, valid, test = rows["fit"], np.r_[rows["tune"], rows["select"]], rows["test"]
    per_split = filtered_split(table, split).value_counts()
    for name, part in zip(SPLIT_NAMES, (train, valid, test), strict=True):
        tracks = set(np.asarray(features.track_ids)[part])
        assert len(tracks) == per_split[name]
    indices = json.loads((tree / GENERATED_MARKER).read_text())["indices"]
    generated = [f"{g}.{i:05d}" for g in GENRES for i in indices[g] if f"{g}.{i:05d}" != "jazz.00054"]
    expected = filtered_split(pd.DataFrame({"track_id": generated}), split).value_counts()
    assert per_split.to_dict() == expected.to_dict()
    genres_per_list = table.groupby(filtered_split(table, split))["genre"].nunique()
    assert genres_per_list[list(SPLIT_NAMES)].min() >= 9  # each list: every genre (jazz may lose its fault)
    assert not set(np.asarray(features.track_ids)[train]) & set(np.asarray(features.track_ids)[test])
    _no_valid_or_test_track_is_fitted_on(features, split, table)


class _Uniform:
    """A fake trained model: the same probabilities for every row."""

    def __call__(self, X, training=False):
        return np.full((len(X), len(GENRES)), 1.0 / len(GENRES))


def _no_valid_or_test_track_is_fitted_on(features, split, table):
    """The engine of chapters 8-10 on the full flavour: fit on train, tune / select on valid, score on test."""
    ids = np.asarray(features.track_ids).astype(str)
    spy = SimpleNamespace(X=np.repeat(np.arange(len(ids), dtype=np.float32)[:, None], 3, axis=1),
                          labels=np.asarray(features.labels), track_ids=ids)  # X encodes the row
    seen = []

    def spy_fit(model, X_fit, y_fit, X_val, y_val, config, *, seed):
        seen.append((set(ids[X_fit[:, 0].astype(int)]), set(ids[X_val[:, 0].astype(int)])))
        return SimpleNamespace(model=model, seconds=0.0)

    lists = filtered_split(table, split).set_axis(table["track_id"].astype(str))
    for kind in ("cv", "split"):  # chapters 8-10 and chapters 6-7
        plan = gtzan_fold_plan(features, kind, split=split)
        result = nested_cross_validate({"spy": (_Uniform, {"fit_fn": spy_fit})}, spy, plan, progress=False)
        fitted, tuned = seen[-1]
        assert set(lists[sorted(fitted)]) == {"train"}, "a valid or test track was fitted on"
        assert set(lists[sorted(tuned)]) == {"valid"}
        scores = result.of("spy").iloc[0]
        assert scores["n_test_tracks"] == (lists == "test").sum()
        assert scores["n_tune_tracks"] + scores["n_select_tracks"] == (lists == "valid").sum()
        selected = set(result.predictions["spy"][0].part("select")[0])
        assert set(lists[sorted(selected)]) == {"valid"} and not selected & tuned


def test_build_refuses_a_non_empty_target_and_leaves_nothing_behind(tmp_path, split):
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not an empty folder"):
        rehearsal.build_tree(target, 1, 1.0, split=split, mini=False)
    assert [p.name for p in tmp_path.iterdir()] == ["target"]
    built = rehearsal.build_tree(tmp_path / "empty", 1, 1.0, split=split, mini=False)
    assert verify_gtzan_content(built)["clips"] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "target"]  # no temporary folder left


def _fake_chapter(path, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(f"# Fake {path.stem}")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return path


def test_run_records_runtime_memory_and_failures(tmp_path, monkeypatch, split):
    if (SHARED / "gtzan_split").is_dir():
        monkeypatch.setenv("GTZAN_SPLIT_DIR", str(SHARED / "gtzan_split"))
    monkeypatch.setenv("SPOTIFY_CSV", str(tmp_path / "spotify.csv"))
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    monkeypatch.setattr(rehearsal, "COLAB_MEMORY_MB", 250)
    big = _fake_chapter(tmp_path / "90_big.ipynb", [
        "import os, time\nfrom helpers import config\nfrom helpers.datasets import load_gtzan\n"
        "assert os.environ['GTZAN_FLAVOUR'] == 'full' and config.checkout_root() is None\n"
        "table = load_gtzan()\nprint(len(table), table.attrs['flavour'])",
        "block = bytearray(300 * 2**20)\nblock[::4096] = b'x' * len(block[::4096])\ntime.sleep(0.3)",
    ])
    broken = _fake_chapter(tmp_path / "91_broken.ipynb", ["x = 1", "raise RuntimeError('boom')"])
    before = big.read_bytes()
    record = tmp_path / "record.csv"
    rows = rehearsal.run([big, broken], n_per_genre=1, seconds=1.0, record=record, home=tmp_path / "home",
                         timeout=120)
    assert big.read_bytes() == before  # a copy ran, never the chapter itself
    assert list((tmp_path / "home").iterdir()) == []  # tree and workspace removed
    with record.open() as handle:
        recorded = list(csv.DictReader(handle))
    assert [r["chapter"] for r in recorded] == ["90_big", "91_broken"]
    big_row, broken_row = recorded
    assert big_row["status"] == "over-colab-memory"  # 300 MB measured, above the (patched) limit
    assert float(big_row["peak_rss_mb"]) >= 300
    assert float(big_row["seconds"]) >= 0.3 and big_row["clips"] == "10" and big_row["per_genre"] == "1"
    assert broken_row["status"] == "failed (CellExecutionError)"
    assert rows[0]["machine"] == rehearsal.machine()
    # a later run of one chapter at the same size replaces its row and keeps the others
    rehearsal.write_record([{**rows[1], "status": "ok"}], record)
    with record.open() as handle:
        assert [(r["chapter"], r["status"]) for r in csv.DictReader(handle)] == [
            ("90_big", "over-colab-memory"), ("91_broken", "ok")]
