"""Reads of the jobs side of training_jobs: job list, live state, chart series, comparison, queues."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from engine.rundir import log_tail
from kernel.status import ACTIVE, Status
from training_jobs.models import DatasetSnapshot, JobMetric, JobNode, JobSample, TrainingJob
from training_jobs.panels import best_index, direction, metric_sort_key, panel_groups, strip_ansi

LIST_PAGE_SIZE = 50
# Metrics that are bookkeeping, not curves.
NOT_CHARTED = frozenset({"step", "time", "epoch", "total_flos", "train_runtime"})


def job_list_page(*, status: str = "", method: str = "", page: int | str = 1) -> Page:
    """One page of jobs, newest first, as plain dicts of the columns the table shows: the list must stay
    fast at 10k jobs (benchmarks/bench_job_list.py), and model instances cost more than the query."""
    qs = TrainingJob.objects.all()
    if status:
        qs = qs.filter(status=status)
    if method:
        qs = qs.filter(method=method)
    rows = qs.order_by("-created_at", "-id").values(
        "id",
        "name",
        "method",
        "status",
        "queue",
        "priority",
        "created_at",
        "started_at",
        "finished_at",
        "progress",
        "metrics",
        "base_model__name",
    )
    result = Paginator(rows, LIST_PAGE_SIZE).get_page(page)
    now = timezone.now()
    labels = dict(Status.choices)
    result.object_list = [
        {
            **row,
            "status_label": labels.get(row["status"], row["status"]),
            "method_label": row["method"].upper(),
            "steps": f"{row['progress'].get('step', 0)}/{row['progress']['total']}"
            if row["progress"].get("total")
            else "",
            "created": timezone.localtime(row["created_at"]).strftime("%Y-%m-%d %H:%M"),
            "duration": duration_words(row["started_at"], row["finished_at"], now=now),
            "key_metric": key_metric(row["metrics"] or {}),
        }
        for row in result
    ]
    result.any_active = any(row["status"] in ACTIVE for row in result.object_list)
    return result


def duration_words(started, finished, *, now) -> str:
    """``1 h 02 min``, ``3 min 05 s`` or ``42 s``; running jobs count up to now; never started: empty."""
    if started is None:
        return ""
    seconds = max(0, int(((finished or now) - started).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def key_metric(metrics: dict[str, Any]) -> str:
    """The one final number a run is judged by, as ``name value`` (the first key metric it has)."""
    numbers = {k: v for k, v in flat_metrics(metrics).items()}
    if not numbers:
        return ""
    name = min(numbers, key=metric_sort_key)
    return f"{name} {numbers[name]:.4g}"


def job_get(*, pk: int) -> TrainingJob:
    return (
        TrainingJob.objects.select_related("base_model", "reward_config", "output_model", "budget_from", "created_by")
        .prefetch_related("snapshots")
        .get(pk=pk)
    )


def flat_metrics(data: dict[str, Any]) -> dict[str, float]:
    """Numeric metrics of one line; a nested dict (e.g. rule hit rates per rule) becomes ``name/key``."""
    out: dict[str, float] = {}
    for key, value in data.items():
        if key in NOT_CHARTED:
            continue
        if isinstance(value, dict):
            out.update({f"{key}/{k}": v for k, v in flat_metrics(value).items()})
        elif (number := _number(value)) is not None:
            out[key] = number
    return out


def job_metric_series(*, job: TrainingJob) -> dict[str, Any]:
    """``{"steps": [...], "series": {metric: [value or None per step]}}`` for the charts."""
    rows = [
        (step, flat_metrics(data))
        for step, data in JobMetric.objects.filter(job=job).order_by("step").values_list("step", "data")
    ]
    keys: list[str] = []
    for _, data in rows:
        keys.extend(key for key in data if key not in keys)
    series = {key: [data.get(key) for _, data in rows] for key in keys}
    return {"steps": [step for step, _ in rows], "series": series, "groups": panel_groups(series)}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


REWARD_LABELS = {"r_total": "R total", "r_model": "R model", "e_judge": "E judge", "e_func": "E rules"}


def job_samples(*, job: TrainingJob, limit: int = 20) -> list[dict[str, Any]]:
    """The latest logged replies with what produced them: the prompt (the case as the model saw it),
    the hotel's last message, the reply, the reward breakdown in words and, per rule that fired, its
    name, points and the words of the reply that triggered it. Older runs logged only the rule ids
    (``rules``) and the hotel's message as ``prompt_text``: those show what there is."""
    descriptions = _rule_descriptions(job)
    samples = []
    for sample in JobSample.objects.filter(job=job).order_by("-step", "index")[:limit]:
        data = sample.data
        text = data.get("reply") or data.get("completion") or ""
        rewards = [
            {"key": k, "label": REWARD_LABELS.get(k, k), "value": v}
            for k, v in data.items()
            if k not in ("step", "index") and isinstance(v, int | float) and not isinstance(v, bool)
        ]
        rewards.sort(key=lambda r: list(REWARD_LABELS).index(r["key"]) if r["key"] in REWARD_LABELS else 99)
        evidence = [
            {
                "rule": e.get("rule", ""),
                "description": descriptions.get(e.get("rule", ""), ""),
                "points": e.get("points"),
                "evidence": e.get("evidence", ""),
            }
            for e in data.get("evidence") or []
            if isinstance(e, dict)
        ]
        if not evidence:  # an older sample: rule ids only
            evidence = [
                {"rule": r, "description": descriptions.get(r, ""), "points": None, "evidence": ""}
                for r in data.get("rules") or []
                if isinstance(r, str)
            ]
        samples.append(
            {
                "step": sample.step,
                "reply": text,
                "prompt": data.get("prompt", ""),
                "hotel": data.get("hotel_message") or data.get("prompt_text", ""),
                "rewards": rewards,
                "evidence": evidence,
                "judge_hits": [h for h in data.get("judge_hits") or [] if isinstance(h, str)],
            }
        )
    return samples


def _rule_descriptions(job: TrainingJob) -> dict[str, str]:
    """Rule id -> its description in words: the default rule set's, overridden by the rule set of the
    job's reward config where that has the rule."""
    out = _descriptions(_default_rules())
    rewards = (job.config or {}).get("rewards") if isinstance(job.config, dict) else None
    if isinstance(rewards, dict) and isinstance(rewards.get("rules"), dict):
        out.update({k: v for k, v in _descriptions(rewards["rules"]).items() if v})
    return out


def _descriptions(document: dict[str, Any]) -> dict[str, str]:
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        return {}
    return {r["id"]: str(r.get("description", "")) for r in rules if isinstance(r, dict) and "id" in r}


@cache
def _default_rules() -> dict[str, Any]:
    from engine.rewards.rules.defaults import DEFAULT_RULES_PATH

    return json.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


def job_log(*, job: TrainingJob, lines: int = 40) -> str:
    """The engine log's last lines without terminal colour codes or progress-bar redraws."""
    return strip_ansi(log_tail(job.run_dir, lines=lines)) if job.run_dir else ""


def job_nodes(*, job: TrainingJob, lines: int = 20) -> list[dict[str, Any]]:
    """A multi-node job's nodes of its current attempt, each with its log's last lines (empty for one node)."""
    if job.nodes <= 1:
        return []
    rows = JobNode.objects.filter(job=job).order_by("index")
    return [
        {"row": row, "log": strip_ansi(log_tail(job.run_dir, lines=lines, node=row.index)) if job.run_dir else ""}
        for row in rows
    ]


def compare_jobs(*, pks: list[int]) -> dict[str, Any]:
    """Curves of several jobs overlaid (one dataset per job per metric) and final metrics side by side."""
    jobs = list(TrainingJob.objects.filter(pk__in=pks).select_related("base_model").order_by("pk"))
    curves: dict[str, dict[str, Any]] = defaultdict(dict)
    finals: dict[int, dict[str, Any]] = {}
    for job in jobs:
        series = job_metric_series(job=job)
        for metric, values in series["series"].items():
            curves[metric][f"#{job.pk} {job.method.upper()}"] = [
                {"x": step, "y": value}
                for step, value in zip(series["steps"], values, strict=True)
                if value is not None
            ]
        last = {m: next((x for x in reversed(v) if x is not None), None) for m, v in series["series"].items()}
        finals[job.pk] = flat_metrics(job.metrics or {}) or {m: v for m, v in last.items() if v is not None}
    metrics = sorted({m for f in finals.values() for m in f}, key=metric_sort_key)
    table = []
    for m in metrics:
        values = [finals[j.pk].get(m) for j in jobs]
        table.append(
            {
                "metric": m,
                "values": values,
                "best": best_index(values, m),
                "direction": {1: "higher is better", -1: "lower is better"}.get(direction(m), ""),
            }
        )
    return {
        "jobs": jobs,
        "curves": dict(sorted(curves.items(), key=lambda kv: metric_sort_key(kv[0]))),
        "table": table,
        "config_diff": config_diff(jobs),
    }


def _flat_config(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flat_config(inner, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def config_diff(jobs: list[TrainingJob]) -> list[dict[str, Any]]:
    """The fields of the runs' engine configs (nested keys dotted) whose values differ between runs,
    plus method, base model and preset; identical fields are left out. Values are shown as text."""
    flats = []
    for job in jobs:
        flat = {"method": job.method, "base model": job.base_model.name, "preset": job.preset}
        flat.update(_flat_config(job.config or {}))
        flats.append(flat)
    keys = sorted({k for f in flats for k in f})
    missing = object()
    rows = []
    for key in keys:
        values = [f.get(key, missing) for f in flats]
        if len({repr(v) for v in values}) > 1:
            rows.append({"field": key, "values": ["—" if v is missing else _shown(v) for v in values]})
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "…"
    return str(value)


def queue_overview() -> list[dict[str, Any]]:
    """Per queue: running jobs grouped by worker host, then queued jobs in the order workers take them."""
    active = (
        TrainingJob.objects.filter(status__in=ACTIVE).select_related("base_model").order_by("-priority", "queued_at")
    )
    queues: dict[str, dict[str, Any]] = {}
    for job in active:
        entry = queues.setdefault(job.queue, {"queue": job.queue, "workers": defaultdict(list), "queued": []})
        if job.status == Status.RUNNING:
            entry["workers"][job.worker_host or "?"].append(job)
        else:
            entry["queued"].append(job)
    return [{**q, "workers": dict(q["workers"])} for q in sorted(queues.values(), key=lambda q: q["queue"])]


def snapshots_list() -> QuerySet[DatasetSnapshot]:
    return DatasetSnapshot.objects.select_related("created_by").order_by("-created_at")


def jobs_for_budget() -> QuerySet[TrainingJob]:
    """Runs whose budget a new job may copy ("same budget as run X")."""
    return TrainingJob.objects.exclude(status=Status.CANCELLED).only("id", "name", "method").order_by("-id")[:100]
