"""Annotation queues: what to ask (a queue), about what (items at a turn), who holds it (assignments),
what they said (answers) and what the reviewer decided (gold decisions, stored apart from the answers).

Counters on ``AnnotationItem`` (``slots_taken``, ``answers_count``) are kept by the services under the
item's row lock so the next-task selector never has to count assignments on 100k items.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from annotation.kinds import TaskKind, kind_choices, kind_for
from engine.vocab import LENS_CHOICES
from kernel.choices import text_choices
from kernel.fields import JSON_SMALL_BYTES, NOTE_CHARS, REASON_CHARS, JSONLimitValidator, LimitedTextField

from .core import SOP, Candidate, Dialogue, Guideline, Project, SOPClause

# The two expert lenses: each answers its own rubric dimensions and gets its own agreement.
Lens = text_choices("Lens", LENS_CHOICES)


class AnnotationQueue(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=kind_choices)  # the registry's: a new kind needs no migration
    lens = models.CharField(max_length=20, choices=Lens.choices)
    target_overlap = models.PositiveSmallIntegerField(default=1, help_text="Annotators per item.")
    per_user_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Most answers per annotator.")
    reservation_minutes = models.PositiveIntegerField(default=30)
    blind = models.BooleanField(default=True, help_text="Nobody sees another's answer before submitting.")
    review_sample_rate = models.FloatField(default=0.1, help_text="Share of agreed items also sent to review.")
    guideline = models.ForeignKey(Guideline, null=True, blank=True, on_delete=models.PROTECT)
    sop = models.ForeignKey(SOP, null=True, blank=True, on_delete=models.PROTECT)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="queue_unique_name"),
            models.CheckConstraint(condition=Q(target_overlap__gte=1), name="queue_overlap_positive"),
            models.CheckConstraint(
                condition=Q(review_sample_rate__gte=0) & Q(review_sample_rate__lte=1), name="queue_sample_rate_range"
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.lens})"

    @property
    def task_kind(self) -> TaskKind:
        """What this queue asks and how (``annotation.kinds``)."""
        return kind_for(self.kind)


class AnnotationItem(models.Model):
    """One question: a turn of a dialogue (and, for pairwise, two candidates in canonical order)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"  # free slots left
        FULL = "full", "Full"  # every slot reserved or answered
        DONE = "done", "Answered"  # every slot answered, agreed (not sampled for review)
        IN_REVIEW = "in_review", "In review"
        RESOLVED = "resolved", "Resolved"  # a reviewer's gold decision exists

    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="items")
    dialogue = models.ForeignKey(Dialogue, on_delete=models.CASCADE, related_name="annotation_items")
    turn = models.PositiveIntegerField(help_text="Index of the judged message; the prompt is messages[:turn].")
    candidate_a = models.ForeignKey(Candidate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    candidate_b = models.ForeignKey(Candidate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Copied from the queue when created.")
    slots_taken = models.PositiveSmallIntegerField(default=0, help_text="Live reservations + answers.")
    answers_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    agreement = models.FloatField(null=True, blank=True, help_text="Share of answers equal to the majority.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["queue", "status", "id"], name="item_queue_status_id"),
            # The next-task selector scans only open items in id order: a partial index keeps that scan short
            # however many items are already full or answered.
            models.Index(fields=["queue", "id"], condition=Q(status="open"), name="item_open_by_queue"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(slots_taken__lte=F("overlap")), name="item_slots_within_overlap"),
            models.CheckConstraint(condition=Q(answers_count__lte=F("slots_taken")), name="item_answers_within_slots"),
        ]
        ordering = ["queue", "id"]

    def __str__(self) -> str:
        return f"item {self.pk} @{self.dialogue_id}:{self.turn}"


class Assignment(models.Model):
    """A user's hold on an item. One per (item, user): an item is never served twice to the same user."""

    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"

    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="assignments")
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RESERVED)
    reserved_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Candidate ids left to right as shown to this user (position bias is measured from it).
    display_order = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="assignment_unique_item_user")]
        indexes = [
            models.Index(fields=["queue", "user", "status"], name="assignment_queue_user_status"),
            models.Index(fields=["status", "expires_at"], name="assignment_status_expiry"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}: item {self.item_id} → {self.user_id} ({self.status})"


class Answer(models.Model):
    """What one annotator said about one item, with the guideline and SOP versions they answered under."""

    class Choice(models.TextChoices):
        A = "a", "Candidate A"  # item.candidate_a (canonical, not the side it was shown on)
        B = "b", "Candidate B"
        EQUAL = "equal", "Equal"
        BOTH_BAD = "both_bad", "Both bad"

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="answer")
    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="answers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotation_answers")
    lens = models.CharField(max_length=20, choices=Lens.choices)
    guideline = models.ForeignKey(Guideline, null=True, blank=True, on_delete=models.PROTECT)
    sop = models.ForeignKey(SOP, null=True, blank=True, on_delete=models.PROTECT)
    choice = models.CharField(max_length=10, choices=Choice.choices, blank=True)
    strength = models.CharField(max_length=10, blank=True)
    reason_codes = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True)
    scores = models.JSONField(
        default=dict,
        blank=True,
        validators=[JSONLimitValidator(JSON_SMALL_BYTES)],
        help_text="Rubric dimension → 1–5, or {'rating': n}.",
    )
    shown_left = models.ForeignKey(Candidate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    preference_pair = models.ForeignKey(
        "annotation.PreferencePair", null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    bad_case = models.ForeignKey(
        "annotation.BadCase", null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["item", "user"], name="answer_item_user")]

    def __str__(self) -> str:
        return f"answer {self.pk} on item {self.item_id} by {self.user_id}"


class GoldDecision(models.Model):
    """The reviewer's final word on an item; the raw answers stay as they were."""

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept the majority"
        REJECT = "reject", "Reject"
        FIX = "fix", "Fix"

    item = models.OneToOneField(AnnotationItem, on_delete=models.CASCADE, related_name="gold")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = LimitedTextField(max_length=REASON_CHARS, blank=True)
    choice = models.CharField(max_length=10, choices=Answer.Choice.choices, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    clause = models.ForeignKey(SOPClause, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(decision="reject") | ~Q(reason=""), name="gold_reject_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"gold {self.decision} on item {self.item_id}"
