"""``python manage.py seed_demo_jobs``: a finished RM and REPO job and an eval set with two model systems
(after ``seed_demo`` and once the tiny model is built; idempotent). It lives in the evaluation app, the
layer above training_jobs, because it runs both: the jobs (``training_jobs.services.demo``), then the
eval set they feed (``evaluation.services.demo``)."""

import time

from django.core.management.base import BaseCommand, CommandError

from evaluation.services.demo import MODELS, eval_demo_models_seed
from kernel.errors import ApplicationError
from training_jobs.services.demo import demo_jobs_seed


class Command(BaseCommand):
    help = (
        "Run a demo RM job and a demo REPO job on the tiny model (tiny preset, in this process), register "
        "the untuned base as a policy, and generate the replies of both for the 'demo-models' eval set."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dialogues", type=int, default=6, help="dialogues in the demo-models eval set")

    def handle(self, *args, dialogues: int, **options):
        if dialogues < 1:
            raise CommandError("--dialogues must be at least 1")
        started = time.monotonic()
        try:
            jobs = demo_jobs_seed()
            eval_set, made = eval_demo_models_seed(systems=[jobs.untuned, jobs.repo.output_model], dialogues=dialogues)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for name in (jobs.rm.name, jobs.repo.name):
            note = f"ran in {jobs.seconds[name]} s" if name in jobs.ran else "already there"
            self.stdout.write(f"job {name!r}: succeeded ({note})")
        note = "replies generated" if made else "already there"
        self.stdout.write(f"eval set {MODELS!r} v{eval_set.version}: {note}")
        self.stdout.write(f"demo jobs and evaluation ready in {time.monotonic() - started:.0f} s")
