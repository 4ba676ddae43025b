"""The chat playground: talk as the hotel manager to one deployed version, or to two side by side on the
same hotel turns, with a demo case.

The conversation travels with the page as a signed token (``django.core.signing``): the server knows that
the replies it shows (and turns into bad cases) are the ones the model gave, and a tampered token is a
400. Each request renders the system message with ``engine.prompting.to_chat`` (the template training
used), sends every sampling field with a neutral value, and checks the reply with the rules
(``rewards.services.playground.rule_verdicts``, torch-free), then scores it with a served reward model
and computes R_total with the one ``training_reward`` (``deploy.services.reward_scoring``). A reward config
picked on the page (:func:`reward_config_choices`; the demo judge's config by default) chooses the rule set
(else the default one) and the RM (else whichever is served), and adds the judge's verdicts on each reply,
at the SOP stage the person names for the turn (optional)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.core import signing
from django.db import transaction
from django.utils.crypto import get_random_string

from annotation.models import Candidate, Dialogue, Message, Project
from annotation.services.bad_cases import bad_case_create
from deploy.selectors import Endpoint, live_endpoint
from deploy.services.demo import JUDGE_CONFIG, JUDGE_NAME
from deploy.services.intake import _case_create, rule_category
from deploy.services.reward_scoring import reply_reward
from engine.prompting import template_kwargs, to_chat
from engine.rewards.rules.defaults import EXAMPLE_TASKS, default_rule_set
from engine.task import MAX_MESSAGE_CHARS
from engine.vocab import SOP_STAGE_CHOICES, SOP_STAGES
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.text import clean_text
from registry.models import ModelVersion
from rewards.models import RewardConfig
from rewards.services.playground import RuleVerdict, rule_verdicts

SALT = "deploy.playground"
MAX_TURNS = 20
PROJECT = "Playground"
# Neutral sampling, every field explicit (docs/engine.md, "Sampling is explicit").
SAMPLING = {
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": -1,
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
    "max_tokens": 160,
}
REQUEST_TIMEOUT_S = 120.0

BAD_STATE = "The conversation could not be read back (it was changed or is too old): start again."
BAD_CASE = "Pick one of the demo cases."
NOT_SERVED = "{name} is not served by a healthy deployment now: start one on the Deployments page."
NOT_POLICY_OR_BASE = "Pick a policy or a base version (got a {kind})."
TOO_MANY_TURNS = f"A playground conversation has at most {MAX_TURNS} hotel turns: start again."
SAME_TWICE = "Pick two different versions to compare."
BAD_REPLY_INDEX = "side {side}, turn {turn}: there is no model reply there."
SERVER_FAILED = "{name} did not answer: {error}"
BAD_CONFIG = "Pick one of the reward configs (or none)."
BAD_STAGE = "Pick one of the SOP stages (or leave it unknown)."


def demo_cases() -> dict[str, dict]:
    return {f"demo-{key}": case for key, case in EXAMPLE_TASKS.items()}


def reward_config_choices():
    """The reward configs the page offers, by name."""
    return RewardConfig.objects.select_related("rubric").order_by("name")


def reward_config_default() -> RewardConfig | None:
    """The demo world's config whose judge is the demo judge (``make run`` writes it), else None."""
    judged = RewardConfig.objects.filter(judge_model=JUDGE_NAME).exclude(judge_base_url="")
    return judged.filter(name=JUDGE_CONFIG).first() or judged.order_by("name").first()


def reward_config_pick(raw: Any) -> RewardConfig | None:
    """The config a form names by id ("" = none); ``ApplicationError`` (400) for anything else."""
    raw = "" if raw is None else str(raw).strip()
    if not raw:
        return None
    config = RewardConfig.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
    if config is None:
        raise ApplicationError(BAD_CONFIG)
    return config


def stage_pick(raw: Any) -> str | None:
    """The SOP stage a form names ("" = unknown); ``ApplicationError`` (400) for a stage the SOP lacks."""
    raw = "" if raw is None else str(raw).strip()
    if not raw:
        return None
    if raw not in SOP_STAGES:
        raise ApplicationError(BAD_STAGE)
    return raw


def stage_choices():
    return SOP_STAGE_CHOICES


@dataclass
class Side:
    version: ModelVersion
    messages: list[dict] = field(default_factory=list)  # {"role", "content"}; agent ones carry "verdicts"


@dataclass
class Conversation:
    case_key: str
    sides: list[Side]
    config: RewardConfig | None = None  # whose judge (and n) scores the replies; None: rules and RM only

    @property
    def case(self) -> dict:
        return demo_cases()[self.case_key]

    def token(self) -> str:
        return signing.dumps(
            {
                "case": self.case_key,
                "config": self.config.pk if self.config is not None else None,
                "sides": [{"version": s.version.pk, "messages": s.messages} for s in self.sides],
            },
            salt=SALT,
            compress=True,
        )


def _version(ref: Any) -> ModelVersion:
    version = ModelVersion.objects.filter(pk=int(ref)).first() if str(ref).isdigit() else None
    if version is None:
        raise ApplicationError("Pick a deployed version.")
    if version.kind not in (ModelVersion.Kind.POLICY, ModelVersion.Kind.BASE):
        raise ApplicationError(NOT_POLICY_OR_BASE.format(kind=version.get_kind_display().lower()))
    return version


def conversation_new(*, case_key: str, versions: list[Any], config: RewardConfig | None = None) -> Conversation:
    if case_key not in demo_cases():
        raise ApplicationError(BAD_CASE)
    chosen = [_version(v) for v in versions if str(v).strip()]
    if not chosen:
        raise ApplicationError("Pick a deployed version.")
    if len(chosen) == 2 and chosen[0].pk == chosen[1].pk:
        raise ApplicationError(SAME_TWICE)
    return Conversation(case_key, [Side(v) for v in chosen[:2]], config)


def conversation_load(token: str) -> Conversation:
    try:
        data = signing.loads(token, salt=SALT, max_age=24 * 3600)
        versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in=[s["version"] for s in data["sides"]])}
        # a config deleted since the page was drawn: the conversation goes on without a judge
        config = RewardConfig.objects.filter(pk=data["config"]).first() if data.get("config") else None
        sides = [Side(versions[s["version"]], list(s["messages"])) for s in data["sides"]]
        return Conversation(data["case"], sides, config)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApplicationError(BAD_STATE) from None


def _history(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _ask(endpoint: Endpoint, chat: list[dict]) -> str:
    body = {"model": endpoint.model, "messages": chat, "chat_template_kwargs": template_kwargs(None), **SAMPLING}
    response = httpx.post(f"{endpoint.base_url}/chat/completions", json=body, timeout=REQUEST_TIMEOUT_S)
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"] or ""


def verdicts_for(reply: str, *, case: dict, history: list[dict], config: RewardConfig | None = None) -> list[dict]:
    """The rule verdicts that fired on ``reply``: the config's rule set, or the default one without it."""
    rule_set = config.rule_set if config is not None else None
    document = rule_set.document if rule_set is not None else default_rule_set().to_dict()
    found: list[RuleVerdict] = rule_verdicts(reply=reply, task=case, history=history, document=document)
    return [
        {"rule": v.rule, "description": v.description, "points": v.points, "evidence": v.evidence}
        for v in found
        if v.fired
    ]


def conversation_say(conversation: Conversation, *, text: str, stage: str | None = None) -> Conversation:
    """The hotel says ``text``; every side's version answers (same hotel turns, each its own replies), and
    the conversation's reward config's judge (if any) judges each reply at SOP ``stage`` (None: unknown)."""
    text = clean_text(text, field="message", max_len=MAX_MESSAGE_CHARS, required=True).strip()
    if sum(m["role"] == "hotel" for m in conversation.sides[0].messages) >= MAX_TURNS:
        raise ApplicationError(TOO_MANY_TURNS)
    endpoints = []
    for side in conversation.sides:
        endpoint = live_endpoint(side.version)
        if endpoint is None:
            raise ApplicationError(NOT_SERVED.format(name=side.version.name), status=409)
        endpoints.append(endpoint)
    case = conversation.case
    for side, endpoint in zip(conversation.sides, endpoints, strict=True):
        history = [*_history(side.messages), {"role": "hotel", "content": text}]
        started = time.monotonic()
        try:
            reply = _ask(endpoint, to_chat(history, case=case, sop=None))
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise ApplicationError(SERVER_FAILED.format(name=side.version.name, error=exc), status=502) from None
        seconds = time.monotonic() - started
        verdicts = verdicts_for(reply, case=case, history=history, config=conversation.config)
        reward = reply_reward(
            case=case,
            history=history,
            reply=reply,
            e_func=float(sum(v["points"] for v in verdicts)),
            config=conversation.config,
            stage=stage,
        )
        side.messages = [
            *side.messages,
            {"role": "hotel", "content": text},
            {
                "role": "agent",
                "content": reply,
                "verdicts": verdicts,
                "reward": reward.as_dict(),
                "seconds": round(seconds, 2),
                "model": endpoint.model,
            },
        ]
    return conversation


def _reply(conversation: Conversation, side: int, turn: int) -> tuple[Side, dict]:
    if not (0 <= side < len(conversation.sides)):
        raise ApplicationError(BAD_REPLY_INDEX.format(side=side, turn=turn))
    chosen = conversation.sides[side]
    if not (0 <= turn < len(chosen.messages)) or chosen.messages[turn]["role"] != "agent":
        raise ApplicationError(BAD_REPLY_INDEX.format(side=side, turn=turn))
    return chosen, chosen.messages[turn]


def suggested_category(message: dict) -> str:
    for verdict in message.get("verdicts", []):
        category = rule_category(verdict["rule"])
        if category:
            return category
    return ""


def _dialogue(conversation: Conversation, chosen: Side, turn: int) -> Dialogue:
    """The conversation of ``chosen`` up to the reply at ``turn``, as a dialogue of the "Playground" project."""
    project, _ = Project.objects.get_or_create(
        name=PROJECT, defaults={"description": "Dialogues from the chat playground (bad cases and branches)."}
    )
    dialogue = Dialogue.objects.create(
        project=project,
        case=_case_create(project, conversation.case),
        external_id=f"playground-{get_random_string(12)}",
        source=Dialogue.Source.SYNTHETIC,
    )
    Message.objects.bulk_create(
        Message(dialogue=dialogue, index=i, role=m["role"], content=m["content"])
        for i, m in enumerate(chosen.messages[: turn + 1])
    )
    return dialogue


@transaction.atomic
def playground_bad_case(*, conversation: Conversation, side: int, turn: int, data: dict, actor):
    """Turn the reply at ``turn`` of ``side`` into a bad case: the conversation up to that reply becomes a
    dialogue of the "Playground" project (its case, its messages), and the bad case is linked to the
    version and the turn, with the gold reply the person wrote (``annotation.services.bad_cases``)."""
    chosen, message = _reply(conversation, side, turn)
    dialogue = _dialogue(conversation, chosen, turn)
    return bad_case_create(
        dialogue=dialogue,
        turn=turn,
        model_reply=message["content"],
        data=data,
        actor=actor,
        model_version=chosen.version,
    )


@transaction.atomic
def playground_branch(*, conversation: Conversation, side: int, turn: int, actor) -> Candidate:
    """Keep the reply at ``turn`` of ``side`` as a branch candidate (a model candidate of the version at that
    turn of a "Playground" dialogue); the branch page then adds it to a pairwise queue beside other replies."""
    chosen, message = _reply(conversation, side, turn)
    dialogue = _dialogue(conversation, chosen, turn)
    candidate = Candidate.objects.create(
        dialogue=dialogue,
        turn=turn,
        text=message["content"],
        source=Candidate.Source.MODEL,
        model_version=chosen.version,
        model_name=message.get("model", chosen.version.name),
        key=f"playground:{chosen.version.pk}:{turn}",
    )
    audit_record(actor=actor, action="create", instance=candidate, after=audit_snapshot(candidate))
    return candidate
