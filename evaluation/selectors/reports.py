"""The paper's report per eval set: per-system metrics over consensus judgments, intervals, agreement,
pre-score averages and paired comparisons. Math lives in ``evaluation.metrics``; this module gathers rows."""

from __future__ import annotations

import math
from collections import defaultdict

from annotation.agreement import krippendorff_alpha
from evaluation import columns, metrics
from evaluation.models import EvalSet, EvalSystem, Judgment, Response


def _consensus_by_system(eval_set: EvalSet) -> dict[str, dict[int, Judgment]]:
    rows = Judgment.objects.filter(item__eval_set=eval_set, consensus=True).select_related("system")
    out: dict[str, dict[int, Judgment]] = defaultdict(dict)
    for j in rows:
        out[j.system.name][j.item_id] = j
    return out


def _systems_in(eval_set: EvalSet) -> list[str]:
    judged = Judgment.objects.filter(item__eval_set=eval_set).values_list("system__name", flat=True)
    answered = Response.objects.filter(item__eval_set=eval_set).values_list("system__name", flat=True)
    return sorted(set(judged) | set(answered))


def _item_values(eval_set: EvalSet, judgment: Judgment) -> dict[str, float]:
    """One consensus judgment as the numbers each report column averages (rates as 0/100), by column key
    (``evaluation.columns``): the intervals and the paired comparison resample these."""
    values: dict[str, float] = {}
    if judgment.rating is not None:
        values["avg_rating"] = float(judgment.rating)
    if eval_set.kind == EvalSet.Kind.ONLINE:
        values["excellent_share"] = 100.0 if judgment.excellent_turns else 0.0
    if judgment.fix_status:
        for key, counted in columns.STATUS_RATES.items():
            values[key] = 100.0 if judgment.fix_status in counted else 0.0
    for skill in metrics.SKILLS:
        if isinstance((judgment.skills or {}).get(skill), bool):
            values[f"skills.{skill}"] = 100.0 if judgment.skills[skill] else 0.0
    return values


def _system_row(eval_set: EvalSet, judgments: list[Judgment]) -> dict:
    online = eval_set.kind == EvalSet.Kind.ONLINE
    rates = metrics.status_rates([j.fix_status for j in judgments if j.fix_status])
    if online or not any(j.fix_status for j in judgments):
        rates = dict.fromkeys(rates)
    return {
        "n": len(judgments),
        "avg_rating": metrics.mean([j.rating for j in judgments if j.rating is not None]),
        "excellent_share": metrics.percent([bool(j.excellent_turns) for j in judgments]) if online else None,
        **rates,
        "skills": metrics.skill_rates([j.skills or {} for j in judgments]),
    }


def eval_report(*, eval_set: EvalSet) -> dict:
    """``eval_report --json``'s shape: consensus judgments only; the rest counted as pending."""
    consensus = _consensus_by_system(eval_set)
    systems, pending = {}, {}
    items_with_any = defaultdict(set)
    for system, item_id in Judgment.objects.filter(item__eval_set=eval_set).values_list("system__name", "item_id"):
        items_with_any[system].add(item_id)
    for system, item_id in Response.objects.filter(item__eval_set=eval_set).values_list("system__name", "item_id"):
        items_with_any[system].add(item_id)
    for name in _systems_in(eval_set):
        done = consensus.get(name, {})
        systems[name] = _system_row(eval_set, list(done.values()))
        pending[name] = len(items_with_any[name] - set(done))
    return {"eval_set": eval_set.name, "kind": eval_set.kind, "systems": systems, "pending": pending}


# Below this many items a bootstrap interval means little (n = 2 gives an interval of two values): the
# report says "too few" instead of printing one.
MIN_ITEMS_FOR_INTERVAL = 5


def _intervals(eval_set: EvalSet, judgments: list[Judgment], *, n_resamples: int) -> dict[str, tuple | None]:
    columns: dict[str, list[float]] = defaultdict(list)
    for j in judgments:
        for key, value in _item_values(eval_set, j).items():
            columns[key].append(value)
    return {
        key: metrics.bootstrap_ci(vals, n_resamples=n_resamples) if len(vals) >= MIN_ITEMS_FOR_INTERVAL else None
        for key, vals in columns.items()
    }


def _prescore_averages(eval_set: EvalSet, name: str) -> dict[str, float | None]:
    scores = Response.objects.filter(item__eval_set=eval_set, system__name=name).values_list("prescores", flat=True)
    rows = [s or {} for s in scores]

    def avg(key: str) -> float | None:
        return metrics.mean([float(r[key]) for r in rows if isinstance(r.get(key), int | float)])

    return {
        "rf_points": avg("rf_points"),
        "rf_violation_share": metrics.percent([bool(r.get("rf_violations")) for r in rows if "rf_violations" in r]),
        "judge_points": avg("judge_points"),
        "rm_score": avg("rm_score"),
    }


def agreement(*, eval_set: EvalSet) -> dict[str, float | None]:
    """Krippendorff's alpha per question over the raters' (non-consensus) judgments.

    Units are (item, system) pairs; ordinal for the 1–5 rating, nominal for fix status and each skill.
    None when undefined (fewer than two raters on any unit, or no variation).
    """
    raw = Judgment.objects.filter(item__eval_set=eval_set, consensus=False)
    questions: dict[str, tuple[str, dict]] = {
        "rating": ("ordinal", {}),
        "fix_status": ("nominal", {}),
        **{f"skills.{s}": ("nominal", {}) for s in metrics.SKILLS},
    }
    for j in raw:
        unit = (j.item_id, j.system_id)
        answers = {"rating": j.rating, "fix_status": j.fix_status or None}
        answers.update({f"skills.{s}": (j.skills or {}).get(s) for s in metrics.SKILLS})
        for question, value in answers.items():
            if value is not None:
                questions[question][1].setdefault(j.rater, {})[unit] = value
    out: dict[str, float | None] = {}
    for question, (level, by_rater) in questions.items():
        units = sorted({u for answers in by_rater.values() for u in answers})
        data = [[answers.get(u) for u in units] for answers in by_rater.values()]
        alpha = krippendorff_alpha(data, level) if len(data) >= 2 else math.nan
        out[question] = None if math.isnan(alpha) else alpha
    return out


def eval_report_detail(*, eval_set: EvalSet, n_resamples: int = 2000) -> dict:
    """The report page: the JSON shape plus 95% intervals, pre-score averages, agreement and model versions."""
    report = eval_report(eval_set=eval_set)
    consensus = _consensus_by_system(eval_set)
    versions = dict(EvalSystem.objects.filter(name__in=report["systems"]).values_list("name", "model_version__name"))
    for name, row in report["systems"].items():
        row["ci"] = _intervals(eval_set, list(consensus.get(name, {}).values()), n_resamples=n_resamples)
        row["prescores"] = _prescore_averages(eval_set, name)
        row["model_version"] = versions.get(name)
    report["version"] = eval_set.version
    report["agreement"] = agreement(eval_set=eval_set)
    return report


def paired_comparison(*, eval_set: EvalSet, a: str, b: str, metric: str, n_resamples: int = 2000) -> dict:
    """System ``a`` against ``b`` on the items both have a consensus value for: paired bootstrap + sign test."""
    consensus = _consensus_by_system(eval_set)
    left = {i: _item_values(eval_set, j).get(metric) for i, j in consensus.get(a, {}).items()}
    right = {i: _item_values(eval_set, j).get(metric) for i, j in consensus.get(b, {}).items()}
    shared = sorted(i for i in left.keys() & right.keys() if left[i] is not None and right[i] is not None)
    xs, ys = [left[i] for i in shared], [right[i] for i in shared]
    return {
        "a": a,
        "b": b,
        "metric": metric,
        "n": len(shared),
        "too_few": len(shared) < MIN_ITEMS_FOR_INTERVAL,
        "bootstrap": metrics.paired_bootstrap(xs, ys, n_resamples=n_resamples),
        "sign_test": metrics.sign_test(xs, ys),
    }


def default_pair(systems: list[str]) -> tuple[str | None, str | None]:
    """The paired comparison's starting choice: two different systems, a model first and the human
    reply ("gold") second when there is one."""
    if len(systems) < 2:
        return (systems[0] if systems else None), None
    others = [s for s in systems if s != "gold"]
    a = others[0] if others else systems[0]
    b = "gold" if "gold" in systems and a != "gold" else next(s for s in systems if s != a)
    return a, b


def metric_keys(*, eval_set: EvalSet) -> list[str]:
    """The columns a paired comparison can use for this kind of set."""
    return columns.comparison_keys(eval_set.kind)
