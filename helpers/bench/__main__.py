"""Run a benchmark: ``python -m helpers.bench features``, ``training``, ``embeddings`` or ``predict``."""

import importlib
import sys

BENCHMARKS = {
    "features": "helpers.bench.features",  # chapter *From audio to features*
    "training": "helpers.bench.training",  # chapters *CNN* and *LSTM*
    "embeddings": "helpers.bench.embeddings",  # chapter *Transfer learning*
    "predict": "helpers.bench.predict",  # genre-predict: first run, cold start, per clip vs the previous path, folder
}


def main(argv=None) -> int:
    """Run the benchmark named by the first argument (``python -m helpers.bench NAME ...``)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m helpers.bench {{{'|'.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
