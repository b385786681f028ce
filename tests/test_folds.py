"""Folds as data: the version-free generator and the committed fold tables (helpers/folds/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError, ParameterError
from helpers.splits import (
    check_fold_table,
    hashed_folds,
    read_fold_table,
    stable_key,
    write_fold_table,
)
from tools import folds as fold_tool


def test_stable_key_is_a_fixed_function_of_seed_and_item():
    # The value itself is pinned: it is SHA-256, so no library or Python version may change it.
    assert stable_key(42, "blues.00000") == int.from_bytes(
        __import__("hashlib").sha256(b"42/blues.00000").digest()[:8], "big")
    assert stable_key(42, "blues.00000") != stable_key(43, "blues.00000")


def test_hashed_folds_are_stratified_balanced_and_deterministic():
    items = [f"{g}.{i:05d}" for g in ("a", "b", "c") for i in range(10)]
    strata = [i.split(".")[0] for i in items]
    fold = hashed_folds(items, strata, 4, seed=7)
    assert set(fold) == {0, 1, 2, 3}
    sizes = np.bincount(fold)
    assert sizes.max() - sizes.min() <= 1
    for stratum in "abc":
        per = np.bincount(fold[np.asarray(strata) == stratum], minlength=4)
        assert per.max() - per.min() <= 1
    assert np.array_equal(fold, hashed_folds(items, strata, 4, seed=7))
    # the order in which items are given does not matter
    reverse = hashed_folds(items[::-1], strata[::-1], 4, seed=7)[::-1]
    assert np.array_equal(fold, reverse)
    assert not np.array_equal(fold, hashed_folds(items, strata, 4, seed=8))


@pytest.mark.parametrize("bad", [dict(n_splits=1), dict(items=["x", "x"], strata=["a", "a"])])
def test_hashed_folds_refuses_bad_input(bad):
    args = dict(items=["x", "y"], strata=["a", "a"], n_splits=2) | bad
    with pytest.raises(ParameterError):
        hashed_folds(**args)


def test_fold_table_round_trip_and_checks(tmp_path):
    frame = pd.DataFrame({"repeat": [0, 0], "fold": [0, 0], "item": ["t1", "t2"],
                          "stratum": ["a", "b"], "role": ["fit", "test"]})
    path = write_fold_table("toy", frame, "a toy table", folder=tmp_path)
    assert path.read_text().startswith("# a toy table\n")
    back = pd.read_csv(path, comment="#")
    assert check_fold_table(back).equals(check_fold_table(frame))
    with pytest.raises(DataError, match="unknown role"):
        check_fold_table(frame.assign(role=["fit", "train"]))
    with pytest.raises(DataError, match="appears twice"):
        check_fold_table(pd.concat([frame, frame]))
    with pytest.raises(DataError, match="missing"):
        read_fold_table("no_such_table")


@pytest.mark.parametrize("name", sorted(fold_tool.TABLES))
def test_committed_fold_tables_regenerate_identically(name):
    """What `python -m tools.folds check` does: in any environment, Colab's included."""
    try:
        problem = fold_tool.differences(fold_tool.TABLES[name])
    except fold_tool.InputMissing as missing:  # a table made from data this machine lacks
        pytest.skip(str(missing))
    assert problem is None
