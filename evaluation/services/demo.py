"""The evaluation side of the demo world: an online set and a bad-case set (frozen), the human "gold"
system's responses, and a lens for every evaluator, so the panel has work on a fresh ``make run``."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import BadCase, Dialogue
from evaluation.models import EvalRun, EvalSet, PanelMember
from evaluation.services.runs import eval_run_execute
from evaluation.services.sets import eval_set_create, eval_set_freeze, eval_system_get_or_create
from kernel.roles import Role

ONLINE, BAD_CASES = "demo-online", "demo-bad-cases"
LENSES = ("task", "linguistics", "cs")


@dataclass
class DemoEvalResult:
    created: list[str]
    responses: int


def _seed_set(name: str, kind: str, **sources) -> tuple[EvalSet, bool]:
    existing = EvalSet.objects.filter(name=name).order_by("-version").first()
    if existing is not None:
        return existing, False
    eval_set = eval_set_create(name=name, kind=kind, description="Demo world.", **sources)
    return eval_set_freeze(eval_set=eval_set), True


def eval_demo_seed(*, online: int = 30, bad_cases: int = 45) -> DemoEvalResult:
    """Idempotent. The paper's sizes by default (30 online dialogues, 45 bad cases) or what the world has."""
    created, responses = [], 0
    gold = eval_system_get_or_create(gold=True)
    dialogues = list(Dialogue.objects.filter(messages__role="agent").distinct().order_by("id")[:online])
    cases = list(BadCase.objects.exclude(gold_reply="").select_related("dialogue").order_by("id")[:bad_cases])
    for name, kind, sources in (
        (ONLINE, EvalSet.Kind.ONLINE, {"dialogues": dialogues}),
        (BAD_CASES, EvalSet.Kind.BAD_CASE, {"bad_cases": cases}),
    ):
        if not next(iter(sources.values())):
            continue
        with transaction.atomic():
            eval_set, new = _seed_set(name, kind, **sources)
            if not new:
                continue
            run = EvalRun.objects.create(eval_set=eval_set)
            run.systems.set([gold])
        run = eval_run_execute(run=run)  # gold only: no engine subprocess, so it runs here
        created.append(name)
        responses += run.metrics.get("responses", 0)
    evaluators = get_user_model().objects.filter(groups__name=Role.EVALUATOR).order_by("id")
    for i, user in enumerate(evaluators):
        PanelMember.objects.get_or_create(user=user, defaults={"expertise": LENSES[i % len(LENSES)]})
    return DemoEvalResult(created=created, responses=responses)
