"""``python manage.py deployment_stop (ID | --slot NAME)``: stop a deployment (as the page's Stop does)."""

from django.core.management.base import BaseCommand, CommandError

from deploy.services.serving import deployment_stop
from deploy.serving_models import Deployment
from kernel.errors import ApplicationError
from kernel.status import ACTIVE


class Command(BaseCommand):
    help = "Stop a deployment by id, or the active deployment of a slot."

    def add_arguments(self, parser):
        parser.add_argument("deployment", nargs="?", type=int, help="deployment id")
        parser.add_argument("--slot", default="", help="stop the active deployment of this slot")

    def handle(self, *args, deployment: int | None, slot: str, **options):
        if (deployment is None) == (not slot):
            raise CommandError("Give a deployment id or --slot NAME (one of them).")
        rows = (
            Deployment.objects.filter(pk=deployment)
            if deployment
            else Deployment.objects.filter(slot=slot, status__in=ACTIVE)
        )
        row = rows.first()
        if row is None:
            raise CommandError(
                f"No deployment {deployment}." if deployment else f"No active deployment in slot {slot!r}."
            )
        try:
            row = deployment_stop(deployment=row)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Deployment {row.pk} (slot {row.slot}): stop requested ({row.status}).")
