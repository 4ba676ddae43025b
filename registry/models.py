"""The model registry (with lineage): what jobs register and deployments, the playground and guardrails
serve. The table kept its name (``deploy_modelversion``) when the model moved here from deploy."""

from django.db import models


class ModelVersion(models.Model):
    """A servable model: a base checkpoint plus an optional LoRA adapter, and where it came from."""

    name = models.CharField(max_length=200, unique=True)
    base_model = models.CharField(max_length=500, help_text="HF checkpoint path of the base model.")
    adapter_path = models.CharField(max_length=500, blank=True)
    method = models.CharField(max_length=20, blank=True, help_text="base, sft, dpo, ppo, grpo, repo, rm …")
    description = models.TextField(blank=True)
    lineage = models.JSONField(default=dict, blank=True, help_text="job, snapshots, reward config versions.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "deploy_modelversion"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
