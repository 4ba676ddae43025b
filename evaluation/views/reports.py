"""The report per eval set: the paper's table with 95% intervals, agreement, paired comparison, charts,
CSV/JSONL download, and applying verified fixes to the bad-case lifecycle. Not open to evaluators:
it names the systems."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import BadCase
from evaluation.columns import SKILL_COLUMNS, Column, headline, table_columns
from evaluation.models import EvalSet, EvalSystem, FixStatus
from evaluation.selectors.reports import (
    MIN_ITEMS_FOR_INTERVAL,
    default_pair,
    eval_report_detail,
    metric_keys,
    paired_comparison,
)
from evaluation.services.exports import report_csv, report_jsonl
from evaluation.services.lifecycle import MIN_RATERS, bad_cases_verify, bad_cases_verify_plan, verify_report_words
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required

LEADS = (Role.REVIEWER, Role.ML_ENGINEER)


def _bars(systems: dict, bars: tuple[Column, ...]) -> dict:
    """Chart.js data: one bar group per column, one dataset per system (like the paper's figures)."""
    return {
        "labels": [f"{c.label} ({'%' if c.percent else '1–5'})" for c in bars],
        "datasets": [{"label": name, "data": [c.value(row) for c in bars]} for name, row in systems.items()],
        "percent": all(c.percent for c in bars),  # a 0–100 axis; the 1–5 rating shares an open one
    }


def _chart(report: dict) -> dict:
    return {**_bars(report["systems"], headline(report["kind"])), "skills": _bars(report["systems"], SKILL_COLUMNS)}


@role_required(*LEADS)
def eval_report_view(request, pk: int):
    eval_set = get_object_or_404(EvalSet, pk=pk)
    report = eval_report_detail(eval_set=eval_set)
    systems = list(report["systems"])
    keys = metric_keys(eval_set=eval_set)
    a, b, metric = request.GET.get("a"), request.GET.get("b"), request.GET.get("metric", keys[0])
    comparison, error = None, ""
    if a or b:
        if a in systems and b in systems and a != b and metric in keys:
            comparison = paired_comparison(eval_set=eval_set, a=a, b=b, metric=metric)
        else:
            error = "Pick two different systems of this report and one of its metrics."
    context = {
        "eval_set": eval_set,
        "report": report,
        "chart": _chart(report),
        "columns": table_columns(report["kind"]),
        "metric_keys": keys,
        "comparison": comparison,
        "compare": {"a": a, "b": b, "metric": metric}
        if (a or b)
        else dict(zip("ab", default_pair(systems), strict=True), metric=metric),
        "min_items": MIN_ITEMS_FOR_INTERVAL,
        "error": error,
        "model_systems": EvalSystem.objects.filter(name__in=systems, model_version__isnull=False),
    }
    template = "evaluation/partials/comparison.html" if request.htmx else "evaluation/report.html"
    return render(request, template, context, status=400 if error else 200)


@role_required(*LEADS)
def eval_report_download(request, pk: int, fmt: str):
    if fmt not in ("csv", "jsonl"):
        raise Http404("Reports download as .csv or .jsonl.")
    eval_set = get_object_or_404(EvalSet, pk=pk)
    report = eval_report_detail(eval_set=eval_set)
    if fmt == "csv":
        response = HttpResponse(report_csv(report), content_type="text/csv")
    else:
        response = HttpResponse(report_jsonl(report), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="report-{eval_set.name}-v{eval_set.version}.{fmt}"'
    return response


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def bad_cases_verify_view(request, pk: int):
    """GET: the confirmation step, listing each bad case that would move, from what to what, and how
    many raters its consensus rests on. POST (its button): apply, and say what happened in words.
    Verdicts resting on a single rater are applied only when the lead ticks the box that says so."""
    eval_set = get_object_or_404(EvalSet, pk=pk)
    system = EvalSystem.objects.filter(pk=(request.POST or request.GET).get("system") or 0).first()
    if system is None:
        messages.error(request, "Pick a system with a model version whose verdicts to apply.")
        return redirect("evaluation:eval_report", pk=pk)
    try:
        plan = bad_cases_verify_plan(eval_set=eval_set, system=system)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("evaluation:eval_report", pk=pk)
    if request.method == "GET":
        context = {
            "eval_set": eval_set,
            "system": system,
            "plan": plan,
            "thin": sum(c.thin for c in plan.changes),
            "min_raters": MIN_RATERS,
            "labels": dict(BadCase.Status.choices),
            "verdicts": dict(FixStatus.choices),
        }
        return render(request, "evaluation/verify_confirm.html", context)
    try:
        result = bad_cases_verify(
            eval_set=eval_set, system=system, actor=request.user, include_thin=request.POST.get("include_thin") == "1"
        )
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, verify_report_words(result, system=system))
    return redirect("evaluation:eval_report", pk=pk)
