"""On PostgreSQL, refuse UPDATE and DELETE of audit events in the database itself."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION parley_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS annotation_auditevent_append_only ON annotation_auditevent;
CREATE TRIGGER annotation_auditevent_append_only BEFORE UPDATE OR DELETE ON annotation_auditevent
  FOR EACH ROW EXECUTE FUNCTION parley_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS annotation_auditevent_append_only ON annotation_auditevent;
DROP FUNCTION IF EXISTS parley_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
