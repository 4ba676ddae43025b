"""Reads of the jobs side of training_jobs: job list, live state, chart series, comparison, queues."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from engine.rundir import log_tail
from kernel.status import ACTIVE, Status
from training_jobs.models import DatasetSnapshot, JobMetric, JobSample, TrainingJob

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
        "id", "name", "method", "status", "queue", "priority", "created_at", "progress", "base_model__name"
    )
    result = Paginator(rows, LIST_PAGE_SIZE).get_page(page)
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
        }
        for row in result
    ]
    return result


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
    return {"steps": [step for step, _ in rows], "series": {key: [data.get(key) for _, data in rows] for key in keys}}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def job_samples(*, job: TrainingJob, limit: int = 20) -> list[dict[str, Any]]:
    """The latest logged replies, each with its numeric reward breakdown split from its text fields."""
    samples = []
    for sample in JobSample.objects.filter(job=job).order_by("-step", "index")[:limit]:
        data = sample.data
        text = data.get("reply") or data.get("completion") or ""
        rewards = {k: v for k, v in data.items() if k not in ("step", "index") and isinstance(v, int | float)}
        samples.append({"step": sample.step, "reply": text, "prompt": data.get("prompt_text", ""), "rewards": rewards})
    return samples


def job_log(*, job: TrainingJob, lines: int = 40) -> str:
    return log_tail(job.run_dir, lines=lines) if job.run_dir else ""


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
        finals[job.pk] = job.metrics or {m: v[-1] for m, v in series["series"].items() if v}
    metrics = sorted({m for f in finals.values() for m, v in f.items() if isinstance(v, int | float)})
    table = [{"metric": m, "values": [finals[j.pk].get(m) for j in jobs]} for m in metrics]
    return {"jobs": jobs, "curves": dict(curves), "table": table}


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
