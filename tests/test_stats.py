import numpy as np
import pytest
from scipy import stats

from helpers.errors import ParameterError
from helpers.stats import corrected_resampled_ttest, holm, mcnemar_test, paired_bootstrap


def test_corrected_ttest_is_wider_than_the_naive_paired_ttest():
    rng = np.random.default_rng(0)
    a = 0.75 + 0.05 * rng.standard_normal(15)
    b = a - 0.03 + 0.03 * rng.standard_normal(15)
    result = corrected_resampled_ttest(a, b, n_train=80, n_test=20)
    naive = stats.ttest_rel(a, b)
    d = a - b
    expected_t = d.mean() / np.sqrt((1 / 15 + 20 / 80) * d.var(ddof=1))
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(expected_t), 14))
    assert result.p_value > naive.pvalue  # the overlap correction makes it more conservative
    assert result.low < result.difference < result.high
    assert result.difference == pytest.approx(d.mean())


def test_corrected_ttest_constant_difference_and_bad_input():
    same = corrected_resampled_ttest([0.7, 0.8, 0.9], [0.7, 0.8, 0.9], 80, 20)
    assert same.p_value == 1.0 and same.difference == 0.0
    with pytest.raises(ParameterError, match="same length"):
        corrected_resampled_ttest([0.7, 0.8], [0.7], 80, 20)
    with pytest.raises(ParameterError, match="positive"):
        corrected_resampled_ttest([0.7, 0.8], [0.6, 0.7], 0, 20)


def test_mcnemar_uses_only_discordant_items():
    a = np.array([1] * 50 + [1] * 10 + [0] * 2 + [0] * 38)
    b = np.array([1] * 50 + [0] * 10 + [1] * 2 + [0] * 38)
    result = mcnemar_test(a, b)
    assert result.p_value == pytest.approx(stats.binomtest(10, 12, 0.5).pvalue)
    assert result.difference == pytest.approx(0.08)
    assert mcnemar_test(a, a).p_value == 1.0


def test_paired_bootstrap_interval_and_seed():
    a = np.r_[np.ones(80), np.zeros(20)]
    b = np.r_[np.ones(60), np.zeros(40)]
    first, second = paired_bootstrap(a, b, seed=1), paired_bootstrap(a, b, seed=1)
    assert first == second
    assert 0.1 < first.low < 0.2 < first.high < 0.3 and first.p_value < 0.01
    assert paired_bootstrap(a, a).p_value == 1.0
    with pytest.raises(ParameterError, match="n_boot"):
        paired_bootstrap(a, b, n_boot=10)


def test_holm_matches_the_textbook_example():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.9, 0.8]), [1.0, 1.0])  # capped at 1, monotone
    with pytest.raises(ParameterError):
        holm([1.5])


def test_describe_names_both_models():
    text = corrected_resampled_ttest([0.8, 0.9, 0.85], [0.7, 0.8, 0.8], 80, 20).describe("GAP CNN", "CNN")
    assert text.startswith("GAP CNN − CNN: +8.3 points, 95 % CI [") and "p = " in text
