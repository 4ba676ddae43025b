"""Reward configs: which rule-set version, rubric version, judge endpoint and RM a job combines, and n.

A config is written once and never edited: a job names it, so changing it would rewrite what an old
job trained with. A new combination is a new config.
"""

from __future__ import annotations

from django.db import transaction

from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from registry.models import ModelVersion
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion

JUDGE_NEEDS_MODEL_AND_RUBRIC = "A judge endpoint needs a served model name and a rubric version."
EMPTY_CONFIG = "A reward config needs at least one source: a rule set, a judge or a reward model."


def reward_config_create(
    *,
    name: str,
    user,
    rule_set: RuleSetVersion | None = None,
    rubric: RubricVersion | None = None,
    judge_base_url: str = "",
    judge_model: str = "",
    reward_model: ModelVersion | None = None,
    n: float = 100.0,
) -> RewardConfig:
    """A new reward config (validated in full before anything is written)."""
    judge_base_url = judge_base_url.strip().rstrip("/")
    if judge_base_url and (not judge_model.strip() or rubric is None):
        raise ApplicationError(JUDGE_NEEDS_MODEL_AND_RUBRIC)
    if rule_set is None and not judge_base_url and reward_model is None:
        raise ApplicationError(EMPTY_CONFIG)
    config = RewardConfig(
        name=name.strip(),
        rule_set=rule_set,
        rubric=rubric,
        judge_base_url=judge_base_url,
        judge_model=judge_model.strip(),
        reward_model=reward_model,
        n=n,
        created_by=user,
    )
    config.full_clean()
    with transaction.atomic():
        config.save()
        audit_record(actor=user, action="reward_config.create", instance=config, after=audit_snapshot(config))
    return config
