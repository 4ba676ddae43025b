"""Production-log intake: conversations a served version had become production dialogues.

``intake_conversations(conversations, *, source, user=None)`` is the one entry point: the API
(``POST /api/deploy/conversations/``) calls it, and so can the gateway's write-behind log. One
conversation is a dict::

    {
      "external_id": "gw-2026-12-05-000123",        # required, unique: intake is idempotent on it
      "version": 12,                                 # a registered policy version: id or name
      "slot": "price-chase",                         # the serving slot
      "hotel_id": "H-88321",                         # optional
      "case": {...},                                 # the negotiation case, engine/task.py's shape
      "messages": [{"role": "agent"|"hotel"|"system", "content": "...", "stage": null}, ...],
      "outcome": {"hotel_replied": true, "price_reduced_to_target": false, "ticket_closed": false},
      "guardrail_hits": [{"rule": "internal_term_leak", "evidence": "target price", "turn": 2,
                          "reply": "..."}],  # optional; reply: the reply a guardrail blocked, if replaced
      "latency_ms": 840.0,                           # optional, mean reply latency
      "occurred_at": "2026-12-05T10:00:00Z"          # optional, defaults to now
    }

Everything is checked before anything is written; every problem is reported with the index of the
conversation (``conversations[3].messages[1].role: ...``) in one 400, and nothing is written. A batch
is one transaction. Conversations whose external id was already taken in are skipped (``existing``).

What a new conversation does, beside its dialogue: every guardrail hit opens a bad case, and so does
every rule hit (the default rule set, run on each agent reply) of a conversation whose task failed,
each linked to the version that produced it; the slot's ``SamplingRule`` then puts it in an
annotation queue when it had a guardrail hit, failed, or falls in the sampled share.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.kinds import kind_for
from annotation.models import AnnotationItem, BadCase, Dialogue, Message, NegotiationCase, Project, Ticket
from deploy.intake_models import ProductionConversation, SamplingRule
from engine.rewards.rules import check as rules_check
from engine.task import MAX_MESSAGE_CHARS, message_errors, task_errors
from kernel.audit import audit_event, audit_record_many, audit_snapshot
from kernel.errors import ApplicationErrors
from registry.models import ModelVersion

PRODUCTION_PROJECT = "Production"
MAX_BATCH = 500
MAX_MESSAGES = 200
MAX_HITS = 50
OUTCOME_KEYS = ("hotel_replied", "price_reduced_to_target", "ticket_closed")
NOT_A_LIST = 'The body must be a list of conversations (or {"conversations": [...]}).'
EMPTY = "The batch holds no conversation."
TOO_MANY = f"A batch holds at most {MAX_BATCH} conversations."

# The rule a guardrail or the rule set reports → the bad-case category it opens.
RULE_CATEGORY = {
    "internal_term_leak": "internal_term_leak",
    "system_leak": "reasoning_leak",
    "reasoning_leak": "reasoning_leak",
    "format": "reasoning_leak",
    "mixed_language": "mixed_language",
    "too_long": "too_long",
    "forbidden_word": "tone",
    "repetition": "repeated_confirmation",
    "price_mismatch": "price_confusion",
    "continued_after_acceptable_offer": "pushed_after_acceptable_offer",
}


class IntakeError(ApplicationErrors):
    """Every problem of a refused batch, each naming its conversation's index."""


@dataclass
class IntakeResult:
    created: list[ProductionConversation] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    bad_cases: int = 0
    queued: int = 0


def rule_category(rule: str) -> str | None:
    """The bad-case category of a rule id (or of a category named directly)."""
    return RULE_CATEGORY.get(rule) or (rule if rule in BadCase.Category.values else None)


def sampled_by_share(external_id: str, share: float) -> bool:
    """Stable: the same id is in or out of the share every time (a hash, not a coin)."""
    digest = int(hashlib.sha256(external_id.encode()).hexdigest()[:8], 16)
    return digest / 0x100000000 < share


# -- checking ----------------------------------------------------------------------------------------------
def _str(value: Any, *, limit: int, required: bool = True) -> bool:
    return isinstance(value, str) and (bool(value.strip()) or not required) and len(value) <= limit


def _version(value: Any, versions: dict) -> ModelVersion | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or value in ("", None):
        return None
    key = ("id", value) if isinstance(value, int) else ("name", value)
    if key not in versions:
        query = {"pk": value} if isinstance(value, int) else {"name": value}
        versions[key] = ModelVersion.objects.filter(**query).first()
    return versions[key]


def _conversation_errors(c: Any, *, versions: dict) -> list[str]:
    if not isinstance(c, dict):
        return ["must be an object"]
    errors = []
    if not _str(c.get("external_id"), limit=200):
        errors.append("external_id: required string of at most 200 characters")
    version = _version(c.get("version"), versions)
    if version is None:
        errors.append(f"version: {c.get('version')!r} is not a registered version (give its id or name)")
    elif version.kind != ModelVersion.Kind.POLICY:
        errors.append(f"version: {version.name} is a {version.get_kind_display().lower()}, not a policy")
    if not _str(c.get("slot"), limit=100):
        errors.append("slot: required string of at most 100 characters")
    if c.get("hotel_id") is not None and not _str(c.get("hotel_id"), limit=200, required=False):
        errors.append("hotel_id: a string of at most 200 characters")
    errors += [f"case.{e}" if not e.startswith("case") else e for e in task_errors(c.get("case"))]
    errors += _messages_errors(c.get("messages"))
    outcome = c.get("outcome")
    if not isinstance(outcome, dict):
        errors.append("outcome: must be an object with " + ", ".join(OUTCOME_KEYS))
    else:
        errors += [f"outcome.{k}: required true or false" for k in OUTCOME_KEYS if not isinstance(outcome.get(k), bool)]
        errors += [f"outcome.{k}: unknown field" for k in outcome if k not in OUTCOME_KEYS]
    errors += _hits_errors(c.get("guardrail_hits", []), messages=c.get("messages"))
    latency = c.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, int | float) or not math.isfinite(latency) or latency < 0
    ):
        errors.append("latency_ms: a non-negative number")
    at = c.get("occurred_at")
    if at is not None and (not isinstance(at, str) or _parse_at(at) is None):
        errors.append("occurred_at: an ISO 8601 date and time")
    return errors


def _parse_at(value: str):
    try:
        at = parse_datetime(value)
    except ValueError:
        return None
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at, timezone.utc)
    return at


def _messages_errors(messages: Any) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return ["messages: a non-empty list"]
    if len(messages) > MAX_MESSAGES:
        return [f"messages: at most {MAX_MESSAGES}"]
    errors = []
    for i, m in enumerate(messages):
        errors += [f"messages[{i}].{e}" for e in message_errors(m)]
        if isinstance(m, dict) and isinstance(m.get("content"), str) and not m["content"].strip():
            errors.append(f"messages[{i}].content: must not be empty")
    if not errors and not any(m["role"] == "agent" for m in messages):
        errors.append("messages: no agent reply (nothing a version produced)")
    return errors


def _hits_errors(hits: Any, *, messages: Any) -> list[str]:
    if not isinstance(hits, list) or len(hits) > MAX_HITS:
        return [f"guardrail_hits: a list of at most {MAX_HITS}"]
    errors = []
    n = len(messages) if isinstance(messages, list) else 0
    for j, hit in enumerate(hits):
        if not isinstance(hit, dict):
            errors.append(f"guardrail_hits[{j}]: must be an object")
            continue
        if not isinstance(hit.get("rule"), str) or rule_category(hit["rule"]) is None:
            errors.append(f"guardrail_hits[{j}].rule: {hit.get('rule')!r} is not a known rule or bad-case category")
        if not _str(hit.get("evidence", ""), limit=MAX_MESSAGE_CHARS, required=False):
            errors.append(f"guardrail_hits[{j}].evidence: a string")
        if not _str(hit.get("reply", ""), limit=MAX_MESSAGE_CHARS, required=False):
            errors.append(f"guardrail_hits[{j}].reply: a string of at most {MAX_MESSAGE_CHARS} characters")
        turn = hit.get("turn")
        if turn is not None and (
            isinstance(turn, bool)
            or not isinstance(turn, int)
            or not 0 <= turn < n
            or not isinstance(messages[turn], dict)
            or messages[turn].get("role") != "agent"
        ):
            errors.append(f"guardrail_hits[{j}].turn: the index of an agent message")
    return errors


def _check(conversations: Any) -> tuple[list[dict], dict]:
    if isinstance(conversations, dict) and "conversations" in conversations:
        conversations = conversations["conversations"]
    if not isinstance(conversations, list):
        raise IntakeError([NOT_A_LIST])
    if not conversations:
        raise IntakeError([EMPTY])
    if len(conversations) > MAX_BATCH:
        raise IntakeError([TOO_MANY], status=413)
    versions: dict = {}
    errors, seen = [], {}
    for i, c in enumerate(conversations):
        errors += [
            f"conversations[{i}].{e}" if not e.startswith("must") else f"conversations[{i}]: {e}"
            for e in _conversation_errors(c, versions=versions)
        ]
        ext = c.get("external_id") if isinstance(c, dict) else None
        if isinstance(ext, str):
            if ext in seen:
                errors.append(f"conversations[{i}].external_id: {ext!r} repeats conversations[{seen[ext]}]")
            seen.setdefault(ext, i)
    if errors:
        raise IntakeError(errors)
    return conversations, versions


# -- writing -----------------------------------------------------------------------------------------------
def _case_create(project: Project, case: dict) -> NegotiationCase:
    hotel = case["hotel"]
    row = NegotiationCase.objects.create(
        project=project,
        hotel_name=hotel["name"],
        hotel_type=hotel["type"],
        city=hotel.get("city") or "",
        benefits=list(case.get("benefits", [])),
        language=case.get("language", "en"),
    )
    Ticket.objects.bulk_create(
        Ticket(
            case=row,
            position=i,
            code=t.get("id") or "",
            room_type=t["room_type"],
            current_price=Decimal(str(round(t["current_price"], 2))),
            net_price=Decimal(str(round(t["net_price"], 2))),
            target_price=Decimal(str(round(t["target_price"], 2))),
            currency=t.get("currency", "CNY"),
            competitors=list(t.get("competitors", [])),
        )
        for i, t in enumerate(case["tickets"])
    )
    return row


def dialogue_outcome(outcome: dict) -> dict:
    """The intake's outcome in the dialogue's own vocabulary (``engine.vocab.OUTCOME_FIELDS``)."""
    mapped = {"hotel_replied": outcome["hotel_replied"], "tickets_closed": int(outcome["ticket_closed"])}
    if outcome["price_reduced_to_target"]:
        mapped["price_reduced"] = "target"
    elif not outcome["hotel_replied"]:
        mapped["price_reduced"] = "none"
    return mapped


def _hit_turn(hit: dict, messages: list[dict]) -> int:
    if hit.get("turn") is not None:
        return hit["turn"]
    agent = [i for i, m in enumerate(messages) if m["role"] == "agent"]
    evidence = (hit.get("evidence") or "").strip()
    found = [i for i in agent if evidence and evidence in messages[i]["content"]]
    return (found or agent)[-1]


def _bad_cases(c: dict, *, dialogue: Dialogue, version: ModelVersion, user) -> tuple[list[BadCase], list[dict]]:
    """Bad cases for the guardrail hits, and for the rule hits of a failed conversation; the hits with turns."""
    messages = c["messages"]
    hits = [
        {"rule": h["rule"], "evidence": h.get("evidence", ""), "turn": _hit_turn(h, messages)}
        for h in c.get("guardrail_hits", [])
    ]
    # A hit may carry the reply it blocked (the gateway replaced it): the bad case is about that reply.
    blocked = {
        (h["turn"], rule_category(h["rule"])): given["reply"]
        for h, given in zip(hits, c.get("guardrail_hits", []), strict=True)
        if given.get("reply")
    }
    found = [(h["turn"], rule_category(h["rule"])) for h in hits]
    if not c["outcome"]["price_reduced_to_target"]:
        for i, m in enumerate(messages):
            if m["role"] != "agent":
                continue
            for violation in rules_check(m["content"], task=c["case"], history=messages[:i]):
                category = rule_category(violation.rule)
                if category:
                    found.append((i, category))
    rows, seen = [], set()
    for turn, category in found:
        if (turn, category) in seen:
            continue
        seen.add((turn, category))
        rows.append(
            BadCase(
                dialogue=dialogue,
                turn=turn,
                model_reply=blocked.get((turn, category)) or messages[turn]["content"],
                model_version=version,
                category=category,
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
        )
    return rows, hits


def _project(rule: SamplingRule | None) -> Project:
    if rule is not None:
        return rule.queue.project
    project, _ = Project.objects.get_or_create(
        name=PRODUCTION_PROJECT, defaults={"description": "Conversations served models had in production."}
    )
    return project


def intake_conversations(conversations: Any, *, source: str, user=None) -> IntakeResult:
    """Take in a batch of production conversations (see the module docstring for the dict shape):
    all or nothing, idempotent by external id."""
    conversations, versions = _check(conversations)
    result = IntakeResult()
    rules = {r.slot: r for r in SamplingRule.objects.select_related("queue__project")}
    with transaction.atomic():
        taken = set(
            ProductionConversation.objects.select_for_update()
            .filter(external_id__in=[c["external_id"] for c in conversations])
            .values_list("external_id", flat=True)
        )
        events = []
        for c in conversations:
            if c["external_id"] in taken:
                result.existing.append(c["external_id"])
                continue
            rule = rules.get(c["slot"])
            project = _project(rule)
            if Dialogue.objects.filter(project=project, external_id=c["external_id"]).exists():
                index = conversations.index(c)
                raise IntakeError(
                    [
                        f"conversations[{index}].external_id: a dialogue {c['external_id']!r} already exists "
                        f"in project {project.name} (not from intake)"
                    ],
                    status=409,
                )
            version = _version(c["version"], versions)
            dialogue = Dialogue.objects.create(
                project=project,
                case=_case_create(project, c["case"]),
                external_id=c["external_id"],
                source=Dialogue.Source.PRODUCTION,
                outcome=dialogue_outcome(c["outcome"]),
            )
            Message.objects.bulk_create(
                Message(dialogue=dialogue, index=i, role=m["role"], content=m["content"], stage=m.get("stage") or "")
                for i, m in enumerate(c["messages"])
            )
            bad_cases, hits = _bad_cases(c, dialogue=dialogue, version=version, user=user)
            BadCase.objects.bulk_create(bad_cases)
            failed = not c["outcome"]["price_reduced_to_target"]
            sampled = rule is not None and (
                (rule.all_guardrail_hits and bool(hits))
                or (rule.all_failed_outcomes and failed)
                or sampled_by_share(c["external_id"], rule.share)
            )
            conversation = ProductionConversation.objects.create(
                external_id=c["external_id"],
                dialogue=dialogue,
                version=version,
                slot=c["slot"],
                hotel_id=c.get("hotel_id") or "",
                source=source,
                latency_ms=c.get("latency_ms"),
                guardrail_hits=hits,
                sampled=sampled,
                occurred_at=_parse_at(c["occurred_at"]) if c.get("occurred_at") else timezone.now(),
                received_by=user if getattr(user, "is_authenticated", False) else None,
                **{k: c["outcome"][k] for k in OUTCOME_KEYS},
            )
            if sampled:
                items = [
                    AnnotationItem(
                        queue=rule.queue,
                        dialogue_id=d,
                        turn=t,
                        candidate_a_id=a,
                        candidate_b_id=b,
                        overlap=rule.queue.target_overlap,
                    )
                    for d, t, a, b in kind_for(rule.queue.kind).items([dialogue.pk])
                ]
                AnnotationItem.objects.bulk_create(items)
                result.queued += len(items)
            events.append(
                audit_event(
                    actor=user,
                    action="intake",
                    instance=conversation,
                    after=audit_snapshot(conversation),
                    note=f"from {source}",
                )
            )
            events += [
                audit_event(actor=user, action="create", instance=b, after=audit_snapshot(b), note="production intake")
                for b in bad_cases
            ]
            result.created.append(conversation)
            result.bad_cases += len(bad_cases)
        audit_record_many(events)
    return result
