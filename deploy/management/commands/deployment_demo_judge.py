"""``python manage.py deployment_demo_judge``: serve the demo judge as an adapter of the demo deployment and
name it in the ``demo: judge + rules`` reward config; ``make run`` calls it after ``deployment_start``.
``--wait S`` waits up to S seconds for the adapter to be loaded (the server starts in about a minute)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deploy.selectors import live_endpoint
from deploy.services.demo import DEMO_SLOT, demo_judge_ensure
from kernel.errors import ApplicationError


class Command(BaseCommand):
    help = "Serve the demo judge on the demo deployment and name it in the demo reward config."

    def add_arguments(self, parser):
        parser.add_argument("--slot", default=DEMO_SLOT)
        parser.add_argument("--path", default=str(settings.PARLEY_DEMO_JUDGE_DIR))
        parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait until it answers")

    def handle(self, *args, slot: str, path: str, wait: float, **options):
        try:
            done = demo_judge_ensure(path=path, slot=slot)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        deadline = time.monotonic() + wait
        endpoint = live_endpoint(done.version)
        while endpoint is None and time.monotonic() < deadline:
            time.sleep(2)
            endpoint = live_endpoint(done.version)
        where = f"answers at {endpoint.base_url} as {endpoint.model!r}" if endpoint else "not loaded yet"
        self.stdout.write(
            f"{done.version.name}: adapter of deployment {done.deployment.pk}, {where}; "
            f"reward config {done.config.name!r}"
        )
