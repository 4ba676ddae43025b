"""Every metric on hand-made judgments (evaluation.metrics is pure)."""

import math

import pytest

from evaluation import metrics


def test_mean_and_percent():
    assert metrics.mean([]) is None
    assert metrics.mean([4, 5]) == 4.5
    assert metrics.percent([]) is None
    assert metrics.percent([True, False, False, False]) == 25.0


def test_status_rates_reproduce_the_papers_repo_row():
    statuses = ["clean"] * 34 + ["minor_issues"] * 6 + ["major_issues"] * 2 + ["unresolved"] * 3
    rates = metrics.status_rates(statuses)
    assert rates["fix_rate"] == pytest.approx(100 * 42 / 45)
    assert rates["clean_fix_rate"] == pytest.approx(100 * 34 / 45)
    assert rates["minor_issue_rate"] == pytest.approx(100 * 6 / 45)
    assert rates["major_issue_rate"] == pytest.approx(100 * 2 / 45)
    assert rates["unresolved_rate"] == pytest.approx(100 * 3 / 45)
    assert rates["severe_unresolved_rate"] == 0.0
    assert round(rates["fix_rate"], 2) == 93.33 and round(rates["clean_fix_rate"], 2) == 75.56


def test_status_rates_of_nothing_are_none():
    assert set(metrics.status_rates([]).values()) == {None}


def test_skill_rates_skip_unanswered():
    rates = metrics.skill_rates([{"fluency": True, "scope_understanding": False}, {"fluency": False}, {}])
    assert rates["fluency"] == 50.0
    assert rates["scope_understanding"] == 0.0
    assert rates["workflow_compliance"] is None


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = [5, 4, 5, 3, 5, 4, 5, 5, 4, 5] * 3
    lo, hi = metrics.bootstrap_ci(values)
    assert lo <= metrics.mean(values) <= hi
    assert 3 <= lo < hi <= 5
    assert metrics.bootstrap_ci(values) == (lo, hi)
    assert metrics.bootstrap_ci([]) is None
    assert metrics.bootstrap_ci([2.0, 2.0]) == (2.0, 2.0)


def test_bootstrap_ci_narrows_with_more_items():
    small = metrics.bootstrap_ci([0, 100] * 5)
    large = metrics.bootstrap_ci([0, 100] * 100)
    assert (large[1] - large[0]) < (small[1] - small[0])


def test_paired_bootstrap_sees_a_consistent_gain():
    a = [5, 5, 4, 5, 4, 5, 5, 4, 5, 5]
    b = [4, 3, 3, 4, 4, 3, 4, 3, 4, 4]
    result = metrics.paired_bootstrap(a, b)
    assert result["n"] == 10
    assert result["diff"] == pytest.approx(1.1)
    assert result["ci"][0] > 0
    assert result["p_value"] < 0.05


def test_paired_bootstrap_of_equal_systems_is_not_significant():
    result = metrics.paired_bootstrap([3, 4, 5, 3], [3, 4, 5, 3])
    assert result["diff"] == 0 and result["p_value"] == 1.0


def test_paired_tests_need_the_same_items():
    with pytest.raises(ValueError):
        metrics.paired_bootstrap([1, 2], [1])
    with pytest.raises(ValueError):
        metrics.sign_test([1, 2], [1])


def test_sign_test_matches_the_binomial():
    from scipy.stats import binomtest

    a = [5, 5, 4, 3, 5, 4, 2, 5]
    b = [4, 4, 4, 4, 3, 3, 3, 2]
    result = metrics.sign_test(a, b)
    assert (result["wins"], result["losses"], result["ties"]) == (5, 2, 1)
    assert result["p_value"] == pytest.approx(binomtest(5, 7, 0.5).pvalue)
    assert metrics.sign_test([], [])["p_value"] == 1.0
    assert not math.isnan(metrics.sign_test([1], [2])["p_value"])


def test_docstring_examples():
    import doctest

    assert doctest.testmod(metrics).failed == 0
