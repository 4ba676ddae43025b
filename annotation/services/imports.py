"""Import dialogues from JSONL (docs/import-schema.md): validate the whole file, then write it or nothing.

Pass 1 reads every line once, checks it (``import_checks``) and spools the good ones to a temporary
file, so memory does not grow with the file. Checks that need the database run once at the end.
Pass 2, only when no line failed, writes everything in one transaction with batched ``bulk_create``;
on PostgreSQL the two largest tables whose ids nobody needs back (messages, tickets) go through COPY,
which takes the import of 10k dialogues from about a minute to well under one on a busy 2-core machine
(benchmarks/bench_import.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import JSONField
from psycopg.types.json import Jsonb

from annotation.models import (
    SOP,
    BadCase,
    Candidate,
    Dialogue,
    ExcellentTurn,
    Guideline,
    Message,
    NegotiationCase,
    PreferencePair,
    Project,
    Ticket,
)
from annotation.services.audit import audit_record
from annotation.services.import_checks import ImportContext, dialogue_errors

MAX_LINE_BYTES = 4 * 1024 * 1024  # a dialogue line; one message is capped by engine.task.MAX_MESSAGE_CHARS
MAX_REPORTED_ERRORS = 1000
BATCH_DIALOGUES = 1000
_DB_LOOKUP_CHUNK = 5000
MESSAGE_COLUMNS = ("dialogue_id", "index", "role", "content", "stage")
TICKET_COLUMNS = ("case_id", "position", "code", "room_type", "current_price", "net_price", "target_price", "currency",
                  "competitors")  # fmt: skip


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
            writer = _Writer(project=project, sop=sop, guideline=guideline, users=users)
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
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            result.add_error(number, f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        problems = dialogue_errors(record, ctx=ctx)
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


class _Writer:
    """Pass 2: one batch of checked records -> rows, parents before children (bulk_create returns ids)."""

    def __init__(self, *, project, sop, guideline, users):
        self.project, self.sop, self.guideline, self.users = project, sop, guideline, users
        self.clauses = {c.code: c for c in sop.clauses.all()} if sop else {}
        self.counts = dict.fromkeys(("dialogues", "messages", "candidates", "pairs", "bad_cases", "excellent_turns"), 0)

    def _create(self, model, rows: list, counter: str | None = None) -> list:
        created = model.objects.bulk_create(rows, batch_size=5000)
        if counter:
            self.counts[counter] += len(created)
        return created

    def _copy(self, model, columns: tuple[str, ...], rows: list[tuple], counter: str | None = None) -> None:
        """Rows as tuples: COPY on PostgreSQL, ``bulk_create`` elsewhere (SQLite for ``make run``)."""
        if connection.vendor == "postgresql":
            names = ", ".join(connection.ops.quote_name(c) for c in columns)
            json_at = {i for i, c in enumerate(columns) if isinstance(model._meta.get_field(c), JSONField)}
            sql = f"COPY {model._meta.db_table} ({names}) FROM STDIN"
            with connection.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    if json_at:
                        row = tuple(Jsonb(v) if i in json_at else v for i, v in enumerate(row))
                    copy.write_row(row)
        else:
            model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=5000)
        if counter:
            self.counts[counter] += len(rows)

    def write(self, records: list[dict]) -> None:
        cases = self._create(NegotiationCase, [self._case(r["case"]) for r in records])
        tickets = [
            self._ticket(case, position, t)
            for case, r in zip(cases, records, strict=True)
            for position, t in enumerate(r["case"]["tickets"])
        ]
        self._copy(Ticket, TICKET_COLUMNS, tickets)
        dialogues = self._create(
            Dialogue, [self._dialogue(case, r) for case, r in zip(cases, records, strict=True)], "dialogues"
        )
        pairs = list(zip(dialogues, records, strict=True))
        messages = [
            (d.pk, i, m["role"], m["content"], m.get("stage") or "")
            for d, r in pairs
            for i, m in enumerate(r["messages"])
        ]
        self._copy(Message, MESSAGE_COLUMNS, messages, "messages")
        candidates = [self._candidate(d, c) for d, r in pairs for c in r.get("candidates", [])]
        self._create(Candidate, candidates, "candidates")
        by_key = {(c.dialogue_id, c.key): c for c in candidates}
        self._create(PreferencePair, [self._pair(d, p, by_key) for d, r in pairs for p in r.get("pairs", [])], "pairs")
        self._create(BadCase, [self._bad_case(d, b) for d, r in pairs for b in r.get("bad_cases", [])], "bad_cases")
        excellent = [ExcellentTurn(dialogue=d, turn=t) for d, r in pairs for t in r.get("excellent_turns", [])]
        self._create(ExcellentTurn, excellent, "excellent_turns")

    def _case(self, case: dict) -> NegotiationCase:
        hotel = case["hotel"]
        return NegotiationCase(
            project=self.project,
            hotel_name=hotel["name"],
            hotel_type=hotel["type"],
            city=hotel.get("city") or "",
            benefits=list(case.get("benefits", [])),
            language=case.get("language", "en"),
        )

    def _ticket(self, case: NegotiationCase, position: int, t: dict) -> tuple:
        prices = (Decimal(str(round(t[f], 2))) for f in ("current_price", "net_price", "target_price"))
        competitors = list(t.get("competitors", []))
        return (case.pk, position, t.get("id") or "", t["room_type"], *prices, t.get("currency", "CNY"), competitors)

    def _dialogue(self, case: NegotiationCase, r: dict) -> Dialogue:
        return Dialogue(
            project=self.project,
            case=case,
            sop=self.sop,
            external_id=r["external_id"],
            source=r.get("source", "curated"),
            outcome=r.get("outcome", {}),
        )

    def _candidate(self, dialogue: Dialogue, c: dict) -> Candidate:
        model_name = c.get("model") or ""
        return Candidate(
            dialogue=dialogue, turn=c["turn"], text=c["text"], source=c["source"], model_name=model_name, key=c["key"]
        )

    def _pair(self, dialogue: Dialogue, p: dict, by_key: dict) -> PreferencePair:
        return PreferencePair(
            dialogue=dialogue,
            turn=p["turn"],
            chosen=by_key[(dialogue.pk, p["chosen"])],
            rejected=by_key[(dialogue.pk, p["rejected"])],
            strength=p.get("strength", "clear"),
            reason_codes=list(p.get("reason_codes", [])),
            note=p.get("note", ""),
            provenance=p["provenance"],
            annotator=self.users.get(p.get("annotator")),
            guideline=self.guideline,
            sop=self.sop,
            agreement=p.get("agreement"),
            reviewed=p.get("reviewed", False),
        )

    def _bad_case(self, dialogue: Dialogue, b: dict) -> BadCase:
        gold = b.get("gold_reply") or ""
        return BadCase(
            dialogue=dialogue,
            turn=b["turn"],
            model_reply=b["model_reply"],
            category=b["category"],
            clause=self.clauses.get(b.get("clause")),
            severity=b.get("severity", "major"),
            gold_reply=gold,
            status=BadCase.Status.GOLD_WRITTEN if gold else BadCase.Status.OPEN,
        )
