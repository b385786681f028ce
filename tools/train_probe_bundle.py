"""Train ``genre-predict``'s probe bundle: ``python -m tools.train_probe_bundle``.

Writes ``helpers/bundled/musicnn_probe.json`` (a ``musicnn-probe`` bundle, :mod:`helpers.bundle`):
chapter 10's linear probe on musicnn (MSD) penultimate-layer embeddings, trained on every track of
the data in use (mini: all 100; full: the fault-filtered train + valid tracks; never test).

**The embeddings are chapter 10's.** They come from :func:`helpers.embeddings.extract_embeddings`,
i.e. from the book's one embedding path, :func:`helpers.musicnn.clip_embeddings` (level normalised
to :data:`helpers.musicnn.TARGET_RMS`, NumPy log-mel, 3 s patches, NumPy musicnn, mean and max over
the patches) — the function ``genre-predict`` applies to a user's clip. So chapter 10's nested
estimate is an estimate for exactly this pipeline.

**The setting is chosen on validation tracks only**, by the book's own inner decision
(:func:`helpers.models.classical.fit_linear_classifier`, the one every linear candidate of the nested
cross-validation makes): the tracks are split by track, stratified by genre
(:func:`helpers.splits.validation_tracks_split`, 20 % tune tracks); each pooling × ``C`` of
:class:`helpers.models.probe.ProbeClassifier` is fitted on the fit tracks and the one with the lowest
cross-entropy on the tune tracks is kept; the probe is then refitted with that setting on every
training track. No test track takes part; the accuracy to expect is chapter 10's nested estimate on
the book's folds (it is not recomputed here).

**Why the probe is ``genre-predict``'s default** (``--compare-cnn N``, default 4): on the first ``N``
outer folds of the book's committed fold plan (:func:`helpers.splits.gtzan_fold_plan`, protocol (c)),
the probe and the network of the shipped ``cnn`` bundle (its ``metadata.model``, one of chapter 8's
candidates, trained with chapter 8's settings by :func:`helpers.training.train_and_score`) learn from
the same *fit* tracks, make their one inner decision on the same *tune* tracks (``C`` and pooling;
the early-stopping epoch) and are compared on the same *selection* tracks. The test tracks of those
folds are used by neither. The selection-track accuracies are printed and stored in the bundle's
``metadata.selection_vs_cnn``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from helpers.bundle import save_probe_bundle
from helpers.config import BUNDLED_DIR, DEFAULT_SEED, GENRES
from helpers.datasets import load_gtzan
from helpers.embeddings import extract_embeddings
from helpers.models.classical import fit_linear_classifier
from helpers.models.probe import build_probe
from helpers.musicnn import TARGET_RMS
from helpers.predict import PROBE_BUNDLE_NAME
from helpers.splits import filtered_split, gtzan_fold_plan, validation_tracks_split

VARIANT, LAYER = "msd", "penultimate"
TUNE_FRACTION = 0.2
PROTOCOL = (f"trained on every training track; pooling and C chosen on {TUNE_FRACTION:.0%} tune tracks "
            "(lowest cross-entropy), then refitted on all; no test track used")


def training_tracks():
    """The tracks to train on and the flavour: mini → all; full → fault-filtered train + valid."""
    table = load_gtzan()
    flavour = table.attrs.get("flavour", "unknown")
    if flavour == "full":
        table = table[filtered_split(table).isin(["train", "valid"]).to_numpy()]
    return table.reset_index(drop=True), flavour


def compare_with_cnn(table, emb, n_folds: int) -> list[dict]:
    """Probe vs the shipped CNN's network on the selection tracks of the plan's first ``n_folds`` folds."""
    import json

    from helpers.config import cnn_bundle
    from helpers.features import FeatureConfig, extract_features
    from helpers.models.candidates import evaluation_candidates
    from helpers.training import TrainingConfig, train_and_score

    name = json.loads(cnn_bundle().with_suffix(".json").read_text())["metadata"]["model"]
    build, options = evaluation_candidates()[name]
    features = extract_features(table, FeatureConfig())
    plan = gtzan_fold_plan(table, "cv")
    labels = table["label"].to_numpy(dtype=np.int64)
    rows = []
    for index in range(min(n_folds, len(plan.folds))):
        tracks = plan.rows(emb.track_ids, index)
        chosen = fit_linear_classifier(build_probe(len(GENRES)), emb.X[tracks["fit"]], labels[tracks["fit"]],
                                       emb.X[tracks["tune"]], labels[tracks["tune"]])
        probe_acc = float(np.mean(chosen.model.predict_proba(emb.X[tracks["select"]]).argmax(axis=1)
                                  == labels[tracks["select"]]))
        segments = plan.rows(features.track_ids, index)
        run = train_and_score(build, features, segments["fit"], segments["tune"], [], select_rows=segments["select"],
                              seed=DEFAULT_SEED + index,
                              **{"config": TrainingConfig(), **options})
        rows.append({"fold": list(plan.folds[index]), "fit_tracks": len(tracks["fit"]),
                     "select_tracks": len(tracks["select"]), "probe": round(probe_acc, 4),
                     "cnn": round(float(run.record["select_track_accuracy"]), 4), "cnn_model": name})
        print(f"  outer fold {plan.folds[index]}: {len(tracks['select'])} selection tracks: probe {probe_acc:.3f}, "
              f"{name} {rows[-1]['cnn']:.3f}", flush=True)
    return rows


def main(argv=None) -> int:
    """Command-line entry point: ``python -m tools.train_probe_bundle``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUNDLED_DIR / PROBE_BUNDLE_NAME), help="bundle stem")
    parser.add_argument("--compare-cnn", type=int, default=4, metavar="N",
                        help="compare with the shipped CNN on the selection tracks of the first N outer folds (0: skip)")
    args = parser.parse_args(argv)
    table, flavour = training_tracks()
    labels = table["label"].to_numpy(dtype=np.int64)
    print(f"{len(table)} tracks ({flavour}); musicnn ({VARIANT}) embeddings from the one path "
          f"(level {TARGET_RMS} RMS, NumPy network)", flush=True)
    emb = extract_embeddings(table, model=VARIANT, layer=LAYER, pooling=("mean", "max"))
    fit, tune = validation_tracks_split(table, np.arange(len(table)), TUNE_FRACTION, DEFAULT_SEED)
    chosen = fit_linear_classifier(build_probe(len(GENRES)), emb.X[fit], labels[fit], emb.X[tune], labels[tune])
    pooling, C = chosen.model.pooling, chosen.model.C
    tune_accuracy = float(np.mean(chosen.model.predict_proba(emb.X[tune]).argmax(axis=1) == labels[tune]))
    print(f"chosen on {len(tune)} tune tracks (fitted on {len(fit)}): {chosen.choice}; "
          f"tune-track accuracy {tune_accuracy:.3f}")
    comparison = compare_with_cnn(table, emb, args.compare_cnn) if args.compare_cnn > 0 and flavour != "full" else []
    probe = build_probe(len(GENRES), C, pooling).fit(emb.X, labels)
    metadata = {
        "model": f"musicnn ({VARIANT.upper()}) {LAYER} embeddings, {pooling} over 3 s patches, "
                 "+ logistic regression (linear probe)",
        "data": f"{flavour} GTZAN", "protocol": PROTOCOL, "train_tracks": len(table),
        "setting": {"pooling": pooling, "C": C, "fit_tracks": len(fit), "tune_tracks": len(tune),
                    "tune_accuracy": round(tune_accuracy, 4)},
        "embedding_path": "helpers.musicnn.clip_embeddings (via helpers.embeddings.extract_embeddings)",
        "source": "Pons & Serra 2019, musicnn 0.1.0 (ISC licence), weights trained on MSD tags",
        "tool": "tools/train_probe_bundle.py",
    }
    if comparison:
        summary = {m: round(float(np.mean([r[m] for r in comparison])), 4) for m in ("probe", "cnn")}
        metadata["selection_vs_cnn"] = {"folds": comparison, "mean": summary,
                                        "protocol": "fit / tune / select tracks of the committed fold plan's "
                                                    "first outer folds; test tracks unused"}
        print(f"selection-track accuracy, mean of {len(comparison)} outer folds: {summary}")
    exported = probe.to_dict()
    path = save_probe_bundle(args.out, exported, GENRES, metadata, variant=VARIANT, layer=LAYER,
                             pooling=pooling, target_rms=TARGET_RMS)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
