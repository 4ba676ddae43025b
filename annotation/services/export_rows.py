"""Streams of (training row, provenance) for each export kind, with memory flat in the row count.

Rows are read with ``values_list(...).iterator(chunk_size=...)`` (no model instance per row); for
each chunk the dialogues it touches (messages, case, SOP) are loaded in a few queries and dropped
after. Prompts are rendered only through ``engine.prompting``: a dialogue's full chat is rendered
once and sliced per turn, since ``to_chat`` maps each message to exactly one chat message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db.models import Q, QuerySet

from annotation.models import SOP, BadCase, Dialogue, Message, NegotiationCase
from engine.prompting import MARGINS, PROMPT_TEMPLATE_VERSION, kto_row, preference_row, prompt_row, sft_row, to_chat

CHUNK = 2000
REVIEWED_STATUSES = (
    BadCase.Status.REVIEWED,
    BadCase.Status.IN_DATASET,
    BadCase.Status.FIXED,
    BadCase.Status.REGRESSED,
)


@dataclass
class DialogueContext:
    external_id: str
    source: str
    sop_version: int | None
    case: dict
    messages: list[dict]
    sop: dict | None
    _chat: list[dict] | None = field(default=None, repr=False)

    def prompt(self, turn: int) -> list[dict]:
        """The chat prefix for the reply at ``turn`` (system message + ``messages[:turn]``)."""
        if self._chat is None:
            self._chat = to_chat(self.messages, case=self.case, sop=self.sop)
        return self._chat[: turn + 1]


class DialogueLoader:
    """Loads the dialogues a chunk of rows needs; SOP documents are cached for the whole export."""

    def __init__(self) -> None:
        self._sops: dict[int, tuple[int, dict]] = {}

    def _sop(self, sop_id: int | None) -> tuple[int | None, dict | None]:
        if sop_id is None:
            return None, None
        if sop_id not in self._sops:
            sop = SOP.objects.get(pk=sop_id)
            self._sops[sop_id] = (sop.version, sop.to_document())
        return self._sops[sop_id]

    def load(self, dialogue_ids: Iterable[int]) -> dict[int, DialogueContext]:
        ids = set(dialogue_ids)
        rows = Dialogue.objects.filter(id__in=ids).values_list("id", "external_id", "source", "case_id", "sop_id")
        rows = list(rows)
        cases = NegotiationCase.objects.filter(id__in={r[3] for r in rows}).prefetch_related("tickets")
        tasks = {case.id: case.to_task() for case in cases}
        messages: dict[int, list[dict]] = {i: [] for i in ids}
        for dialogue_id, role, content in (
            Message.objects.filter(dialogue_id__in=ids)
            .order_by("dialogue_id", "index")
            .values_list("dialogue_id", "role", "content")
        ):
            messages[dialogue_id].append({"role": role, "content": content})
        contexts = {}
        for dialogue_id, external_id, source, case_id, sop_id in rows:
            version, document = self._sop(sop_id)
            contexts[dialogue_id] = DialogueContext(
                external_id, source, version, tasks[case_id], messages[dialogue_id], document
            )
        return contexts


def _chunks(rows: Iterator[tuple], size: int = CHUNK) -> Iterator[list[tuple]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _with_contexts(rows: Iterator[tuple], loader: DialogueLoader) -> Iterator[tuple[tuple, DialogueContext]]:
    """Each row (whose second value is a dialogue id) with its dialogue's context."""
    for chunk in _chunks(rows):
        contexts = loader.load(r[1] for r in chunk)
        for row in chunk:
            yield row, contexts[row[1]]


def _base(ctx: DialogueContext, turn: int) -> dict:
    return {
        "dialogue": ctx.external_id,
        "turn": turn,
        "source": ctx.source,
        "sop_version": ctx.sop_version,
        "prompt_template_version": PROMPT_TEMPLATE_VERSION,
    }


def preference_rows(pairs: QuerySet, *, implicit: bool) -> Iterator[tuple[dict, dict]]:
    fields = ("id", "dialogue_id", "turn", "strength", "provenance", "agreement", "reviewed", "chosen_id",
              "rejected_id", "chosen__text", "rejected__text", "annotator__username", "guideline__version")  # fmt: skip
    rows = pairs.order_by("dialogue_id", "id").values_list(*fields).iterator(chunk_size=CHUNK)
    loader = DialogueLoader()
    for (
        pk,
        _,
        turn,
        strength,
        prov,
        agreement,
        reviewed,
        c_id,
        r_id,
        chosen,
        rejected,
        who,
        gv,
    ), ctx in _with_contexts(rows, loader):
        row = preference_row(
            prompt=ctx.prompt(turn), chosen=chosen, rejected=rejected, margin=MARGINS[strength], implicit=implicit
        )
        meta = {
            "pair_id": pk,
            **_base(ctx, turn),
            "provenance": prov,
            "annotator": who,
            "guideline_version": gv,
            "strength": strength,
            "agreement": agreement,
            "reviewed": reviewed,
            "chosen_candidate_id": c_id,
            "rejected_candidate_id": r_id,
        }
        yield row, meta


def _bad_case_rows(bad_cases: QuerySet, *, gold: bool) -> Iterator[tuple[dict, dict]]:
    fields = ("id", "dialogue_id", "turn", "model_reply", "gold_reply", "category", "clause__code", "severity",
              "status", "created_by__username")  # fmt: skip
    if gold:
        bad_cases = bad_cases.exclude(gold_reply="")
    rows = bad_cases.order_by("dialogue_id", "id").values_list(*fields).iterator(chunk_size=CHUNK)
    for (pk, _, turn, model_reply, gold_reply, category, clause, severity, status, who), ctx in _with_contexts(
        rows, DialogueLoader()
    ):
        meta = {"bad_case_id": pk, **_base(ctx, turn), "category": category, "clause": clause}
        meta |= {"severity": severity, "status": status, "annotator": who}
        if gold:
            yield sft_row(prompt=ctx.prompt(turn), completion=gold_reply), meta
        else:
            yield kto_row(prompt=ctx.prompt(turn), completion=model_reply, label=False), meta


def _excellent_rows(excellent: QuerySet, *, kto: bool) -> Iterator[tuple[dict, dict]]:
    rows = excellent.order_by("dialogue_id", "id").values_list("id", "dialogue_id", "turn", "flagged_by__username")
    for (pk, _, turn, who), ctx in _with_contexts(rows.iterator(chunk_size=CHUNK), DialogueLoader()):
        text = ctx.messages[turn]["content"]
        meta = {"excellent_turn_id": pk, **_base(ctx, turn), "annotator": who}
        if kto:
            yield kto_row(prompt=ctx.prompt(turn), completion=text, label=True), meta
        else:
            yield sft_row(prompt=ctx.prompt(turn), completion=text), meta


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
    rows = dialogues.order_by("id").values_list("id", "id").iterator(chunk_size=CHUNK)
    for _, ctx in _with_contexts(rows, DialogueLoader()):
        for turn, message in enumerate(ctx.messages):
            if message["role"] == "agent":
                yield prompt_row(prompt=ctx.prompt(turn), case=ctx.case), _base(ctx, turn)


def reviewed_bad_cases() -> Q:
    return Q(status__in=REVIEWED_STATUSES)
