"""The row editor of rule sets and rubrics: one small form per rule, for people who do not write JSON.

Each row holds what a person changes (id, on/off, points, description, and for a rule set its word list,
its regexes and, folded, any other parameter as JSON); the rule's examples and anything else the row does
not show are carried over from the version the editor started from, matched by the rule's original id.
Every row is checked on its own first (a bad regex or a positive deduction is reported on its row), then
the assembled document goes through the same save as the JSON editor, and each of its messages that names
a rule is shown on that rule's row.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from django import forms
from django.forms import formset_factory

from engine.rewards.rules import CHECKERS, RuleSetError
from engine.rewards.rules.text import compile_patterns

ROW_LIST_KEYS = ("terms", "patterns")  # shown one item per line; every other parameter stays JSON
ID_RE = re.compile(r"^[a-z0-9_]+$")
BAD_ID = "Use lower-case letters, digits and underscores only (e.g. no_rude_words)."
DUPLICATE_ID = "Another row already uses the id {id!r}."
POSITIVE_POINTS = "A rule set's points are a deduction: enter 0 or a negative number."
ZERO_POINTS = "Points must not be 0 (negative = deduction, positive = bonus)."
BAD_PARAMS = "Other parameters: not valid JSON (line {line}, column {col}): {msg}"
PARAMS_NOT_OBJECT = 'Other parameters must be a JSON object, e.g. {"max_chars": {"en": 700}}.'
PARAMS_DUPLICATE = "Other parameters repeat {key!r}: edit it in its own box."
PATTERN_KIND_EMPTY = "A '{kind}' rule needs at least one word or regex."
NAMED = re.compile(r"rule '([^']+)'")
MAX_ROWS = 200


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class _IdRowForm(forms.Form):
    """A row's id (lower-case letters, digits, underscores) and the id it was loaded with."""

    original_id = forms.CharField(required=False, widget=forms.HiddenInput, max_length=100)
    id = forms.CharField(max_length=100, label="Id")

    def clean_id(self) -> str:
        value = self.cleaned_data["id"].strip()
        if not ID_RE.match(value):
            raise forms.ValidationError(BAD_ID)
        return value


class RuleRowForm(_IdRowForm):
    # initial values a blank "new rule" row posts unchanged, so an untouched extra row is skipped
    kind = forms.ChoiceField(label="Checker", initial="pattern")
    enabled = forms.BooleanField(required=False, label="On", initial=True)
    points = forms.FloatField(label="Points", min_value=-1000, max_value=1000)
    description = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    terms = forms.CharField(
        required=False,
        max_length=20000,
        label="Words and phrases (one per line)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    patterns = forms.CharField(
        required=False,
        max_length=20000,
        label="Regexes (one per line, lower case)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "mono"}),
    )
    params = forms.CharField(
        required=False,
        max_length=20000,
        label="Other parameters (JSON)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "mono"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, k) for k in sorted(CHECKERS)]

    def clean_points(self) -> float:
        value = self.cleaned_data["points"]
        if value > 0:
            raise forms.ValidationError(POSITIVE_POINTS)
        return value

    def clean_params(self) -> dict:
        text = (self.cleaned_data.get("params") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(BAD_PARAMS.format(line=exc.lineno, col=exc.colno, msg=exc.msg)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(PARAMS_NOT_OBJECT)
        for key in ROW_LIST_KEYS:
            if key in value:
                raise forms.ValidationError(PARAMS_DUPLICATE.format(key=key))
        return value

    def clean(self):
        data = super().clean()
        rule_id = data.get("id") or "new_rule"
        patterns = _lines(data.get("patterns", ""))
        try:
            compile_patterns(rule_id, patterns)
        except RuleSetError as exc:
            self.add_error("patterns", str(exc))
        if data.get("kind") == "pattern" and not patterns and not _lines(data.get("terms", "")):
            self.add_error("terms", PATTERN_KIND_EMPTY.format(kind="pattern"))
        return data

    def rule(self, *, base: dict[str, dict]) -> dict[str, Any]:
        """The rule as the engine's document holds it; examples and unknown keys come from ``base``."""
        data = self.cleaned_data
        old = copy.deepcopy(base.get(data.get("original_id") or "", {}))
        params = dict(data["params"])
        for key in ROW_LIST_KEYS:
            items = _lines(data.get(key, ""))
            if items:
                params[key] = items
        return {
            **old,
            "id": data["id"],
            "kind": data["kind"],
            "enabled": bool(data.get("enabled")),
            "points": data["points"],
            "description": data.get("description", "").strip(),
            "params": params,
            "examples": old.get("examples") or {"trigger": [], "clean": []},
        }

    @staticmethod
    def initial_for(rule: dict[str, Any]) -> dict[str, Any]:
        params = dict(rule.get("params") or {})
        lists = {}
        for key in ROW_LIST_KEYS:
            value = params.get(key)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                lists[key] = "\n".join(params.pop(key))
        return {
            "original_id": rule.get("id", ""),
            "id": rule.get("id", ""),
            "kind": rule.get("kind") or rule.get("id", ""),
            "enabled": rule.get("enabled", True),
            "points": rule.get("points"),
            "description": rule.get("description", ""),
            "params": json.dumps(params, ensure_ascii=False) if params else "",
            **lists,
        }


class RubricRowForm(_IdRowForm):
    points = forms.FloatField(label="Points", min_value=-1000, max_value=1000)
    description = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="What the judge looks for"
    )
    stages = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Only at these SOP stages (none = every stage)"
    )

    def __init__(self, *args, stage_keys: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stages"].choices = [(s, s.replace("_", " ")) for s in stage_keys]

    def clean_points(self) -> float:
        value = self.cleaned_data["points"]
        if value == 0:
            raise forms.ValidationError(ZERO_POINTS)
        return value

    def rule(self, *, base: dict[str, dict]) -> dict[str, Any]:
        data = self.cleaned_data
        old = copy.deepcopy(base.get(data.get("original_id") or "", {}))
        return {
            **old,
            "id": data["id"],
            "points": data["points"],
            "description": data["description"].strip(),
            "stages": list(data.get("stages") or []),
        }

    @staticmethod
    def initial_for(rule: dict[str, Any]) -> dict[str, Any]:
        return {
            "original_id": rule.get("id", ""),
            "id": rule.get("id", ""),
            "points": rule.get("points"),
            "description": rule.get("description", ""),
            "stages": list(rule.get("stages") or []),
        }


class _RowFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen: dict[str, int] = {}
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            rule_id = form.cleaned_data.get("id")
            if not rule_id:
                continue
            if rule_id in seen:
                form.add_error("id", DUPLICATE_ID.format(id=rule_id))
            seen[rule_id] = 1

    def live_forms(self) -> list[forms.Form]:
        return [f for f in self.forms if f.cleaned_data and not (self.can_delete and self._should_delete_form(f))]


RuleRowFormSet = formset_factory(
    RuleRowForm, formset=_RowFormSet, extra=1, can_delete=True, max_num=MAX_ROWS, validate_max=True
)
RubricRowFormSet = formset_factory(
    RubricRowForm, formset=_RowFormSet, extra=1, can_delete=True, max_num=MAX_ROWS, validate_max=True
)


class RowNoteForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"placeholder": "What changed and why"}))
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)


def attach_save_errors(formset: _RowFormSet, messages: list[str]) -> list[str]:
    """Put each save message that names a rule on that rule's row; returns the ones naming none."""
    rows = {f.cleaned_data.get("id"): f for f in formset.forms if getattr(f, "cleaned_data", None)}
    general = []
    for message in messages:
        match = NAMED.search(message)
        form = rows.get(match.group(1)) if match else None
        if form is None:
            general.append(message)
        else:
            form.add_error(None, message)
    return general
