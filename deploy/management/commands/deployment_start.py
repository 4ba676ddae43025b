"""``python manage.py deployment_start VERSION [--slot NAME] [--wait]``: serve a registered version (as the
deployment pages do): a base on its own server, a policy as an adapter of its base's deployment."""

import time

from django.core.management.base import BaseCommand, CommandError

from deploy.selectors import live_endpoint
from deploy.services.serving import deployment_start
from deploy.serving_models import Deployment
from kernel.errors import ApplicationError
from registry.models import ModelVersion


def version_get(ref: str) -> ModelVersion:
    version = ModelVersion.objects.filter(name=ref).first()
    if version is None and ref.isdigit():
        version = ModelVersion.objects.filter(pk=int(ref)).first()
    if version is None:
        raise CommandError(f"No registered version named (or with id) {ref!r}.")
    return version


class Command(BaseCommand):
    help = "Start serving a version (a base model, or a policy as a LoRA adapter of its base's server)."

    def add_arguments(self, parser):
        parser.add_argument("version", help="version name or id")
        parser.add_argument("--slot", default="", help="deployment slot (default: the version's slot or name)")
        parser.add_argument("--max-loras", type=int, default=4)
        parser.add_argument("--max-lora-rank", type=int, default=64)
        parser.add_argument("--wait", action="store_true", help="wait until the version answers")
        parser.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits (default 600)")

    def handle(self, *args, version: str, slot: str, wait: bool, timeout: float, **options):
        model = version_get(version)
        try:
            deployment = deployment_start(
                version=model, slot=slot, max_loras=options["max_loras"], max_lora_rank=options["max_lora_rank"]
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Deployment {deployment.pk} (slot {deployment.slot}) serves {model.name}: {deployment.status}."
        )
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            endpoint = live_endpoint(model)
            if endpoint is not None:
                self.stdout.write(f"{model.name} answers at {endpoint.base_url} as model {endpoint.model!r}.")
                return
            row = Deployment.objects.get(pk=deployment.pk)
            if row.is_terminal:
                raise CommandError(f"Deployment {row.pk} ended ({row.status}): {row.error or row.health_error}")
            time.sleep(1)
        raise CommandError(f"{model.name} did not answer within {timeout:g} s (is a `serve` worker running?).")
