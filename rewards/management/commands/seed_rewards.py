"""``manage.py seed_rewards``: the default rule set and judge rubric (v1) where they are missing."""

from django.core.management.base import BaseCommand

from rewards.services.seed import reward_defaults_seed


class Command(BaseCommand):
    help = "Create version 1 of the 'default' rule set and rubric from the engine's defaults (idempotent)."

    def handle(self, *args, **options):
        created = reward_defaults_seed()
        for row in created:
            self.stdout.write(f"created {row._meta.verbose_name} {row}")
        if not created:
            self.stdout.write("reward defaults already present")
