"""Tests of helpers.embeddings (cached musicnn embeddings per track) and helpers.models.probe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import embeddings, musicnn
from helpers.datasets.gtzan import gtzan_table
from helpers.errors import DataError, ParameterError
from helpers.models.probe import ProbeClassifier, build_probe


@pytest.fixture(scope="module")
def small_table(synthetic_gtzan):
    """Four synthetic clips of 3 s (one musicnn patch each: 3 s ≥ 2.976 s), two genres."""
    table = gtzan_table(synthetic_gtzan)
    small = table[table["genre"].isin(["blues", "rock"])].reset_index(drop=True)
    small.attrs.update(table.attrs, flavour="synthetic")
    return small


@pytest.fixture
def counted(monkeypatch):
    """Count the clips whose embeddings are computed (i.e. not read from the cache)."""
    calls = []
    original = embeddings.track_embeddings

    def counting(path, model="msd"):
        calls.append(path)
        return original(path, model)

    monkeypatch.setattr(embeddings, "track_embeddings", counting)
    return calls


def test_shapes_alignment_and_cache_hit(small_table, tmp_path, counted):
    first = embeddings.extract_embeddings(small_table, n_jobs=1, cache_dir=tmp_path)
    assert first.X.shape == (4, 2 * musicnn.LAYERS["penultimate"])
    assert first.tags.shape == (4, len(musicnn.TAGS["msd"]))
    assert first.n_patches.tolist() == [1, 1, 1, 1]
    assert first.track_ids.tolist() == small_table["track_id"].astype(str).tolist()
    assert first.labels.tolist() == small_table["label"].tolist()
    assert np.all(np.isfinite(first.X)) and np.all((first.tags > 0) & (first.tags < 1))
    # with one patch per track, mean and max pooling are the same vector
    dims = musicnn.LAYERS["penultimate"]
    np.testing.assert_allclose(first.X[:, :dims], first.X[:, dims:])
    assert len(counted) == 4
    # the one embedding path: the table's rows are clip_embeddings of the clip, level normalised
    from helpers.audio import load_clip

    y = load_clip(small_table["path"].iloc[2], sr=musicnn.SR)
    direct = musicnn.clip_embeddings(0.01 * y, musicnn.SR, musicnn.musicnn_numpy("msd"))
    np.testing.assert_allclose(first.X[2, :dims], direct["penultimate_mean"], rtol=1e-4, atol=1e-4)

    second = embeddings.extract_embeddings(small_table, pooling=("mean",), n_jobs=1, cache_dir=tmp_path)
    assert len(counted) == 4, "the second call must read the cache, not recompute"
    np.testing.assert_array_equal(second.X, first.X[:, :dims])
    assert second.table()["genre"].tolist() == small_table["genre"].tolist()
    # every layer comes from the same network pass and the same cache file
    other = embeddings.extract_embeddings(small_table, layer="mean_pool", n_jobs=1, cache_dir=tmp_path)
    assert len(counted) == 4 and other.X.shape == (4, 2 * musicnn.LAYERS["mean_pool"])
    np.testing.assert_allclose(other.X[2, :musicnn.LAYERS["mean_pool"]], direct["per_patch"]["mean_pool"][0],
                               rtol=1e-4, atol=1e-4)


def test_cache_of_another_shape_is_recomputed(small_table, tmp_path, counted):
    embeddings.extract_embeddings(small_table, n_jobs=1, cache_dir=tmp_path)
    path = embeddings.embeddings_cache_path(small_table, cache_dir=tmp_path)
    with np.load(path) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays["penultimate_mean"] = arrays["penultimate_mean"][:, :100]
    np.savez(path, **arrays)
    with pytest.warns(UserWarning, match="penultimate_mean has shape"):
        again = embeddings.extract_embeddings(small_table, n_jobs=1, cache_dir=tmp_path)
    assert len(counted) == 8 and again.X.shape == (4, 400)


def test_cache_version_is_in_the_name(small_table, tmp_path):
    """Version 3 holds the level-normalised embeddings of the one path: older caches are not served."""
    assert embeddings.EMBEDDINGS_VERSION == 3
    assert "-v3-" in embeddings.embeddings_cache_path(small_table, cache_dir=tmp_path).name


def test_damaged_cache_is_recomputed(small_table, tmp_path, counted):
    embeddings.extract_embeddings(small_table, n_jobs=1, cache_dir=tmp_path)
    path = embeddings.embeddings_cache_path(small_table, cache_dir=tmp_path)
    assert path.is_file() and len(counted) == 4
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="damaged"):
        again = embeddings.extract_embeddings(small_table, n_jobs=1, cache_dir=tmp_path)
    assert len(counted) == 8
    assert again.X.shape == (4, 400)
    assert path.is_file()


def test_bad_arguments_and_short_clip(small_table, tmp_path):
    with pytest.raises(ParameterError, match="model"):
        embeddings.extract_embeddings(small_table, model="gtzan", cache_dir=tmp_path)
    with pytest.raises(ParameterError, match="layer"):
        embeddings.extract_embeddings(small_table, layer="logits", cache_dir=tmp_path)
    with pytest.raises(ParameterError, match="pooling"):
        embeddings.extract_embeddings(small_table, pooling=("median",), cache_dir=tmp_path)
    with pytest.raises(DataError, match="column"):
        embeddings.extract_embeddings(small_table.drop(columns="track_id"), cache_dir=tmp_path)
    import soundfile as sf

    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(22050, dtype=np.float32), 22050)
    with pytest.raises(DataError, match="short.wav"):
        embeddings.track_embeddings(short)


def _separable(n_per_class=12, n_classes=3, dims=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(len(labels), dims)) + 4 * np.eye(n_classes, dims)[labels]
    table = pd.DataFrame({"track_id": [f"t{i}" for i in range(len(labels))], "label": labels,
                          "genre": [f"g{c}" for c in labels]})
    return X, table


def test_probe_interface():
    X, table = _separable()
    probe = build_probe(n_classes=4, C=1.0).fit(X, table["label"])
    probs = probe(X)
    assert probs.shape == (len(X), 4) and np.all(probs[:, 3] == 0)
    assert np.mean(probs.argmax(axis=1) == table["label"]) > 0.9
    assert len(probe.to_dict()["coef"]) == 3
    with pytest.raises(RuntimeError):
        ProbeClassifier().predict_proba(X)
    with pytest.raises(ParameterError):
        build_probe(n_classes=2).fit(X, table["label"])
