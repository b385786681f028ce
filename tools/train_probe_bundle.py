"""Train ``genre-predict``'s probe bundle: ``python -m tools.train_probe_bundle [--compare-cnn N]``.

Writes ``helpers/bundled/musicnn_probe.json`` (a ``musicnn-probe`` bundle, :mod:`helpers.bundle`):
chapter 10's linear probe on musicnn (MSD) embeddings, trained on every track of the data in use
(mini: all 100; full: the fault-filtered train + valid tracks).

Every clip goes through the exact path ``genre-predict`` uses (:func:`helpers.predict.read_clip`
at 16 kHz, :func:`helpers.engine.musicnn_patch_embeddings`: level normalised to
:data:`helpers.engine.TARGET_RMS`, log-mel, NumPy musicnn), so the probe is trained on the
inputs it will see.

How the setting is chosen (never on test folds): the track-grouped 5-fold × 3 folds of chapter
8/10 are drawn; inside every outer fold :func:`helpers.models.probe.nested_probe_cv` chooses
pooling and ``C`` on validation tracks taken from that fold's training tracks; the setting chosen
by most folds is the bundle's. With ``--compare-cnn N`` (default 5: the first repetition's folds)
chapter 8's GAP CNN is trained on the same fit tracks of the first N folds and scored on the same
validation tracks, next to the probe with the bundle's setting: the choice between probe and CNN
as the default rests on these validation-track scores (stored in the bundle's metadata and
printed). The test folds are used by nothing here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

from helpers.bundle import save_probe_bundle
from helpers.config import BUNDLED_DIR, DEFAULT_SEED, GENRES, data_home
from helpers.datasets import load_gtzan
from helpers.engine import TARGET_RMS, MusicnnNumpy, musicnn_patch_embeddings
from helpers.features import cached_arrays, files_fingerprint
from helpers.models.probe import build_probe, nested_probe_cv
from helpers.musicnn import SR, weights_path
from helpers.predict import PROBE_BUNDLE_NAME, read_clip
from helpers.splits import filtered_split, track_folds, validation_tracks_split

VARIANT, LAYER = "msd", "penultimate"
CS = (0.01, 0.1, 1.0)
N_SPLITS, N_REPEATS = 5, 3
PROTOCOL = "track-grouped 5-fold × 3, setting chosen per outer fold on validation tracks"


def training_tracks():
    """The tracks to train on and the flavour: mini → all; full → fault-filtered train + valid."""
    table = load_gtzan()
    flavour = table.attrs.get("flavour", "unknown")
    if flavour == "full":
        table = table[filtered_split(table).isin(["train", "valid"]).to_numpy()]
    return table.reset_index(drop=True), flavour


def embeddings(table, flavour: str) -> dict[str, np.ndarray]:
    """Mean- and max-pooled per-patch embeddings of every track (cached in ``data_home()``)."""
    net = MusicnnNumpy(weights_path(VARIANT))

    def compute():
        means, maxes = [], []
        start = time.perf_counter()
        for i, path in enumerate(table["path"]):
            per_patch = musicnn_patch_embeddings(read_clip(path, SR), SR, net, LAYER, TARGET_RMS)
            means.append(per_patch.mean(axis=0))
            maxes.append(per_patch.max(axis=0))
            if (i + 1) % 10 == 0:
                print(f"  embedded {i + 1}/{len(table)} clips, {time.perf_counter() - start:.0f} s", flush=True)
        return {"mean": np.asarray(means, np.float32), "max": np.asarray(maxes, np.float32)}

    key = files_fingerprint(table["path"].astype(str), table["track_id"])
    path = data_home() / "embeddings" / f"{flavour}-probe-bundle-{VARIANT}-{LAYER}-rms{TARGET_RMS}-{key}.npz"
    return cached_arrays(path, compute, required=("mean", "max"))


def compare_with_cnn(table, folds, X, labels, C: float, n_folds: int) -> list[dict]:
    """GAP CNN vs probe (bundle setting) on the validation tracks of the first ``n_folds`` folds."""
    from helpers.features import FeatureConfig, extract_features
    from helpers.models.mfcc import build_gap_cnn
    from helpers.training import train_and_score

    features = extract_features(table, FeatureConfig())
    seg_tracks = np.asarray(features.track_ids).astype(str)
    track_ids = table["track_id"].astype(str).to_numpy()
    rows = []
    for index, (train, _test) in enumerate(folds[:n_folds]):
        fit, val = validation_tracks_split(table, train, 0.2, DEFAULT_SEED + index)  # as nested_probe_cv
        probe = build_probe(len(GENRES), C).fit(X[fit], labels[fit])
        probe_acc = float(np.mean(probe.predict_proba(X[val]).argmax(axis=1) == labels[val]))
        fit_rows = np.flatnonzero(np.isin(seg_tracks, track_ids[fit]))
        val_rows = np.flatnonzero(np.isin(seg_tracks, track_ids[val]))
        run = train_and_score(build_gap_cnn, features, fit_rows, val_rows, [], seed=DEFAULT_SEED)
        cnn_acc = float(run.record["val_track_accuracy"]) if "val_track_accuracy" in run.record else \
            _track_vote(run.val_probs, seg_tracks[val_rows], features.labels[val_rows])
        rows.append({"fold": index, "val_tracks": len(val), "probe": probe_acc, "cnn": cnn_acc})
        print(f"  fold {index}: {len(val)} validation tracks: probe {probe_acc:.3f}, GAP CNN {cnn_acc:.3f}",
              flush=True)
    return rows


def _track_vote(probs, tracks, labels) -> float:
    correct = []
    for track in np.unique(tracks):
        where = tracks == track
        correct.append(probs[where].mean(axis=0).argmax() == labels[where][0])
    return float(np.mean(correct))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-cnn", type=int, default=5, metavar="N",
                        help="train the GAP CNN on the first N folds' fit tracks for the validation-track "
                        "comparison (0: skip)")
    parser.add_argument("--out", default=str(BUNDLED_DIR / PROBE_BUNDLE_NAME), help="bundle stem")
    args = parser.parse_args(argv)
    table, flavour = training_tracks()
    labels = table["label"].to_numpy(dtype=np.int64)
    print(f"{len(table)} tracks ({flavour}); embedding with NumPy musicnn ({VARIANT}, {LAYER}, "
          f"level {TARGET_RMS} RMS)", flush=True)
    arrays = embeddings(table, flavour)
    candidates = {"mean": arrays["mean"], "mean + max": np.concatenate([arrays["mean"], arrays["max"]], axis=1)}
    folds = track_folds(table, n_splits=N_SPLITS, n_repeats=N_REPEATS, seed=DEFAULT_SEED)
    repeats = [i // N_SPLITS for i in range(len(folds))]
    nested = nested_probe_cv(candidates, table, folds, repeats, Cs=CS, seed=DEFAULT_SEED)
    counts = Counter(zip(nested.folds["pooling"], nested.folds["C"], strict=True))
    (pooling, C), n_chosen = counts.most_common(1)[0]
    val_mean = float(nested.folds["val_accuracy"].mean())
    print(f"choices over {len(folds)} outer folds: {dict(counts)}; bundle: {pooling}, C = {C}")
    if pooling != "mean":
        print("the bundle format stores one pooling; 'mean + max' would need both: using the most "
              "chosen single pooling instead", file=sys.stderr)
        pooling = "mean"
    comparison = compare_with_cnn(table, folds, arrays["mean"], labels, C, args.compare_cnn) \
        if args.compare_cnn > 0 else []
    probe = build_probe(len(GENRES), C).fit(arrays[pooling], labels)
    metadata = {
        "model": "musicnn (MSD) penultimate embeddings + logistic regression (linear probe)",
        "data": flavour, "protocol": PROTOCOL, "train_tracks": len(table),
        "setting": {"pooling": pooling, "C": C, "chosen_by_folds": n_chosen, "folds": len(folds)},
        "val_accuracy_of_choices": round(val_mean, 4),
        "selection_vs_cnn": comparison,
        "source": "Pons & Serra 2019, musicnn 0.1.0 (ISC licence), weights trained on MSD tags",
        "tool": "tools/train_probe_bundle.py",
    }
    if comparison:
        metadata["selection_summary"] = {m: round(float(np.mean([r[m] for r in comparison])), 4)
                                         for m in ("probe", "cnn")}
        print(f"validation-track accuracy, mean of {len(comparison)} folds: {metadata['selection_summary']}")
    path = save_probe_bundle(args.out, probe.to_dict(), GENRES, metadata, variant=VARIANT, layer=LAYER,
                             pooling=pooling, target_rms=TARGET_RMS)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
