"""``python manage.py api_key_create --user NAME --name LABEL [--days N]``: create an API key and print it
once (only its hash is stored). The user must be an ML engineer or an admin."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kernel.api_keys import API_KEY_DAYS, api_key_create
from kernel.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API key for the REST API and the gateway; the key is printed once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of the key's owner.")
        parser.add_argument("--name", required=True, help="A label for the key (what uses it).")
        parser.add_argument("--days", type=int, default=API_KEY_DAYS, help=f"Days valid (default {API_KEY_DAYS}).")

    def handle(self, *args, user, name, days, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user {user!r}.")
        try:
            row, key = api_key_create(owner=owner, name=name, days=days)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stderr.write(f"Key {row.name} ({row.prefix}…) for {owner.username}, expires {row.expires_at:%Y-%m-%d}.")
        self.stdout.write(key)
