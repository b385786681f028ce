"""Record chapter 6's learning-rate / batch-size sweep: ``make sweep`` → ``results/06_sweep.csv``.

The sweep trains the report's CNN three more times (learning rates 5e-4 and 1e-2, batch 256): more than
chapter 6's 3-minute budget (mini GTZAN, 2 cores) leaves. The chapter shows its
code and renders this record when it belongs to the chapter's own run (same data and kept input
treatment, same fit and selection tracks, and the same numbers for the recipe's own run, which the
chapter trains anyway: :func:`helpers.results.load_record`); otherwise the chapter trains the sweep
itself and says so. This script executes chapter 6 on a scratch run with ``BOOK_RERUN_STUDIES`` set, so
the chapter's own code trains the sweep and writes the record; the stored notebook is not changed.
Run it on a quiet machine after changing chapter 6 or its data, and commit the record.

Usage: ``python -m tools.sweep [--flavour mini]`` (``make sweep``).
"""

from __future__ import annotations

import argparse
import os
import sys

from tools.notebooks import REPO, execute

CHAPTER = REPO / "chapters" / "06_cnn.ipynb"
RECORD = REPO / "results" / "06_sweep.csv"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--flavour", choices=["full", "mini", "synthetic"], default="mini", help="GTZAN flavour")
    args = parser.parse_args(argv)
    os.environ["GTZAN_FLAVOUR"] = args.flavour
    os.environ["BOOK_RERUN_STUDIES"] = "1"
    os.environ.pop("MPLBACKEND", None)
    before = RECORD.stat().st_mtime_ns if RECORD.exists() else None
    print(f"executing a scratch run of {CHAPTER.relative_to(REPO)} (the stored notebook is kept) ...", flush=True)
    elapsed = execute(CHAPTER, store=False)
    if not RECORD.exists() or RECORD.stat().st_mtime_ns == before:
        print(f"error: the run did not write {RECORD.relative_to(REPO)}", file=sys.stderr)
        return 1
    print(f"wrote {RECORD.relative_to(REPO)} in {elapsed:.0f} s; commit it, then re-execute chapter 6 "
          "(python -m tools.notebooks run chapters/06_cnn.ipynb) so that its stored outputs render it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
