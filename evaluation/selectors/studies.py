"""What the study page shows: the jobs' progress, the AUTOMATIC metrics of each method's version on the
online and bad-case sets (from the eval runs' pre-scores), with bootstrap intervals over items, and the
human panel's consensus table where experts have rated.

Automatic metrics per reply: rule violations (the engine's rule checker), the judge's points (E_judge,
when the study's reward configuration has a judge), the RM score (R_model, when it has an RM) and R_total
(``engine.rewards.enhancement.training_reward``, the trainer's own formula). The automatic fix proxy on the
bad-case set counts a reply as fixed when it breaks no rule and the judge deducted nothing; it is a proxy
for the experts' fix status, never a substitute.
"""

from __future__ import annotations

from collections import defaultdict

from engine.rewards.enhancement import DEFAULT_N, training_reward
from evaluation import metrics
from evaluation.models import EvalSet, EvalSystem, Response, Study
from evaluation.selectors.reports import MIN_ITEMS_FOR_INTERVAL, eval_report
from evaluation.services.studies import start_policy_name, study_is_settled
from kernel.status import Status
from registry.models import ModelVersion

# (key, label, shown on) for the per-method table; rates are 0-100.
AUTOMATIC_COLUMNS = (
    ("violation_rate", "rule-violation rate %", ("online", "bad_case")),
    ("judge_deduction_rate", "judge deduction rate %", ("online", "bad_case")),
    ("judge_points", "judge points (E_judge)", ("online", "bad_case")),
    ("rm_score", "RM score (R_model)", ("online", "bad_case")),
    ("r_total", "R_total", ("online", "bad_case")),
    ("fix_proxy", "automatic fix proxy %", ("bad_case",)),
)
HUMAN_COLUMNS = {
    "online": (("avg_rating", "average rating (1–5)"), ("excellent_share", "excellent share %")),
    "bad_case": (("fix_rate", "fix rate %"), ("clean_fix_rate", "clean fix rate %")),
}


def _reply_values(prescores: dict, *, n: float) -> dict[str, float]:
    """One reply's automatic numbers (absent when the source did not score it)."""
    violated = bool(prescores.get("rf_violations"))
    judge = prescores.get("judge_points")
    rm = prescores.get("rm_score")
    values = {"violation_rate": 100.0 if violated else 0.0}
    if judge is not None:
        values["judge_points"] = float(judge)
        values["judge_deduction_rate"] = 100.0 if judge < 0 else 0.0
    if rm is not None:
        values["rm_score"] = float(rm)
    values["r_total"] = training_reward(
        r_model=None if rm is None else float(rm),
        e_judge=float(judge or 0.0),
        e_func=float(prescores.get("rf_points") or 0.0),
        n=n,
    )
    values["fix_proxy"] = 100.0 if not violated and (judge is None or judge >= 0) else 0.0
    return values


def automatic_metrics(*, eval_set: EvalSet, system: EvalSystem, n: float = DEFAULT_N) -> dict:
    """Mean and 95% bootstrap interval of each automatic metric over the set's items (an item's replies
    are averaged first: the item is the resampling unit), and each rule's violation rate."""
    responses = Response.objects.filter(item__eval_set=eval_set, system=system).only("item_id", "prescores")
    by_item: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rule_hits: dict[str, int] = defaultdict(int)
    replies = 0
    for response in responses:
        replies += 1
        for key, value in _reply_values(response.prescores or {}, n=n).items():
            by_item[response.item_id][key].append(value)
        for rule in set(response.prescores.get("rf_violations") or ()):
            rule_hits[rule] += 1
    out: dict = {"replies": replies, "items": len(by_item), "values": {}, "ci": {}, "rules": {}}
    keys = {key for item in by_item.values() for key in item}
    for key in keys:
        item_means = [metrics.mean(v) for v in (item[key] for item in by_item.values()) if v]
        out["values"][key] = metrics.mean(item_means)
        if len(item_means) >= MIN_ITEMS_FOR_INTERVAL:
            out["ci"][key] = metrics.bootstrap_ci(item_means, n_resamples=1000)
    out["rules"] = {rule: 100.0 * hits / replies for rule, hits in sorted(rule_hits.items())} if replies else {}
    return out


def _runs_by_system(study: Study) -> dict[tuple[int, int], object]:
    runs = {}
    for run in study.eval_runs.prefetch_related("systems").order_by("id"):
        for system in run.systems.all():
            runs[(run.eval_set_id, system.pk)] = run
    return runs


def _systems(study: Study) -> list[dict]:
    """The start policy and each job's version (or the job, while it has none), in the paper's order."""
    start = ModelVersion.objects.filter(name=start_policy_name(study)).first()
    rows = [{"label": "start", "method": "start", "job": None, "version": start}]
    for job in study.jobs.select_related("output_model").order_by("id"):
        rows.append({"label": job.method.upper(), "method": job.method, "job": job, "version": job.output_model})
    for row in rows:
        row["system"] = EvalSystem.objects.filter(model_version=row["version"]).first() if row["version"] else None
    return rows


def study_view(*, study: Study) -> dict:
    """Everything the study page draws: jobs, the automatic table per set, the chart, the human table."""
    n = study.reward_config.n if study.reward_config else DEFAULT_N
    runs = _runs_by_system(study)
    sets = {"online": study.online_set, "bad_case": study.bad_case_set}
    rows = _systems(study)
    rules: set[str] = set()
    for row in rows:
        row["sets"] = {}
        for key, eval_set in sets.items():
            run = runs.get((eval_set.pk, row["system"].pk)) if row["system"] else None
            done = run is not None and run.status == Status.SUCCEEDED
            scored = automatic_metrics(eval_set=eval_set, system=row["system"], n=n) if done else None
            row["sets"][key] = {"run": run, "metrics": scored}
            rules |= set(scored["rules"]) if scored else set()
    human = _human_tables(study, rows, sets)
    return {
        "rows": rows,
        "rules": sorted(rules),
        "set_keys": list(sets),
        "columns": {key: [(k, label) for k, label, shown in AUTOMATIC_COLUMNS if key in shown] for key in sets},
        "human": human,
        "chart": _chart(rows),
        "settled": study_is_settled(study),
        "min_items": MIN_ITEMS_FOR_INTERVAL,
    }


def _human_tables(study: Study, rows: list[dict], sets: dict[str, EvalSet]) -> dict:
    """The panel's consensus table per set, for the study's systems that experts have rated."""
    tables = {}
    for key, eval_set in sets.items():
        report = eval_report(eval_set=eval_set)["systems"]
        rated = []
        for row in rows:
            system = row["system"]
            if system is not None and report.get(system.name, {}).get("n"):
                values = report[system.name]
                rated.append(
                    {"label": row["label"], "n": values["n"], "values": [values.get(k) for k, _ in HUMAN_COLUMNS[key]]}
                )
        if rated:
            tables[key] = {"columns": [label for _, label in HUMAN_COLUMNS[key]], "rows": rated}
    return tables


def _chart(rows: list[dict]) -> dict:
    """Bars per method: the online rule-violation rate and the bad-case fix proxy, with their intervals
    as floating bars (Chart.js draws ``[low, high]`` data as a bar from low to high)."""
    labels, series = [], {"violation": [], "violation_ci": [], "fix": [], "fix_ci": []}
    for row in rows:
        online, bad = (row["sets"][k]["metrics"] for k in ("online", "bad_case"))
        if not online and not bad:
            continue
        labels.append(row["label"])
        for name, scored, key in (("violation", online, "violation_rate"), ("fix", bad, "fix_proxy")):
            series[name].append(scored["values"].get(key) if scored else None)
            ci = scored["ci"].get(key) if scored else None
            series[f"{name}_ci"].append(list(ci) if ci else None)
    return {"labels": labels, **series}
