"""``python manage.py import_judgments FILE.jsonl``: offline ratings into the database, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.services.judgment_import import JudgmentImportError, judgments_import


class Command(BaseCommand):
    help = "Import judgments (one JSON object per line); nothing is imported if any line is bad."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL file, one judgment per line")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            # Bytes, split on \n only: a stray \r or bad UTF-8 is refused on its own line, by number.
            with path.open("rb") as lines:
                summary = judgments_import(lines=lines, source_name=path.name)
        except JudgmentImportError as exc:
            for number, reason in exc.errors:
                self.stderr.write(f"line {number}: {reason}")
            raise CommandError(f"{len(exc.errors)} error(s); nothing was imported") from None
        self.stdout.write(
            f"imported {summary.judgments} rater judgments and {summary.consensus} consensus labels "
            f"({summary.created_items} new items; new sets: {', '.join(summary.created_sets) or 'none'}; "
            f"new systems: {', '.join(summary.created_systems) or 'none'})"
        )
