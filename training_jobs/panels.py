"""How the job pages lay out metrics, W&B style: panels grouped by the metric's prefix (``reward/r_total``
is in group ``reward``), key metrics first, empty and flat-zero series hidden behind a toggle, and for
each metric whether higher or lower is better (the compare page marks the best run with it).

Pure functions of metric names and values: no Django, no database."""

from __future__ import annotations

import re
from typing import Any

GENERAL = "train"  # the group of metrics without a prefix (loss, kl, learning_rate, ...)
# Groups in the order people look at them; any other group follows, alphabetically.
GROUP_ORDER = ("reward", "eval", GENERAL, "rules", "judge")
# Within a group, these come first (the numbers a run is judged by), in this order.
KEY_METRICS = (
    "r_total",
    "reward/r_total",
    "reward/r_model",
    "reward/e_judge",
    "reward/e_func",
    "eval/accuracy",
    "accuracy",
    "eval_accuracy",
    "loss",
    "eval/loss",
    "eval_loss",
    "kl",
)
# Direction per metric: +1 higher is better, -1 lower is better; names not listed have no "best".
_HIGHER = re.compile(r"(^|/|_)(r_total|r_model|e_judge|e_func|reward|rewards|accuracy|acc|margin|explained_variance)$")
_LOWER = re.compile(
    r"(^|/|_)(loss|kl|failures|too_long|truncated|perplexity|violations?)$|^rules/|^judge/(?!failures|too_long|truncated)"
)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def group_of(metric: str) -> str:
    return metric.split("/", 1)[0] if "/" in metric else GENERAL


def direction(metric: str) -> int:
    """+1 when a higher value is better, -1 when lower is better, 0 when it is not a quality measure.
    Rule and rubric hit rates (``rules/<id>``, ``judge/<id>``) are better low: they count broken rules."""
    if _LOWER.search(metric):
        return -1
    if _HIGHER.search(metric):
        return 1
    return 0


def metric_sort_key(metric: str) -> tuple:
    group = group_of(metric)
    group_rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    key_rank = KEY_METRICS.index(metric) if metric in KEY_METRICS else len(KEY_METRICS)
    return (group_rank, group, key_rank, metric)


def is_empty(values: list[Any]) -> bool:
    """No point at all, or every point zero: a chart of it says nothing (e.g. E_judge without a judge)."""
    numbers = [v for v in values if v is not None]
    return not numbers or all(v == 0 for v in numbers)


def panel_groups(series: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """``[{"name", "metrics": [shown...], "hidden": [empty or flat-zero...]}]`` in reading order."""
    groups: dict[str, dict[str, Any]] = {}
    for metric in sorted(series, key=metric_sort_key):
        entry = groups.setdefault(group_of(metric), {"name": group_of(metric), "metrics": [], "hidden": []})
        entry["hidden" if is_empty(series[metric]) else "metrics"].append(metric)
    return list(groups.values())


def best_index(values: list[Any], metric: str) -> int | None:
    """Index of the best of several runs' final values, None when the metric has no direction, fewer
    than two runs have a value, or all values are equal (nothing to mark)."""
    sign = direction(metric)
    numbered = [(i, v) for i, v in enumerate(values) if isinstance(v, int | float) and not isinstance(v, bool)]
    if not sign or len(numbered) < 2 or len({v for _, v in numbered}) == 1:
        return None
    return max(numbered, key=lambda iv: sign * iv[1])[0]


def strip_ansi(text: str) -> str:
    """The log as a person reads it: colour escapes removed, and of a line that a progress bar redrew
    with carriage returns only its last state kept."""
    text = _ANSI.sub("", text)
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
