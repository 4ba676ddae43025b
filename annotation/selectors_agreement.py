"""Agreement per queue, per lens and per question, computed with ``annotation.agreement``.

For each question (pairwise choice, each rubric dimension, rating, bad-case category/severity):
Krippendorff's alpha at the question's level (handles missing answers and any number of raters), mean
pairwise Cohen's kappa over rater pairs sharing at least three items (quadratic weights for 1–5 scores),
and Fleiss' kappa for nominal questions over items with every slot answered.
"""

import math
from collections import defaultdict
from itertools import combinations

from annotation.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from annotation.kinds import kind_for
from annotation.models import AnnotationItem, AnnotationQueue, Answer, Lens, Project

MIN_SHARED = 3


def _table(answers: list[Answer], kind: str) -> dict[str, dict[int, dict[int, object]]]:
    """question → item id → user id → value (the values of the task kind ``kind``)."""
    task_kind = kind_for(kind)
    table: dict = defaultdict(lambda: defaultdict(dict))
    for answer in answers:
        for question, value in task_kind.values(answer).items():
            table[question][answer.item_id][answer.user_id] = value
    return table


def _alpha(units: dict[int, dict[int, object]], level: str) -> float:
    raters = sorted({u for by_user in units.values() for u in by_user})
    items = sorted(units)
    data = [[units[i].get(r) for i in items] for r in raters]
    return krippendorff_alpha(data, level) if raters else math.nan


def _mean_cohen(units: dict[int, dict[int, object]], level: str) -> float:
    by_rater: dict[int, dict[int, object]] = defaultdict(dict)
    for item, by_user in units.items():
        for user, value in by_user.items():
            by_rater[user][item] = value
    kappas = []
    for a, b in combinations(sorted(by_rater), 2):
        shared = sorted(set(by_rater[a]) & set(by_rater[b]))
        if len(shared) >= MIN_SHARED:
            weights = None if level == "nominal" else "quadratic"
            k = cohen_kappa([by_rater[a][i] for i in shared], [by_rater[b][i] for i in shared], weights=weights)
            if not math.isnan(k):
                kappas.append(k)
    return sum(kappas) / len(kappas) if kappas else math.nan


def _fleiss(units: dict[int, dict[int, object]], level: str) -> float:
    if level != "nominal":
        return math.nan
    sizes = {len(by_user) for by_user in units.values()}
    n = max(sizes, default=0)
    full = [by_user for by_user in units.values() if len(by_user) == n]
    if n < 2 or not full:
        return math.nan
    categories = sorted({str(v) for by_user in full for v in by_user.values()})
    return fleiss_kappa([[sum(str(v) == c for v in by_user.values()) for c in categories] for by_user in full])


def agreement_rows(answers: list[Answer], *, kind: str) -> list[dict]:
    rows = []
    for question, units in sorted(_table(answers, kind).items()):
        level = kind_for(kind).level(question)
        multi = {item: by_user for item, by_user in units.items() if len(by_user) >= 2}
        rows.append(
            {
                "question": question,
                "level": level,
                "items": len(multi),
                "raters": len({u for by_user in multi.values() for u in by_user}),
                "alpha": _alpha(multi, level),
                "cohen": _mean_cohen(multi, level),
                "fleiss": _fleiss(multi, level),
            }
        )
    return rows


def queue_agreement(*, queue: AnnotationQueue) -> list[dict]:
    return agreement_rows(list(Answer.objects.filter(item__queue=queue)), kind=queue.kind)


def project_agreement_by_lens(*, project: Project) -> list[dict]:
    """One block per (lens, task kind): the same question pooled over every queue of that lens."""
    blocks = []
    for lens in Lens:
        for kind in (
            AnnotationQueue.objects.filter(project=project, lens=lens).values_list("kind", flat=True).distinct()
        ):
            answers = list(
                Answer.objects.filter(item__queue__project=project, item__queue__lens=lens, item__queue__kind=kind)
            )
            rows = agreement_rows(answers, kind=kind)
            blocks.append({"lens": lens.label, "kind": kind, "kind_label": kind_for(kind).label, "rows": rows})
    return blocks


def disagreement_items(*, queue: AnnotationQueue, question: str = "") -> list[dict]:
    """Items whose raters disagree (on ``question`` when given), with each rater's value."""
    answers = list(Answer.objects.filter(item__queue=queue).select_related("user"))
    table = _table(answers, queue.kind)
    names = {a.user_id: a.user.username for a in answers}
    disputed = []
    for q, units in sorted(table.items()):
        if question and q != question:
            continue
        for item_id, by_user in units.items():
            if len({str(v) for v in by_user.values()}) > 1:
                disputed.append(
                    {"item_id": item_id, "question": q, "values": sorted((names[u], v) for u, v in by_user.items())}
                )
    items = AnnotationItem.objects.in_bulk([d["item_id"] for d in disputed])
    for row in disputed:
        row["item"] = items[row["item_id"]]
    return sorted(disputed, key=lambda d: (d["item_id"], d["question"]))
