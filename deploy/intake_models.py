"""Production-log intake: each conversation a served version had (logged by the gateway or posted by an
external dialogue system) and the per-slot sampling rules that send some of them to annotation.

The conversation's messages live in the annotation ``Dialogue`` it became (source ``production``); the
row here keeps what serving knows about it: the version that produced it, its slot, the hotel, the
outcome, latency and the guardrail hits. Written by ``deploy.services.intake`` only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from kernel.fields import JSON_SMALL_BYTES, JSONLimitValidator


class ProductionConversation(models.Model):
    external_id = models.CharField(
        max_length=200, unique=True, help_text="The sender's id: intake is idempotent on it."
    )
    dialogue = models.OneToOneField(
        "annotation.Dialogue", on_delete=models.CASCADE, related_name="production_conversation"
    )
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="conversations")
    slot = models.CharField(max_length=100, db_index=True)
    hotel_id = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=50, help_text="Who sent it: gateway, api, or an external system's name.")
    hotel_replied = models.BooleanField()
    price_reduced_to_target = models.BooleanField()
    ticket_closed = models.BooleanField()
    latency_ms = models.FloatField(null=True, blank=True, help_text="Mean reply latency, when the sender knows it.")
    guardrail_hits = models.JSONField(
        default=list,
        blank=True,
        validators=[JSONLimitValidator(JSON_SMALL_BYTES)],
        help_text='[{"rule", "evidence", "turn"}]',
    )
    sampled = models.BooleanField(default=False, help_text="Sent to an annotation queue by the slot's rule.")
    occurred_at = models.DateTimeField(db_index=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["slot", "version", "occurred_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(latency_ms__isnull=True) | Q(latency_ms__gte=0), name="prodconv_latency")
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return self.external_id

    @property
    def task_success(self) -> bool:
        """The production metric: the price came down to the target (docs/deploy.md)."""
        return self.price_reduced_to_target


class SamplingRule(models.Model):
    """Which of a slot's conversations go to annotation, and into which queue."""

    slot = models.CharField(max_length=100, unique=True)
    queue = models.ForeignKey("annotation.AnnotationQueue", on_delete=models.CASCADE, related_name="+")
    share = models.FloatField(default=0.0, help_text="Share (0–1) of all conversations, by a hash of the id.")
    all_guardrail_hits = models.BooleanField(default=True)
    all_failed_outcomes = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(share__gte=0) & Q(share__lte=1), name="sampling_share")]

    def __str__(self) -> str:
        return f"sampling for {self.slot}"
