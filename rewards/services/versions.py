"""Save rule sets and judge rubrics as new versions (never edit one in place), with an audit event.

A save validates the whole document first (``rewards.services.validation``: for a rule set that includes running
its examples), then takes the next version number under a row lock. The editor sends the version it
started from; if someone saved in between, the save is refused instead of silently overwriting them.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from kernel.audit import audit_record
from kernel.errors import ApplicationError
from kernel.refusals import validation_messages
from rewards.models import RubricVersion, RuleSetVersion
from rewards.selectors import stage_keys
from rewards.services.diff import document_diff
from rewards.services.validation import rubric_errors, rule_set_errors

NOTE_REQUIRED = "Say what changed and why in the note: every version keeps it."
NO_CHANGES = "Nothing changed since v{version}: no new version was saved."
STALE_BASE = "v{latest} of {name!r} was saved while you edited v{base}; reload it and apply your change again."
CONCURRENT_SAVE = "Someone saved {name!r} at the same moment; reload and try again."


class RewardDocumentError(ApplicationError):
    """A document that cannot be saved; ``messages`` lists each problem (each names its rule)."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = list(problems)

    @property
    def messages(self) -> list[str]:
        return self.problems


def _save(
    *,
    model: type[models.Model],
    name: str,
    document: dict[str, Any],
    note: str,
    user,
    base_version: int | None,
    action: str,
) -> models.Model:
    if not note.strip():
        raise RewardDocumentError([NOTE_REQUIRED])
    try:
        with transaction.atomic():
            latest = model.objects.select_for_update().filter(name=name).order_by("-version").first()
            if latest is not None and base_version is not None and latest.version != base_version:
                raise RewardDocumentError([STALE_BASE.format(latest=latest.version, name=name, base=base_version)])
            document = copy.deepcopy(document)
            document.pop("version", None)
            if latest is not None and {k: v for k, v in latest.document.items() if k != "version"} == document:
                raise RewardDocumentError([NO_CHANGES.format(version=latest.version)])
            number = latest.version + 1 if latest else 1
            # The document names its own version so the engine (logs, the judge's cache key) can cite it.
            document = {"version": f"{name}@{number}", **document}
            row = model(name=name, version=number, document=document, note=note.strip(), created_by=user)
            try:
                row.full_clean()
            except ValidationError as exc:  # the fields' limits (kernel/fields.py): a 400 naming the field
                raise RewardDocumentError(validation_messages(exc)) from None
            row.save()
            changes = document_diff(old=latest.document, new=document) if latest else []
            audit_record(
                actor=user,
                action=action,
                instance=row,
                before={"version": latest.version} if latest else None,
                after={"version": number, "note": row.note, "changes": [c.summary() for c in changes]},
            )
            return row
    except IntegrityError:  # two first saves of a new name raced past the (empty) row lock
        raise RewardDocumentError([CONCURRENT_SAVE.format(name=name)]) from None


def _draft(document: Any, *, name: str) -> Any:
    """The engine wants a ``version`` in every document; the editor leaves it out (the save assigns it)."""
    if isinstance(document, dict) and "version" not in document:
        return {"version": f"{name}@draft", **document}
    return document


def rule_set_version_create(
    *, name: str, document: dict[str, Any], note: str, user, base_version: int | None = None
) -> RuleSetVersion:
    """A new version of rule set ``name`` after validation and a passing run of every rule's examples."""
    errors = rule_set_errors(_draft(document, name=name))
    if errors:
        raise RewardDocumentError(errors)
    return _save(
        model=RuleSetVersion,
        name=name,
        document=document,
        note=note,
        user=user,
        base_version=base_version,
        action="rule_set.save",
    )


def rubric_version_create(
    *, name: str, document: dict[str, Any], note: str, user, base_version: int | None = None
) -> RubricVersion:
    """A new version of judge rubric ``name``; every stage filter must name a stage of some SOP."""
    errors = rubric_errors(_draft(document, name=name), stage_keys=stage_keys())
    if errors:
        raise RewardDocumentError(errors)
    return _save(
        model=RubricVersion,
        name=name,
        document=document,
        note=note,
        user=user,
        base_version=base_version,
        action="rubric.save",
    )
