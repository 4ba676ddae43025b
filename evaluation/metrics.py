"""The paper's evaluation metrics, their bootstrap intervals and paired comparisons.

Small pure functions over plain lists (no Django) so the report page, ``eval_report --json`` and the
exports share one definition. docs/method.md, "The evaluation protocol": average dialogue rating (1–5), share of
dialogues with at least one excellent response, the five bad-case fix statuses (fix rate = the three
"fixed" ones), four binary skills. Percentages are 0–100 floats, unrounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from engine.vocab import SKILLS
from evaluation.columns import STATUS_RATES  # report key -> the fix statuses it counts


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, None for no values.

    >>> mean([4, 5, 5]), mean([])
    (4.666666666666667, None)
    """
    return sum(values) / len(values) if values else None


def percent(values: Sequence[bool | int]) -> float | None:
    """The share of true values as a 0–100 float, None for no values.

    >>> percent([True, True, False])
    66.66666666666667
    """
    return 100.0 * sum(1 for v in values if v) / len(values) if values else None


def status_rates(statuses: Sequence[str]) -> dict[str, float | None]:
    """Each bad-case rate of the paper's table over one system's consensus statuses.

    >>> r = status_rates(["clean"] * 34 + ["minor_issues"] * 6 + ["major_issues"] * 2 + ["unresolved"] * 3)
    >>> round(r["fix_rate"], 2), round(r["clean_fix_rate"], 2), round(r["major_issue_rate"], 2)
    (93.33, 75.56, 4.44)
    """
    return {key: percent([s in counted for s in statuses]) for key, counted in STATUS_RATES.items()}


def skill_rates(skill_dicts: Sequence[dict]) -> dict[str, float | None]:
    """Pass rate per binary skill over the judgments that answered it.

    >>> skill_rates([{"fluency": True}, {"fluency": False}])["fluency"]
    50.0
    """
    return {s: percent([d[s] for d in skill_dicts if d.get(s) is not None]) for s in SKILLS}


def _resampled_means(values: Sequence[float], *, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` resamples of ``values`` with replacement (one vectorised draw, seeded)."""
    data = np.asarray(values, dtype=float)
    index = np.random.default_rng(seed).integers(0, len(data), size=(n_resamples, len(data)))
    return data[index].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean over items resampled with replacement.

    Efron, B. & Tibshirani, R. (1993). *An Introduction to the Bootstrap*, ch. 13 (percentile interval).
    Items are the resampling unit: a dialogue's judgments move together. Seeded, so a report is stable.

    >>> bootstrap_ci([1.0] * 10)
    (1.0, 1.0)
    >>> lo, hi = bootstrap_ci([0, 1] * 20); bool(lo < 0.5 < hi)
    True
    """
    if not values:
        return None
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(_resampled_means(values, n_resamples=n_resamples, seed=seed), [alpha, 100.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict:
    """Mean difference a − b over the same items, its percentile interval and a two-sided bootstrap p.

    Efron & Tibshirani (1993), ch. 16 (bootstrap hypothesis tests); pairs are resampled together so
    item difficulty cancels. p = 2 · min(share of resampled differences ≤ 0, share ≥ 0), capped at 1.

    >>> r = paired_bootstrap([5, 5, 4, 5], [3, 4, 3, 3]); r["diff"], r["ci"][0] > 0
    (1.5, True)
    """
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same items for both systems")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if not diffs:
        return {"n": 0, "diff": None, "ci": None, "p_value": None}
    boot = _resampled_means(diffs, n_resamples=n_resamples, seed=seed)
    tail = min(float((boot <= 0).mean()), float((boot >= 0).mean()))
    return {
        "n": len(diffs),
        "diff": mean(diffs),
        "ci": bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed),
        "p_value": min(1.0, 2.0 * tail),
    }


def sign_test(a: Sequence[float], b: Sequence[float]) -> dict:
    """Exact two-sided sign test on paired items (ties dropped): p = 2 · P(X ≤ min(w, l)), X ~ Bin(w+l, ½).

    Dixon, W. J. & Mood, A. M. (1946). "The statistical sign test". JASA 41(236).

    >>> sign_test([5, 5, 5, 5, 5, 5], [1, 1, 1, 1, 1, 1])["p_value"]
    0.03125
    >>> sign_test([3, 4], [3, 4])["p_value"]
    1.0
    """
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same items for both systems")
    wins = sum(1 for x, y in zip(a, b, strict=True) if x > y)
    losses = sum(1 for x, y in zip(a, b, strict=True) if x < y)
    n = wins + losses
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n if n else 1.0
    return {"wins": wins, "losses": losses, "ties": len(a) - n, "p_value": min(1.0, 2.0 * tail)}
