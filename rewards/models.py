"""Versioned reward configuration edited by ML engineers.

A rule set (RF) and a judge rubric (RJ) are JSON documents in the engine's own format
(``engine.rewards.rules.RuleSet.to_dict()`` / ``engine.rewards.judge.Rubric.to_dict()``); saving an edit
creates a new version row, so every job names exactly the version it trained with. Rows are never edited
in place once a job used them. The tables kept their ``training_jobs_`` names when the models moved here.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from kernel.fields import JSON_DOCUMENT_BYTES, NOTE_CHARS, JSONLimitValidator, LimitedTextField


class _VersionedDocument(models.Model):
    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    document = models.JSONField(validators=[JSONLimitValidator(JSON_DOCUMENT_BYTES)])
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True, help_text="What changed in this version and why.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class RuleSetVersion(_VersionedDocument):
    """RF: the programmatic rule checks (patterns, word lists, thresholds, points, examples)."""

    class Meta(_VersionedDocument.Meta):
        db_table = "training_jobs_rulesetversion"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="ruleset_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="ruleset_version_positive"),
        ]


class RubricVersion(_VersionedDocument):
    """RJ: the judge's deduction rules (id, description, points, stage filter)."""

    class Meta(_VersionedDocument.Meta):
        db_table = "training_jobs_rubricversion"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="rubric_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="rubric_version_positive"),
        ]


class RewardConfig(models.Model):
    """The three reward sources a REPO/GRPO/PPO job combines, and the enhancement's n."""

    name = models.CharField(max_length=200, unique=True)
    reward_model = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reward_configs",
        help_text="A model version trained as an RM (method 'rm'); empty = no RM score.",
    )
    judge_base_url = models.CharField(max_length=500, blank=True, help_text="OpenAI-compatible endpoint (…/v1).")
    judge_model = models.CharField(max_length=200, blank=True)
    rubric = models.ForeignKey(RubricVersion, null=True, blank=True, on_delete=models.PROTECT)
    rule_set = models.ForeignKey(RuleSetVersion, null=True, blank=True, on_delete=models.PROTECT)
    n = models.FloatField(default=100.0, help_text="Clip bound and scale of the enhancement (paper: 100).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "training_jobs_rewardconfig"
        constraints = [models.CheckConstraint(condition=Q(n__gt=0), name="rewardconfig_n_positive")]

    def __str__(self) -> str:
        return self.name
