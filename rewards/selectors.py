"""Reads for the reward pages: versions of rule sets and rubrics, SOP stages, and playground lookups."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from annotation.models import BadCase, Dialogue, ExcellentTurn, Message, NegotiationCase, SOPStage
from engine.demo.sop import default_sop
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion

DEFAULT_NAME = "default"
SEARCH_LIMIT = 20
CASE_CHOICES_LIMIT = 200


def stage_keys() -> set[str]:
    """Every stage key a rubric's stage filter may name: the stages of every SOP in the database,
    or the default SOP's when none has been imported yet."""
    keys = set(SOPStage.objects.values_list("key", flat=True).distinct())
    return keys or {stage["key"] for stage in default_sop()["stages"]}


def document_names(*, model: type[RuleSetVersion] | type[RubricVersion]) -> list[dict]:
    """One row per document name: its latest version, how many versions, when last saved."""
    rows = model.objects.values("name").annotate(latest=Max("version"), count=Count("id")).order_by("name")
    latest = {
        (r.name, r.version): r
        for r in model.objects.filter(version__in=[row["latest"] for row in rows]).select_related("created_by")
    }
    return [{**row, "row": latest.get((row["name"], row["latest"]))} for row in rows]


def document_versions(*, model: type[RuleSetVersion] | type[RubricVersion], name: str) -> QuerySet:
    return model.objects.filter(name=name).select_related("created_by").order_by("-version")


def document_version_get(
    *, model: type[RuleSetVersion] | type[RubricVersion], name: str, version: int | None = None
) -> RuleSetVersion | RubricVersion:
    """The given version of ``name`` (the latest when ``version`` is None); 404 when there is none."""
    rows = model.objects.filter(name=name).select_related("created_by")
    if version is None:
        row = rows.order_by("-version").first()
        if row is None:
            raise Http404(f"No {model._meta.verbose_name} named {name!r}.")
        return row
    return get_object_or_404(rows, version=version)


def rule_set_latest(*, name: str = DEFAULT_NAME) -> RuleSetVersion | None:
    return RuleSetVersion.objects.filter(name=name).order_by("-version").first()


def rule_ids(*, name: str = DEFAULT_NAME) -> list[str]:
    """The rule ids of the latest version of rule set ``name`` (for "which rule" pickers)."""
    latest = rule_set_latest(name=name)
    return [r["id"] for r in latest.document.get("rules", []) if isinstance(r, dict)] if latest else []


def reward_configs() -> QuerySet:
    return RewardConfig.objects.select_related("reward_model", "rubric", "rule_set").order_by("name")


def dialogue_search(*, query: str) -> list[Dialogue]:
    """Dialogues whose external id contains ``query`` (case-insensitive), best (prefix) matches first."""
    query = query.strip()
    if not query:
        return []
    rows = Dialogue.objects.filter(external_id__icontains=query).select_related("case")[: SEARCH_LIMIT * 5]
    return sorted(rows, key=lambda d: (not d.external_id.lower().startswith(query.lower()), d.external_id))[
        :SEARCH_LIMIT
    ]


def dialogue_by_external_id(*, external_id: str) -> Dialogue | None:
    """The dialogue with this external id (the first one when two projects share it)."""
    return Dialogue.objects.filter(external_id=external_id.strip()).select_related("case").order_by("id").first()


def dialogue_messages(*, dialogue: Dialogue) -> list[Message]:
    return list(dialogue.messages.order_by("index"))


def agent_turns(*, dialogue: Dialogue) -> list[Message]:
    """The agent messages of a dialogue: the turns a reply can be scored at."""
    return list(dialogue.messages.filter(role=Message.Role.AGENT).order_by("index"))


def turn_labels(*, dialogue: Dialogue, turn: int) -> dict:
    """The bad cases and the excellent flag at one turn (for the one-click example buttons)."""
    return {
        "bad_cases": list(BadCase.objects.filter(dialogue=dialogue, turn=turn).order_by("id")),
        "excellent": ExcellentTurn.objects.filter(dialogue=dialogue, turn=turn).first(),
    }


def playground_cases() -> QuerySet:
    return NegotiationCase.objects.order_by("-id")[:CASE_CHOICES_LIMIT]


def recent_bad_cases(*, limit: int = 50) -> QuerySet:
    return BadCase.objects.select_related("dialogue").order_by("-created_at", "-id")[:limit]


def recent_excellent_turns(*, limit: int = 50) -> QuerySet:
    return ExcellentTurn.objects.select_related("dialogue").order_by("-created_at", "-id")[:limit]
