"""The paper's evaluation metrics, their bootstrap intervals and paired comparisons.

Small pure functions over plain lists (no Django) so the report page, ``eval_report --json`` and the
exports share one definition. docs/method.md, "The evaluation protocol": average dialogue rating (1–5), share of
dialogues with at least one excellent response, the five bad-case fix statuses (fix rate = the three
"fixed" ones), four binary skills. Percentages are 0–100 floats, unrounded.
"""

from __future__ import annotations

from collections.abc import Sequence

# The interval and the paired tests live with the engine's statistics (one owner, no Django), so the
# learning benchmarks and tests use the same ones as the report page.
from engine.evalstats import bootstrap_ci as bootstrap_ci
from engine.evalstats import paired_bootstrap as paired_bootstrap
from engine.evalstats import sign_test as sign_test
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
