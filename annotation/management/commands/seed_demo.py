"""``python manage.py seed_demo [--scale N] [--seed S]``: the demo world, idempotent."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from annotation.services.demo import (
    DEMO_SECOND_ANNOTATORS,
    demo_password,
    demo_queues_ensure,
    demo_second_annotators_ensure,
    demo_world_seed,
)
from engine.demo.world import DEMO_USERS


class Command(BaseCommand):
    help = "Create the demo project, SOP, guideline, one user per role and generated dialogues (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=60, help="number of dialogues (default 60)")
        parser.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
        parser.add_argument(
            "--world-only",
            action="store_true",
            help="only the dialogues and users: skip the default reward config, eval sets and base model",
        )

    def handle(self, *args, scale: int, seed: int, world_only: bool = False, **options):
        if scale < 0:
            raise CommandError("--scale must be zero or more")
        result = demo_world_seed(scale=scale, seed=seed)
        if not result.imported.ok:  # generated data failing validation is a bug, but say it plainly
            for error in result.imported.errors:
                self.stderr.write(str(error))
            raise CommandError("the generated demo dialogues did not pass validation; nothing was imported")
        self.stdout.write(
            f"Project {result.project.name!r}: {result.dialogues_added} dialogues added "
            f"({result.imported.counts or 'already seeded'})."
        )
        created = result.created_users + self._seed_annotation_work(result.project)
        if not world_only:
            self._seed_the_rest()
        password = demo_password()
        self.stdout.write("Demo logins (username / password / role):")
        for username, role in (*DEMO_USERS, *DEMO_SECOND_ANNOTATORS):
            note = "" if username in created else "  (existed; password unchanged)"
            self.stdout.write(f"  {username:<11} {password}  {role}{note}")

    def _seed_annotation_work(self, project) -> list[str]:
        """A second annotator per lens and the demo queues (overlap 2): every annotator has work on first
        login, and two of them can disagree or tie 1–1 on the same item. Returns the users created."""
        created = demo_second_annotators_ensure(password=demo_password())
        queues = demo_queues_ensure(project=project)
        self.stdout.write(f"Annotation queues added: {', '.join(queues) or 'none (already seeded)'}.")
        return created

    def _seed_the_rest(self) -> None:
        """What the other areas need for a usable demo: the tiny base model registered for jobs, the
        default rule set and rubric, and the demo eval sets (each idempotent)."""
        from registry.services import base_model_default_ensure

        base = base_model_default_ensure()
        self.stdout.write(f"Base model {base.name!r} at {base.base_model}.")
        call_command("seed_rewards", stdout=self.stdout)
        call_command("seed_eval_demo", stdout=self.stdout)
