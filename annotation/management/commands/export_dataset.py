"""``python manage.py export_dataset --kind KIND --out FILE [--sidecar FILE] [filters]``."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from annotation.services.exports import KINDS, ExportFilters, dataset_export
from engine.vocab import PROVENANCES


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = "Export TRL training data (JSONL) with a provenance sidecar."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=KINDS)
        parser.add_argument("--out", required=True, help="training JSONL to write")
        parser.add_argument("--sidecar", default=None, help="provenance JSONL (default: OUT with .provenance.jsonl)")
        parser.add_argument("--project", default=None, help="project name")
        parser.add_argument("--provenance", action="append", choices=PROVENANCES, default=[], help="repeatable")
        parser.add_argument("--date-from", type=_date, default=None)
        parser.add_argument("--date-to", type=_date, default=None)
        parser.add_argument("--reviewed-only", action="store_true")

    def handle(self, *args, kind, out, sidecar, project, provenance, date_from, date_to, reviewed_only, **options):
        filters = ExportFilters(
            project=project,
            provenance=tuple(provenance),
            date_from=date_from,
            date_to=date_to,
            reviewed_only=reviewed_only,
        )
        sidecar = sidecar or (out.removesuffix(".jsonl") + ".provenance.jsonl")
        try:
            with open(out, "w", encoding="utf-8") as out_file, open(sidecar, "w", encoding="utf-8") as side_file:
                stats = dataset_export(kind=kind, filters=filters, out=out_file, sidecar=side_file)
        except OSError as exc:
            raise CommandError(f"cannot write: {exc}") from exc
        self.stdout.write(f"{stats.rows} {kind} rows -> {out} (provenance: {sidecar}); {stats.counts}")
