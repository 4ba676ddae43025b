"""Generation runs (a status row per run) and the responses they produce, with automatic pre-scores."""

from django.conf import settings
from django.db import models

from kernel.status import StatusRow

from .sets import EvalItem, EvalSet, EvalSystem


class EvalRun(StatusRow):
    """Generate every system's reply at every evaluated turn of a frozen set, then pre-score them (a status
    row: ``kernel.status``; ``metrics`` holds the response count)."""

    task_name = "evaluation.eval_run_execute"

    eval_set = models.ForeignKey(EvalSet, on_delete=models.PROTECT, related_name="runs")
    systems = models.ManyToManyField(EvalSystem, related_name="runs")
    max_new_tokens = models.PositiveIntegerField(default=256)
    judge_url = models.CharField(max_length=500, blank=True, help_text="OpenAI-compatible judge endpoint.")
    rm_dir = models.CharField(max_length=500, blank=True, help_text="Trained reward-model run dir.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} on {self.eval_set} ({self.status})"


class Response(models.Model):
    """One system's reply at one turn of one item. ``prescores``: ``rf_violations`` (rule ids),
    ``rf_points`` (E_func), and when configured ``judge_points`` and ``rm_score``."""

    run = models.ForeignKey(EvalRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="responses")
    item = models.ForeignKey(EvalItem, on_delete=models.CASCADE, related_name="responses")
    system = models.ForeignKey(EvalSystem, on_delete=models.PROTECT, related_name="responses")
    turn = models.PositiveIntegerField()
    text = models.TextField()
    prescores = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "system", "turn"], name="response_unique_turn")]
        ordering = ["item", "turn", "system"]

    def __str__(self) -> str:
        return f"{self.system} @ {self.item}#{self.turn}"
