"""annotation.agreement against the reference implementations installed in the venv."""

import doctest
import math
import random

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from annotation import agreement
from annotation.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha


def test_doctests():
    assert doctest.testmod(agreement).failed == 0


def _reference_alpha(data, level):
    array = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    return krippendorff.alpha(reliability_data=array, level_of_measurement=level)


def _random_reliability(rng: random.Random, raters: int, units: int, values: list, missing: float):
    return [[None if rng.random() < missing else rng.choice(values) for _ in range(units)] for _ in range(raters)]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(25))
def test_alpha_matches_krippendorff_package_with_missing_values(level, seed):
    rng = random.Random(seed)
    data = _random_reliability(rng, rng.randint(2, 6), rng.randint(3, 30), [1, 2, 3, 4, 5], missing=0.3)
    try:
        expected = _reference_alpha(data, level)
    except ValueError:  # fewer than two values or no pairable unit: undefined
        assert math.isnan(krippendorff_alpha(data, level))
        return
    assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=8, max_size=8), min_size=2, max_size=5),
    st.sampled_from(["nominal", "ordinal", "interval", "ratio"]),
)
def test_alpha_property_matches_reference(data, level):
    try:
        expected = _reference_alpha(data, level)
    except ValueError:
        assert math.isnan(krippendorff_alpha(data, level))
        return
    if math.isnan(expected):  # the package divides 0/0 when every pairable value is equal
        assert math.isnan(krippendorff_alpha(data, level))
    else:
        assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)


def test_alpha_nominal_on_string_choices():
    data = [["A", "B", "equal", "A", None], ["A", "B", "A", "A", "B"], [None, "B", "equal", "B", "B"]]
    expected = krippendorff.alpha(
        reliability_data=np.array([[("nan" if v is None else v) for v in row] for row in data]),
        level_of_measurement="nominal",
    )
    assert krippendorff_alpha(data, "nominal") == pytest.approx(expected)


def test_alpha_perfect_agreement_and_bad_level():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "interval") == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[1, None], [None, 2]], "nominal"))
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha([[1]], "cardinal")


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(20))
def test_cohen_matches_sklearn(weights, seed):
    rng = random.Random(seed)
    n = rng.randint(5, 40)
    a = [rng.randint(1, 5) for _ in range(n)]
    b = [x if rng.random() < 0.6 else rng.randint(1, 5) for x in a]
    expected = cohen_kappa_score(a, b, weights=weights)
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected, abs=1e-9)


def test_cohen_on_string_labels_and_errors():
    a, b = ["A", "B", "equal", "A"], ["A", "B", "A", "bad"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    with pytest.raises(ValueError, match="same units"):
        cohen_kappa([1], [1, 2])
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa([1], [1], weights="cubic")


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_matches_statsmodels(seed):
    rng = random.Random(seed)
    raters, categories = rng.randint(2, 7), rng.randint(2, 5)
    table = []
    for _ in range(rng.randint(3, 30)):
        row = [0] * categories
        for _ in range(raters):
            row[rng.randrange(categories)] += 1
        table.append(row)
    expected = sm_fleiss_kappa(np.array(table))
    assert fleiss_kappa(table) == pytest.approx(expected, abs=1e-9)


def test_fleiss_refuses_ragged_tables():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[2, 1], [1, 1]])
