"""Seed the demo world (``engine.demo``) into the database: idempotent, and the dialogues go through
the same import service as a user's file, so the demo exercises the real path."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotation.models import SOP, AnnotationQueue, Dialogue, Guideline, Project, SOPClause, SOPStage
from annotation.services.imports import ImportResult, dialogues_import
from engine.demo import iter_dialogues
from engine.demo.sop import DEFAULT_GUIDELINE, DEFAULT_PROJECT, default_sop
from engine.demo.world import DEMO_USERS
from kernel.errors import ApplicationError
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


# The annotation side of the demo: a second annotator per lens, so that two people can answer the same item
# and disagree (or tie 1–1) without the admin annotating, and one queue per lens with overlap 2.
DEMO_SECOND_ANNOTATORS = (("language2", Role.LANGUAGE_EXPERT), ("bd2", Role.BD_EXPERT))
DEMO_QUEUE_DIALOGUES = 12  # small enough for two people to finish in a sitting
DEMO_QUEUES = (
    ("Demo: language pairwise", "pairwise", "language"),
    ("Demo: BD pairwise", "pairwise", "bd"),
    ("Demo: BD bad cases", "bad_case", "bd"),
)


def demo_second_annotators_ensure(*, password: str) -> list[str]:
    """``language2`` and ``bd2`` with the demo password; existing users are left as they are."""
    users = get_user_model().objects
    created = []
    for username, role in DEMO_SECOND_ANNOTATORS:
        if not users.filter(username=username).exists():
            user = users.create_user(username=username, password=password)
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
    return created


def demo_queues_ensure(*, project: Project) -> list[str]:
    """One queue per lens (and a bad-case queue) with overlap 2 over the project's first dialogues; a queue
    that already exists by name is left as it is. Returns the names of the queues created."""
    from annotation.services.queues import queue_create

    admin = get_user_model().objects.filter(username="admin").first()
    dialogues = Dialogue.objects.filter(project=project).order_by("id")
    ids = list(dialogues.values_list("id", flat=True)[:DEMO_QUEUE_DIALOGUES])
    if not ids:
        return []
    guideline = Guideline.objects.filter(project=project).order_by("-version").first()
    sop = SOP.objects.filter(project=project).order_by("-version").first()
    created = []
    for name, kind, lens in DEMO_QUEUES:
        if AnnotationQueue.objects.filter(project=project, name=name).exists():
            continue
        try:
            queue_create(
                project=project,
                name=name,
                kind=kind,
                lens=lens,
                actor=admin,
                dialogues=Dialogue.objects.filter(pk__in=ids),
                target_overlap=2,
                guideline=guideline,
                sop=sop,
                review_sample_rate=0.1,
            )
        except ApplicationError:  # no items for this kind in these dialogues (a world without candidates)
            continue
        created.append(name)
    return created
