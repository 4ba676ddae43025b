"""``python manage.py deployment_demo_policy``: put the demo REPO policy behind the gateway (an adapter of
the demo deployment, production in slot ``demo``); ``make run`` calls it after ``seed_demo_jobs``."""

from django.core.management.base import BaseCommand, CommandError

from deploy.services.demo import DEMO_SLOT, demo_gateway_ensure
from kernel.errors import ApplicationError


class Command(BaseCommand):
    help = "Serve the demo REPO policy as an adapter of the demo deployment and make it production in its slot."

    def add_arguments(self, parser):
        parser.add_argument("--slot", default=DEMO_SLOT)

    def handle(self, *args, slot: str, **options):
        try:
            done = demo_gateway_ensure(slot=slot)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        note = "adapter added" if done.added else "adapter already there"
        self.stdout.write(f"{done.version.name}: production in slot {slot!r}, {note} (deployment {done.deployment.pk})")
