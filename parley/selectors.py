"""Reads for the home dashboard."""

from annotation.models import BadCase, Dialogue, PreferencePair
from registry.models import ModelVersion


def home_stats() -> list[dict]:
    return [
        {"label": "Dialogues", "value": Dialogue.objects.count()},
        {"label": "Preference pairs", "value": PreferencePair.objects.count()},
        {"label": "Open bad cases", "value": BadCase.objects.filter(status=BadCase.Status.OPEN).count()},
        {"label": "Model versions", "value": ModelVersion.objects.count()},
    ]
