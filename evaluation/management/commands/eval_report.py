"""``python manage.py eval_report --eval-set NAME [--json]``: the paper's table for one eval set."""

import json

from django.core.management.base import BaseCommand, CommandError

from evaluation.columns import headline
from evaluation.selectors.reports import eval_report
from evaluation.selectors.sets import eval_set_latest


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


class Command(BaseCommand):
    help = "Print an eval set's report (consensus judgments only; the rest are pending)."

    def add_arguments(self, parser):
        parser.add_argument("--eval-set", required=True, help="eval set name (its newest version)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        eval_set = eval_set_latest(name=options["eval_set"])
        if eval_set is None:
            raise CommandError(f"no eval set named {options['eval_set']!r}")
        report = eval_report(eval_set=eval_set)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{report['eval_set']} ({report['kind']})")
        keys = ("n", *(column.key for column in headline(report["kind"])))  # the kind's headline metrics
        self.stdout.write("\t".join(("system", *keys, "pending")))
        for name, row in report["systems"].items():
            cells = [_cell(row[key]) for key in keys]
            self.stdout.write("\t".join((name, *cells, str(report["pending"][name]))))
