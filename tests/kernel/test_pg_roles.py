"""The least-privilege PostgreSQL roles on the real database (kernel/pg_roles.py, ``manage.py pg_roles``):
the app role runs the app's normal writes, but cannot UPDATE, DELETE or TRUNCATE the audit table nor
DISABLE its trigger; the owner can. Everything happens inside the test's transaction (roles and grants
are transactional in PostgreSQL), so nothing is left behind on the shared server."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from annotation.models import Project
from kernel.audit import audit_record
from kernel.models import AuditEvent
from kernel.pg_roles import role_statements

pytestmark = pytest.mark.django_db
AUDIT = AuditEvent._meta.db_table


@pytest.fixture
def roles(db):
    assert connection.vendor == "postgresql"
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"parley_t_owner_{suffix}", f"parley_t_app_{suffix}"
    call_command("pg_roles", owner=owner, app=app, reassign=True, stdout=StringIO())
    return owner, app


@contextmanager
def acting_as(role: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(role)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def refused(sql: str) -> str:
    """The database's refusal of ``sql`` (in a savepoint, so the test's transaction goes on)."""
    with pytest.raises(ProgrammingError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(error.value)


def test_the_app_role_writes_rows_but_cannot_rewrite_or_empty_the_audit_log(roles, django_user_model):
    owner, app = roles
    with acting_as(app):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app
        user = django_user_model.objects.create_user(username="u", password="a-long-password-1")
        project = Project.objects.create(name="least privilege")  # the app's normal writes: insert,
        Project.objects.filter(pk=project.pk).update(description="changed")  # update,
        event = audit_record(actor=user, action="create", instance=project)  # the audit log: insert,
        assert AuditEvent.objects.filter(pk=event.pk).exists()  # and read
        Project.objects.filter(pk=project.pk).delete()  # delete
        assert "permission denied" in refused(f"UPDATE {AUDIT} SET note = 'forged'")
        assert "permission denied" in refused(f"DELETE FROM {AUDIT}")
        assert "permission denied" in refused(f"TRUNCATE {AUDIT}")
        assert "must be owner" in refused(f"ALTER TABLE {AUDIT} DISABLE TRIGGER ALL")
        assert "must be owner" in refused(f"ALTER TABLE {AUDIT} OWNER TO {app}")
        assert "permission denied" in refused("TRUNCATE annotation_project")  # no TRUNCATE anywhere
        assert "permission denied" in refused("CREATE TABLE parley_t_sneaky (id int)")  # no DDL
    with acting_as(owner), connection.cursor() as cursor:  # the owner runs migrations: DDL works
        cursor.execute("CREATE TABLE parley_t_owned (id int)")
        cursor.execute(f"SELECT tableowner FROM pg_tables WHERE tablename = '{AUDIT}'")
        assert cursor.fetchone()[0] == owner


def test_tables_the_owner_creates_later_are_granted_to_the_app_by_default(roles):
    owner, app = roles
    with acting_as(owner), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE parley_t_later (id serial primary key, v text)")
    with acting_as(app), connection.cursor() as cursor:
        cursor.execute("INSERT INTO parley_t_later (v) VALUES ('x')")
        cursor.execute("SELECT count(*) FROM parley_t_later")
        assert cursor.fetchone()[0] == 1


def test_print_shows_the_sql_and_bad_role_names_are_refused():
    out = StringIO()
    call_command("pg_roles", print=True, stdout=out)
    assert f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{AUDIT}" FROM "parley_app";' in out.getvalue()
    with pytest.raises(ValueError, match="not a role name"):
        role_statements(database="parley", owner="x'; DROP TABLE y; --", app="parley_app")
