"""What people say about replies: preference pairs, bad cases, excellent turns."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from engine.task import MAX_MESSAGE_CHARS
from engine.vocab import (
    BAD_CASE_CATEGORY_CHOICES,
    MARGINS,
    PROVENANCE_CHOICES,
    SEVERITY_CHOICES,
    STRENGTH_CHOICES,
)
from kernel.choices import text_choices
from kernel.fields import JSON_SMALL_BYTES, NOTE_CHARS, JSONLimitValidator, LimitedTextField

from .core import SOP, Candidate, Dialogue, Guideline, SOPClause

# The four sources of preference data.
Provenance = text_choices("Provenance", PROVENANCE_CHOICES)


class PreferencePair(models.Model):
    Strength = text_choices("Strength", STRENGTH_CHOICES)  # → the ``margin`` column of the preference export

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="pairs")
    turn = models.PositiveIntegerField(help_text="The shared prefix is the dialogue's first `turn` messages.")
    chosen = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="chosen_in")
    rejected = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="rejected_in")
    strength = models.CharField(max_length=10, choices=Strength.choices, default=Strength.CLEAR)
    reason_codes = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True)
    provenance = models.CharField(max_length=20, choices=Provenance.choices)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    guideline = models.ForeignKey(Guideline, null=True, blank=True, on_delete=models.SET_NULL)
    sop = models.ForeignKey(SOP, null=True, blank=True, on_delete=models.SET_NULL)
    agreement = models.FloatField(null=True, blank=True, help_text="Agreement among the raters of this item.")
    reviewed = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(chosen=F("rejected")), name="pair_chosen_differs_from_rejected"),
            models.UniqueConstraint(fields=["chosen", "rejected", "provenance", "annotator"], name="pair_unique"),
        ]
        indexes = [models.Index(fields=["provenance", "created_at"])]

    def __str__(self) -> str:
        return f"pair {self.pk} @{self.dialogue_id}:{self.turn} ({self.provenance})"

    @property
    def margin(self) -> float:
        return MARGINS[self.strength]


class BadCase(models.Model):
    """A model reply that broke an SOP clause, and its lifecycle up to a verified fix."""

    Category = text_choices("Category", BAD_CASE_CATEGORY_CHOICES)
    Severity = text_choices("Severity", SEVERITY_CHOICES)

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        GOLD_WRITTEN = "gold_written", "Gold written"
        REVIEWED = "reviewed", "Reviewed"
        IN_DATASET = "in_dataset", "In a dataset snapshot"
        FIXED = "fixed", "Verified fixed"
        REGRESSED = "regressed", "Regressed"

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="bad_cases")
    turn = models.PositiveIntegerField()
    model_reply = LimitedTextField(max_length=MAX_MESSAGE_CHARS, logged=True)
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="bad_cases"
    )
    category = models.CharField(max_length=40, choices=Category.choices)
    clause = models.ForeignKey(SOPClause, null=True, blank=True, on_delete=models.PROTECT, related_name="bad_cases")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    gold_reply = LimitedTextField(max_length=MAX_MESSAGE_CHARS, blank=True)
    gold_diff = models.TextField(blank=True, help_text="Unified diff from the model reply to the gold reply.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    fixed_in = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="fixed_bad_cases"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["category", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(gold_reply=""), name="badcase_gold_required_after_open"
            ),
        ]

    def __str__(self) -> str:
        return f"bad case {self.pk}: {self.category} ({self.status})"


class ExcellentTurn(models.Model):
    """An agent message flagged as excellent: KTO positives, SFT rows and few-shot examples for the judge."""

    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="excellent_turns")
    turn = models.PositiveIntegerField(help_text="Index of the excellent agent message.")
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dialogue", "turn"], name="excellent_turn_unique")]

    def __str__(self) -> str:
        return f"excellent {self.dialogue_id}#{self.turn}"
