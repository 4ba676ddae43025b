"""Alternatives generated at a branch: a registered model version samples replies at turn k of a dialogue
(prompt = exactly its first k messages) in the engine subprocess; each distinct reply becomes a model
``Candidate`` whose ``generation`` points back here."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .core import Dialogue
from .queues import AnnotationQueue

COUNT_RANGE = (1, 4)
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_NEW_TOKENS_RANGE = (16, 512)


class BranchGeneration(models.Model):
    """One request for ``count`` sampled alternatives at a turn; a status row the ``gpu`` worker moves along."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="generations")
    turn = models.PositiveIntegerField(help_text="The fork: replies continue messages[:turn].")
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="branch_generations"
    )
    count = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(COUNT_RANGE[0]), MaxValueValidator(COUNT_RANGE[1])]
    )
    temperature = models.FloatField(
        default=0.8, validators=[MinValueValidator(TEMPERATURE_RANGE[0]), MaxValueValidator(TEMPERATURE_RANGE[1])]
    )
    max_new_tokens = models.PositiveIntegerField(
        default=128,
        validators=[MinValueValidator(MAX_NEW_TOKENS_RANGE[0]), MaxValueValidator(MAX_NEW_TOKENS_RANGE[1])],
    )
    queue = models.ForeignKey(
        AnnotationQueue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="branch_generations",
        help_text="Pairwise queue that gets one item per generated candidate.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="seed, rows, distinct, dropped duplicates.")
    run_dir = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker that ran it.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dialogue", "turn"], name="generation_dialogue_turn")]
        constraints = [
            models.CheckConstraint(
                condition=Q(count__gte=COUNT_RANGE[0]) & Q(count__lte=COUNT_RANGE[1]), name="generation_count_range"
            ),
            models.CheckConstraint(
                condition=Q(temperature__gte=TEMPERATURE_RANGE[0]) & Q(temperature__lte=TEMPERATURE_RANGE[1]),
                name="generation_temperature_range",
            ),
            models.CheckConstraint(
                condition=Q(max_new_tokens__gte=MAX_NEW_TOKENS_RANGE[0])
                & Q(max_new_tokens__lte=MAX_NEW_TOKENS_RANGE[1]),
                name="generation_tokens_range",
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"generation {self.pk} @{self.dialogue_id}:{self.turn} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)
