"""Eval sets: build from dialogues (online) or bad cases, freeze, and version."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from annotation.models import BadCase, Dialogue
from evaluation.models import EvalItem, EvalSet, EvalSystem
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError

ERR_FROZEN = "This eval set is frozen; make a new version to change it."
ERR_EMPTY = "An eval set needs at least one dialogue or bad case."
ERR_NOT_EMPTY_TO_FREEZE = "An empty eval set cannot be frozen."
ERR_WRONG_SOURCE = "Online sets are built from dialogues, bad-case sets from bad cases."
ERR_NO_SYSTEM = "Choose a model version or the gold reply."
ERR_NOT_POLICY = "An eval system is a policy version: reward models and base models are not evaluated as systems."


def _agent_turns(dialogue: Dialogue) -> list[int]:
    """Every agent message is an evaluated turn of an online dialogue."""
    return list(dialogue.messages.filter(role="agent").order_by("index").values_list("index", flat=True))


@transaction.atomic
def eval_set_create(
    *,
    name: str,
    kind: str,
    dialogues: list[Dialogue] = (),
    bad_cases: list[BadCase] = (),
    description: str = "",
    created_by=None,
) -> EvalSet:
    """A draft set (version 1, or the next version of ``name``) with one item per dialogue or bad case."""
    if not dialogues and not bad_cases:
        raise ApplicationError(ERR_EMPTY)
    if (kind == EvalSet.Kind.ONLINE and bad_cases) or (kind == EvalSet.Kind.BAD_CASE and dialogues):
        raise ApplicationError(ERR_WRONG_SOURCE)
    latest = EvalSet.objects.filter(name=name).order_by("-version").first()
    eval_set = EvalSet(
        name=name,
        kind=kind,
        description=description,
        created_by=created_by,
        version=latest.version + 1 if latest else 1,
    )
    eval_set.full_clean()
    eval_set.save()
    for position, dialogue in enumerate(dialogues):
        EvalItem.objects.create(
            eval_set=eval_set,
            external_id=dialogue.external_id,
            dialogue=dialogue,
            turns=_agent_turns(dialogue),
            position=position,
        )
    for position, bad_case in enumerate(bad_cases):
        EvalItem.objects.create(
            eval_set=eval_set,
            external_id=f"{bad_case.dialogue.external_id}#bc{bad_case.pk}",
            dialogue=bad_case.dialogue,
            bad_case=bad_case,
            turns=[bad_case.turn],
            position=position,
        )
    audit_record(actor=created_by, action="create", instance=eval_set, after=audit_snapshot(eval_set))
    return eval_set


@transaction.atomic
def eval_set_freeze(*, eval_set: EvalSet, actor=None) -> EvalSet:
    """Freeze the items: panels and runs only use frozen sets, so every judgment refers to a fixed list."""
    eval_set = EvalSet.objects.select_for_update().get(pk=eval_set.pk)
    if eval_set.is_frozen:
        raise ApplicationError(ERR_FROZEN)
    if not eval_set.items.exists():
        raise ApplicationError(ERR_NOT_EMPTY_TO_FREEZE)
    before = audit_snapshot(eval_set)
    eval_set.frozen_at = timezone.now()
    eval_set.save(update_fields=["frozen_at"])
    audit_record(actor=actor, action="change", instance=eval_set, before=before, after=audit_snapshot(eval_set))
    return eval_set


@transaction.atomic
def eval_set_new_version(*, eval_set: EvalSet, actor=None) -> EvalSet:
    """A draft copy of the set's items as the next version (the old version and its judgments stay)."""
    latest = EvalSet.objects.filter(name=eval_set.name).order_by("-version").first()
    copy = EvalSet.objects.create(
        name=eval_set.name,
        kind=eval_set.kind,
        description=eval_set.description,
        version=latest.version + 1,
        created_by=actor,
    )
    EvalItem.objects.bulk_create(
        EvalItem(
            eval_set=copy,
            external_id=i.external_id,
            dialogue=i.dialogue,
            bad_case=i.bad_case,
            turns=i.turns,
            position=i.position,
        )
        for i in eval_set.items.all()
    )
    audit_record(
        actor=actor, action="create", instance=copy, after=audit_snapshot(copy), note=f"from v{eval_set.version}"
    )
    return copy


def eval_system_get_or_create(*, model_version=None, gold: bool = False) -> EvalSystem:
    """The system for a registered model version (named after it), or the human "gold" reply."""
    if gold:
        system, _ = EvalSystem.objects.get_or_create(name="gold", defaults={"is_gold": True})
        return system
    if model_version is None:
        raise ApplicationError(ERR_NO_SYSTEM)
    if model_version.kind != model_version.Kind.POLICY:
        raise ApplicationError(ERR_NOT_POLICY)
    system = EvalSystem.objects.filter(model_version=model_version).first()
    if system is None:
        system = EvalSystem(name=model_version.name, model_version=model_version)
        system.full_clean()
        system.save()
    return system
