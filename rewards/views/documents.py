"""Rule sets and judge rubrics: list, view a version, edit (save = new version), diff two versions.

Both document kinds share these views; ``kind`` (from the URL conf) picks the model and the service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.shortcuts import redirect, render
from django.urls import reverse

from kernel.errors import ApplicationError
from kernel.roles import Role, role_required
from rewards.forms import DiffForm, DocumentForm, RewardConfigForm
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion
from rewards.row_forms import (
    RowNoteForm,
    RubricRowForm,
    RubricRowFormSet,
    RuleRowForm,
    RuleRowFormSet,
    attach_save_errors,
)
from rewards.selectors import (
    document_names,
    document_version_get,
    document_versions,
    recent_bad_cases,
    recent_excellent_turns,
    reward_configs,
    rule_ids,
    stage_keys,
)
from rewards.services.configs import reward_config_create
from rewards.services.diff import document_diff, document_text_diff
from rewards.services.examples import CATEGORY_RULES
from rewards.services.seed import reward_defaults_seed
from rewards.services.versions import RewardDocumentError, rubric_version_create, rule_set_version_create

REWARD_ROLES = (Role.ML_ENGINEER,)


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    model: type[models.Model]
    create: object

    @property
    def names(self) -> dict[str, str]:
        """URL names per view, for ``{% url kind.names.diff name %}`` in templates."""
        return {view: f"rewards:{self.key}_{view}" for view in ("detail", "version", "edit", "rows", "diff")}

    def url(self, view: str, **kwargs) -> str:
        return reverse(self.names[view], kwargs=kwargs)


KINDS = {
    "rule_set": Kind("rule_set", "Rule set", RuleSetVersion, rule_set_version_create),
    "rubric": Kind("rubric", "Judge rubric", RubricVersion, rubric_version_create),
}


@role_required(*REWARD_ROLES)
def reward_config_list(request):
    reward_defaults_seed(user=request.user)  # first visit: v1 of the defaults, from the engine
    context = {
        "rule_sets": document_names(model=RuleSetVersion),
        "rubrics": document_names(model=RubricVersion),
        "configs": reward_configs(),
        "bad_cases": [(b, CATEGORY_RULES.get(b.category)) for b in recent_bad_cases(limit=20)],
        "excellent_turns": recent_excellent_turns(limit=20),
        "rule_ids": rule_ids(),
    }
    return render(request, "rewards/list.html", context)


@role_required(*REWARD_ROLES)
def document_detail(request, kind: str, name: str, version: int | None = None):
    spec = KINDS[kind]
    row = document_version_get(model=spec.model, name=name, version=version)
    versions = list(document_versions(model=spec.model, name=name))
    previous = next((v for v in versions if v.version < row.version), None)
    context = {
        "kind": spec,
        "row": row,
        "rules": row.document.get("rules", []),
        "versions": versions,
        "previous": previous,
        "is_latest": row.version == versions[0].version,
        "document_json": json.dumps(row.document, ensure_ascii=False, indent=2),
    }
    if kind == "rubric":  # a rubric only scores through a judge endpoint: say when none is configured
        context["judge_configured"] = RewardConfig.objects.exclude(judge_base_url="").exists()
    return render(request, "rewards/detail.html", context)


def draft_session_key(name: str) -> str:
    """Where a refused one-click example leaves its document for the rule-set editor (``?draft=1``)."""
    return f"rewards_draft:rule_set:{name}"


def _editor_initial(request, *, kind: str, name: str, latest) -> tuple[dict, bool]:
    draft = request.session.get(draft_session_key(name)) if kind == "rule_set" and request.GET.get("draft") else None
    source = draft["document"] if draft else latest.document
    document = {k: v for k, v in source.items() if k != "version"}
    initial = {
        "document": json.dumps(document, ensure_ascii=False, indent=2),
        "base_version": draft["base_version"] if draft else latest.version,
        "note": draft["note"] if draft else "",
    }
    return initial, draft is not None


@role_required(*REWARD_ROLES)
def document_edit(request, kind: str, name: str):
    spec = KINDS[kind]
    latest = document_version_get(model=spec.model, name=name)
    status, from_draft = 200, False
    if request.method == "POST":
        form = DocumentForm(request.POST)
        if form.is_valid():
            try:
                row = spec.create(
                    name=name,
                    document=form.cleaned_data["document"],
                    note=form.cleaned_data["note"],
                    user=request.user,
                    base_version=form.cleaned_data["base_version"],
                )
            except RewardDocumentError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                request.session.pop(draft_session_key(name), None)
                messages.success(request, f"Saved {spec.label.lower()} {row.name} v{row.version}.")
                return redirect(spec.url("diff", name=name) + f"?a={latest.version}&b={row.version}")
        status = 400
    else:
        initial, from_draft = _editor_initial(request, kind=kind, name=name, latest=latest)
        form = DocumentForm(initial=initial)
    context = {
        "kind": spec,
        "latest": latest,
        "form": form,
        "stage_keys": sorted(stage_keys()),
        "from_draft": from_draft,
    }
    return render(request, "rewards/edit.html", context, status=status)


@role_required(*REWARD_ROLES)
def document_diff_view(request, kind: str, name: str):
    spec = KINDS[kind]
    versions = list(document_versions(model=spec.model, name=name))
    if not versions:
        document_version_get(model=spec.model, name=name)  # 404
    latest = versions[0].version
    form = DiffForm(request.GET or {"a": max(latest - 1, 1), "b": latest})
    if not form.is_valid():
        context = {"kind": spec, "name": name, "versions": versions, "form": form}
        return render(request, "rewards/diff.html", context, status=400)
    old = document_version_get(model=spec.model, name=name, version=form.cleaned_data["a"])
    new = document_version_get(model=spec.model, name=name, version=form.cleaned_data["b"])
    context = {
        "kind": spec,
        "name": name,
        "versions": versions,
        "form": form,
        "old": old,
        "new": new,
        "changes": document_diff(old=old.document, new=new.document),
        "text_diff": document_text_diff(old=old.document, new=new.document),
    }
    return render(request, "rewards/diff.html", context)


@role_required(*REWARD_ROLES)
def reward_config_new(request):
    form = RewardConfigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            config = reward_config_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.add_error(None, exc)  # model field errors land on the form's fields of the same name
        else:
            messages.success(request, f"Created reward config {config.name}.")
            return redirect("rewards:config_list")
    status = 400 if form.is_bound else 200
    return render(request, "rewards/config_new.html", {"form": form}, status=status)


def _row_formset(spec: Kind, data=None, *, rules: list[dict] = ()):
    """The row formset of ``spec``'s kind, bound to ``data`` or filled from ``rules``."""
    if spec.key == "rule_set":
        initial = [RuleRowForm.initial_for(r) for r in rules]
        return RuleRowFormSet(data, initial=None if data else initial, prefix="rule")
    keys = sorted(stage_keys())
    initial = [RubricRowForm.initial_for(r) for r in rules]
    return RubricRowFormSet(data, initial=None if data else initial, prefix="rule", form_kwargs={"stage_keys": keys})


@role_required(*REWARD_ROLES)
def document_edit_rows(request, kind: str, name: str):
    """The same save as :func:`document_edit`, one form per rule: validation messages land on their row."""
    spec = KINDS[kind]
    latest = document_version_get(model=spec.model, name=name)
    general: list[str] = []
    if request.method == "POST":
        formset = _row_formset(spec, request.POST)
        note = RowNoteForm(request.POST)
        rows_ok, note_ok = formset.is_valid(), note.is_valid()
        if rows_ok and note_ok:
            started = document_version_get(
                model=spec.model, name=name, version=note.cleaned_data["base_version"] or latest.version
            )
            base = {r.get("id"): r for r in started.document.get("rules", []) if isinstance(r, dict)}
            document = {k: v for k, v in started.document.items() if k not in ("version", "rules")}
            document["rules"] = [form.rule(base=base) for form in formset.live_forms()]
            try:
                row = spec.create(
                    name=name,
                    document=document,
                    note=note.cleaned_data["note"],
                    user=request.user,
                    base_version=note.cleaned_data["base_version"],
                )
            except RewardDocumentError as exc:
                general = attach_save_errors(formset, exc.messages)
            else:
                messages.success(request, f"Saved {spec.label.lower()} {row.name} v{row.version}.")
                return redirect(spec.url("diff", name=name) + f"?a={started.version}&b={row.version}")
        general += list(formset.non_form_errors())
        status = 400
    else:
        formset = _row_formset(spec, rules=[r for r in latest.document.get("rules", []) if isinstance(r, dict)])
        note = RowNoteForm(initial={"base_version": latest.version})
        status = 200
    row_errors = sum(1 for f in formset.forms if f.errors)
    context = {
        "kind": spec,
        "latest": latest,
        "formset": formset,
        "note_form": note,
        "general_errors": general,
        "row_errors": row_errors,
    }
    return render(request, "rewards/edit_rows.html", context, status=status)
