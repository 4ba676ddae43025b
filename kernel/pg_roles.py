"""The least-privilege PostgreSQL roles (docs/operations.md, "The audit log stays append-only"): an owner
role that owns the schema's tables and runs migrations, and an app role the web app and the workers
connect as, which owns nothing (so it can neither TRUNCATE nor DISABLE TRIGGER), may read and write rows,
and may only INSERT and SELECT on the audit table. ``manage.py pg_roles`` runs or prints these statements.
"""

from __future__ import annotations

import re

from django.db import connection

from kernel.models import AuditEvent

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # checked, so the names are safe inside SQL text


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def role_statements(*, database: str, owner: str, app: str, reassign: bool = False) -> list[str]:
    """The statements, in order, for a superuser (or a role with CREATEROLE that is a member of ``owner``).
    Idempotent: roles are created only when missing, grants repeat harmlessly. ``reassign`` first gives
    every table and sequence of ``public`` to ``owner`` (a database migrated as another role)."""
    for name in (owner, app):
        if not ROLE_NAME.match(name):
            raise ValueError(f"{name!r} is not a role name (lower-case letters, digits and _)")
    audit = _q(AuditEvent._meta.db_table)
    o, a, db = _q(owner), _q(app), _q(database)
    create = (
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
        "CREATE ROLE {quoted} LOGIN; END IF; END $$"
    )
    statements = [
        create.format(name=owner, quoted=o),
        create.format(name=app, quoted=a),
        f"ALTER ROLE {a} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {o}, {a}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {o}",
        f"GRANT USAGE ON SCHEMA public TO {a}",
    ]
    if reassign:
        statements.append(
            "DO $$ DECLARE r record; BEGIN "  # noqa: S608 (the role names are checked above)
            "FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') LOOP "
            f"EXECUTE format('ALTER TABLE public.%I OWNER TO {o}', r.relname); END LOOP; "
            "FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'S' AND NOT EXISTS "
            "(SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP "
            f"EXECUTE format('ALTER SEQUENCE public.%I OWNER TO {o}', r.relname); END LOOP; END $$"
        )
    statements += [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {a}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {a}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {a}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {a}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {a}",
    ]
    return statements


def roles_apply(*, owner: str, app: str, reassign: bool = False, passwords: dict[str, str] | None = None) -> None:
    """Run ``role_statements`` on Django's default connection (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("pg_roles is for PostgreSQL (SQLite has no roles: its triggers keep the log append-only)")
    with connection.cursor() as cursor:
        for statement in role_statements(
            database=connection.settings_dict["NAME"], owner=owner, app=app, reassign=reassign
        ):
            cursor.execute(statement)
        for role, password in (passwords or {}).items():
            cursor.execute(f"ALTER ROLE {_q(role)} PASSWORD %s", [password])
