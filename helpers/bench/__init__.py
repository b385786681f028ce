"""Benchmark scripts (not timed tests): ``python -m helpers.bench features|training``.

Each benchmark times the naive way and the book's way in the same run, on the same machine, and
prints the ratios.
"""
