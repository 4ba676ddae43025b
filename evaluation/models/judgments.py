"""Blind panels: who rates with which expertise, the order each rater saw, and the judgments (raw and consensus)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.vocab import FIX_STATUS_CHOICES
from kernel.choices import text_choices
from kernel.fields import JSON_SMALL_BYTES, NOTE_CHARS, JSONLimitValidator, LimitedTextField

from .sets import EvalItem, EvalSystem

# The bad-case outcome per system; the first three together are the fix rate.
FixStatus = text_choices("FixStatus", FIX_STATUS_CHOICES)


class Expertise(models.TextChoices):
    """The paper's three expert lenses."""

    TASK = "task", "Task (BD)"
    LINGUISTICS = "linguistics", "Linguistics"
    CS = "cs", "Computer science"


class PanelMember(models.Model):
    """An evaluator's lens; one rater per lens per item."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="panel_member")
    expertise = models.CharField(max_length=20, choices=Expertise.choices)

    def __str__(self) -> str:
        return f"{self.user} ({self.expertise})"


class PanelAssignment(models.Model):
    """An item served to one rater. ``order`` is the shuffled list of system ids behind labels A, B, C…:
    stored so the rater's view is stable and position bias can be measured later."""

    item = models.ForeignKey(EvalItem, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eval_assignments")
    expertise = models.CharField(max_length=20, choices=Expertise.choices)
    order = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "rater"], name="assignment_unique_rater"),
            models.UniqueConstraint(fields=["item", "expertise"], name="assignment_unique_expertise"),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.item} → {self.rater}"


class Judgment(models.Model):
    """One rater's (or the consensus) verdict on one system for one item.

    Online items carry ``rating``, ``excellent_turns`` and ``skills``; bad-case items ``fix_status``
    (and optionally skills). ``rater`` is a name so that offline raters without an account can be imported.
    """

    class Source(models.TextChoices):
        PANEL = "panel", "Panel"
        IMPORT = "import", "Import"
        CONSENSUS = "consensus", "Consensus page"

    item = models.ForeignKey(EvalItem, on_delete=models.CASCADE, related_name="judgments")
    system = models.ForeignKey(EvalSystem, on_delete=models.PROTECT, related_name="judgments")
    rater = models.CharField(max_length=150)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    expertise = models.CharField(max_length=20, choices=Expertise.choices, blank=True)
    consensus = models.BooleanField(default=False)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    excellent_turns = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    skills = models.JSONField(default=dict, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    fix_status = models.CharField(max_length=20, choices=FixStatus.choices, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PANEL)
    note = LimitedTextField(max_length=NOTE_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="judgment_rating_1_5"
            ),
            models.CheckConstraint(
                condition=Q(fix_status="") | Q(fix_status__in=FixStatus.values), name="judgment_fix_status_valid"
            ),
            models.UniqueConstraint(
                fields=["item", "system", "rater"], condition=Q(consensus=False), name="judgment_once_per_rater"
            ),
            models.UniqueConstraint(
                fields=["item", "system"], condition=Q(consensus=True), name="judgment_one_consensus"
            ),
        ]
        indexes = [models.Index(fields=["item", "system", "consensus"])]
        ordering = ["item", "system", "-consensus", "rater"]

    def __str__(self) -> str:
        who = "consensus" if self.consensus else self.rater
        return f"{who} on {self.system} @ {self.item}"
