"""The confirmation run: chapter 8's fixed candidates re-scored on fresh folds (``make confirm``).

Usage::

    python -m tools.confirm      # mini GTZAN (GTZAN_MINI_DIR or the data layer); minutes on 2 cores

Chapter 8's candidate list (``helpers.models.candidates``) was curated while its test-fold scores on
the development folds (``helpers/folds/gtzan_mini_cv.csv``) were visible. This command re-scores
exactly that list, with the same recipe and the same nested protocol, on a second committed fold
table made with a fresh seed (``helpers/folds/gtzan_mini_confirm.csv``, never used during
development), and writes ``results/08_confirmation_fold_scores.csv`` (committed: every candidate's
score and track counts on every fresh outer fold, and each fold's nested choice). Chapter 8 renders
it next to its own scores, so the cost of curation shows without the chapter running twice.
"""

from __future__ import annotations

import argparse
import sys
import time

from helpers import set_seed
from helpers.backend import import_tensorflow
from helpers.config import DEFAULT_SEED
from helpers.datasets import load_gtzan
from helpers.evaluation import format_mean_std, nested_cross_validate
from helpers.features import FeatureConfig, extract_features
from helpers.models.candidates import evaluation_averages, evaluation_candidates
from helpers.results import save_results
from helpers.splits import gtzan_fold_plan
from helpers.training import TrainingConfig

#: The results table the run writes (``results/<NAME>.csv``).
NAME = "08_confirmation_fold_scores"


def main(argv=None) -> int:
    """Command-line entry point: ``python -m tools.confirm``."""
    parser = argparse.ArgumentParser(prog="python -m tools.confirm", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    table = load_gtzan()
    flavour = table.attrs["flavour"]
    if flavour != "mini":
        raise SystemExit(f"the confirmation run re-scores the book's mini GTZAN numbers; the data at hand is "
                         f"{flavour} GTZAN (set GTZAN_FLAVOUR=mini and GTZAN_MINI_DIR)")
    import_tensorflow()
    set_seed(DEFAULT_SEED, with_tensorflow=True)
    features = extract_features(table, FeatureConfig())
    plan = gtzan_fold_plan(features, "confirm")
    data = f"{flavour} GTZAN"
    print(f"{data}: {plan.protocol} from {plan.source}; candidates: {', '.join(evaluation_candidates())}", flush=True)
    start = time.perf_counter()
    candidates = evaluation_candidates()
    result = nested_cross_validate(candidates, features, plan, config=TrainingConfig(), seed=DEFAULT_SEED)
    for name, members in evaluation_averages().items():
        result.average(members, name)
    path = save_results(result.fold_table(data, with_choice=True), NAME)
    for name in result.names:
        print(f"  {name}: {format_mean_std(result.of(name)['track_vote_accuracy'])}")
    print(f"  nested choice: {format_mean_std(result.choices()['track_vote_accuracy'])}")
    print(f"wrote {path.name} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
