"""Django choices built from the engine's closed vocabularies (``engine.vocab``), so each is defined once.

The engine owns the ``(value, label)`` pairs (it validates imports and generates data without Django);
the models, forms and serializers use the ``TextChoices`` built here. Same values, labels and order as
the pairs, so the choices a migration recorded do not change.
"""

from collections.abc import Iterable

from django.db import models


def text_choices(name: str, choices: Iterable[tuple[str, str]]) -> type[models.TextChoices]:
    """A ``TextChoices`` whose members are the values in upper case.

    >>> Strength = text_choices("Strength", (("slight", "Slight"), ("clear", "Clear")))
    >>> Strength.CLEAR == "clear", Strength.CLEAR.label, Strength.choices
    (True, 'Clear', [('slight', 'Slight'), ('clear', 'Clear')])
    """
    members = [(value.upper().replace("-", "_"), (value, label)) for value, label in choices]
    return models.TextChoices(name, members)
