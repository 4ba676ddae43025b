"""``manage.py pg_roles``: create the owner and app roles and their grants (kernel/pg_roles.py)."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from kernel.pg_roles import role_statements, roles_apply


class Command(BaseCommand):
    help = (
        "Create the PostgreSQL owner role (runs migrations, owns the tables) and the app role (rows only; "
        "INSERT and SELECT on the audit log), and grant. Run as a superuser after every migrate that adds "
        "tables. Passwords come from PARLEY_OWNER_DB_PASSWORD / PARLEY_APP_DB_PASSWORD when set."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="parley_owner")
        parser.add_argument("--app", default="parley_app")
        parser.add_argument("--reassign", action="store_true", help="give every table of public to the owner first")
        parser.add_argument("--print", action="store_true", help="print the SQL instead of running it")

    def handle(self, *args, owner, app, reassign, print: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("pg_roles is for PostgreSQL; this database is " + connection.vendor)
        if print:
            database = connection.settings_dict["NAME"]
            for statement in role_statements(database=database, owner=owner, app=app, reassign=reassign):
                self.stdout.write(statement + ";")
            return
        passwords = {
            role: os.environ[variable]
            for role, variable in ((owner, "PARLEY_OWNER_DB_PASSWORD"), (app, "PARLEY_APP_DB_PASSWORD"))
            if os.environ.get(variable)
        }
        with transaction.atomic():
            roles_apply(owner=owner, app=app, reassign=reassign, passwords=passwords)
        self.stdout.write(f"Roles {owner} (owner) and {app} (app) ready.")
