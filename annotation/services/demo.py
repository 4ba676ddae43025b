"""Seed the demo world (``engine.demo``) into the database: idempotent, and the dialogues go through
the same import service as a user's file, so the demo exercises the real path."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotation.models import SOP, Dialogue, Guideline, Project, SOPClause, SOPStage
from annotation.services.imports import ImportResult, dialogues_import
from engine.demo import iter_dialogues
from engine.demo.sop import DEFAULT_GUIDELINE, DEFAULT_PROJECT, default_sop
from engine.demo.world import DEMO_USERS
from kernel.roles import Role


def demo_password() -> str:
    return settings.PARLEY_DEMO_PASSWORD


@dataclass
class SeedResult:
    project: Project
    created_users: list[str] = field(default_factory=list)
    dialogues_added: int = 0
    imported: ImportResult | None = None


@transaction.atomic
def sop_from_document(*, project: Project, document: dict) -> tuple[SOP, bool]:
    """The SOP ``document`` describes (name + version), created with its stages and clauses if absent."""
    sop, created = SOP.objects.get_or_create(project=project, name=document["name"], version=document["version"])
    if created:
        for stage_doc in document["stages"]:
            stage = SOPStage.objects.create(
                sop=sop, key=stage_doc["key"], name=stage_doc["name"], order=stage_doc["order"]
            )
            SOPClause.objects.bulk_create(
                SOPClause(sop=sop, stage=stage, code=c["code"], text=c["text"]) for c in stage_doc["clauses"]
            )
    return sop, created


def demo_users_ensure(*, password: str) -> tuple[list[str], object]:
    """One user per role (``DEMO_USERS``); existing users are left as they are. Returns (created, admin)."""
    users = get_user_model().objects
    created = []
    for username, role in DEMO_USERS:
        user = users.filter(username=username).first()
        if user is None:
            is_admin = role == Role.ADMIN
            user = users.create_user(username=username, password=password, is_staff=is_admin, is_superuser=is_admin)
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
    return created, users.get(username="admin")


def demo_world_seed(*, scale: int = 60, seed: int = 0, password: str | None = None) -> SeedResult:
    """Project, SOP, guideline, users, and the ``scale`` dialogues of world ``seed`` not yet imported."""
    project, _ = Project.objects.get_or_create(
        name=DEFAULT_PROJECT["name"], defaults={"description": DEFAULT_PROJECT["description"]}
    )
    sop_from_document(project=project, document=default_sop())
    Guideline.objects.get_or_create(
        project=project,
        version=DEFAULT_GUIDELINE["version"],
        defaults={"title": DEFAULT_GUIDELINE["title"], "body_markdown": DEFAULT_GUIDELINE["text"]},
    )
    created, admin = demo_users_ensure(password=password or demo_password())
    result = SeedResult(project=project, created_users=created)
    existing = set(Dialogue.objects.filter(project=project).values_list("external_id", flat=True))
    lines = (
        json.dumps(d, ensure_ascii=False)
        for d in iter_dialogues(seed=seed, n=scale)
        if d["external_id"] not in existing
    )
    result.imported = dialogues_import(lines=lines, project=project, user=admin)
    result.dialogues_added = result.imported.counts.get("dialogues", 0)
    return result
