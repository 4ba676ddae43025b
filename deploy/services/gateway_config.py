"""How a slot is served through the gateway: its routes (A/B weights between versions) and its guardrail.
Every write is checked and audited here; the API (``/api/deploy/slots/<slot>/…``) calls these."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from deploy.gateway.core import MAX_RETRIES
from deploy.gateway_models import SlotGuardrail, SlotRoute
from engine.rewards.rules import RULE_IDS
from kernel.audit import audit_record
from kernel.errors import ApplicationError
from kernel.text import text_error
from registry.models import ModelVersion

MAX_ROUTES = 10
ERR_ROUTES = "routes: a list of at most 10 {version, weight} objects (an empty list removes the split)."
ERR_SLOT = "slot: 1 to 100 characters, letters, digits, '-', '_' or '.'."


def _slot(slot: Any) -> str:
    if not isinstance(slot, str) or not 0 < len(slot) <= 100 or not all(c.isalnum() or c in "-_." for c in slot):
        raise ApplicationError(ERR_SLOT)
    return slot


def slot_base(slot: str) -> ModelVersion | None:
    """The base a slot serves: its active deployment's, else its production version's (None: not known
    yet, the first routed version decides)."""
    from deploy.serving_models import Deployment
    from kernel.status import Status

    deployment = Deployment.objects.filter(slot=slot, status__in=[Status.QUEUED, Status.RUNNING]).first()
    if deployment is not None:
        return deployment.base
    production = ModelVersion.objects.filter(slot=slot, stage=ModelVersion.Stage.PRODUCTION).first()
    return production.base if production is not None else None


def _base_label(version: ModelVersion) -> str:
    return version.base.name if version.base_id else (version.base_model or "no base")


def slot_routes_set(*, slot: str, routes: Any, actor=None, percent: bool = False, note: str = "") -> list[SlotRoute]:
    """Replace the slot's routes: ``[{"version": ID or name, "weight": number ≥ 0}, ...]`` (policies only,
    all of the slot's base, no version twice, at least one positive weight unless the list is empty).
    ``percent``: the weights are shares in percent and must sum to 100 (the slots page)."""
    from deploy.services.serving import same_base

    slot = _slot(slot)
    if not isinstance(routes, list) or len(routes) > MAX_ROUTES:
        raise ApplicationError(ERR_ROUTES)
    errors, rows, seen = [], [], set()
    base = slot_base(slot)
    for i, r in enumerate(routes):
        if not isinstance(r, dict):
            errors.append(f"routes[{i}]: must be an object")
            continue
        ref, weight = r.get("version"), r.get("weight")
        version = None
        if isinstance(ref, int) and not isinstance(ref, bool):
            version = ModelVersion.objects.filter(pk=ref).first()
        elif isinstance(ref, str) and len(ref) <= 200:
            version = ModelVersion.objects.filter(name=ref).first()
        if version is None:
            errors.append(f"routes[{i}].version: {ref!r} is not a registered version")
        elif version.kind != ModelVersion.Kind.POLICY:
            errors.append(f"routes[{i}].version: {version.name} is not a policy")
        elif version.pk in seen:
            errors.append(f"routes[{i}].version: {version.name} is listed twice")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1e6:
            errors.append(f"routes[{i}].weight: a number from 0 to 1000000")
        if version is not None and version.kind == ModelVersion.Kind.POLICY:
            base = base if base is not None else (version.base if version.base_id else None)
            if base is not None and not same_base(version, base):
                errors.append(
                    f"routes[{i}].version: {version.name} was trained on {_base_label(version)}, "
                    f"but slot {slot} serves {base.name}"
                )
        if version is not None:
            seen.add(version.pk)
            rows.append(SlotRoute(slot=slot, version=version, weight=float(weight or 0)))
    if not errors and rows and not any(r.weight > 0 for r in rows):
        errors.append("routes: at least one weight must be above 0")
    if not errors and rows and percent and abs(sum(r.weight for r in rows) - 100) > 1e-6:
        errors.append(f"routes: the shares must sum to 100% (they sum to {sum(r.weight for r in rows):g}%)")
    if errors:
        raise ApplicationError("; ".join(errors))
    with transaction.atomic():
        before = list(SlotRoute.objects.filter(slot=slot).values("version_id", "weight"))
        SlotRoute.objects.filter(slot=slot).delete()
        SlotRoute.objects.bulk_create(rows)
        after = [{"version_id": r.version_id, "weight": r.weight} for r in rows]
        audit_record(
            actor=actor,
            action="change",
            object_type="deploy.slotroute",
            object_id=slot,
            before={"routes": before},
            after={"routes": after},
            note=note,
        )
    return rows


def slot_guardrail_set(*, slot: str, data: Any, actor=None, note: str = "") -> SlotGuardrail:
    """Set the slot's guardrail: ``{"mode", "retries", "rules", "fallback_reply"}`` (missing keys keep
    their values)."""
    slot = _slot(slot)
    if not isinstance(data, dict):
        raise ApplicationError("The body must be an object with mode, retries, rules, fallback_reply.")
    row = SlotGuardrail.objects.filter(slot=slot).first() or SlotGuardrail(slot=slot)
    errors = [f"{k}: unknown field" for k in data if k not in ("mode", "retries", "rules", "fallback_reply")]
    mode = data.get("mode", row.mode)
    if mode not in SlotGuardrail.Mode.values:
        errors.append(f"mode: one of {', '.join(SlotGuardrail.Mode.values)}")
    retries = data.get("retries", row.retries)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        errors.append(f"retries: an integer from 0 to {MAX_RETRIES}")
    rules = data.get("rules", row.rules)
    if not isinstance(rules, list) or any(r not in RULE_IDS for r in rules):
        errors.append(f"rules: a list of rule ids ({', '.join(RULE_IDS)})")
    fallback = data.get("fallback_reply", row.fallback_reply)
    problem = text_error(fallback, field="fallback_reply", max_len=2000)
    if problem:
        errors.append(problem)
    if errors:
        raise ApplicationError("; ".join(errors))
    before = {"mode": row.mode, "retries": row.retries, "rules": row.rules, "fallback_reply": row.fallback_reply}
    existed = row.pk is not None
    row.mode, row.retries, row.rules, row.fallback_reply = mode, retries, list(rules), fallback or ""
    row.save()
    audit_record(
        actor=actor,
        action="change",
        instance=row,
        before=before if existed else None,
        after={"mode": mode, "retries": retries, "rules": list(rules), "fallback_reply": row.fallback_reply},
        note=note,
    )
    return row
