"""Writes of the model registry. Every write is audited (``kernel.audit``); the admin only reads.

Stages move along ``STAGE_TRANSITIONS`` (candidate → staging → production → retired), and a serving slot
has at most one production version: moving a second one there is refused (409); ``version_promote``
retires the slot's current production version and puts the winner there in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from registry.models import ModelVersion

DEFAULT_BASE_NAME = "tiny-default"
K, S = ModelVersion.Kind, ModelVersion.Stage

STAGE_TRANSITIONS: dict[str, set[str]] = {
    S.CANDIDATE: {S.STAGING, S.RETIRED},
    S.STAGING: {S.CANDIDATE, S.PRODUCTION, S.RETIRED},
    S.PRODUCTION: {S.STAGING, S.RETIRED},
    S.RETIRED: {S.CANDIDATE},
}
BAD_STAGE = "Pick a stage: candidate, staging, production or retired."
BAD_TRANSITION = "A version cannot go from {before} to {after}."
SLOT_REQUIRED = "Name the serving slot this version goes to production in."
SLOT_TAKEN = "Slot {slot!r} already serves {name} in production: promote the new version to replace it."
PROMOTE_FROM = "Only a staging or production version can be promoted (this one is {stage})."
BAD_TAGS = "Tags are a list of short words (at most 20, each up to 50 characters)."
NOT_LOADABLE = "{path} does not hold a loadable model: {missing}."
BAD_NAME = "A version named {name!r} already exists."
STAGE_FIELDS = ["stage", "slot"]

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def loadable_model_missing(path: str | Path) -> list[str]:
    """What a Hugging Face checkpoint directory lacks to be loaded (empty when nothing): its
    ``config.json``, weights (safetensors or ``pytorch_model*.bin``) and tokenizer files. Files only:
    the web side imports no torch."""
    root = Path(path)
    if not root.is_dir():
        return ["the directory does not exist"]
    missing = []
    if not (root / "config.json").is_file():
        missing.append("config.json")
    if not any(next(root.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        missing.append("weights (*.safetensors or pytorch_model*.bin)")
    if not (root / "tokenizer_config.json").is_file() or not any((root / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer_config.json and tokenizer.json)")
    return missing


@transaction.atomic
def base_model_default_ensure() -> ModelVersion:
    """The embedded default base model (docs/engine.md: the tiny model ``make run`` builds) as a registered
    ``base`` version, so the job dashboard always offers it. Idempotent; not checked for files, because the
    tiny model may still be building when this runs."""
    model, created = ModelVersion.objects.get_or_create(
        name=DEFAULT_BASE_NAME,
        defaults={
            "base_model": str(settings.PARLEY_BASE_MODEL),
            "method": "base",
            "kind": K.BASE,
            "description": "The tiny Qwen3-architecture model built on first run (no download).",
        },
    )
    if created:
        audit_record(actor=None, action="create", instance=model, after=audit_snapshot(model))
    return model


def version_register(
    *,
    name: str,
    kind: str,
    base_model: str,
    base: ModelVersion | None = None,
    adapter_path: str = "",
    method: str = "",
    description: str = "",
    lineage: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    actor=None,
) -> ModelVersion:
    """Register a version (a candidate), audited."""
    if ModelVersion.objects.filter(name=name).exists():
        raise ApplicationError(BAD_NAME.format(name=name), status=409)
    model = ModelVersion(
        name=name,
        kind=kind,
        base_model=base_model,
        base=base,
        adapter_path=adapter_path,
        method=method,
        description=description,
        lineage=lineage or {},
        tags=_clean_tags(tags or []),
    )
    model.full_clean()
    with transaction.atomic():
        model.save()
        audit_record(actor=actor, action="create", instance=model, after=audit_snapshot(model))
    return model


def base_model_register(*, name: str, path: str, description: str = "", actor=None) -> ModelVersion:
    """Register any HF checkpoint directory (e.g. Qwen3-32B on shared storage) as a base model, once it is
    checked to hold a loadable model (400 naming what is missing otherwise)."""
    missing = loadable_model_missing(path)
    if missing:
        raise ApplicationError(NOT_LOADABLE.format(path=path, missing=", ".join(missing)))
    return version_register(
        name=name, kind=K.BASE, base_model=path, method="base", description=description, actor=actor
    )


def _clean_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or len(tags) > 20:
        raise ApplicationError(BAD_TAGS)
    clean = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 50:
            raise ApplicationError(BAD_TAGS)
        if tag.strip() not in clean:
            clean.append(tag.strip())
    return clean


@transaction.atomic
def version_tags_set(*, version: ModelVersion, tags: Any, actor=None) -> ModelVersion:
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    before = audit_snapshot(version, fields=["tags"])
    version.tags = _clean_tags(tags)
    version.save(update_fields=["tags"])
    audit_record(actor=actor, action="tags", instance=version, before=before, after={"tags": version.tags})
    return version


def _production_in(slot: str, *, exclude: int) -> ModelVersion | None:
    return ModelVersion.objects.select_for_update().filter(stage=S.PRODUCTION, slot=slot).exclude(pk=exclude).first()


@transaction.atomic
def version_stage_set(*, version: ModelVersion, stage: str, actor=None, slot: str | None = None) -> ModelVersion:
    """Move a version to ``stage`` along ``STAGE_TRANSITIONS`` (409 otherwise); production needs a slot
    and refuses (409) a slot that already has a production version."""
    if stage not in S.values:
        raise ApplicationError(BAD_STAGE)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if stage not in STAGE_TRANSITIONS[version.stage]:
        raise ApplicationError(BAD_TRANSITION.format(before=version.stage, after=stage), status=409)
    slot = (version.slot if slot is None else slot).strip()
    if stage == S.PRODUCTION:
        if not slot:
            raise ApplicationError(SLOT_REQUIRED)
        current = _production_in(slot, exclude=version.pk)
        if current is not None:
            raise ApplicationError(SLOT_TAKEN.format(slot=slot, name=current.name), status=409)
    before = audit_snapshot(version, fields=STAGE_FIELDS)
    version.stage, version.slot = stage, slot
    version.full_clean()
    version.save(update_fields=STAGE_FIELDS)
    audit_record(
        actor=actor, action="stage", instance=version, before=before, after=audit_snapshot(version, fields=STAGE_FIELDS)
    )
    return version


@transaction.atomic
def version_promote(*, version: ModelVersion, slot: str, actor=None, note: str = "") -> ModelVersion:
    """Make ``version`` the production version of ``slot``: the slot's current production version is
    retired, then the winner moves there (from staging; promoting the production version is a no-op)."""
    slot = slot.strip()
    if not slot:
        raise ApplicationError(SLOT_REQUIRED)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.stage == S.PRODUCTION and version.slot == slot:
        return version
    if version.stage != S.STAGING:
        raise ApplicationError(PROMOTE_FROM.format(stage=version.stage), status=409)
    current = _production_in(slot, exclude=version.pk)
    if current is not None:
        before = audit_snapshot(current, fields=STAGE_FIELDS)
        current.stage = S.RETIRED
        current.save(update_fields=["stage"])
        audit_record(
            actor=actor,
            action="stage",
            instance=current,
            before=before,
            after=audit_snapshot(current, fields=STAGE_FIELDS),
            note=f"replaced by {version.name}",
        )
    before = audit_snapshot(version, fields=STAGE_FIELDS)
    version.stage, version.slot = S.PRODUCTION, slot
    version.save(update_fields=STAGE_FIELDS)
    audit_record(
        actor=actor,
        action="promote",
        instance=version,
        before=before,
        after=audit_snapshot(version, fields=STAGE_FIELDS),
        note=note,
    )
    return version
