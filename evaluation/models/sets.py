"""Eval sets (online / bad-case; frozen and versioned), their items, and the systems under test."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.vocab import EVAL_SET_KIND_CHOICES, EVAL_SET_KINDS
from kernel.choices import text_choices
from kernel.fields import DESCRIPTION_CHARS, JSON_SMALL_BYTES, JSONLimitValidator, LimitedTextField


class EvalSet(models.Model):
    """A named, versioned list of dialogues. Once frozen its items never change; edits make a new version."""

    Kind = text_choices("Kind", EVAL_SET_KIND_CHOICES)

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = LimitedTextField(max_length=DESCRIPTION_CHARS, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="evalset_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="evalset_version_positive"),
            models.CheckConstraint(condition=Q(kind__in=list(EVAL_SET_KINDS)), name="evalset_kind_valid"),
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None


class EvalItem(models.Model):
    """One dialogue of a set. ``external_id`` is the dialogue reference (imports may name dialogues this
    platform does not hold; ``dialogue`` is then empty). ``turns`` are the agent turns evaluated."""

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    dialogue = models.ForeignKey(
        "annotation.Dialogue", null=True, blank=True, on_delete=models.PROTECT, related_name="eval_items"
    )
    bad_case = models.ForeignKey(
        "annotation.BadCase", null=True, blank=True, on_delete=models.PROTECT, related_name="eval_items"
    )
    turns = models.JSONField(default=list, blank=True, validators=[JSONLimitValidator(JSON_SMALL_BYTES)])
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["eval_set", "external_id"], name="evalitem_unique_ref")]
        ordering = ["eval_set", "position", "id"]

    def __str__(self) -> str:
        return f"{self.eval_set} / {self.external_id}"


class EvalSystem(models.Model):
    """A system under test: a registered model version, the human ("gold") reply, or a name from an import."""

    name = models.CharField(max_length=200, unique=True)
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="eval_systems"
    )
    is_gold = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(is_gold=True) & Q(model_version__isnull=False)), name="evalsystem_gold_has_no_model"
            )
        ]

    def __str__(self) -> str:
        return self.name
