"""``python manage.py seed_eval_demo``: demo eval sets with the gold system's responses (after ``seed_demo``)."""

from django.core.management.base import BaseCommand

from evaluation.services.demo import eval_demo_seed


class Command(BaseCommand):
    help = "Freeze a demo online set and bad-case set from the demo world and generate the gold responses."

    def add_arguments(self, parser):
        parser.add_argument("--online", type=int, default=30)
        parser.add_argument("--bad-cases", type=int, default=45)

    def handle(self, *args, online: int, bad_cases: int, **options):
        result = eval_demo_seed(online=online, bad_cases=bad_cases)
        sets = ", ".join(result.created) or "none (already seeded, or no dialogues yet: run seed_demo first)"
        self.stdout.write(f"eval sets created: {sets}; {result.responses} gold responses")
