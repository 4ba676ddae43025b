"""Pass 2 of the import: checked records -> rows, one batch at a time, parents before children.

``bulk_create`` returns the ids the children need (cases, dialogues, candidates); the two largest tables
whose ids nobody needs back (messages, tickets) go through COPY on PostgreSQL (``bulk_create`` elsewhere).
Runs inside the import's transaction; records were validated by ``import_checks``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import JSONField
from psycopg.types.json import Jsonb

from annotation.models import (
    BadCase,
    Candidate,
    Dialogue,
    ExcellentTurn,
    Message,
    NegotiationCase,
    PreferencePair,
    Ticket,
)

MESSAGE_COLUMNS = ("dialogue_id", "index", "role", "content", "stage")
TICKET_COLUMNS = ("case_id", "position", "code", "room_type", "current_price", "net_price", "target_price", "currency",
                  "competitors")  # fmt: skip


class DialogueWriter:
    """Writes batches of checked import records; ``counts`` totals what was written."""

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
            note=p.get("note") or "",
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
