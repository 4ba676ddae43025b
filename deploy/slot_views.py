"""The slots page: how each serving slot splits its traffic (A/B routes) and what its guardrail does with a
reply that breaks a rule. For ML engineers and admins. A change that shifts production traffic or changes
what hotels are sent is shown first (before → after) and applied only once confirmed; every write goes
through ``deploy.services.gateway_config`` (checked and audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deploy.gateway.core import MAX_RETRIES
from deploy.gateway_models import SlotGuardrail, SlotRoute
from deploy.services.gateway_config import ERR_SLOT, slot_base, slot_guardrail_set, slot_routes_set
from deploy.services.serving import same_base
from deploy.serving_models import Deployment
from engine.rewards.rules import RULE_IDS
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.roles import Role, role_required
from kernel.status import Status
from registry.models import ModelVersion

HISTORY = 20


def _check_slot(slot: str) -> str:
    if not 0 < len(slot) <= 100 or not all(c.isalnum() or c in "-_." for c in slot):
        raise Http404(ERR_SLOT)
    return slot


def _all_slots() -> list[str]:
    names = set(SlotRoute.objects.values_list("slot", flat=True))
    names |= set(SlotGuardrail.objects.values_list("slot", flat=True))
    names |= set(ModelVersion.objects.exclude(slot="").values_list("slot", flat=True))
    names |= set(Deployment.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).values_list("slot", flat=True))
    return sorted(n for n in names if n)


def _candidates(slot: str) -> list[ModelVersion]:
    """Policy versions that may take a share of the slot: of its base, not retired (and any routed now)."""
    base = slot_base(slot)
    routed = set(SlotRoute.objects.filter(slot=slot).values_list("version_id", flat=True))
    policies = ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY).select_related("base").order_by("name")
    return [
        v
        for v in policies
        if v.pk in routed or (v.stage != ModelVersion.Stage.RETIRED and (base is None or same_base(v, base)))
    ]


def _shares(routes) -> dict[int, float]:
    """Version id → percent of the slot's hotels (a slot without routes: its production version, 100%)."""
    total = sum(w for _, w in routes)
    return {pk: 100.0 * w / total for pk, w in routes if w > 0} if total > 0 else {}


def _current_shares(slot: str) -> dict[int, float]:
    routes = list(SlotRoute.objects.filter(slot=slot).values_list("version_id", "weight"))
    if routes:
        return _shares(routes)
    production = ModelVersion.objects.filter(slot=slot, stage=ModelVersion.Stage.PRODUCTION).first()
    return {production.pk: 100.0} if production else {}


def _guardrail(slot: str) -> dict:
    row = SlotGuardrail.objects.filter(slot=slot).first()
    if row is None:
        return {"mode": SlotGuardrail.Mode.REGENERATE.value, "retries": 2, "rules": [], "fallback_reply": ""}
    return {"mode": row.mode, "retries": row.retries, "rules": list(row.rules), "fallback_reply": row.fallback_reply}


def _history(slot: str, guardrail: SlotGuardrail | None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(object_type="deploy.slotroute", object_id=slot)
    if guardrail is not None:
        events = events | AuditEvent.objects.filter(object_type="deploy.slotguardrail", object_id=str(guardrail.pk))
    return list(events.select_related("actor").order_by("-at", "-id")[:HISTORY])


@role_required(Role.ML_ENGINEER)
@require_GET
def slot_list(request):
    rows = []
    for slot in _all_slots():
        names = dict(ModelVersion.objects.filter(pk__in=_current_shares(slot)).values_list("pk", "name"))
        shares = [(names.get(pk, "?"), share) for pk, share in _current_shares(slot).items()]
        rows.append({"slot": slot, "shares": shares, "guardrail": _guardrail(slot)})
    return render(request, "deploy/slot_list.html", {"rows": rows})


def _page(request, slot: str, *, status: int = 200, **extra):
    base = slot_base(slot)
    current = _current_shares(slot)
    routed = dict(SlotRoute.objects.filter(slot=slot).values_list("version_id", "weight"))
    weights = extra.pop("weights", None)
    candidates = [
        {
            "version": v,
            "share": current.get(v.pk, 0.0),
            "value": weights.get(v.pk, "")
            if weights is not None
            else (f"{current[v.pk]:g}" if v.pk in current else ""),
        }
        for v in _candidates(slot)
    ]
    guard = extra.pop("guard", None) or _guardrail(slot)
    context = {
        "slot": slot,
        "base": base,
        "has_routes": bool(routed),
        "candidates": candidates,
        "guard": guard,
        "modes": SlotGuardrail.Mode.choices,
        "rule_ids": RULE_IDS,
        "max_retries": MAX_RETRIES,
        "history": _history(slot, SlotGuardrail.objects.filter(slot=slot).first()),
        **extra,
    }
    return render(request, "deploy/slot_detail.html", context, status=status)


@role_required(Role.ML_ENGINEER)
@require_GET
def slot_detail(request, slot: str):
    return _page(request, _check_slot(slot))


def _posted_weights(request) -> tuple[dict[int, str], list[dict], list[str]]:
    """The form's shares: ``share_<version id>`` fields, blank = not routed."""
    raw, routes, errors = {}, [], []
    for key, value in request.POST.items():
        if not key.startswith("share_"):
            continue
        try:
            pk = int(key[6:])
        except ValueError:
            errors.append(f"{key}: not a version field")
            continue
        value = value.strip()
        raw[pk] = value
        if not value:
            continue
        try:
            weight = float(value)
        except ValueError:
            errors.append(f"The share of version {pk} must be a number (got {value[:20]!r}).")
            continue
        if weight != weight or not 0 <= weight <= 100:
            errors.append(f"The share of version {pk} must be between 0 and 100.")
            continue
        if weight > 0:
            routes.append({"version": pk, "weight": weight})
    return raw, routes, errors


@role_required(Role.ML_ENGINEER)
@require_POST
def slot_routes_post(request, slot: str):
    """First POST: check and show before → after; POST with ``confirm``: apply (audited)."""
    slot = _check_slot(slot)
    raw, routes, errors = _posted_weights(request)
    if not errors and routes:
        total = sum(r["weight"] for r in routes)
        if abs(total - 100) > 1e-6:
            errors.append(f"The shares must sum to 100% (they sum to {total:g}%).")
    if errors:
        return _page(request, slot, status=400, route_errors=errors, weights=raw)
    before = _current_shares(slot)
    after = _shares([(r["version"], r["weight"]) for r in routes]) if routes else {}
    names = dict(ModelVersion.objects.filter(pk__in=set(before) | set(after)).values_list("pk", "name"))
    if request.POST.get("confirm") != "yes":
        try:  # check everything the service checks before asking
            with _dry_run():
                slot_routes_set(slot=slot, routes=routes, actor=request.user, percent=True)
        except ApplicationError as error:
            return _page(request, slot, status=400, route_errors=[error.message], weights=raw)
        moved = sum(abs(after.get(pk, 0) - before.get(pk, 0)) for pk in set(before) | set(after)) / 2
        production = ModelVersion.objects.filter(slot=slot, stage=ModelVersion.Stage.PRODUCTION).first()
        rows = [
            {"name": names.get(pk, "?"), "before": before.get(pk, 0.0), "after": after.get(pk, 0.0)}
            for pk in sorted(set(before) | set(after), key=lambda pk: names.get(pk, ""))
        ]
        return render(
            request,
            "deploy/slot_confirm.html",
            {
                "slot": slot,
                "kind": "routes",
                "rows": rows,
                "moved": moved,
                "to_production": not routes,
                "production": production,
                "fields": [(f"share_{pk}", value) for pk, value in raw.items()],
            },
        )
    try:
        slot_routes_set(slot=slot, routes=routes, actor=request.user, percent=True, note="slots page")
    except ApplicationError as error:
        return _page(request, slot, status=400, route_errors=[error.message], weights=raw)
    messages.success(
        request,
        f"Slot {slot}: routes saved."
        if routes
        else f"Slot {slot}: the split is removed; its production version serves it.",
    )
    return redirect("deploy:slot_detail", slot=slot)


class _dry_run:
    """Run a service inside a transaction that is always rolled back (its checks, none of its writes)."""

    class _Rollback(Exception):
        pass

    def __enter__(self):
        from django.db import transaction

        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        return self

    def __exit__(self, kind, value, tb):
        self.atomic.__exit__(self._Rollback, self._Rollback(), None)
        return kind is None or kind is self._Rollback


def _posted_guardrail(request) -> tuple[dict, list[str]]:
    errors = []
    try:
        retries = int(request.POST.get("retries", "2"))
    except ValueError:
        retries = -1
        errors.append(f"Retries must be a whole number from 0 to {MAX_RETRIES}.")
    data = {
        "mode": request.POST.get("mode", ""),
        "retries": retries,
        "rules": request.POST.getlist("rules"),
        "fallback_reply": request.POST.get("fallback_reply", "").replace("\r\n", "\n"),
    }
    return data, errors


@role_required(Role.ML_ENGINEER)
@require_POST
def slot_guardrail_post(request, slot: str):
    """First POST: check and show before → after; POST with ``confirm``: apply (audited)."""
    slot = _check_slot(slot)
    data, errors = _posted_guardrail(request)
    if errors:
        return _page(request, slot, status=400, guard_errors=errors, guard=data)
    before = _guardrail(slot)
    if request.POST.get("confirm") != "yes":
        try:
            with _dry_run():
                slot_guardrail_set(slot=slot, data=data, actor=request.user)
        except ApplicationError as error:
            return _page(request, slot, status=400, guard_errors=[error.message], guard=data)
        changes = [
            (k, before[k], data[k]) for k in ("mode", "retries", "rules", "fallback_reply") if before[k] != data[k]
        ]
        if not changes:
            messages.info(request, f"Slot {slot}: the guardrail is already set that way.")
            return redirect("deploy:slot_detail", slot=slot)
        fields = [("mode", data["mode"]), ("retries", str(data["retries"])), ("fallback_reply", data["fallback_reply"])]
        fields += [("rules", r) for r in data["rules"]]
        return render(
            request,
            "deploy/slot_confirm.html",
            {"slot": slot, "kind": "guardrail", "changes": changes, "fields": fields},
        )
    try:
        slot_guardrail_set(slot=slot, data=data, actor=request.user, note="slots page")
    except ApplicationError as error:
        return _page(request, slot, status=400, guard_errors=[error.message], guard=data)
    messages.success(request, f"Slot {slot}: guardrail saved ({data['mode']}).")
    return redirect("deploy:slot_detail", slot=slot)
