"""Shared set-up of the data benchmarks: a throwaway PostgreSQL database, migrated, with Django ready.

``BENCH_DATABASE_URL`` picks the database (default ``postgres://postgres@127.0.0.1:5432/parley_bench``);
it is dropped and re-created unless ``keep=True`` finds it already migrated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/parley_bench"


def _admin_connect(url: str):
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    return psycopg.connect(admin, autocommit=True), parsed.path.lstrip("/")


def setup_django(*, fresh: bool, migrate: bool = True) -> str:
    """Point Django at the bench database (re-created when ``fresh``), migrate, and return its URL."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    os.environ["DJANGO_SETTINGS_MODULE"] = "parley.settings.test"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    conn, name = _admin_connect(url)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if fresh and exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if fresh or not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return url


def drop_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    conn, name = _admin_connect(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def raw_connection():
    """The psycopg connection under Django's (for COPY)."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection
