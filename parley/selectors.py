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


def next_steps(user) -> list[dict]:
    """What each of the user's roles can do now, in words, with the page to do it on: the home page leads
    with these so a first login never ends at an empty dashboard."""
    from annotation.models import AnnotationItem
    from annotation.services.assignment import LENS_ROLES

    steps = []
    lenses = [lens for lens, role in LENS_ROLES.items() if has_role(user, (role,))]
    if lenses and not user.is_superuser:
        open_items = AnnotationItem.objects.filter(
            queue__lens__in=lenses, queue__is_active=True, status=AnnotationItem.Status.OPEN
        ).count()
        if open_items:
            text = f"{open_items} item{'s' if open_items != 1 else ''} waiting in your lens's queues."
            steps.append({"text": text, "action": "Start annotating", "url": reverse("annotation:workspace")})
        else:
            text = "No open item in your lens's queues: ask a reviewer or ML engineer for a queue."
            steps.append({"text": text, "action": "See the queues", "url": reverse("annotation:workspace")})
    if has_role(user, (Role.REVIEWER,)):
        in_review = AnnotationItem.objects.filter(status=AnnotationItem.Status.IN_REVIEW).count()
        open_cases = BadCase.objects.filter(status=BadCase.Status.OPEN).count()
        if in_review:
            text = f"{in_review} item{'s' if in_review != 1 else ''} wait for your review."
            steps.append({"text": text, "action": "Review", "url": reverse("annotation:review_queue")})
        else:
            cases = f"{open_cases} open bad case{'s' if open_cases != 1 else ''}"
            text = f"Nothing to review yet (disagreements appear here); {cases}."
            steps.append({"text": text, "action": "Open bad cases", "url": reverse("annotation:bad_cases")})
    if has_role(user, (Role.ML_ENGINEER,)):
        steps.append(
            {
                "text": "Create an annotation queue, freeze a dataset snapshot, or start a training job.",
                "action": "New queue",
                "url": reverse("annotation:queue_new"),
            }
        )
    if has_role(user, (Role.EVALUATOR,)) and not user.is_superuser:
        steps.append(
            {
                "text": "Rate system replies blind in the panel.",
                "action": "Open the panel",
                "url": _link(user, "evaluation:panel_home", (Role.EVALUATOR,)),
            }
        )
    return [s for s in steps if s["url"]]
