"""Eval sets, items and their runs."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

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
