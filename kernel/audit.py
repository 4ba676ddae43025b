"""One way to write the history: ``audit_record`` (append-only; see ``kernel.models``)."""

from typing import Any

from django.db import models

from kernel.models import AuditEvent


def audit_snapshot(instance: models.Model, *, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe picture of a row's concrete fields (foreign keys by id)."""
    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = getattr(instance, field.attname)
        data[field.attname] = value if isinstance(value, str | int | float | bool | list | dict | None) else str(value)
    return data


def audit_event(
    *,
    actor,
    action: str,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEvent:
    """The event, not yet written: for ``audit_record_many`` when one operation writes several."""
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or instance.pk
    return AuditEvent(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        note=note,
    )


def audit_record(**event) -> AuditEvent:
    """Write one event (arguments as ``audit_event``)."""
    record = audit_event(**event)
    record.save()
    return record


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Write several events in one INSERT, in list order (their ids, and so the history, keep it)."""
    return AuditEvent.objects.bulk_create(events)
