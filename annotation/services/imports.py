"""Import dialogues from JSONL (docs/import-schema.md): validate the whole file, then write it or nothing.

Pass 1 reads every line once, checks it (``import_checks``) and spools the good ones to a temporary
file, so memory does not grow with the file. Checks that need the database run once at the end.
Pass 2, only when no line failed, writes everything in one transaction with batched ``bulk_create``;
on PostgreSQL the two largest tables whose ids nobody needs back (messages, tickets) go through COPY
(``import_writer``), about half of the rows: see docs/benchmarks.md for the 10k-dialogue figures.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import (
    SOP,
    Dialogue,
    Guideline,
    Project,
)
from annotation.services.import_checks import ImportContext, dialogue_errors
from annotation.services.import_writer import DialogueWriter
from kernel.audit import audit_record
from kernel.text import json_line, json_problems

MAX_LINE_BYTES = 4 * 1024 * 1024  # a dialogue line; one message is capped by engine.task.MAX_MESSAGE_CHARS
MAX_REPORTED_ERRORS = 1000
BATCH_DIALOGUES = 1000
_DB_LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based line number in the file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0  # every error found, even past MAX_REPORTED_ERRORS
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, message))


def project_sop(project: Project) -> SOP | None:
    """The SOP new dialogues of ``project`` are judged by: its newest active version."""
    return project.sops.filter(is_active=True).order_by("-version", "-id").first()


def dialogues_import(
    *, lines: Iterable[bytes | str], project: Project, user, batch_size: int = BATCH_DIALOGUES
) -> ImportResult:
    """Import JSONL dialogues into ``project``; on any error nothing is written and every bad line is reported."""
    sop = project_sop(project)
    ctx = _context(sop)
    result = ImportResult()
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024, mode="w+", encoding="utf-8") as spool:
        ids, annotators, valid = _check_lines(lines, ctx=ctx, result=result, spool=spool)
        _check_against_database(project=project, ids=ids, annotators=annotators, result=result)
        if not result.ok:
            result.errors.sort(key=lambda e: e.line)
            return result
        if valid == 0:
            return result  # an empty file changes nothing, not even the audit log
        spool.seek(0)
        guideline = Guideline.objects.filter(project=project).order_by("-version").first()
        users = _users_by_name(annotators)
        with transaction.atomic():
            writer = DialogueWriter(project=project, sop=sop, guideline=guideline, users=users)
            for batch in _batches((json.loads(line) for line in spool), batch_size):
                writer.write(batch)
            result.counts = writer.counts
            audit_record(
                actor=user,
                action="import",
                object_type="annotation.project",
                object_id=project.pk,
                after=writer.counts,
                note=f"imported {valid} dialogues",
            )
    return result


def _context(sop: SOP | None) -> ImportContext:
    if sop is None:
        return ImportContext(stage_keys=None, clause_codes=frozenset())
    return ImportContext(
        stage_keys=frozenset(sop.stages.values_list("key", flat=True)),
        clause_codes=frozenset(sop.clauses.values_list("code", flat=True)),
    )


def _decode(raw: bytes | str) -> str:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # UnicodeDecodeError: reported by the caller
    return text.removeprefix("\ufeff").rstrip("\r\n")


def _check_lines(lines, *, ctx, result, spool) -> tuple[dict[str, int], dict[str, int], int]:
    """Pass 1: check each line, spool the good ones; returns external ids and annotators with their lines."""
    ids: dict[str, int] = {}
    annotators: dict[str, int] = {}
    valid = 0
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_LINE_BYTES:
            result.add_error(number, f"line is {len(raw) / 2**20:.1f} MB; a dialogue may be at most 4 MB")
            continue
        try:
            text = _decode(raw)
        except UnicodeDecodeError as exc:
            result.add_error(number, f"invalid UTF-8 at byte {exc.start}")
            continue
        if not text.strip():
            continue  # blank lines are allowed
        try:
            record = json_line(text)  # bounded: depth, digits, finite numbers, no bare \r
        except ValueError as exc:
            result.add_error(number, str(exc))
            continue
        problems = json_problems(record) or dialogue_errors(record, ctx=ctx)
        external_id = record.get("external_id") if isinstance(record, dict) else None
        if isinstance(external_id, str) and external_id in ids:
            problems.append(f"external_id: {external_id!r} already appears on line {ids[external_id]}")
        for problem in problems:
            result.add_error(number, problem)
        if problems:
            continue
        ids[external_id] = number
        for pair in record.get("pairs", []):
            if pair.get("annotator"):
                annotators.setdefault(pair["annotator"], number)
        spool.write(text + "\n")  # checked text, parsed again in pass 2 (cheaper than holding the objects)
        valid += 1
    return ids, annotators, valid


def _check_against_database(*, project, ids: dict[str, int], annotators: dict[str, int], result) -> None:
    names = list(ids)
    for start in range(0, len(names), _DB_LOOKUP_CHUNK):
        chunk = names[start : start + _DB_LOOKUP_CHUNK]
        for external_id in Dialogue.objects.filter(project=project, external_id__in=chunk).values_list(
            "external_id", flat=True
        ):
            result.add_error(ids[external_id], f"external_id: {external_id!r} is already imported in this project")
    known = set(_users_by_name(annotators))
    for name, line in annotators.items():
        if name not in known:
            result.add_error(line, f"pairs: annotator {name!r} is not a user")


def _users_by_name(names: Iterable[str]) -> dict:
    return {u.username: u for u in get_user_model().objects.filter(username__in=list(names))}


def _batches(records: Iterator[dict], size: int) -> Iterator[list[dict]]:
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
