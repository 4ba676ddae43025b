"""A study: the paper's comparison run from the platform. One base model, one snapshot set, one reward
configuration and one budget; a training job per method, then eval runs of every version they register
(and of the start policy) on an online set and a bad-case set (``evaluation.services.studies``)."""

from django.conf import settings
from django.db import models

from kernel.fields import JSON_SMALL_BYTES, JSONLimitValidator

from .runs import EvalRun
from .sets import EvalSet


class Study(models.Model):
    name = models.CharField(max_length=200)
    base_model = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    snapshots = models.ManyToManyField("training_jobs.DatasetSnapshot", related_name="studies")
    reward_config = models.ForeignKey(
        "rewards.RewardConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="studies"
    )
    methods = models.JSONField(default=list, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    budget = models.JSONField(
        default=dict,
        validators=[JSONLimitValidator(JSON_SMALL_BYTES)],
        help_text="Steps, completions per optimiser step, accumulation, GRPO group, seed: the same for every method.",
    )
    online_set = models.ForeignKey(EvalSet, on_delete=models.PROTECT, related_name="+")
    bad_case_set = models.ForeignKey(EvalSet, on_delete=models.PROTECT, related_name="+")
    max_new_tokens = models.PositiveIntegerField(default=64)
    jobs = models.ManyToManyField("training_jobs.TrainingJob", related_name="studies", blank=True)
    eval_runs = models.ManyToManyField(EvalRun, related_name="studies", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"study {self.pk} {self.name}"
