"""On SQLite (the embedded default), refuse UPDATE and DELETE of audit events in the database itself, as
the PostgreSQL trigger does (annotation 0002): QuerySet.update(), .delete(), bulk_update and raw SQL fail.
On PostgreSQL the remaining holes (TRUNCATE, DISABLE TRIGGER) are closed by the app's role, which owns
nothing and is granted no TRUNCATE (docs/operations.md)."""

from django.db import migrations

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS annotation_auditevent_no_update BEFORE UPDATE ON annotation_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS annotation_auditevent_no_delete BEFORE DELETE ON annotation_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS annotation_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS annotation_auditevent_no_delete;",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    # The table is annotation's (created by annotation 0001, kept when the model moved here).
    dependencies = [("kernel", "0001_initial"), ("annotation", "0007_auditevent_to_kernel")]
    operations = [migrations.RunPython(forwards, backwards)]
