"""Version 1 of the ``default`` rule set and rubric, taken from the engine's own defaults.

No data migration: the engine's defaults evolve with the engine, and a migration would freeze one copy.
The reward pages call :func:`reward_defaults_seed` on first visit; ``manage.py seed_rewards`` (which
``seed_demo`` can call) does the same from the command line. Existing rows are never touched.
"""

from __future__ import annotations

import logging
from typing import Any

from rewards.models import RubricVersion, RuleSetVersion
from rewards.selectors import DEFAULT_NAME
from rewards.services.versions import (
    RewardDocumentError,
    rubric_version_create,
    rule_set_version_create,
)

logger = logging.getLogger(__name__)

SEED_NOTE = "Seeded from the engine's defaults."
# The reward config ``make run`` writes for the demo judge (``deploy.services.demo.demo_judge_ensure``): the
# default rule set and rubric with the demo judge; the demo REPO job adds the demo RM to it.
DEMO_JUDGE_CONFIG = "demo: judge + rules"


def default_rule_set_document() -> dict[str, Any]:
    from engine.rewards.rules import default_rule_set

    return default_rule_set().to_dict()


def default_rubric_document() -> dict[str, Any]:
    from engine.rewards.rubric import default_rubric

    return default_rubric().to_dict()


def reward_defaults_seed(*, user=None) -> list[RuleSetVersion | RubricVersion]:
    """Create ``default`` v1 of the rule set and the rubric where missing; returns the rows created.

    Defaults the engine ships but that fail validation (say, an example its own rules no longer pass)
    are logged and skipped, so the reward pages still open and show what is there.
    """
    created: list[RuleSetVersion | RubricVersion] = []
    sources = (
        (RuleSetVersion, rule_set_version_create, default_rule_set_document),
        (RubricVersion, rubric_version_create, default_rubric_document),
    )
    for model, create, document in sources:
        if model.objects.filter(name=DEFAULT_NAME).exists():
            continue
        try:
            created.append(create(name=DEFAULT_NAME, document=document(), note=SEED_NOTE, user=user))
        except RewardDocumentError as exc:
            logger.error("engine default %s not seeded: %s", model._meta.verbose_name, "; ".join(exc.messages))
    return created
