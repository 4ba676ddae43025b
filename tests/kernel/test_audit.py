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


def test_the_admin_cannot_add_change_or_delete_events_even_as_superuser(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser(username="root", password="x-very-long-pw")
    client.force_login(admin_user)
    event = AuditEvent.objects.create(action="create", object_type="x", object_id="1")
    assert client.get("/admin/kernel/auditevent/").status_code == 200
    assert client.get("/admin/kernel/auditevent/add/").status_code == 403
    forged = client.post("/admin/kernel/auditevent/add/", {"action": "create", "object_type": "x", "object_id": "2"})
    assert forged.status_code == 403
    assert client.post(f"/admin/kernel/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 1
    page = client.get(f"/admin/kernel/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page


SQLITE_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
call_command("migrate", verbosity=0)
from kernel.models import AuditEvent
assert connection.vendor == "sqlite"
event = AuditEvent.objects.create(action="create", object_type="x", object_id="1")
refused = []
attempts = {
    "update": lambda: AuditEvent.objects.filter(pk=event.pk).update(note="forged"),
    "delete": lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    "bulk_update": lambda: AuditEvent.objects.bulk_update([AuditEvent(pk=event.pk, note="f")], ["note"]),
    "raw": lambda: connection.cursor().execute("DELETE FROM annotation_auditevent"),
}
for name, attempt in attempts.items():
    try:
        with transaction.atomic():
            attempt()
    except DatabaseError as exc:
        assert "append-only" in str(exc), exc
        refused.append(name)
print("REFUSED", ",".join(refused), AuditEvent.objects.get(pk=event.pk).note == "")
"""


def test_audit_events_are_append_only_on_sqlite_too(tmp_path):
    """The embedded default: a fresh SQLite database, migrated, refuses every rewrite of the log."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "parley.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "PARLEY_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(root),
    }
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "REFUSED update,delete,bulk_update,raw True"
