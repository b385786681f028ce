"""helpers.cluster (chapter 11): the book's extraction on a two-worker Dask LocalCluster.

One cluster of two worker processes serves the module (it starts in a few seconds); the clips are
the 20 synthetic 3 s clips of ``conftest.synthetic_gtzan``, cut into 1 s segments.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from helpers.cluster import (  # noqa: E402
    completed_in_window,
    embed_on_cluster,
    extract_on_cluster,
    local_cluster,
    main,
    mfcc_job,
    read_store,
    run_task,
    run_tracks,
    store_embeddings,
    store_features,
    worker_memory,
)
from helpers.datasets import gtzan_table  # noqa: E402
from helpers.errors import DataError, ParameterError  # noqa: E402
from helpers.features import FeatureConfig, extract_features  # noqa: E402

SMALL = FeatureConfig(track_seconds=3.0, n_segments=3)


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def clips(synthetic_gtzan):
    table = gtzan_table(synthetic_gtzan)
    table.attrs["flavour"] = "synthetic"
    return table


@pytest.fixture(scope="module")
def reference(clips):
    """Chapter 5's joblib path on the same clips."""
    return extract_features(clips, SMALL, n_jobs=2, cache=False)


def test_two_worker_processes_compute_what_the_joblib_path_computes(client, clips, reference, tmp_path):
    assert len(client.nthreads()) == 2
    run = extract_on_cluster(clips, client, tmp_path / "store", SMALL, flush_every=7)
    assert (run.total, run.before, run.done, run.errors) == (len(clips), 0, len(clips), [])
    records = read_store(tmp_path / "store")
    assert len(records) == len(clips) and set(records["status"]) == {"ok"}
    assert records["pid"].nunique() == 2  # both worker processes did some of the work
    assert len(list((tmp_path / "store").glob("part-*.parquet"))) == 3  # 20 results, 7 per part
    features = store_features(tmp_path / "store", clips, SMALL)
    assert features.X.dtype == np.float32 and np.array_equal(features.X, reference.X)  # bit for bit
    assert np.array_equal(features.track_ids, reference.track_ids)
    assert np.array_equal(features.labels, reference.labels) and features.flavour == "synthetic"


def test_an_interrupted_run_resumes_where_it_stopped(client, clips, reference, tmp_path):
    store = tmp_path / "store"
    seen = []

    def interrupt(record):
        seen.append(record["path"])
        if len(seen) == 6:
            raise KeyboardInterrupt  # as if Ctrl-C'd after six results

    with pytest.raises(KeyboardInterrupt):
        extract_on_cluster(clips, client, store, SMALL, flush_every=4, on_result=interrupt)
    kept = read_store(store)
    assert sorted(kept["path"]) == sorted(seen)  # what had arrived is stored, nothing else
    dead = store / "part-000009.parquet.999999999.0badc0de.tmp"  # a part whose writer was killed
    dead.write_bytes(b"half a parquet file")
    resumed = extract_on_cluster(clips, client, store, SMALL, flush_every=4)
    assert (resumed.before, resumed.done) == (6, len(clips) - 6)
    assert not dead.exists()
    assert np.array_equal(store_features(store, clips, SMALL).X, reference.X)
    again = extract_on_cluster(clips, client, store, SMALL)
    assert (again.before, again.done) == (len(clips), 0)


def test_a_bad_file_is_recorded_and_the_others_go_on(client, clips, tmp_path):
    bad = tmp_path / "blues.00099.wav"
    bad.write_text("not audio")
    table = pd.concat([clips.head(3), pd.DataFrame({"path": [str(bad)], "track_id": ["blues.00099"],
                                                    "label": [0], "genre": ["blues"]})], ignore_index=True)
    run = extract_on_cluster(table, client, tmp_path / "store", SMALL)
    assert run.done == 4 and len(run.errors) == 1 and str(bad) in run.errors[0]
    records = read_store(tmp_path / "store").set_index("path")
    assert records.loc[str(bad), "status"] == "error" and records.loc[str(bad), "value"] is None
    assert "DataError" in records.loc[str(bad), "error"]
    features = store_features(tmp_path / "store", table, SMALL)
    assert features.n_tracks == 3 and features.skipped == run.errors


def test_a_killed_worker_is_replaced_and_its_task_run_again(client, clips, reference, tmp_path):
    marker = tmp_path / "killed-once"
    victim = str(clips["path"].iloc[5])

    def crashing_job(path, config):  # pickled by value: the first attempt on `victim` kills its worker
        if path == victim and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return mfcc_job(path, config)

    before = set(worker_memory(client)["pid"])
    store = tmp_path / "crash-store"
    run = run_tracks(client, crashing_job, clips, store, args=(SMALL,), settings={"job": "crashing"})
    killed = int(marker.read_text())
    assert killed in before and run.errors == [] and run.done == len(clips)
    records = read_store(store).set_index("path")
    assert records.loc[victim, "pid"] != killed  # run again by a live worker
    assert np.array_equal(np.concatenate(list(records.loc[clips["path"].astype(str), "value"])), reference.X)
    client.wait_for_workers(2, timeout=30)
    after = set(worker_memory(client)["pid"])
    assert len(after) == 2 and killed not in after  # the nanny started a new process


def test_run_task_records_instead_of_raising(tmp_path):
    record = run_task(str(tmp_path / "missing.wav"), mfcc_job, (SMALL,))
    assert record["value"] is None and str(tmp_path / "missing.wav") in record["error"]
    assert record["worker"] == "local" and record["pid"] == os.getpid() and record["stop"] >= record["start"]


def test_a_store_refuses_other_settings_and_reads_empty_when_missing(client, clips, tmp_path):
    assert read_store(tmp_path / "nothing").empty
    extract_on_cluster(clips.head(2), client, tmp_path / "store", SMALL)
    with pytest.raises(ParameterError, match="other settings"):
        extract_on_cluster(clips.head(2), client, tmp_path / "store", FeatureConfig(track_seconds=3.0, n_segments=2))
    with pytest.raises(DataError, match="lacks 18 of the table's 20 tracks"):
        store_features(tmp_path / "store", clips, SMALL)
    with pytest.raises(ParameterError, match="holds"):
        store_features(tmp_path / "store", clips.head(2), FeatureConfig())


def test_command_line_runs_on_a_scheduler_address(client, synthetic_gtzan, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GTZAN_MINI_DIR", str(synthetic_gtzan))
    status = main(["--store", str(tmp_path / "store"), "--scheduler", client.scheduler.address,
                   "--flavour", "mini"])
    records = read_store(tmp_path / "store")
    # the default settings cut 6 s segments: every 3 s clip is recorded as too short, none is lost
    assert status == 1 and len(records) == 20 and set(records["status"]) == {"error"}
    assert records["error"].str.contains("shorter than one segment").all()
    assert "20 tracks computed" in capsys.readouterr().out


def test_embeddings_on_the_cluster_equal_chapter_10s(client, clips, tmp_path):
    from helpers.embeddings import extract_embeddings

    few = clips.iloc[[0, 7, 15]].reset_index(drop=True)
    run = embed_on_cluster(few, client, tmp_path / "store")
    assert run.errors == [] and run.done == 3
    reference = extract_embeddings(few, n_jobs=2, cache=False)
    stored = store_embeddings(tmp_path / "store", few)
    # chapter 11's tolerance: 1e-5 of the largest value (a BLAS library may add in another order)
    assert stored.X.shape == (3, 400) and np.array_equal(stored.n_patches, reference.n_patches)
    for got, want in ((stored.X, reference.X), (stored.tags, reference.tags),
                      (store_embeddings(tmp_path / "store", few, layer="mean_pool", pooling=("max",)).X,
                       extract_embeddings(few, layer="mean_pool", pooling=("max",), n_jobs=2, cache=False).X)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    with pytest.raises(DataError, match="no embedding of 17"):
        store_embeddings(tmp_path / "store", clips)


def test_the_window_bounds_the_tasks_in_flight_and_cancels_the_rest(client):
    import time

    def slow_square(x):
        time.sleep(0.05)
        return x * x

    got = {item: future.result() for item, future in completed_in_window(client, slow_square, range(12), 3)}
    assert got == {i: i * i for i in range(12)}
    window = completed_in_window(client, slow_square, range(100), 4)
    next(window)
    window.close()  # the caller stops: the tasks still in flight are cancelled, none left behind
    time.sleep(0.2)
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) <= 1


def test_missing_cluster_libraries_are_named_with_the_extra(monkeypatch, tmp_path):
    import importlib.util

    from helpers import cluster

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"read_store needs pyarrow.*genre-book-helpers\[chapters\]"):
        cluster.read_store(tmp_path)


def test_a_local_cluster_compiles_librosa_before_its_workers_start(monkeypatch):
    """The workers share this machine's numba cache: they must find librosa compiled, not compile it side by side."""
    from helpers import cluster

    class Compiled(Exception):
        pass

    def compile_first():
        raise Compiled

    started = []
    monkeypatch.setattr(cluster, "compile_librosa", compile_first)
    monkeypatch.setattr("distributed.LocalCluster", lambda *a, **k: started.append(1))
    with pytest.raises(Compiled), cluster.local_cluster(n_workers=2):
        pass
    assert started == []
