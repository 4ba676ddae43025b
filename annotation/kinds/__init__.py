"""The annotation task kinds: one module per kind behind one interface (``annotation.kinds.base.TaskKind``),
found by name with ``kind_for(queue.kind)``.

Services, views, templates and the turn view's keyboard ask the kind instead of comparing names: how an
answer is cleaned and stored, the values agreement is computed on, the majority a reviewer accepts, what
a fix checks and what a gold decision does to derived rows, which items a queue holds, the answer panel
and review partials, and the key map. To add a kind: write ``annotation/kinds/<name>.py`` (a ``TaskKind``
subclass and ``KIND = ...``) and its answer panel ``templates/annotation/kinds/<name>.html``, then add the
module to ``MODULES``; the queue form, the model field's choices and the page's keys follow.

The modules are imported on the first lookup, not here: they use the annotation models, and the models
take the ``kind`` field's choices from this package.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from annotation.kinds.base import TaskKind

# The registry: the modules under this package, in the order the queue form offers their kinds.
MODULES = ("pairwise", "bad_case", "rubric", "rating")
UNKNOWN_KIND = "Unknown task kind {kind!r}; the kinds are: {kinds}."


@cache
def _registry() -> dict[str, TaskKind]:
    kinds = [import_module(f"{__name__}.{module}").KIND for module in MODULES]
    return {kind.name: kind for kind in kinds}


def kind_for(name: str) -> TaskKind:
    """The task kind stored as ``name`` (``AnnotationQueue.kind``)."""
    try:
        return _registry()[name]
    except KeyError:
        raise LookupError(UNKNOWN_KIND.format(kind=name, kinds=", ".join(_registry()))) from None


def all_kinds() -> tuple[TaskKind, ...]:
    return tuple(_registry().values())


def kind_choices() -> list[tuple[str, str]]:
    """``(name, label)`` of every kind: the choices of ``AnnotationQueue.kind`` and of the queue form."""
    return [(kind.name, kind.label) for kind in all_kinds()]


def kinds_comparing_candidates() -> list[str]:
    """The kinds whose items put two candidate replies side by side (branch alternatives go to these)."""
    return [kind.name for kind in all_kinds() if kind.compares_candidates]
