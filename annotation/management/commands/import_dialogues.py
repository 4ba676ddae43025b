"""``python manage.py import_dialogues FILE.jsonl [--project NAME]``: all lines or none."""

import sys

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Project
from annotation.services.imports import dialogues_import


class Command(BaseCommand):
    help = "Import dialogues from a JSONL file (docs/import-schema.md). On any error nothing is imported."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL file, one dialogue per line ('-' for stdin)")
        parser.add_argument("--project", default=None, help="project name (default: the only project)")

    def handle(self, *args, file: str, project: str | None, **options):
        target = self._project(project)
        try:
            stream = open(file, "rb") if file != "-" else sys.stdin.buffer  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from exc
        with stream:
            result = dialogues_import(lines=stream, project=target, user=None)
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            hidden = result.error_count - len(result.errors)
            if hidden:
                self.stderr.write(f"... and {hidden} more errors")
            raise CommandError(f"{result.error_count} errors; nothing was imported")
        self.stdout.write(f"Imported into {target.name!r}: {result.counts or 'nothing (empty file)'}")

    def _project(self, name: str | None) -> Project:
        if name:
            project = Project.objects.filter(name=name).first()
            if project is None:
                raise CommandError(f"no project named {name!r}")
            return project
        projects = list(Project.objects.all()[:2])
        if len(projects) != 1:
            raise CommandError("name the project with --project (there is not exactly one)")
        return projects[0]
