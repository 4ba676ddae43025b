"""Forms of the reward pages: the document editor, the diff picker, the playground and the one-click example."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django import forms

from annotation.models import Message, NegotiationCase
from engine.rewards.rules import EXAMPLE_TASKS
from kernel.fields import NOTE_CHARS
from registry.models import ModelVersion
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion
from rewards.selectors import DEFAULT_NAME, dialogue_by_external_id, playground_cases

BAD_JSON = "Not valid JSON (line {line}, column {col}): {msg}"
NO_REPLY = "Paste a reply, or pick a dialogue and an agent turn."
UNKNOWN_DIALOGUE = "No dialogue has the external id {external_id!r}."
TURN_REQUIRED = "Pick the agent turn of dialogue {external_id!r} to score."
NOT_AGENT_TURN = "Turn {turn} of {external_id!r} is not an agent message."
UNKNOWN_RULE_SET = "No rule set version {value!r}."
UNKNOWN_CASE = "That case no longer exists; pick another."
EXAMPLE_CASE_PREFIX = "example:"
BAD_ENDPOINT = "Give the judge endpoint as http(s)://host[:port]/v1."


class DocumentForm(forms.Form):
    """The whole document as JSON (what the engine reads), a required note, and the version it started from."""

    document = forms.CharField(widget=forms.Textarea(attrs={"rows": 30, "spellcheck": "false", "class": "code"}))
    note = forms.CharField(max_length=NOTE_CHARS, widget=forms.TextInput(attrs={"placeholder": "What changed and why"}))
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_document(self) -> dict:
        text = self.cleaned_data["document"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(BAD_JSON.format(line=exc.lineno, col=exc.colno, msg=exc.msg)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("The document must be a JSON object.")
        return value


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


def rule_set_choices() -> list[tuple[str, str]]:
    rows = RuleSetVersion.objects.order_by("name", "-version").values_list("name", "version")
    return [(f"{name}@{version}", f"{name} v{version}") for name, version in rows]


def case_choices() -> list[tuple[str, str]]:
    examples = [(f"{EXAMPLE_CASE_PREFIX}{lang}", f"Example case ({lang})") for lang in sorted(EXAMPLE_TASKS)]
    return [("", "—"), *examples, *((str(c.pk), f"#{c.pk} {c.hotel_name} ({c.language})") for c in playground_cases())]


class PlaygroundForm(forms.Form):
    """A reply to score: a dialogue turn (its own reply unless one is pasted), or a pasted reply and a case."""

    dialogue = forms.CharField(required=False, max_length=200, label="Dialogue external id")
    turn = forms.IntegerField(required=False, min_value=0)
    reply = forms.CharField(required=False, max_length=8000, widget=forms.Textarea(attrs={"rows": 5}))
    case = forms.ChoiceField(required=False, label="Case (for a pasted reply without a dialogue)")
    rule_set = forms.ChoiceField(label="Rule set", required=False)
    config = forms.ModelChoiceField(
        queryset=RewardConfig.objects.select_related("rubric", "reward_model").order_by("name"),
        required=False,
        label="Reward config (judge, RM, n)",
    )
    assumed_r_model = forms.FloatField(
        initial=1.0, required=False, min_value=-1000, max_value=1000, label="R_model when there is no RM score"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].choices = case_choices()
        self.fields["rule_set"].choices = rule_set_choices()
        latest = RuleSetVersion.objects.filter(name=DEFAULT_NAME).order_by("-version").first()
        if latest is not None:
            self.fields["rule_set"].initial = f"{latest.name}@{latest.version}"
        if not self.initial.get("config"):  # out of the box: a config with a judge (and an RM), e.g. make run's
            judged = RewardConfig.objects.exclude(judge_base_url="")
            best = judged.filter(reward_model__isnull=False).order_by("-created_at").first()
            best = best or judged.order_by("-created_at").first()
            self.fields["config"].initial = best.pk if best else None
        config_id = str(self.initial.get("config", ""))
        config = (
            RewardConfig.objects.filter(pk=int(config_id)).select_related("rule_set").first()
            if (config_id.isdigit() and "rule_set" not in self.initial)
            else None
        )
        if config is not None and config.rule_set is not None:  # a config link scores with the config's rules
            self.initial["rule_set"] = f"{config.rule_set.name}@{config.rule_set.version}"

    def clean_assumed_r_model(self) -> float:
        value = self.cleaned_data["assumed_r_model"]
        return 1.0 if value is None else value

    def clean_rule_set(self) -> RuleSetVersion:
        value = self.cleaned_data["rule_set"] or self.fields["rule_set"].initial or ""
        name, _, version = value.rpartition("@")
        row = RuleSetVersion.objects.filter(name=name, version=int(version) if version.isdigit() else -1).first()
        if row is None:
            raise forms.ValidationError(UNKNOWN_RULE_SET.format(value=value))
        return row

    def clean(self) -> dict:
        data = super().clean()
        external_id, turn, reply = data.get("dialogue", "").strip(), data.get("turn"), data.get("reply", "")
        data["history"], data["task"], data["message"], data["dialogue_row"], data["sop"] = [], None, None, None, None
        if external_id:
            dialogue = dialogue_by_external_id(external_id=external_id)
            if dialogue is None:
                self.add_error("dialogue", UNKNOWN_DIALOGUE.format(external_id=external_id))
                return data
            if turn is None:
                self.add_error("turn", TURN_REQUIRED.format(external_id=external_id))
                return data
            message = dialogue.messages.filter(index=turn).first()
            if message is None or message.role != Message.Role.AGENT:
                self.add_error("turn", NOT_AGENT_TURN.format(turn=turn, external_id=external_id))
                return data
            data.update(
                dialogue_row=dialogue,
                message=message,
                task=dialogue.case.to_task(),
                sop=dialogue.sop.to_document() if dialogue.sop_id else None,
                history=[{"role": m.role, "content": m.content} for m in dialogue.messages.filter(index__lt=turn)],
            )
            data["reply"] = reply if reply.strip() else message.content
            return data
        if not reply.strip():
            raise forms.ValidationError(NO_REPLY)
        data["task"] = self._case_task(data.get("case") or f"{EXAMPLE_CASE_PREFIX}en")
        return data

    def _case_task(self, value: str) -> dict | None:
        if value.startswith(EXAMPLE_CASE_PREFIX):
            return EXAMPLE_TASKS[value.removeprefix(EXAMPLE_CASE_PREFIX)]
        case = NegotiationCase.objects.filter(pk=int(value)).first()
        if case is None:  # deleted since the page was drawn
            self.add_error("case", UNKNOWN_CASE)
            return None
        return case.to_task()


class BadCaseExampleForm(forms.Form):
    """Which rule a bad case's reply must trigger (blank = the rule matching its category)."""

    rule = forms.SlugField(required=False, max_length=100)


class RewardConfigForm(forms.Form):
    """A new reward config: pinned rule-set and rubric versions, the judge endpoint, the RM and n."""

    name = forms.CharField(max_length=200)
    rule_set = forms.ModelChoiceField(
        queryset=RuleSetVersion.objects.order_by("name", "-version"), required=False, label="Rule set version (RF)"
    )
    rubric = forms.ModelChoiceField(
        queryset=RubricVersion.objects.order_by("name", "-version"), required=False, label="Rubric version (RJ)"
    )
    # Not a URLField: Django's URL validator refuses single-label hosts ("http://judge:8000/v1"),
    # which is how a judge server is usually reached inside a cluster.
    judge_base_url = forms.CharField(
        required=False,
        max_length=500,
        label="Judge endpoint",
        widget=forms.TextInput(attrs={"placeholder": "http://judge-host:8000/v1"}),
    )
    judge_model = forms.CharField(required=False, max_length=200, label="Judge model (served name)")
    reward_model = forms.ModelChoiceField(
        queryset=ModelVersion.objects.filter(method="rm").order_by("-created_at"),
        required=False,
        label="Reward model (RM)",
    )
    n = forms.FloatField(initial=100.0, min_value=0.001, label="n (enhancement clip and scale; paper: 100)")

    def clean_judge_base_url(self) -> str:
        value = self.cleaned_data["judge_base_url"].strip()
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise forms.ValidationError(BAD_ENDPOINT)
        return value
