"""Property tests for the REPO enhancement (every property docs/method.md lists)."""

import doctest
import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from engine.rewards import enhancement
from engine.rewards.enhancement import enhanced_reward, enhanced_reward_batch

rewards = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
points = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
scales = st.floats(min_value=1.0, max_value=500.0)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@given(rewards, points, points, scales)
def test_multiplier_stays_within_zero_and_two(r, j, f, n):
    total = enhanced_reward(r, j, f, n)
    if r != 0:
        assert -1e-9 <= total / r <= 2 + 1e-9


@given(rewards, points, points, scales)
def test_sign_never_flips_and_magnitude_at_most_doubles(r, j, f, n):
    total = enhanced_reward(r, j, f, n)
    assert total * r >= 0
    assert abs(total) <= 2 * abs(r) + 1e-9


@given(rewards, points, points, points, scales)
def test_monotone_in_the_auxiliary_points(r, j, f1, f2, n):
    lo, hi = sorted((f1, f2))
    assert enhanced_reward(r, j, lo, n) <= enhanced_reward(r, j, hi, n) + 1e-9


@given(points, points, scales)
def test_zero_model_reward_gives_zero(j, f, n):
    assert enhanced_reward(0.0, j, f, n) == 0.0


@given(rewards, st.floats(min_value=0, max_value=1e4), scales)
def test_points_clip_at_plus_minus_n(r, extra, n):
    assert _close(enhanced_reward(r, n + extra, 0.0, n), enhanced_reward(r, n, 0.0, n))
    assert _close(enhanced_reward(r, -n - extra, 0.0, n), enhanced_reward(r, -n, 0.0, n))
    assert _close(enhanced_reward(r, n + extra, 0.0, n), r + abs(r))
    assert _close(enhanced_reward(r, -n - extra, 0.0, n), r - abs(r))


@given(rewards, points, points, scales)
def test_matches_the_two_branch_form_of_the_paper(r, j, f, n):
    e = min(max(j + f, -n), n)
    expected = r * (1 + e / n) if r > 0 else r * (1 - e / n) if r < 0 else 0.0
    assert math.isclose(enhanced_reward(r, j, f, n), expected, rel_tol=1e-9, abs_tol=1e-6)


@given(st.lists(st.tuples(rewards, points, points), min_size=1, max_size=16), scales)
def test_batch_matches_scalar(rows, n):
    r, j, f = (torch.tensor(col, dtype=torch.float64) for col in zip(*rows, strict=True))
    batch = enhanced_reward_batch(r, j, f, n).tolist()
    for (ri, ji, fi), got in zip(rows, batch, strict=True):
        assert math.isclose(got, enhanced_reward(ri, ji, fi, n), rel_tol=1e-9, abs_tol=1e-6)


def test_rejects_non_positive_n():
    import pytest

    with pytest.raises(ValueError):
        enhanced_reward(1.0, 0.0, 0.0, n=0)


def test_docstring_examples():
    assert doctest.testmod(enhancement).failed == 0
