"""The model registry (with lineage): what jobs register and deployments, the playground and guardrails
serve. The table kept its name (``deploy_modelversion``) when the model moved here from deploy.

Every write goes through ``registry.services`` (audited); the admin only reads."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.vocab import MODEL_KIND_CHOICES, MODEL_STAGE_CHOICES
from kernel.choices import text_choices
from kernel.fields import DESCRIPTION_CHARS, JSON_SMALL_BYTES, JSONLimitValidator, LimitedTextField
from kernel.status import StatusRow


class ModelVersion(models.Model):
    """A servable model: a base checkpoint plus an optional LoRA adapter, and where it came from."""

    Kind = text_choices("Kind", MODEL_KIND_CHOICES)
    Stage = text_choices("Stage", MODEL_STAGE_CHOICES)

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.POLICY, db_index=True)
    base_model = models.CharField(max_length=500, help_text="HF checkpoint path of the base model.")
    base = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="derived",
        help_text="The registered base version this one was trained on (the path above is kept beside it).",
    )
    adapter_path = models.CharField(max_length=500, blank=True)
    method = models.CharField(max_length=20, blank=True, help_text="base, sft, dpo, ppo, grpo, repo, rm …")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.CANDIDATE, db_index=True)
    slot = models.CharField(max_length=100, blank=True, help_text="The serving slot this version is staged for.")
    tags = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    description = LimitedTextField(max_length=DESCRIPTION_CHARS, blank=True)
    lineage = models.JSONField(default=dict, blank=True, help_text="job, snapshots, reward config versions.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "deploy_modelversion"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=Q(stage="production") & ~Q(slot=""), name="modelversion_one_production"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MergeJob(StatusRow):
    """Fold a version's LoRA adapter into full weights (``python -m engine merge``) and register the result
    as a new version: a base (``kind`` base) or a full-weights policy. A status row on the ``gpu`` queue."""

    source = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="merge_jobs")
    name = models.CharField(max_length=200, help_text="Name of the version to register.")
    register_as = models.CharField(max_length=20, choices=[("base", "Base model"), ("policy", "Full-weights policy")])
    output = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_by")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    task_name = "registry.merge_execute"

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"merge {self.pk}: {self.source} → {self.name}"
