"""Paired comparisons of two models evaluated on the same tracks or the same folds.

Explained in chapter *Evaluation* (``chapters/08_evaluation.ipynb``), which shows
:func:`corrected_resampled_ttest` and :func:`holm`; chapters 9 and 10 use the same rule.

Why not "the gain is larger than the fold standard deviation"? Fold scores of two models are
*paired* (same test tracks) and *correlated across folds* (the training sets of k-fold overlap by
(k-2)/(k-1) of the data), so the fold spread is neither the standard error of a mean nor of a
difference. Nadeau & Bengio (2003) correct the variance of the mean difference for that overlap;
McNemar's test and the paired bootstrap compare per-track correctness directly.

References
----------
Nadeau, C. & Bengio, Y. (2003). Inference for the generalization error. *Machine Learning* 52, 239–281.
Dietterich, T. G. (1998). Approximate statistical tests for comparing supervised classification
learning algorithms. *Neural Computation* 10(7), 1895–1923.
Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian Journal of
Statistics* 6(2), 65–70.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

from helpers.config import DEFAULT_SEED
from helpers.errors import ParameterError


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of model A against model B (A − B).

    Explained in chapter *Evaluation* (what its tests return).

    Attributes
    ----------
    test : str
        The test's name.
    difference : float
        Mean difference A − B (accuracy, as a fraction).
    low, high : float
        Bounds of the 95 % confidence interval of the difference (NaN where the test gives none).
    p_value : float
        Two-sided p-value of "no difference".
    n : int
        Number of paired units (folds, or tracks).
    """

    test: str
    difference: float
    low: float
    high: float
    p_value: float
    n: int

    def describe(self, a: str = "A", b: str = "B") -> str:
        """One sentence: the difference in points, its interval and p-value."""
        interval = "" if np.isnan(self.low) else (
            f", 95 % CI [{100 * self.low:+.1f}, {100 * self.high:+.1f}]")
        return (f"{a} − {b}: {100 * self.difference:+.1f} points{interval}, "
                f"p = {self.p_value:.3f} ({self.test}, n = {self.n})")


def _paired_arrays(a, b, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as float arrays of the same length (at least 2), or an error naming both.

    Plumbing of chapter *Evaluation*'s paired tests (not shown).
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ParameterError(f"{name_a} and {name_b} must be paired arrays of the same length >= 2, "
                             f"got lengths {a.size} and {b.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ParameterError(f"{name_a} and {name_b} must be finite")
    return a, b


def corrected_resampled_ttest(scores_a, scores_b, n_train: int, n_test: int) -> PairedResult:
    """Nadeau & Bengio's corrected resampled t-test on paired fold scores.

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation*. With ``J`` folds (all repeats together) and differences ``d``,
    the variance of the mean difference is ``(1/J + n_test/n_train) * var(d)`` instead of the naive
    ``var(d)/J``: the second term accounts for the overlap of the training sets.

    Parameters
    ----------
    scores_a, scores_b : array-like
        Score of each model on each outer fold (same folds, same order).
    n_train, n_test : int
        Training and test size of one fold (tracks).

    Returns
    -------
    PairedResult
    """
    a, b = _paired_arrays(scores_a, scores_b, "scores_a", "scores_b")
    if n_train <= 0 or n_test <= 0:
        raise ParameterError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    d = a - b
    folds = d.size
    se = np.sqrt((1 / folds + n_test / n_train) * d.var(ddof=1))
    if se == 0:
        p = 1.0 if d.mean() == 0 else 0.0
        return PairedResult("corrected resampled t-test", float(d.mean()), float(d.mean()),
                            float(d.mean()), p, folds)
    t = d.mean() / se
    p = 2 * _scipy_stats.t.sf(abs(t), df=folds - 1)
    half = _scipy_stats.t.ppf(0.975, df=folds - 1) * se
    return PairedResult("corrected resampled t-test", float(d.mean()), float(d.mean() - half),
                        float(d.mean() + half), float(p), folds)


def mcnemar_test(correct_a, correct_b) -> PairedResult:
    """McNemar's exact test on per-item correctness of two models (same items).

    Used in chapter *Evaluation*: only the items where exactly one model is right carry
    information; under "no difference" each of them is equally likely to favour either model.
    """
    a, b = _paired_arrays(correct_a, correct_b, "correct_a", "correct_b")
    a, b = a.astype(bool), b.astype(bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else _scipy_stats.binomtest(only_a, discordant, 0.5).pvalue
    return PairedResult("McNemar exact test", float(a.mean() - b.mean()), np.nan, np.nan,
                        float(p), int(a.size))


def paired_bootstrap(correct_a, correct_b, n_boot: int = 10_000,
                     seed: int = DEFAULT_SEED) -> PairedResult:
    """Percentile interval and two-sided p-value of the accuracy difference, resampling items.

    Used in chapter *Evaluation* on out-of-fold track predictions (each track once).
    """
    a, b = _paired_arrays(correct_a, correct_b, "correct_a", "correct_b")
    if n_boot < 100:
        raise ParameterError(f"n_boot must be at least 100, got {n_boot}")
    rng = np.random.default_rng(seed)
    d = a - b
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    p = min(1.0, 2 * min(np.mean(means <= 0), np.mean(means >= 0)))
    return PairedResult("paired bootstrap", float(d.mean()), float(low), float(high), float(p),
                        int(d.size))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of several p-values (family-wise error rate).

    Notebook: chapters/08_evaluation.ipynb

    Explained in chapter *Evaluation*: with m comparisons, the smallest p-value is multiplied by m,
    the next by m − 1, …, and the adjusted values are made monotone.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if p.size == 0 or np.any((p < 0) | (p > 1) | ~np.isfinite(p)):
        raise ParameterError(f"p_values must be a non-empty array of values in [0, 1], got {p}")
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result
