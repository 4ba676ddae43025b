"""Alternatives generated at a branch: a registered model version samples replies at turn k of a dialogue
(prompt = exactly its first k messages) in the engine subprocess; each distinct reply becomes a model
``Candidate`` whose ``generation`` points back here."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from kernel.status import StatusRow

from .core import Dialogue
from .queues import AnnotationQueue

COUNT_RANGE = (1, 4)
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_NEW_TOKENS_RANGE = (16, 512)


class BranchGeneration(StatusRow):
    """One request for ``count`` sampled alternatives at a turn; a status row (``kernel.status``) the
    ``gpu`` worker moves along. ``metrics``: seed, rows, distinct, dropped duplicates."""

    task_name = "annotation.branch_generate_execute"

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
    pairwise_queue = models.ForeignKey(
        AnnotationQueue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="branch_generations",
        help_text="Pairwise queue that gets one item per generated candidate.",
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

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
