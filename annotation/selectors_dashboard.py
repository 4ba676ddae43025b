"""Project dashboards: items by status, throughput per annotator, agreement trend, bad cases by category
and by SOP clause. Plain aggregates; the template draws the trend with Chart.js from ``json_script``."""

from django.db.models import Avg, Count
from django.db.models.functions import TruncDate

from annotation.models import AnnotationItem, Answer, BadCase, Project

TREND_DAYS = 60


def project_dashboard_stats(*, project: Project) -> dict:
    items = AnnotationItem.objects.filter(queue__project=project)
    answers = Answer.objects.filter(item__queue__project=project)
    by_status = dict(items.values_list("status").annotate(n=Count("id")))
    throughput = list(
        answers.values("user__username").annotate(answers=Count("id")).order_by("-answers", "user__username")
    )
    per_day = list(
        answers.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(answers=Count("id"), agreement=Avg("item__agreement"))
        .order_by("-day")[:TREND_DAYS]
    )
    per_day.reverse()
    bad_cases = BadCase.objects.filter(dialogue__project=project)
    category_labels = dict(BadCase.Category.choices)
    by_category = [
        {"category": category_labels.get(row["category"], row["category"]), "n": row["n"]}
        for row in bad_cases.values("category").annotate(n=Count("id")).order_by("-n")
    ]
    by_clause = list(
        bad_cases.values("clause__code", "clause__text").annotate(n=Count("id")).order_by("-n", "clause__code")
    )
    return {
        "by_status": [(label, by_status.get(value, 0)) for value, label in AnnotationItem.Status.choices],
        "throughput": throughput,
        "trend": {
            "labels": [row["day"].isoformat() for row in per_day],
            "answers": [row["answers"] for row in per_day],
            "agreement": [round(row["agreement"], 3) if row["agreement"] is not None else None for row in per_day],
        },
        "bad_by_category": by_category,
        "bad_by_clause": by_clause,
        "bad_by_status": list(bad_cases.values("status").annotate(n=Count("id")).order_by("status")),
    }
