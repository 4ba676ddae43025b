"""Eval sets, items and their runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from engine.rundir import generate_files
from evaluation.models import EvalItem, EvalRun, EvalSet


def eval_set_latest(*, name: str) -> EvalSet | None:
    """The newest version of the set called ``name`` (what an import or ``eval_report`` means by it)."""
    return EvalSet.objects.filter(name=name).order_by("-version").first()


def eval_set_list() -> QuerySet[EvalSet]:
    return EvalSet.objects.annotate(
        n_items=Count("items", distinct=True),
        n_consensus=Count("items__judgments", filter=Q(items__judgments__consensus=True), distinct=True),
    ).order_by("name", "-version")


def eval_item_list(*, eval_set: EvalSet) -> QuerySet[EvalItem]:
    return eval_set.items.select_related("dialogue", "bad_case").annotate(
        n_judgments=Count("judgments", filter=Q(judgments__consensus=False)),
        n_consensus=Count("judgments", filter=Q(judgments__consensus=True)),
    )


def eval_run_list(*, eval_set: EvalSet) -> QuerySet[EvalRun]:
    return eval_set.runs.prefetch_related("systems")


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except FileNotFoundError:
        return 0


def eval_run_progress(*, run: EvalRun) -> dict[str, Any]:
    """How far a run is, from its run directory (``engine.rundir.generate_files`` names the files): per
    model system, prompts written vs replies back; gold systems need no generation. ``fraction`` and an
    ETA from the time elapsed since the run started; both None before there is anything to measure."""
    systems = [s for s in run.systems.all() if s.model_version_id is not None and not s.is_gold]
    total = done = 0
    if run.run_dir:
        for system in systems:
            prompts, replies = generate_files(run.run_dir, tag=str(system.pk))
            n = _lines(prompts)
            total += n
            done += min(n, _lines(replies))
    if run.status == "succeeded":
        return {"fraction": 1.0, "done": done, "total": total, "eta_s": 0}
    if not total:
        return {"fraction": None, "done": 0, "total": 0, "eta_s": None}
    fraction = done / total
    eta = None
    if run.started_at and 0 < fraction < 1:
        elapsed = (timezone.now() - run.started_at).total_seconds()
        eta = elapsed * (1 - fraction) / fraction
    return {"fraction": fraction, "done": done, "total": total, "eta_s": eta}
