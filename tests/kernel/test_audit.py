"""The audit log: append-only in the model and, on PostgreSQL, in the database (the trigger kept its table
when the log moved into the kernel)."""

import pytest
from django.db import IntegrityError, transaction

from kernel.audit import audit_record
from kernel.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_events_are_append_only_in_model_and_database():
    event = AuditEvent.objects.create(action="create", object_type="x", object_id="1")
    event.note = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(note="tampered")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_audit_record_names_the_instance_by_its_label(django_user_model):
    user = django_user_model.objects.create(username="u")
    event = audit_record(actor=user, action="change", instance=user, note="n")
    assert (event.object_type, event.object_id, event.actor) == ("auth.user", str(user.pk), user)
