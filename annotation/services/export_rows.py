"""Streams of (training row, provenance) for each export kind, with memory flat in the row count.

Rows are read with ``values_list(...).iterator(chunk_size=...)`` (no model instance per row); for
each chunk the dialogues it touches (messages, case, SOP) are loaded in a few queries and dropped
after. Prompts are rendered only through ``engine.prompting``: a dialogue's full chat is rendered
once (one ``PromptRenderer`` per SOP) and sliced per turn, since ``to_chat`` maps each message to exactly
one chat message; its messages are JSON-encoded once too and spliced into each row's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from json.encoder import encode_basestring  # C-accelerated, keeps non-ASCII as is

from django.db.models import Q, QuerySet

from annotation.models import SOP, BadCase, Message, NegotiationCase, Ticket
from engine.prompting import (
    PROMPT_TEMPLATE_VERSION,
    PromptRenderer,
    kto_row,
    preference_row,
    prompt_row,
    sft_row,
)
from engine.vocab import MARGINS

CHUNK = 2000
REVIEWED_STATUSES = (
    BadCase.Status.REVIEWED,
    BadCase.Status.IN_DATASET,
    BadCase.Status.FIXED,
    BadCase.Status.REGRESSED,
)


DIALOGUE_FIELDS = ("dialogue_id", "dialogue__external_id", "dialogue__source", "dialogue__case_id", "dialogue__sop_id")
_TICKET_FIELDS = ("case_id", "code", "position", "room_type", "current_price", "net_price", "target_price", "currency",
                  "competitors")  # fmt: skip


def _message_json(message: dict) -> str:
    """``json.dumps(message, ensure_ascii=False)`` for a chat message, without building an encoder per call.

    >>> _message_json({"role": "user", "content": '好 "ok"'}) == json.dumps({"role": "user", "content": '好 "ok"'},
    ...                                                                     ensure_ascii=False)
    True
    """
    return (
        '{"role": ' + encode_basestring(message["role"]) + ', "content": ' + encode_basestring(message["content"]) + "}"
    )


class PreencodedRow(dict):
    """A training row that carries its ``prompt`` already JSON-encoded (``exports.dumps`` splices it in)."""

    __slots__ = ("prompt_json",)


@dataclass
class DialogueContext:
    external_id: str
    source: str
    sop_version: int | None
    case: dict
    messages: list[dict]
    renderer: PromptRenderer
    _encoded: list[str] | None = field(default=None, repr=False)
    _chat: list[dict] | None = field(default=None, repr=False)

    def prompt(self, turn: int) -> list[dict]:
        """The chat prefix for the reply at ``turn`` (system message + ``messages[:turn]``)."""
        if self._chat is None:
            self._chat = self.renderer.to_chat(self.messages, case=self.case)
        return self._chat[: turn + 1]

    def row(self, row: dict, turn: int) -> PreencodedRow:
        """``row`` (whose ``prompt`` is ``self.prompt(turn)``) with that prompt encoded once per dialogue:
        rows of one dialogue share the system message and history, the bulk of every line."""
        if self._encoded is None:
            self._encoded = [_message_json(m) for m in self.prompt(len(self.messages))]
        fast = PreencodedRow(row)
        fast.prompt_json = "[" + ", ".join(self._encoded[: turn + 1]) + "]"  # json.dumps' own separators
        return fast


def _ids(field_name: str, ids: set[int]) -> Q:
    """Rows whose ``field_name`` is in ``ids``: a range scan when the ids are dense (chunks of rows ordered by
    dialogue usually are), so no long IN list is sent, parsed and planned; callers drop the extras."""
    low, high = min(ids), max(ids)
    if high - low < 2 * len(ids):
        return Q(**{f"{field_name}__gte": low, f"{field_name}__lte": high})
    return Q(**{f"{field_name}__in": ids})


def task_from_rows(case: tuple, tickets: list[tuple]) -> dict:
    """``NegotiationCase.to_task()`` from ``values_list`` rows (no model instances on the export's hot path;
    ``tests/annotation/test_export.py`` holds the two equal)."""
    _, hotel_name, hotel_type, city, benefits, language = case
    return {
        "hotel": {"name": hotel_name, "type": hotel_type, "city": city},
        "tickets": [
            {
                "id": code or f"T{position + 1}",
                "room_type": room_type,
                "current_price": float(current),
                "net_price": float(net),
                "target_price": float(target),
                "currency": currency,
                "competitors": list(competitors or []),
            }
            for _, code, position, room_type, current, net, target, currency, competitors in tickets
        ],
        "benefits": list(benefits or []),
        "language": language,
    }


class DialogueLoader:
    """Loads what a chunk of rows needs (messages, cases); SOP documents are cached for the whole export."""

    def __init__(self) -> None:
        self._sops: dict[int | None, tuple[int | None, PromptRenderer]] = {None: (None, PromptRenderer(None))}

    def _sop(self, sop_id: int | None) -> tuple[int | None, PromptRenderer]:
        if sop_id not in self._sops:
            sop = SOP.objects.get(pk=sop_id)
            self._sops[sop_id] = (sop.version, PromptRenderer(sop.to_document()))
        return self._sops[sop_id]

    def _tasks(self, case_ids: set[int]) -> dict[int, dict]:
        tickets: dict[int, list[tuple]] = {i: [] for i in case_ids}
        for row in (
            Ticket.objects.filter(_ids("case_id", case_ids))
            .order_by("case_id", "position")
            .values_list(*_TICKET_FIELDS)
        ):
            if row[0] in tickets:
                tickets[row[0]].append(row)
        cases = NegotiationCase.objects.filter(_ids("id", case_ids)).values_list(
            "id", "hotel_name", "hotel_type", "city", "benefits", "language"
        )
        return {c[0]: task_from_rows(c, tickets[c[0]]) for c in cases if c[0] in tickets}

    def load(self, dialogues: Iterable[tuple]) -> dict[int, DialogueContext]:
        """Contexts keyed by dialogue id, from ``DIALOGUE_FIELDS`` tuples."""
        heads = {d[0]: d for d in dialogues}
        tasks = self._tasks({d[3] for d in heads.values()})
        messages: dict[int, list[dict]] = {i: [] for i in heads}
        rows = Message.objects.filter(_ids("dialogue_id", set(heads))).order_by("dialogue_id", "index")
        for dialogue_id, role, content, stage in rows.values_list("dialogue_id", "role", "content", "stage"):
            if dialogue_id in messages:  # the stage: prompt rows carry the SOP stage of the turn written
                messages[dialogue_id].append({"role": role, "content": content, "stage": stage or None})
        contexts = {}
        for dialogue_id, external_id, source, case_id, sop_id in heads.values():
            version, renderer = self._sop(sop_id)
            contexts[dialogue_id] = DialogueContext(
                external_id, source, version, tasks[case_id], messages[dialogue_id], renderer
            )
        return contexts


def _chunks(rows: Iterator[tuple], size: int = CHUNK) -> Iterator[list[tuple]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _with_contexts(rows: Iterator[tuple]) -> Iterator[tuple[tuple, DialogueContext]]:
    """Rows that start with ``DIALOGUE_FIELDS``: the rest of each row, with its dialogue's context."""
    loader = DialogueLoader()
    width = len(DIALOGUE_FIELDS)
    for chunk in _chunks(rows):
        contexts = loader.load(r[:width] for r in chunk)
        for row in chunk:
            yield row[width:], contexts[row[0]]


def _base(ctx: DialogueContext, turn: int) -> dict:
    return {
        "dialogue": ctx.external_id,
        "turn": turn,
        "source": ctx.source,
        "sop_version": ctx.sop_version,
        "prompt_template_version": PROMPT_TEMPLATE_VERSION,
    }


_PAIR_FIELDS = ("id", "turn", "strength", "provenance", "agreement", "reviewed", "chosen_id", "rejected_id",
                "chosen__text", "rejected__text", "annotator__username", "guideline__version")  # fmt: skip
_BAD_CASE_FIELDS = ("id", "turn", "model_reply", "gold_reply", "category", "clause__code", "severity", "status",
                    "created_by__username")  # fmt: skip


def _stream(qs: QuerySet, fields: tuple[str, ...]) -> Iterator[tuple[tuple, DialogueContext]]:
    rows = qs.order_by("dialogue_id", "id").values_list(*DIALOGUE_FIELDS, *fields).iterator(chunk_size=CHUNK)
    return _with_contexts(rows)


def preference_rows(pairs: QuerySet, *, implicit: bool) -> Iterator[tuple[dict, dict]]:
    for values, ctx in _stream(pairs, _PAIR_FIELDS):
        pk, turn, strength, provenance, agreement, reviewed, chosen_id, rejected_id, chosen, rejected, who, gv = values
        row = preference_row(
            prompt=ctx.prompt(turn), chosen=chosen, rejected=rejected, margin=MARGINS[strength], implicit=implicit
        )
        row = row if implicit else ctx.row(row, turn)
        meta = {"pair_id": pk, **_base(ctx, turn), "provenance": provenance, "annotator": who, "guideline_version": gv}
        meta |= {"strength": strength, "agreement": agreement, "reviewed": reviewed}
        meta |= {"chosen_candidate_id": chosen_id, "rejected_candidate_id": rejected_id}
        yield row, meta


def _bad_case_rows(bad_cases: QuerySet, *, gold: bool) -> Iterator[tuple[dict, dict]]:
    if gold:
        bad_cases = bad_cases.exclude(gold_reply="")
    for values, ctx in _stream(bad_cases, _BAD_CASE_FIELDS):
        pk, turn, model_reply, gold_reply, category, clause, severity, status, who = values
        meta = {"bad_case_id": pk, **_base(ctx, turn), "category": category, "clause": clause}
        meta |= {"severity": severity, "status": status, "annotator": who}
        if gold:
            yield ctx.row(sft_row(prompt=ctx.prompt(turn), completion=gold_reply), turn), meta
        else:
            yield ctx.row(kto_row(prompt=ctx.prompt(turn), completion=model_reply, label=False), turn), meta


def _excellent_rows(excellent: QuerySet, *, kto: bool) -> Iterator[tuple[dict, dict]]:
    for (pk, turn, who), ctx in _stream(excellent, ("id", "turn", "flagged_by__username")):
        text = ctx.messages[turn]["content"]
        meta = {"excellent_turn_id": pk, **_base(ctx, turn), "annotator": who}
        if kto:
            yield ctx.row(kto_row(prompt=ctx.prompt(turn), completion=text, label=True), turn), meta
        else:
            yield ctx.row(sft_row(prompt=ctx.prompt(turn), completion=text), turn), meta


def kto_rows(excellent: QuerySet, bad_cases: QuerySet) -> Iterator[tuple[dict, dict]]:
    """Excellent turns (label true), then bad-case model replies (label false)."""
    yield from _excellent_rows(excellent, kto=True)
    yield from _bad_case_rows(bad_cases, gold=False)


def sft_rows(excellent: QuerySet, bad_cases: QuerySet) -> Iterator[tuple[dict, dict]]:
    """Bad-case gold replies, then excellent turns."""
    yield from _bad_case_rows(bad_cases, gold=True)
    yield from _excellent_rows(excellent, kto=False)


def prompt_rows(dialogues: QuerySet) -> Iterator[tuple[dict, dict]]:
    """Every agent turn of every dialogue, with the case the reward functions need."""
    heads = ("id", "external_id", "source", "case_id", "sop_id")
    rows = dialogues.order_by("id").values_list(*heads).iterator(chunk_size=CHUNK)
    for _, ctx in _with_contexts(rows):
        for turn, message in enumerate(ctx.messages):
            if message["role"] == "agent":
                row = prompt_row(prompt=ctx.prompt(turn), case=ctx.case, stage=message.get("stage"))
                yield ctx.row(row, turn), _base(ctx, turn)


def reviewed_bad_cases() -> Q:
    return Q(status__in=REVIEWED_STATUSES)
