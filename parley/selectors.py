"""Reads for the home dashboard."""

from django.urls import NoReverseMatch, reverse

from annotation.models import BadCase, Dialogue, PreferencePair
from kernel.roles import ANNOTATORS, Role, has_role
from registry.models import ModelVersion

WORKSPACE = (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER)
ML = (Role.ML_ENGINEER,)


def _link(user, url_name: str, roles: tuple, query: str = "") -> str:
    """The list a stat card opens, when the user's roles may open it ("" otherwise: a plain card)."""
    if not has_role(user, roles):
        return ""
    try:
        return reverse(url_name) + query
    except NoReverseMatch:
        return ""


def home_stats(user=None) -> list[dict]:
    """The home page's stat cards: each a count, its label in the right number, and the list it opens."""
    rows = [
        (Dialogue.objects.count(), "dialogue", "dialogues", "annotation:dialogues", WORKSPACE, ""),
        (PreferencePair.objects.count(), "preference pair", "preference pairs", "annotation:dashboard", WORKSPACE, ""),
        (
            BadCase.objects.filter(status=BadCase.Status.OPEN).count(),
            "open bad case",
            "open bad cases",
            "annotation:bad_cases",
            WORKSPACE,
            "?status=open",
        ),
        (
            ModelVersion.objects.count(),
            "model version",
            "model versions",
            "registry:model_list",
            (Role.ML_ENGINEER,),
            "",
        ),
    ]
    return [
        {
            "value": value,
            "label": (singular if value == 1 else plural).capitalize(),
            "url": _link(user, url_name, roles, query) if user is not None else "",
        }
        for value, singular, plural, url_name, roles, query in rows
    ]
