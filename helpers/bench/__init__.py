"""Benchmark scripts (not timed tests): ``python -m helpers.bench features|training``.

Each benchmark times the naive way and the book's way in the same run, on the same machine, and
prints the ratios.
"""


def clip_benchmark_arguments(parser, workers: str, extra=()) -> None:
    """Add the options every per-clip benchmark takes: ``--limit``, ``--n-jobs``, ``--flavour``, ``--json``, ``--strict``.

    ``workers`` says what ``--n-jobs`` sets; ``extra`` is called with the parser between ``--n-jobs``
    and ``--flavour`` (a benchmark's own options).
    """
    parser.add_argument("--limit", type=int, default=None, help="use at most N clips (spread over genres)")
    parser.add_argument("--n-jobs", type=int, default=2, help=f"workers of {workers} (default 2)")
    for add in extra:
        add(parser)
    parser.add_argument("--flavour", choices=["full", "mini", "synthetic"], help="GTZAN flavour")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a target is not met")


def parse_clip_benchmark_arguments(parser, argv):
    """``parser.parse_args(argv)`` with ``--limit`` and ``--n-jobs`` checked (a usage error otherwise)."""
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.n_jobs == 0 or args.n_jobs < -1:
        parser.error("--n-jobs must be -1 or a positive number")
    return args
