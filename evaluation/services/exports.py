"""Exports for the admin: raw judgments, consensus labels and reports, as CSV and JSONL.

Exports are reads, but each is recorded in the audit log (who took which data out, and when)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from evaluation.columns import CSV_FIELDS
from evaluation.models import EvalSet, Judgment
from evaluation.selectors.reports import eval_report_detail
from kernel.audit import audit_record
from kernel.csvsafe import csv_text

JUDGMENT_FIELDS = (
    "eval_set",
    "version",
    "kind",
    "dialogue",
    "system",
    "rater",
    "expertise",
    "consensus",
    "rating",
    "excellent_turns",
    "skills",
    "fix_status",
    "source",
    "created_at",
)
REPORT_FIELDS = CSV_FIELDS
KINDS = ("judgments", "consensus", "reports")


def judgment_rows(*, consensus: bool) -> Iterable[dict]:
    """The import line format plus who, when and how (so an export re-imports after dropping the extras)."""
    rows = Judgment.objects.filter(consensus=consensus).select_related("item__eval_set", "system")
    for j in rows.order_by("item__eval_set__name", "item__eval_set__version", "item__position", "system__name"):
        yield {
            "eval_set": j.item.eval_set.name,
            "version": j.item.eval_set.version,
            "kind": j.item.eval_set.kind,
            "dialogue": j.item.external_id,
            "system": j.system.name,
            "rater": j.rater,
            "expertise": j.expertise,
            "consensus": j.consensus,
            "rating": j.rating,
            "excellent_turns": j.excellent_turns,
            "skills": j.skills,
            "fix_status": j.fix_status or None,
            "source": j.source,
            "created_at": j.created_at.isoformat(),
        }


def report_rows(report: dict) -> list[dict]:
    """One row per system of a detailed report."""
    return [
        {
            "eval_set": report["eval_set"],
            "version": report.get("version"),
            "kind": report["kind"],
            "system": name,
            "pending": report["pending"].get(name),
            **row,
        }
        for name, row in report["systems"].items()
    ]


def _jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def _csv(rows: Iterable[dict], fields: tuple[str, ...]) -> str:
    return csv_text(rows, fields)  # formula cells defused (kernel/csvsafe.py)


def report_csv(report: dict) -> str:
    return _csv(report_rows(report), REPORT_FIELDS)


def report_jsonl(report: dict) -> str:
    return _jsonl(report_rows(report))


def evaluation_export(*, kind: str, fmt: str, actor=None) -> str:
    """``kind`` judgments | consensus | reports (every set), ``fmt`` csv | jsonl."""
    if kind not in KINDS or fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export {kind}.{fmt}")
    if kind == "reports":
        rows = [r for s in EvalSet.objects.all() for r in report_rows(eval_report_detail(eval_set=s, n_resamples=500))]
        fields = REPORT_FIELDS
    else:
        rows, fields = list(judgment_rows(consensus=kind == "consensus")), JUDGMENT_FIELDS
    audit_record(actor=actor, action="export", object_type="evaluation.export", object_id=kind, note=fmt)
    return _csv(rows, fields) if fmt == "csv" else _jsonl(rows)
